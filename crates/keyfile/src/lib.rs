//! Secret keys at rest: a 32-byte Ed25519 seed sealed with a passphrase.
//!
//! The passphrase is stretched with Argon2id (RFC 9106; memory-hard, so guessing costs memory as
//! well as time) into a 256-bit key that seals the seed with XChaCha20-Poly1305 (random 24-byte
//! nonce). The associated data binds the sealed seed to its use and its public key, so a sealed
//! seed cannot be swapped into another entry unnoticed. Both primitives come from RustCrypto.
//!
//! On disk a [`Sealed`] is JSON:
//!
//! ```json
//! { "kdf": "argon2id", "memory_kib": 65536, "iterations": 3, "parallelism": 1,
//!   "salt": "<16 bytes hex>", "cipher": "xchacha20poly1305",
//!   "nonce": "<24 bytes hex>", "ciphertext": "<48 bytes hex: seed + tag>" }
//! ```
//!
//! Opening with the wrong passphrase (or a tampered file) fails with
//! [`KeyfileError::WrongPassphrase`]; the KDF parameters of a file are bounded on reading, so a
//! crafted file cannot make opening it take unbounded memory or time.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// Argon2id cost of newly sealed keys: 64 MiB, 3 passes, 1 lane (RFC 9106 §4, second
/// recommended option, with one lane). About a third of a second on a server core.
pub const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
pub const DEFAULT_ITERATIONS: u32 = 3;
pub const DEFAULT_PARALLELISM: u32 = 1;

/// Largest costs accepted when opening (1 GiB, 16 passes, 8 lanes).
pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
pub const MAX_ITERATIONS: u32 = 16;
pub const MAX_PARALLELISM: u32 = 8;

/// Errors sealing or opening a seed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyfileError {
    #[error("wrong passphrase (or the sealed key was altered)")]
    WrongPassphrase,
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("unsupported {0}")]
    Unsupported(String),
    #[error("malformed sealed key: {0}")]
    Malformed(String),
}

/// Argon2id costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            memory_kib: DEFAULT_MEMORY_KIB,
            iterations: DEFAULT_ITERATIONS,
            parallelism: DEFAULT_PARALLELISM,
        }
    }
}

/// A sealed 32-byte seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    pub kdf: String,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub salt: String,
    pub cipher: String,
    pub nonce: String,
    pub ciphertext: String,
}

const KDF: &str = "argon2id";
const CIPHER: &str = "xchacha20poly1305";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("operating system randomness is available");
    b
}

