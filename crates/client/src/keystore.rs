//! A local JSON keystore of named signing keys, sealed with a passphrase.
//!
//! File format (version 2; version 1 files, with only clear seeds, are read and rewritten as 2):
//!
//! ```json
//! { "version": 2,
//!   "keys": {
//!     "alice": { "public_key": "ed25519:…", "address": "urbis1…",
//!                "crypto": { "kdf": "argon2id", … see urbis_keyfile::Sealed … } },
//!     "dev-admin": { "public_key": "ed25519:…", "address": "urbis1…",
//!                    "seed": "<64 hex digits>" } } }
//! ```
//!
//! Every entry holds either `crypto`, its seed sealed with the keystore's passphrase
//! ([`urbis_keyfile`]: Argon2id and XChaCha20-Poly1305, associated data
//! `urbis/keystore/v2 || public key`), or `seed` in the clear — only for throwaway keys such
//! as the dev chain's, and listed as unencrypted. All sealed entries of a keystore share one
//! passphrase: adding a key checks the passphrase against an existing entry first, and
//! [`Keystore::change_passphrase`] re-seals every entry at once. A wrong passphrase is
//! [`KeystoreError::WrongPassphrase`] and leaves the file untouched.
//!
//! Every write goes to a temporary file in the same directory (mode `0600` on unix) that is
//! then renamed over the keystore, so a crash never leaves a half-written file. The directory is
//! created `0700`. Concurrent writers are not coordinated: the last rename wins.
//!
//! Key names match `[A-Za-z0-9_.-]{1,64}`. Seeds never appear in `Debug` output.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, PublicKey, SecretKey};
use urbis_keyfile::{KdfParams, KeyfileError, Sealed};

pub const KEYSTORE_VERSION: u32 = 2;
pub const MAX_NAME_LEN: usize = 64;

/// Associated data of a sealed keystore seed: this tag, then the raw public key.
const SEAL_TAG: &[u8] = b"urbis/keystore/v2";

fn seal_aad(pk: &PublicKey) -> Vec<u8> {
    let mut aad = SEAL_TAG.to_vec();
    aad.extend_from_slice(pk.raw());
    aad
}

/// How a new key is stored.
#[derive(Clone, Copy, Debug)]
pub enum Protection<'a> {
    /// Sealed with this passphrase (the keystore's).
    Passphrase(&'a str),
    /// In the clear: throwaway keys only (the dev chain's).
    Unencrypted,
}

/// Keystore errors; each displays as `<code>: <detail>`.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("io: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid_argument: keystore {path} is not valid: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "invalid_argument: invalid key name {0:?}: use 1 to 64 of the characters A-Z a-z 0-9 _ . -"
    )]
    InvalidName(String),
    #[error("invalid_argument: invalid seed: {0}")]
    InvalidSeed(String),
    #[error("already_exists: a key named {0:?} already exists")]
    AlreadyExists(String),
    #[error("not_found: no key named {0:?} in the keystore")]
    NotFound(String),
    #[error("invalid_argument: cannot locate the keystore: set URBIS_KEYSTORE or HOME")]
    NoDefaultPath,
    #[error("passphrase_required: key {0:?} is encrypted: give the keystore's passphrase")]
    PassphraseRequired(String),
    #[error("wrong_passphrase: {0}")]
    WrongPassphrase(String),
    #[error("invalid_argument: {0}")]
    Keyfile(String),
}

impl KeystoreError {
    /// The error code (an [`ErrorCode`] string, or `io`).
    pub fn code_str(&self) -> &'static str {
        match self {
            KeystoreError::Io { .. } => "io",
            KeystoreError::AlreadyExists(_) => ErrorCode::AlreadyExists.as_str(),
            KeystoreError::NotFound(_) => ErrorCode::NotFound.as_str(),
            KeystoreError::Corrupt { .. }
            | KeystoreError::InvalidName(_)
            | KeystoreError::InvalidSeed(_)
            | KeystoreError::Keyfile(_)
            | KeystoreError::NoDefaultPath => ErrorCode::InvalidArgument.as_str(),
            KeystoreError::PassphraseRequired(_) => "passphrase_required",
            KeystoreError::WrongPassphrase(_) => "wrong_passphrase",
        }
    }

    fn from_keyfile(name: &str, e: KeyfileError) -> Self {
        match e {
            KeyfileError::WrongPassphrase => {
                KeystoreError::WrongPassphrase(format!("the passphrase does not open key {name:?}"))
            }
            other => KeystoreError::Keyfile(format!("key {name:?}: {other}")),
        }
    }
}

