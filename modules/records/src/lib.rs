//! Record heads: what the chain knows of a record kept encrypted off chain (a health record, an
//! identity document, a deed, a department's file). The payload lives in the blob store,
//! encrypted with a fresh data key per version and wrapped for each reader (`urbis-sealing`);
//! the chain holds, per version, a **salted** hash of the content (so a guessed plaintext cannot
//! be confirmed), the hash and size of the ciphertext, and where to fetch it.
//!
//! **Privacy.** A head names its subject only by a **pseudonym**:
//! [`subject_pseudonym`]`(account) = sha256_domain("urbis/records-subject/v1", account)` of a
//! pairwise account the subject makes for that custodian alone (the CLI makes one per
//! custodian) and hands the custodian; signing with that account proves to be the subject
//! (to read the record's key from the node's vault, or to erase it where the law allows). The subject lists every head about them by their pseudonyms; an outside observer sees
//! that a custodian keeps N records of a given kind about one pseudonym, their sizes and when
//! they changed, but not whose they are, nor what they say. Different custodians see different
//! pseudonyms of the same person.
//!
//! Only the custodian writes versions. Erasure (crypto-shredding) turns the head into a
//! tombstone: its content and ciphertext hashes and locator are cleared in the new version;
//! earlier versions keep only hashes of ciphertext whose keys are destroyed off chain (every
//! node deletes the blobs and the wrapped keys once it executes the erasure). The custodian
//! erases; the subject too, for the kinds the genesis lists in `subject_may_erase` (where the
//! law allows it: health records, for one, usually have a retention duty).
//!
//! **Break-glass.** A hospital may open a health record without the subject's consent in an
//! emergency: `break_glass` commits an [`EmergencyAccess`] (who, when, a hash of the stated
//! reason) before the node releases the emergency wrap of the record's key (to the genesis'
//! `emergency_reader` DID, whose key the hospitals' emergency desks hold); the subject sees
//! every such access in the record's emergency log and the `break_glass` event.
//!
//! | key | value (borsh) |
//! |---|---|
//! | `records/head/<id hex>` | [`Head`] (the current version) |
//! | `records/version/<id hex>/<version:010>` | [`Head`] as of that version |
//! | `records/subject/<pseudonym hex>/<id hex>` | `()`: the subject index |
//! | `records/emergency/<id hex>/<n:010>` | [`EmergencyAccess`] |
//! | `records/emergencies/<id hex>` | `u32`: how many |
//! | `records/config` | [`Config`] |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `create {kind, subject, content_hash, ciphertext_hash, size, locator}` | a custodian (department, credential issuer, hospital) | `unauthorized`, `invalid_argument` |
//! | `update {id, content_hash, ciphertext_hash, size, locator}` | the record's custodian | `not_found`, `unauthorized`, `invalid_state` (erased), `invalid_argument` |
//! | `erase {id}` | the record's custodian, or its subject for the kinds in `subject_may_erase` | `not_found`, `unauthorized`, `erased` |
//! | `break_glass {id, reason}` | a hospital | `not_found`, `unauthorized`, `erased`, `invalid_argument` (not a health record) |
//! | `configure {emergency_reader, subject_may_erase}` | city admin | `unauthorized`, `invalid_argument` |
//!
//! Events: `created {record, kind}`, `updated {record, version}`, `erased {record}`,
//! `break_glass {record, n}` (no subject in them).
//!
//! Queries: `head/<id>`, `version/<id>/<n>`, `versions/<id>` (list), `about/<pseudonym>` (list of
//! record ids), `emergency/<id>` (list of emergency accesses), `config`.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError, sha256_domain};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

/// Namespace and module name.
pub const MODULE: &str = "records";
/// Largest record payload the chain accepts a head for (the blob store's default bound).
pub const MAX_SIZE: u64 = 16 << 20;
/// Longest locator.
pub const MAX_LOCATOR: usize = 256;

/// The pseudonym under which a record names the subject who controls `account`.
pub fn subject_pseudonym(account: &Address) -> Hash {
    sha256_domain(b"urbis/records-subject/v1", &[&account.0])
}

/// The module's settings (genesis).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The DID whose key-agreement key the emergency wrap of a health record is made for.
    #[serde(default)]
    pub emergency_reader: Option<String>,
    /// The kinds of record their subject may erase.
    #[serde(default)]
    pub subject_may_erase: Vec<Kind>,
}