fn derive(
    passphrase: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeyfileError> {
    if passphrase.is_empty() {
        return Err(KeyfileError::EmptyPassphrase);
    }
    let p = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| KeyfileError::Unsupported(format!("Argon2 parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| KeyfileError::Unsupported(format!("Argon2: {e}")))?;
    Ok(key)
}

/// Seal `seed` under `passphrase`; `aad` names what the seed is for (it must be given again to
/// open it).
pub fn seal(
    seed: &[u8; 32],
    passphrase: &str,
    aad: &[u8],
    params: KdfParams,
) -> Result<Sealed, KeyfileError> {
    let salt: [u8; SALT_LEN] = random();
    let nonce: [u8; NONCE_LEN] = random();
    let key = derive(passphrase, &salt, params)?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref())
        .map_err(|_| KeyfileError::Malformed("key length".into()))?;
    let ciphertext = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: seed, aad })
        .map_err(|_| KeyfileError::Malformed("encryption failed".into()))?;
    Ok(Sealed {
        kdf: KDF.into(),
        memory_kib: params.memory_kib,
        iterations: params.iterations,
        parallelism: params.parallelism,
        salt: hex::encode(salt),
        cipher: CIPHER.into(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    })
}

fn unhex<const N: usize>(what: &str, text: &str) -> Result<[u8; N], KeyfileError> {
    let bytes = hex::decode(text).map_err(|e| KeyfileError::Malformed(format!("{what}: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| KeyfileError::Malformed(format!("{what} must be {N} bytes")))
}

/// Open a sealed seed.
pub fn open(
    sealed: &Sealed,
    passphrase: &str,
    aad: &[u8],
) -> Result<Zeroizing<[u8; 32]>, KeyfileError> {
    if sealed.kdf != KDF {
        return Err(KeyfileError::Unsupported(format!("KDF {:?}", sealed.kdf)));
    }
    if sealed.cipher != CIPHER {
        return Err(KeyfileError::Unsupported(format!(
            "cipher {:?}",
            sealed.cipher
        )));
    }
    if sealed.memory_kib > MAX_MEMORY_KIB
        || sealed.iterations > MAX_ITERATIONS
        || sealed.parallelism > MAX_PARALLELISM
    {
        return Err(KeyfileError::Unsupported(format!(
            "Argon2 costs above {MAX_MEMORY_KIB} KiB, {MAX_ITERATIONS} passes, {MAX_PARALLELISM} lanes"
        )));
    }
    let salt: [u8; SALT_LEN] = unhex("salt", &sealed.salt)?;
    let nonce: [u8; NONCE_LEN] = unhex("nonce", &sealed.nonce)?;
    let ciphertext: [u8; 48] = unhex("ciphertext", &sealed.ciphertext)?;
    let params = KdfParams {
        memory_kib: sealed.memory_kib,
        iterations: sealed.iterations,
        parallelism: sealed.parallelism,
    };
    let key = derive(passphrase, &salt, params)?;
    let cipher = XChaCha20Poly1305::new_from_slice(key.as_ref())
        .map_err(|_| KeyfileError::Malformed("key length".into()))?;
    let mut plain = cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &ciphertext,
                aad,
            },
        )
        .map_err(|_| KeyfileError::WrongPassphrase)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    if plain.len() != 32 {
        plain.zeroize();
        return Err(KeyfileError::Malformed(
            "the sealed seed is not 32 bytes".into(),
        ));
    }
    seed.copy_from_slice(&plain);
    plain.zeroize();
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap costs, so that tests run fast (the format and checks are the same).
    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn seal_and_open() {
        let seed = [7u8; 32];
        let sealed = seal(&seed, "correct horse", b"aad", cheap()).unwrap();
        assert!(!sealed.ciphertext.contains(&hex::encode(seed)));
        assert_eq!(*open(&sealed, "correct horse", b"aad").unwrap(), seed);
        // Fresh salt and nonce every time.
        let again = seal(&seed, "correct horse", b"aad", cheap()).unwrap();
        assert_ne!(again.salt, sealed.salt);
        assert_ne!(again.ciphertext, sealed.ciphertext);
        // JSON round trip.
        let json = serde_json::to_string(&sealed).unwrap();
        let back: Sealed = serde_json::from_str(&json).unwrap();
        assert_eq!(*open(&back, "correct horse", b"aad").unwrap(), seed);
    }

    #[test]
    fn wrong_passphrase_aad_or_tampering_fail() {
        let sealed = seal(&[1u8; 32], "pass", b"aad", cheap()).unwrap();
        assert_eq!(
            open(&sealed, "Pass", b"aad").unwrap_err(),
            KeyfileError::WrongPassphrase
        );
        assert_eq!(
            open(&sealed, "pass", b"other").unwrap_err(),
            KeyfileError::WrongPassphrase
        );
        let mut t = sealed.clone();
        t.ciphertext.replace_range(0..2, "00");
        if t.ciphertext != sealed.ciphertext {
            assert_eq!(
                open(&t, "pass", b"aad").unwrap_err(),
                KeyfileError::WrongPassphrase
            );
        }
        let mut t = sealed.clone();
        t.iterations = 2;
        assert_eq!(
            open(&t, "pass", b"aad").unwrap_err(),
            KeyfileError::WrongPassphrase
        );
        assert_eq!(
            seal(&[1u8; 32], "", b"aad", cheap()).unwrap_err(),
            KeyfileError::EmptyPassphrase
        );
    }

    #[test]
    fn unbounded_costs_and_malformed_fields_are_refused() {
        let sealed = seal(&[1u8; 32], "pass", b"aad", cheap()).unwrap();
        let mut t = sealed.clone();
        t.memory_kib = MAX_MEMORY_KIB + 1;
        assert!(matches!(
            open(&t, "pass", b"aad"),
            Err(KeyfileError::Unsupported(_))
        ));
        let mut t = sealed.clone();
        t.kdf = "scrypt".into();
        assert!(matches!(
            open(&t, "pass", b"aad"),
            Err(KeyfileError::Unsupported(_))
        ));
        let mut t = sealed.clone();
        t.nonce = "00".into();
        assert!(matches!(
            open(&t, "pass", b"aad"),
            Err(KeyfileError::Malformed(_))
        ));
    }

    #[test]
    fn default_costs_are_memory_hard() {
        let p = KdfParams::default();
        assert!(p.memory_kib >= 64 * 1024 && p.iterations >= 3);
    }
}