/// The public part of a stored key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub name: String,
    pub public_key: PublicKey,
    pub address: Address,
    /// Sealed with the keystore's passphrase (`false`: stored in the clear).
    pub encrypted: bool,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    public_key: PublicKey,
    address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crypto: Option<Sealed>,
}

impl StoredKey {
    fn entry(&self, name: &str) -> KeyEntry {
        KeyEntry {
            name: name.to_string(),
            public_key: self.public_key,
            address: self.address,
            encrypted: self.crypto.is_some(),
        }
    }

    fn new(
        key: &SecretKey,
        protection: Protection<'_>,
        kdf: KdfParams,
    ) -> Result<Self, KeystoreError> {
        let public_key = key.public_key();
        let (seed, crypto) = match protection {
            Protection::Unencrypted => (Some(hex::encode(key.seed())), None),
            Protection::Passphrase(p) => {
                let sealed = urbis_keyfile::seal(key.seed(), p, &seal_aad(&public_key), kdf)
                    .map_err(|e| KeystoreError::Keyfile(e.to_string()))?;
                (None, Some(sealed))
            }
        };
        Ok(StoredKey {
            public_key,
            address: key.address(),
            seed,
            crypto,
        })
    }

    /// The secret key, opening the seal with `passphrase` if sealed.
    fn secret(&self, name: &str, passphrase: Option<&str>) -> Result<SecretKey, KeystoreError> {
        let key = match (&self.seed, &self.crypto) {
            (Some(seed), None) => SecretKey::from_seed(parse_seed(seed)?),
            (None, Some(sealed)) => {
                let p = passphrase.ok_or_else(|| KeystoreError::PassphraseRequired(name.into()))?;
                let seed = urbis_keyfile::open(sealed, p, &seal_aad(&self.public_key))
                    .map_err(|e| KeystoreError::from_keyfile(name, e))?;
                SecretKey::from_seed(*seed)
            }
            _ => {
                return Err(KeystoreError::Keyfile(format!(
                    "key {name:?} has neither exactly a seed nor a sealed seed"
                )));
            }
        };
        if key.public_key() != self.public_key {
            return Err(KeystoreError::Keyfile(format!(
                "key {name:?}: the seed does not match the public key"
            )));
        }
        Ok(key)
    }
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("seed", &self.seed.as_ref().map(|_| "<redacted>"))
            .field("encrypted", &self.crypto.is_some())
            .field("public_key", &self.public_key)
            .field("address", &self.address)
            .finish()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeystoreFile {
    version: u32,
    #[serde(default)]
    keys: BTreeMap<String, StoredKey>,
}

/// An opened keystore file. Changes are written through immediately.
pub struct Keystore {
    path: PathBuf,
    keys: BTreeMap<String, StoredKey>,
    kdf: KdfParams,
}

impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keystore")
            .field("path", &self.path)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Whether `name` is a valid key name: `[A-Za-z0-9_.-]{1,64}`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn check_name(name: &str) -> Result<(), KeystoreError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(KeystoreError::InvalidName(name.to_string()))
    }
}

/// Parse a 32-byte seed from 64 hex digits (an optional `0x` prefix is allowed).
pub fn parse_seed(text: &str) -> Result<[u8; 32], KeystoreError> {
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(text).map_err(|e| KeystoreError::InvalidSeed(e.to_string()))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        KeystoreError::InvalidSeed(format!("expected 32 bytes, got {}", b.len()))
    })
}