/// One emergency opening of a health record.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct EmergencyAccess {
    pub record: Hash,
    /// 1 for the first.
    pub n: u32,
    /// The hospital account.
    pub by: Address,
    pub at_ms: u64,
    /// A hash of the stated reason (the text stays in the hospital's file).
    pub reason: Hash,
    pub tx: Hash,
}

/// What a record is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Health,
    IdentityDocument,
    Deed,
    DepartmentFile,
}

/// A record head at one version.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Head {
    pub id: Hash,
    pub kind: Kind,
    /// The subject's pseudonym for this custodian.
    pub subject: Hash,
    pub custodian: Address,
    /// 1 at creation.
    pub version: u64,
    /// `SHA-256(salt || plaintext)`, the salt known to the readers; zero once erased.
    pub content_hash: Hash,
    /// SHA-256 of the sealed payload in the blob store; zero once erased.
    pub ciphertext_hash: Hash,
    pub size: u64,
    /// Where to fetch the ciphertext (a blob hash or a URL); empty once erased.
    pub locator: String,
    pub erased: bool,
    pub created_ms: u64,
    pub updated_ms: u64,
}

/// A call to the records module (borsh in transactions; never reorder, only append).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum RecordsCall {
    Create {
        kind: Kind,
        subject: Hash,
        content_hash: Hash,
        ciphertext_hash: Hash,
        size: u64,
        locator: String,
    },
    Update {
        id: Hash,
        content_hash: Hash,
        ciphertext_hash: Hash,
        size: u64,
        locator: String,
    },
    Erase {
        id: Hash,
    },
    /// Open a health record in an emergency (a hospital; always logged).
    BreakGlass {
        id: Hash,
        reason: Hash,
    },
    /// Set the module's settings (city admin).
    Configure {
        #[serde(default)]
        emergency_reader: Option<String>,
        #[serde(default)]
        subject_may_erase: Vec<Kind>,
    },
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::Hash;
    use urbis_runtime::kit;

    pub fn head(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"head", id])
    }
    pub fn version(id: &Hash, v: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"version", id, &format!("{v:010}")])
    }
    pub fn versions(id: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"version", id])
    }
    pub fn about(subject: &Hash, id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"subject", subject, id])
    }
    pub fn about_prefix(subject: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"subject", subject])
    }
    pub fn emergency(id: &Hash, n: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"emergency", id, &format!("{n:010}")])
    }
    pub fn emergencies(id: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"emergency", id])
    }
    pub fn emergency_count(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"emergencies", id])
    }
    pub fn config() -> Vec<u8> {
        kit::key(MODULE, &[&"config"])
    }
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Heads of encrypted records kept by custodians about pseudonymous subjects, with versions and erasure.",
    queries: &[
        QueryInfo {
            path: "head/<id>",
            list: false,
            description: "A record's current head.",
        },
        QueryInfo {
            path: "version/<id>/<n>",
            list: false,
            description: "A record's head as of version n.",
        },
        QueryInfo {
            path: "versions/<id>",
            list: true,
            description: "Every version of a record's head.",
        },
        QueryInfo {
            path: "about/<pseudonym>",
            list: true,
            description: "The ids of the records about a subject pseudonym.",
        },
        QueryInfo {
            path: "emergency/<id>",
            list: true,
            description: "Every emergency (break-glass) opening of a record.",
        },
        QueryInfo {
            path: "config",
            list: false,
            description: "The emergency reader and the kinds a subject may erase.",
        },
    ],
    events: &[
        EventInfo {
            kind: "created",
            attributes: &["record", "kind"],
            description: "A record was created.",
        },
        EventInfo {
            kind: "updated",
            attributes: &["record", "version"],
            description: "A record has a new version.",
        },
        EventInfo {
            kind: "erased",
            attributes: &["record"],
            description: "A record was erased (its head is a tombstone).",
        },
        EventInfo {
            kind: "break_glass",
            attributes: &["record", "n"],
            description: "A hospital opened a health record in an emergency.",
        },
    ],
    exported: &[],
};

/// The records module.
pub struct Records;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Records)
}

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

fn check_content(size: u64, locator: &str) -> Result<(), UrbisError> {
    if size == 0 || size > MAX_SIZE {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("a record is 1 byte to {MAX_SIZE} bytes"),
        ));
    }
    if locator.is_empty() || locator.len() > MAX_LOCATOR || locator.chars().any(char::is_control) {
        return Err(err(
            ErrorCode::InvalidArgument,
            format!("a locator is 1 to {MAX_LOCATOR} characters"),
        ));
    }
    Ok(())
}

