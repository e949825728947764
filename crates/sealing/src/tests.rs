//! Sealing and wrapping, and the HPKE suite checked against RFC 9180's test vectors
//! (Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, Base mode).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{TryCryptoRng, TryRng};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};

use super::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

// RFC 9180, Appendix A.2.1.
const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
const IKM_E: &str = "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b";
const PK_EM: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
const IKM_R: &str = "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df";
const PK_RM: &str = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
const SK_RM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
const ENC: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
const PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
/// (sequence number, aad, ciphertext)
const ENCRYPTIONS: &[(u64, &str, &str)] = &[
    (
        0,
        "436f756e742d30",
        "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
    ),
    (
        1,
        "436f756e742d31",
        "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c",
    ),
    (
        2,
        "436f756e742d32",
        "71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b",
    ),
];
/// (exporter context, exported value of 32 bytes)
const EXPORTS: &[(&str, &str)] = &[
    (
        "",
        "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e",
    ),
    (
        "00",
        "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69",
    ),
    (
        "54657374436f6e74657874",
        "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53",
    ),
];

/// Hands out fixed bytes: the RFC's ephemeral key material.
struct Fixed(Vec<u8>);

impl TryRng for Fixed {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!("only fill_bytes is used")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("only fill_bytes is used")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let n = dst.len();
        dst.copy_from_slice(&self.0[..n]);
        self.0.drain(..n);
        Ok(())
    }
}

impl TryCryptoRng for Fixed {}

#[test]
fn the_hpke_suite_reproduces_rfc_9180_a_2_1() {
    let (sk_r, pk_r) = X25519HkdfSha256::derive_keypair(&h(IKM_R));
    // The RFC prints skRm as DeriveKeyPair outputs it; the library keeps the X25519-clamped
    // form of the same scalar (RFC 7748: the same key). Compare them clamped.
    let clamp = |mut b: Vec<u8>| {
        b[0] &= 248;
        b[31] &= 127;
        b[31] |= 64;
        b
    };
    assert_eq!(clamp(sk_r.to_bytes().to_vec()), clamp(h(SK_RM)));
    assert_eq!(pk_r.to_bytes().to_vec(), h(PK_RM));
    let (_, pk_e) = X25519HkdfSha256::derive_keypair(&h(IKM_E));
    assert_eq!(pk_e.to_bytes().to_vec(), h(PK_EM));

    let (enc, mut sender) = hpke::setup_sender_with_rng::<
        ChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
    >(&OpModeS::Base, &pk_r, &h(INFO), &mut Fixed(h(IKM_E)))
    .unwrap();
    assert_eq!(enc.to_bytes().to_vec(), h(ENC));
    let mut receiver = hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk_r,
        &enc,
        &h(INFO),
    )
    .unwrap();
    // The vectors list sequence numbers 0, 1, 2: each seal advances the sender's counter.
    for (seq, aad, ct) in ENCRYPTIONS {
        assert_eq!(
            *seq,
            ENCRYPTIONS.iter().position(|e| e.0 == *seq).unwrap() as u64
        );
        assert_eq!(
            sender.seal(&h(PT), &h(aad)).unwrap(),
            h(ct),
            "sequence {seq}"
        );
        assert_eq!(receiver.open(&h(ct), &h(aad)).unwrap(), h(PT));
    }
    for (context, value) in EXPORTS {
        let mut out = [0u8; 32];
        sender.export(&h(context), &mut out).unwrap();
        assert_eq!(out.to_vec(), h(value));
    }
    // The same secret through this crate's key type gives the same public key.
    let mine = AgreementKey::from_secret(h(SK_RM).try_into().unwrap());
    assert_eq!(mine.public().to_vec(), h(PK_RM));
    let _ = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&h(PK_RM)).unwrap();
}

#[test]
fn a_payload_is_read_only_by_its_recipients_and_only_for_its_context() {
    let alice = AgreementKey::generate();
    let doctor = AgreementKey::generate();
    let stranger = AgreementKey::generate();
    let key = DataKey::generate();
    let sealed = seal(&key, b"blood test 2026-03: normal", b"record-1/v1");
    assert_eq!(sealed.len(), 26 + SEAL_OVERHEAD);
    let wraps: Vec<Wrap> = [&alice, &doctor]
        .iter()
        .map(|r| wrap(&key, &r.public(), b"record-1/v1").unwrap())
        .collect();
    for (w, who) in wraps.iter().zip([&alice, &doctor]) {
        assert_eq!(w.to_bytes().len(), WRAP_BYTES);
        let k = unwrap(
            &Wrap::from_bytes(&w.to_bytes()).unwrap(),
            who,
            b"record-1/v1",
        )
        .unwrap();
        assert_eq!(
            open(&k, &sealed, b"record-1/v1").unwrap(),
            b"blood test 2026-03: normal"
        );
    }
    // Someone else's key, another context, a tampered wrap or payload: nothing decrypts.
    assert_eq!(
        unwrap(&wraps[0], &stranger, b"record-1/v1").unwrap_err(),
        SealError::Decrypt
    );
    assert_eq!(
        unwrap(&wraps[0], &alice, b"record-2/v1").unwrap_err(),
        SealError::Decrypt
    );
    let mut bad = wraps[0].clone();
    bad.ct[0] ^= 1;
    assert_eq!(
        unwrap(&bad, &alice, b"record-1/v1").unwrap_err(),
        SealError::Decrypt
    );
    let mut tampered = sealed.clone();
    tampered[30] ^= 1;
    assert_eq!(
        open(&key, &tampered, b"record-1/v1").unwrap_err(),
        SealError::Decrypt
    );
    assert_eq!(
        open(&key, &sealed, b"record-1/v2").unwrap_err(),
        SealError::Decrypt
    );
    assert!(matches!(
        open(&key, &sealed[..10], b""),
        Err(SealError::Malformed(_))
    ));
    assert!(matches!(
        Wrap::from_bytes(&[0; 12]),
        Err(SealError::Malformed(_))
    ));
    // Two seals of the same payload differ (fresh nonces).
    assert_ne!(seal(&key, b"x", b""), seal(&key, b"x", b""));
}