impl Keystore {
    /// `$URBIS_KEYSTORE`, else `$XDG_DATA_HOME/urbis/keystore.json`, else
    /// `$HOME/.local/share/urbis/keystore.json`.
    pub fn default_path() -> Result<PathBuf, KeystoreError> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(p) = var("URBIS_KEYSTORE") {
            return Ok(PathBuf::from(p));
        }
        if let Some(p) = var("XDG_DATA_HOME").map(PathBuf::from)
            && p.is_absolute()
        {
            return Ok(p.join("urbis").join("keystore.json"));
        }
        if let Some(home) = var("HOME") {
            return Ok(PathBuf::from(home)
                .join(".local")
                .join("share")
                .join("urbis")
                .join("keystore.json"));
        }
        Err(KeystoreError::NoDefaultPath)
    }

    /// Open the keystore at `path`; a missing file is an empty keystore (created on first write).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KeystoreError> {
        let path = path.as_ref().to_path_buf();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Keystore {
                    path,
                    keys: BTreeMap::new(),
                    kdf: KdfParams::default(),
                });
            }
            Err(source) => return Err(KeystoreError::Io { path, source }),
        };
        let corrupt = |reason: String| KeystoreError::Corrupt {
            path: path.clone(),
            reason,
        };
        let file: KeystoreFile =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.version != 1 && file.version != KEYSTORE_VERSION {
            return Err(corrupt(format!(
                "unsupported version {} (expected 1 or {KEYSTORE_VERSION})",
                file.version
            )));
        }
        for (name, stored) in &file.keys {
            if !is_valid_name(name) {
                return Err(corrupt(format!("invalid key name {name:?}")));
            }
            if stored.public_key.address() != stored.address {
                return Err(corrupt(format!(
                    "key {name:?}: the address does not match the public key"
                )));
            }
            match (&stored.seed, &stored.crypto) {
                // A clear seed is checked now; a sealed one when it is opened.
                (Some(_), None) => {
                    stored
                        .secret(name, None)
                        .map_err(|e| corrupt(e.to_string()))?;
                }
                (None, Some(_)) if file.version >= 2 => {}
                _ => {
                    return Err(corrupt(format!(
                        "key {name:?} must hold either a seed or a sealed seed"
                    )));
                }
            }
        }
        Ok(Keystore {
            path,
            keys: file.keys,
            kdf: KdfParams::default(),
        })
    }

    /// Open the keystore at [`Keystore::default_path`].
    pub fn open_default() -> Result<Self, KeystoreError> {
        Self::open(Self::default_path()?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Use these Argon2id costs for keys sealed from now on (the default is
    /// [`KdfParams::default`]; tests and very small devices may use less).
    pub fn with_kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }

    /// Whether any key is sealed (then adding or changing keys needs the passphrase).
    pub fn has_sealed_keys(&self) -> bool {
        self.keys.values().any(|k| k.crypto.is_some())
    }

    /// Check `passphrase` against a sealed key (any will do: they share it). `Ok` when there is
    /// none yet.
    pub fn check_passphrase(&self, passphrase: &str) -> Result<(), KeystoreError> {
        match self.keys.iter().find(|(_, k)| k.crypto.is_some()) {
            Some((name, k)) => k.secret(name, Some(passphrase)).map(drop),
            None => Ok(()),
        }
    }

    /// Generate a fresh key named `name` and save it. Fails if the name exists.
    pub fn create(
        &mut self,
        name: &str,
        protection: Protection<'_>,
    ) -> Result<KeyEntry, KeystoreError> {
        self.insert(name, SecretKey::generate(), protection)
    }

    /// Store the key with `seed` as `name` and save it. Fails if the name exists.
    pub fn import(
        &mut self,
        name: &str,
        seed: [u8; 32],
        protection: Protection<'_>,
    ) -> Result<KeyEntry, KeystoreError> {
        self.insert(name, SecretKey::from_seed(seed), protection)
    }

    /// Store `key` as `name` and save it. Fails if the name exists, or if `protection` is a
    /// passphrase that does not open the keys already sealed here.
    pub fn insert(
        &mut self,
        name: &str,
        key: SecretKey,
        protection: Protection<'_>,
    ) -> Result<KeyEntry, KeystoreError> {
        check_name(name)?;
        if self.keys.contains_key(name) {
            return Err(KeystoreError::AlreadyExists(name.to_string()));
        }
        if let Protection::Passphrase(p) = protection {
            self.check_passphrase(p)?;
        }
        let stored = StoredKey::new(&key, protection, self.kdf)?;
        self.keys.insert(name.to_string(), stored);
        if let Err(e) = self.save() {
            self.keys.remove(name);
            return Err(e);
        }
        self.entry(name)
    }

    /// Remove the key `name` and save.
    pub fn remove(&mut self, name: &str) -> Result<KeyEntry, KeystoreError> {
        let entry = self.entry(name)?;
        let stored = self.keys.remove(name);
        if let Err(e) = self.save() {
            if let Some(s) = stored {
                self.keys.insert(name.to_string(), s);
            }
            return Err(e);
        }
        Ok(entry)
    }

    /// The secret key named `name`; `passphrase` opens it if it is sealed.
    pub fn get(&self, name: &str, passphrase: Option<&str>) -> Result<SecretKey, KeystoreError> {
        self.keys
            .get(name)
            .ok_or_else(|| KeystoreError::NotFound(name.to_string()))?
            .secret(name, passphrase)
    }

    /// Whether the key named `name` is sealed (so that [`Keystore::get`] needs the passphrase).
    pub fn is_sealed(&self, name: &str) -> Result<bool, KeystoreError> {
        Ok(self.entry(name)?.encrypted)
    }

    /// Seal every key with `new` (those in the clear too), opening the sealed ones with `old`.
    /// All or nothing: with a wrong `old`, nothing is written. Returns how many keys are sealed.
    pub fn change_passphrase(
        &mut self,
        old: Option<&str>,
        new: &str,
    ) -> Result<usize, KeystoreError> {
        let mut resealed = BTreeMap::new();
        for (name, stored) in &self.keys {
            let key = stored.secret(name, old)?;
            resealed.insert(
                name.clone(),
                StoredKey::new(&key, Protection::Passphrase(new), self.kdf)?,
            );
        }
        let previous = std::mem::replace(&mut self.keys, resealed);
        if let Err(e) = self.save() {
            self.keys = previous;
            return Err(e);
        }
        Ok(self.keys.len())
    }

    /// The public part of the key named `name`.
    pub fn entry(&self, name: &str) -> Result<KeyEntry, KeystoreError> {
        self.keys
            .get(name)
            .map(|s| s.entry(name))
            .ok_or_else(|| KeystoreError::NotFound(name.to_string()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.keys.contains_key(name)
    }

    /// Every key, by name.
    pub fn list(&self) -> Vec<KeyEntry> {
        self.keys.iter().map(|(name, s)| s.entry(name)).collect()
    }

    /// The name of a key whose address is `addr`, if any.
    pub fn name_of(&self, addr: &Address) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, s)| s.address == *addr)
            .map(|(n, _)| n.as_str())
    }

    fn save(&self) -> Result<(), KeystoreError> {
        let io = |source: std::io::Error| KeystoreError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        create_private_dir(&dir).map_err(io)?;
        let file = KeystoreFile {
            version: KEYSTORE_VERSION,
            keys: self.keys.clone(),
        };
        let mut json =
            serde_json::to_vec_pretty(&file).map_err(|e| io(std::io::Error::other(e)))?;
        json.push(b'\n');

        let mut tmp = tempfile::Builder::new()
            .prefix(".keystore-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io)?;
        set_private(tmp.as_file()).map_err(io)?;
        tmp.write_all(&json).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        // Make the rename durable (best effort: not every platform can open a directory).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(unix)]
fn set_private(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: Protection<'static> = Protection::Passphrase("correct horse");

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn temp_store() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("keystore.json");
        (dir, path)
    }

    fn open(path: &Path) -> Keystore {
        Keystore::open(path).expect("open").with_kdf(cheap())
    }

    #[test]
    fn roundtrip_create_import_get_list() {
        let (_dir, path) = temp_store();
        let mut ks = open(&path);
        assert!(ks.list().is_empty());
        assert!(!path.exists(), "opening does not create the file");

        let alice = ks.create("alice", PASS).expect("create");
        assert!(alice.encrypted);
        let seed = [7u8; 32];
        let bob = ks.import("bob.2-x_y", seed, PASS).expect("import");
        assert_eq!(bob.address, SecretKey::from_seed(seed).address());

        let ks2 = open(&path);
        assert_eq!(ks2.list(), vec![alice.clone(), bob.clone()]);
        assert_eq!(
            ks2.get("bob.2-x_y", Some("correct horse"))
                .expect("get")
                .seed(),
            &seed
        );
        assert_eq!(
            ks2.get("alice", Some("correct horse"))
                .expect("get")
                .address(),
            alice.address
        );
        assert_eq!(ks2.name_of(&alice.address), Some("alice"));
        assert!(matches!(
            ks2.get("carol", None),
            Err(KeystoreError::NotFound(_))
        ));

        // The file holds no seed in the clear.
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&hex::encode(seed)), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(json["version"], 2);
        assert_eq!(json["keys"]["bob.2-x_y"]["crypto"]["kdf"], "argon2id");
        assert!(json["keys"]["bob.2-x_y"]["seed"].is_null());
        assert_eq!(
            json["keys"]["bob.2-x_y"]["address"],
            bob.address.to_string()
        );
    }

    #[test]
    fn wrong_or_missing_passphrase_is_a_clear_error_and_changes_nothing() {
        let (_dir, path) = temp_store();
        let mut ks = open(&path);
        ks.import("a", [1u8; 32], PASS).expect("import");
        let before = std::fs::read(&path).expect("read");
        assert!(matches!(
            ks.get("a", None),
            Err(KeystoreError::PassphraseRequired(_))
        ));
        let err = ks.get("a", Some("wrong")).expect_err("wrong passphrase");
        assert!(matches!(err, KeystoreError::WrongPassphrase(_)), "{err}");
        assert_eq!(err.code_str(), "wrong_passphrase");
        // Adding a key under another passphrase is refused: one passphrase per keystore.
        assert!(matches!(
            ks.create("b", Protection::Passphrase("other")),
            Err(KeystoreError::WrongPassphrase(_))
        ));
        assert!(matches!(
            ks.change_passphrase(Some("wrong"), "new one"),
            Err(KeystoreError::WrongPassphrase(_))
        ));
        assert_eq!(
            std::fs::read(&path).expect("read"),
            before,
            "file untouched"
        );
        assert_eq!(ks.list().len(), 1);
    }

    #[test]
    fn change_passphrase_reseals_every_key() {
        let (_dir, path) = temp_store();
        let mut ks = open(&path);
        ks.import("sealed", [1u8; 32], PASS).expect("import");
        ks.import("dev", [2u8; 32], Protection::Unencrypted)
            .expect("import");
        assert!(!ks.entry("dev").expect("entry").encrypted);
        assert_eq!(
            ks.change_passphrase(Some("correct horse"), "battery staple")
                .expect("change"),
            2
        );
        let ks = open(&path);
        assert!(ks.list().iter().all(|e| e.encrypted));
        assert!(ks.get("sealed", Some("correct horse")).is_err());
        assert_eq!(
            ks.get("sealed", Some("battery staple"))
                .expect("get")
                .seed(),
            &[1u8; 32]
        );
        assert_eq!(
            ks.get("dev", Some("battery staple")).expect("get").seed(),
            &[2u8; 32]
        );
    }

    #[test]
    fn version_1_files_are_read_and_upgraded() {
        let (dir, _) = temp_store();
        let path = dir.path().join("ks.json");
        let key = SecretKey::from_seed([5u8; 32]);
        let v1 = serde_json::json!({"version": 1, "keys": {"old": {
            "seed": hex::encode(key.seed()),
            "public_key": key.public_key(),
            "address": key.address(),
        }}});
        std::fs::write(&path, v1.to_string()).expect("write");
        let mut ks = open(&path);
        assert!(!ks.entry("old").expect("entry").encrypted);
        assert_eq!(ks.get("old", None).expect("get").seed(), key.seed());
        ks.change_passphrase(None, "now sealed").expect("seal");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&hex::encode(key.seed())));
        assert_eq!(
            open(&path)
                .get("old", Some("now sealed"))
                .expect("get")
                .seed(),
            key.seed()
        );
    }

    #[test]
    fn duplicate_names_are_rejected_and_nothing_changes() {
        let (_dir, path) = temp_store();
        let mut ks = open(&path);
        let first = ks.import("a", [1u8; 32], PASS).expect("import");
        assert!(matches!(
            ks.import("a", [2u8; 32], PASS),
            Err(KeystoreError::AlreadyExists(_))
        ));
        assert!(matches!(
            ks.create("a", PASS),
            Err(KeystoreError::AlreadyExists(_))
        ));
        let ks = open(&path);
        assert_eq!(ks.entry("a").expect("entry"), first);
    }

    #[test]
    fn bad_names_are_rejected() {
        let (_dir, path) = temp_store();
        let mut ks = open(&path);
        let long = "x".repeat(65);
        for bad in ["", "a b", "a/b", "../x", "é", "a\n", long.as_str()] {
            let err = ks
                .import(bad, [1u8; 32], Protection::Unencrypted)
                .expect_err(bad);
            assert!(
                matches!(err, KeystoreError::InvalidName(_)),
                "{bad:?}: {err}"
            );
            assert_eq!(err.code_str(), "invalid_argument");
        }
        assert!(
            ks.import(&"x".repeat(64), [1u8; 32], Protection::Unencrypted)
                .is_ok()
        );
        assert!(!path.exists() || open(&path).list().len() == 1);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = temp_store();
        let mut ks = open(&path);
        ks.create("k", PASS).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().expect("parent"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        // Still private after a rewrite, and no temporary file is left behind.
        ks.create("k2", PASS).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "keystore.json")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn seeds_never_in_debug() {
        let (_dir, path) = temp_store();
        let mut ks = open(&path);
        let seed = [0xabu8; 32];
        ks.import("a", seed, Protection::Unencrypted)
            .expect("import");
        let dbg = format!("{ks:?} {:?} {:?}", ks.keys, ks.get("a", None).expect("get"));
        assert!(!dbg.contains(&hex::encode(seed)), "{dbg}");
    }

    #[test]
    fn corrupt_files_are_rejected() {
        let (dir, _) = temp_store();
        let path = dir.path().join("ks.json");
        std::fs::write(&path, "not json").expect("write");
        assert!(matches!(
            Keystore::open(&path),
            Err(KeystoreError::Corrupt { .. })
        ));
        std::fs::write(&path, r#"{"version":3,"keys":{}}"#).expect("write");
        assert!(matches!(
            Keystore::open(&path),
            Err(KeystoreError::Corrupt { .. })
        ));
        // Address that does not belong to the key.
        let other = SecretKey::from_label("other");
        let json = serde_json::json!({"version": 2, "keys": {"a": {
            "seed": hex::encode([1u8; 32]),
            "public_key": SecretKey::from_seed([1u8; 32]).public_key(),
            "address": other.address(),
        }}});
        std::fs::write(&path, json.to_string()).expect("write");
        assert!(matches!(
            Keystore::open(&path),
            Err(KeystoreError::Corrupt { .. })
        ));
        // Neither a seed nor a sealed seed.
        let json = serde_json::json!({"version": 2, "keys": {"a": {
            "public_key": other.public_key(),
            "address": other.address(),
        }}});
        std::fs::write(&path, json.to_string()).expect("write");
        assert!(matches!(
            Keystore::open(&path),
            Err(KeystoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn seeds_parse() {
        assert_eq!(parse_seed(&hex::encode([3u8; 32])).expect("ok"), [3u8; 32]);
        assert_eq!(
            parse_seed(&format!("0x{}", hex::encode([3u8; 32]))).expect("ok"),
            [3u8; 32]
        );
        assert!(parse_seed("abcd").is_err());
        assert!(parse_seed("zz").is_err());
    }
}