fn save(ctx: &mut Ctx<'_>, head: &Head) {
    ctx.put(keys::head(&head.id), head);
    ctx.put(keys::version(&head.id, head.version), head);
}

fn live(ctx: &Ctx<'_>, id: &Hash) -> Result<Head, UrbisError> {
    let head: Head = ctx
        .get(&keys::head(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no record {id}")))?;
    Ok(head)
}

fn not_erased(head: &Head) -> Result<(), UrbisError> {
    if head.erased {
        return Err(err(ErrorCode::Erased, "the record was erased"));
    }
    Ok(())
}

fn custodian_of(ctx: &Ctx<'_>, id: &Hash) -> Result<Head, UrbisError> {
    let head = live(ctx, id)?;
    if head.custodian != ctx.sender() {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the record's custodian writes it",
        ));
    }
    not_erased(&head)?;
    Ok(head)
}

fn config(ctx: &Ctx<'_>) -> Result<Config, UrbisError> {
    Ok(ctx.get(&keys::config())?.unwrap_or_default())
}

/// The head `id` if the sender may erase it: its custodian, or its subject for the kinds the
/// genesis allows.
fn eraser_of(ctx: &Ctx<'_>, id: &Hash) -> Result<Head, UrbisError> {
    let head = live(ctx, id)?;
    let sender = ctx.sender();
    if head.custodian != sender {
        if subject_pseudonym(&sender) != head.subject {
            return Err(err(
                ErrorCode::Unauthorized,
                "a record is erased by its custodian or its subject",
            ));
        }
        if !config(ctx)?.subject_may_erase.contains(&head.kind) {
            return Err(err(
                ErrorCode::Unauthorized,
                "the subject may not erase a record of this kind (its custodian must keep it)",
            ));
        }
    }
    not_erased(&head)?;
    Ok(head)
}

fn configure(ctx: &mut Ctx<'_>, c: Config) -> Result<(), UrbisError> {
    if let Some(d) = &c.emergency_reader
        && (!d.starts_with("did:") || d.len() > 128 || d.chars().any(char::is_control))
    {
        return Err(err(ErrorCode::InvalidArgument, "emergency_reader is a DID"));
    }
    ctx.put(keys::config(), &c);
    Ok(())
}

fn break_glass(ctx: &mut Ctx<'_>, id: Hash, reason: Hash) -> Result<(), UrbisError> {
    let head = live(ctx, &id)?;
    let sender = ctx.sender();
    if !has_role(ctx, &sender, Role::Hospital)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "only a hospital opens a record in an emergency",
        ));
    }
    not_erased(&head)?;
    if head.kind != Kind::Health {
        return Err(err(
            ErrorCode::InvalidArgument,
            "break-glass is for health records",
        ));
    }
    let n = ctx.get::<u32>(&keys::emergency_count(&id))?.unwrap_or(0) + 1;
    ctx.put(keys::emergency_count(&id), &n);
    let tx = ctx
        .tx()
        .map(|t| t.hash)
        .ok_or_else(|| err(ErrorCode::Internal, "break-glass is a transaction"))?;
    let entry = EmergencyAccess {
        record: id,
        n,
        by: sender,
        at_ms: ctx.timestamp_ms(),
        reason,
        tx,
    };
    ctx.put(keys::emergency(&id, n), &entry);
    ctx.emit(
        Event::new(MODULE, "break_glass")
            .with("record", id)
            .with("n", n),
    );
    Ok(())
}

impl Module for Records {
    urbis_runtime::json_calls!(RecordsCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    /// Optional: [`Config`] as JSON.
    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        if config.is_null() {
            return Ok(());
        }
        let c: Config = serde_json::from_value(config.clone()).map_err(|e| {
            err(
                ErrorCode::InvalidArgument,
                format!("records genesis: {e} (expected {{emergency_reader, subject_may_erase}})"),
            )
        })?;
        configure(ctx, c)
    }

