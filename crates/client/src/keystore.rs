//! A local JSON keystore of named signing keys.
//!
//! File format (version 1):
//!
//! ```json
//! { "version": 1,
//!   "keys": { "alice": { "seed": "<64 hex digits>", "public_key": "ed25519:…", "address": "urbis1…" } } }
//! ```
//!
//! Seeds are stored in the clear: the file's protection is its permissions. Every write goes to
//! a temporary file in the same directory (mode `0600` on unix) that is then renamed over the
//! keystore, so a crash never leaves a half-written file. The directory is created `0700`.
//! Concurrent writers are not coordinated: the last rename wins.
//!
//! Key names match `[A-Za-z0-9_.-]{1,64}`. Seeds never appear in `Debug` output.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use urbis_core::{Address, ErrorCode, PublicKey, SecretKey};

pub const KEYSTORE_VERSION: u32 = 1;
pub const MAX_NAME_LEN: usize = 64;

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
            | KeystoreError::NoDefaultPath => ErrorCode::InvalidArgument.as_str(),
        }
    }
}

/// The public part of a stored key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub name: String,
    pub public_key: PublicKey,
    pub address: Address,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    seed: String,
    public_key: PublicKey,
    address: Address,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("seed", &"<redacted>")
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
        if file.version != KEYSTORE_VERSION {
            return Err(corrupt(format!(
                "unsupported version {} (expected {KEYSTORE_VERSION})",
                file.version
            )));
        }
        for (name, stored) in &file.keys {
            if !is_valid_name(name) {
                return Err(corrupt(format!("invalid key name {name:?}")));
            }
            let seed =
                parse_seed(&stored.seed).map_err(|e| corrupt(format!("key {name:?}: {e}")))?;
            let key = SecretKey::from_seed(seed);
            if key.public_key() != stored.public_key || key.address() != stored.address {
                return Err(corrupt(format!(
                    "key {name:?}: public key or address does not match the seed"
                )));
            }
        }
        Ok(Keystore {
            path,
            keys: file.keys,
        })
    }

    /// Open the keystore at [`Keystore::default_path`].
    pub fn open_default() -> Result<Self, KeystoreError> {
        Self::open(Self::default_path()?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Generate a fresh key named `name` and save it. Fails if the name exists.
    pub fn create(&mut self, name: &str) -> Result<KeyEntry, KeystoreError> {
        self.insert(name, SecretKey::generate())
    }

    /// Store the key with `seed` as `name` and save it. Fails if the name exists.
    pub fn import(&mut self, name: &str, seed: [u8; 32]) -> Result<KeyEntry, KeystoreError> {
        self.insert(name, SecretKey::from_seed(seed))
    }

    /// Store `key` as `name` and save it. Fails if the name exists.
    pub fn insert(&mut self, name: &str, key: SecretKey) -> Result<KeyEntry, KeystoreError> {
        check_name(name)?;
        if self.keys.contains_key(name) {
            return Err(KeystoreError::AlreadyExists(name.to_string()));
        }
        let stored = StoredKey {
            seed: hex::encode(key.seed()),
            public_key: key.public_key(),
            address: key.address(),
        };
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

    /// The secret key named `name`.
    pub fn get(&self, name: &str) -> Result<SecretKey, KeystoreError> {
        let stored = self
            .keys
            .get(name)
            .ok_or_else(|| KeystoreError::NotFound(name.to_string()))?;
        // Checked on open and on insert.
        let seed = parse_seed(&stored.seed)?;
        Ok(SecretKey::from_seed(seed))
    }

    /// The public part of the key named `name`.
    pub fn entry(&self, name: &str) -> Result<KeyEntry, KeystoreError> {
        self.keys
            .get(name)
            .map(|s| KeyEntry {
                name: name.to_string(),
                public_key: s.public_key,
                address: s.address,
            })
            .ok_or_else(|| KeystoreError::NotFound(name.to_string()))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.keys.contains_key(name)
    }

    /// Every key, by name.
    pub fn list(&self) -> Vec<KeyEntry> {
        self.keys
            .iter()
            .map(|(name, s)| KeyEntry {
                name: name.clone(),
                public_key: s.public_key,
                address: s.address,
            })
            .collect()
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

    fn temp_store() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested").join("keystore.json");
        (dir, path)
    }

    #[test]
    fn roundtrip_create_import_get_list() {
        let (_dir, path) = temp_store();
        let mut ks = Keystore::open(&path).expect("missing file is empty");
        assert!(ks.list().is_empty());
        assert!(!path.exists(), "opening does not create the file");

        let alice = ks.create("alice").expect("create");
        let seed = [7u8; 32];
        let bob = ks.import("bob.2-x_y", seed).expect("import");
        assert_eq!(bob.address, SecretKey::from_seed(seed).address());

        let ks2 = Keystore::open(&path).expect("reopen");
        assert_eq!(ks2.list(), vec![alice.clone(), bob.clone()]);
        assert_eq!(ks2.get("bob.2-x_y").expect("get").seed(), &seed);
        assert_eq!(ks2.get("alice").expect("get").address(), alice.address);
        assert_eq!(ks2.name_of(&alice.address), Some("alice"));
        assert!(matches!(ks2.get("carol"), Err(KeystoreError::NotFound(_))));

        let text = std::fs::read_to_string(&path).expect("read");
        let json: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(json["version"], 1);
        assert_eq!(json["keys"]["bob.2-x_y"]["seed"], hex::encode(seed));
        assert_eq!(
            json["keys"]["bob.2-x_y"]["address"],
            bob.address.to_string()
        );
        assert_eq!(
            json["keys"]["bob.2-x_y"]["public_key"],
            bob.public_key.to_text()
        );
    }

    #[test]
    fn duplicate_names_are_rejected_and_nothing_changes() {
        let (_dir, path) = temp_store();
        let mut ks = Keystore::open(&path).expect("open");
        let first = ks.import("a", [1u8; 32]).expect("import");
        assert!(matches!(
            ks.import("a", [2u8; 32]),
            Err(KeystoreError::AlreadyExists(_))
        ));
        assert!(matches!(
            ks.create("a"),
            Err(KeystoreError::AlreadyExists(_))
        ));
        let ks = Keystore::open(&path).expect("reopen");
        assert_eq!(ks.entry("a").expect("entry"), first);
    }

    #[test]
    fn bad_names_are_rejected() {
        let (_dir, path) = temp_store();
        let mut ks = Keystore::open(&path).expect("open");
        let long = "x".repeat(65);
        for bad in ["", "a b", "a/b", "../x", "é", "a\n", long.as_str()] {
            let err = ks.import(bad, [1u8; 32]).expect_err(bad);
            assert!(
                matches!(err, KeystoreError::InvalidName(_)),
                "{bad:?}: {err}"
            );
            assert_eq!(err.code_str(), "invalid_argument");
        }
        assert!(ks.import(&"x".repeat(64), [1u8; 32]).is_ok());
        assert!(!path.exists() || Keystore::open(&path).expect("open").list().len() == 1);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = temp_store();
        let mut ks = Keystore::open(&path).expect("open");
        ks.create("k").expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().expect("parent"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        // Still private after a rewrite, and no temporary file is left behind.
        ks.create("k2").expect("create");
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
        let mut ks = Keystore::open(&path).expect("open");
        let seed = [0xabu8; 32];
        ks.import("a", seed).expect("import");
        let dbg = format!("{ks:?} {:?} {:?}", ks.keys, ks.get("a").expect("get"));
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
        std::fs::write(&path, r#"{"version":2,"keys":{}}"#).expect("write");
        assert!(matches!(
            Keystore::open(&path),
            Err(KeystoreError::Corrupt { .. })
        ));
        // Address that does not belong to the seed.
        let other = SecretKey::from_label("other");
        let json = serde_json::json!({"version": 1, "keys": {"a": {
            "seed": hex::encode([1u8; 32]),
            "public_key": SecretKey::from_seed([1u8; 32]).public_key(),
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