    fn weight(&self, _data: &[u8]) -> u64 {
        60_000
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call: RecordsCall = kit::decode_call(data)?;
        let now = ctx.timestamp_ms();
        match call {
            RecordsCall::Create {
                kind,
                subject,
                content_hash,
                ciphertext_hash,
                size,
                locator,
            } => {
                let sender = ctx.sender();
                if !(has_role(ctx, &sender, Role::Department)?
                    || has_role(ctx, &sender, Role::CredentialIssuer)?
                    || has_role(ctx, &sender, Role::Hospital)?)
                {
                    return Err(err(
                        ErrorCode::Unauthorized,
                        "records are kept by departments, credential issuers and hospitals",
                    ));
                }
                check_content(size, &locator)?;
                let id = ctx.new_id();
                let head = Head {
                    id,
                    kind,
                    subject,
                    custodian: sender,
                    version: 1,
                    content_hash,
                    ciphertext_hash,
                    size,
                    locator,
                    erased: false,
                    created_ms: now,
                    updated_ms: now,
                };
                save(ctx, &head);
                ctx.put(keys::about(&subject, &id), &());
                let kind = serde_json::to_value(kind).unwrap_or_default();
                ctx.emit(
                    Event::new(MODULE, "created")
                        .with("record", id)
                        .with("kind", kind.as_str().unwrap_or_default()),
                );
                Ok(())
            }
            RecordsCall::Update {
                id,
                content_hash,
                ciphertext_hash,
                size,
                locator,
            } => {
                let mut head = custodian_of(ctx, &id)?;
                check_content(size, &locator)?;
                head.version += 1;
                head.content_hash = content_hash;
                head.ciphertext_hash = ciphertext_hash;
                head.size = size;
                head.locator = locator;
                head.updated_ms = now;
                save(ctx, &head);
                ctx.emit(
                    Event::new(MODULE, "updated")
                        .with("record", id)
                        .with("version", head.version),
                );
                Ok(())
            }
            RecordsCall::BreakGlass { id, reason } => break_glass(ctx, id, reason),
            RecordsCall::Configure {
                emergency_reader,
                subject_may_erase,
            } => {
                if !has_role(ctx, &ctx.sender(), Role::CityAdmin)? {
                    return Err(err(
                        ErrorCode::Unauthorized,
                        "the records settings are the city admin's",
                    ));
                }
                configure(
                    ctx,
                    Config {
                        emergency_reader,
                        subject_may_erase,
                    },
                )
            }
            RecordsCall::Erase { id } => {
                let mut head = eraser_of(ctx, &id)?;
                head.version += 1;
                head.content_hash = Hash::ZERO;
                head.ciphertext_hash = Hash::ZERO;
                head.size = 0;
                head.locator = String::new();
                head.erased = true;
                head.updated_ms = now;
                save(ctx, &head);
                ctx.emit(Event::new(MODULE, "erased").with("record", id));
                Ok(())
            }
        }
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        let hash = |t: &str| kit::parse_hash("a record id", t);
        match path {
            ["head", id] => Ok(keys::head(&hash(id)?)),
            ["version", id, n] => Ok(keys::version(&hash(id)?, kit::parse_u64("version", n)?)),
            ["config"] => Ok(keys::config()),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        match (path.first(), value) {
            (Some(&"config"), None) => serde_json::to_value(Config::default())
                .map_err(|e| err(ErrorCode::Internal, e.to_string())),
            (_, None) => Ok(serde_json::Value::Null),
            (Some(&"config"), Some(b)) => serde_json::to_value(decode_value::<Config>(&key, b)?)
                .map_err(|e| err(ErrorCode::Internal, e.to_string())),
            (_, Some(b)) => serde_json::to_value(decode_value::<Head>(&key, b)?)
                .map_err(|e| err(ErrorCode::Internal, e.to_string())),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        let hash = |t: &str| kit::parse_hash("a record id or pseudonym", t);
        Ok(match path {
            ["versions", id] => Some(keys::versions(&hash(id)?)),
            ["about", p] => Some(keys::about_prefix(&hash(p)?)),
            ["emergency", id] => Some(keys::emergencies(&hash(id)?)),
            _ => None,
        })
    }

    fn render_item(
        &self,
        path: &[&str],
        key: &[u8],
        value: &[u8],
    ) -> Result<serde_json::Value, UrbisError> {
        match path.first() {
            Some(&"versions") => serde_json::to_value(decode_value::<Head>(key, value)?)
                .map_err(|e| err(ErrorCode::Internal, e.to_string())),
            Some(&"emergency") => {
                serde_json::to_value(decode_value::<EmergencyAccess>(key, value)?)
                    .map_err(|e| err(ErrorCode::Internal, e.to_string()))
            }
            _ => Ok(serde_json::Value::String(
                String::from_utf8_lossy(key)
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            )),
        }
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

#[cfg(test)]
mod tests;
