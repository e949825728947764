//! Record heads: what the chain knows of a record kept encrypted off chain (a health record, an
//! identity document, a deed, a department's file). The payload lives in the blob store,
//! encrypted with a fresh data key per version and wrapped for each reader (`urbis-sealing`);
//! the chain holds, per version, a **salted** hash of the content (so a guessed plaintext cannot
//! be confirmed), the hash and size of the ciphertext, and where to fetch it.
//!
//! **Privacy.** A head names its subject only by a **pseudonym**: 32 bytes the subject hands the
//! custodian for that relationship (the CLI derives one per custodian from the subject's
//! keys). The subject lists every head about them by their pseudonyms; an outside observer sees
//! that a custodian keeps N records of a given kind about one pseudonym, their sizes and when
//! they changed, but not whose they are, nor what they say. Different custodians see different
//! pseudonyms of the same person.
//!
//! Only the custodian writes versions. Erasure (crypto-shredding) turns the head into a
//! tombstone: its content and ciphertext hashes and locator are cleared in the new version;
//! earlier versions keep only hashes of ciphertext whose keys are destroyed off chain.
//!
//! | key | value (borsh) |
//! |---|---|
//! | `records/head/<id hex>` | [`Head`] (the current version) |
//! | `records/version/<id hex>/<version:010>` | [`Head`] as of that version |
//! | `records/subject/<pseudonym hex>/<id hex>` | `()`: the subject index |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `create {kind, subject, content_hash, ciphertext_hash, size, locator}` | a custodian (department, credential issuer) | `unauthorized`, `invalid_argument` |
//! | `update {id, content_hash, ciphertext_hash, size, locator}` | the record's custodian | `not_found`, `unauthorized`, `invalid_state` (erased), `invalid_argument` |
//! | `erase {id}` | the record's custodian | `not_found`, `unauthorized`, `invalid_state` (erased) |
//!
//! Events: `created {record, kind}`, `updated {record, version}`, `erased {record}` (no subject
//! in them).
//!
//! Queries: `head/<id>`, `version/<id>/<n>`, `versions/<id>` (list), `about/<pseudonym>` (list of
//! record ids).

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

/// Namespace and module name.
pub const MODULE: &str = "records";
/// Largest record payload the chain accepts a head for (the blob store's default bound).
pub const MAX_SIZE: u64 = 16 << 20;
/// Longest locator.
pub const MAX_LOCATOR: usize = 256;

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

fn custodian_of(ctx: &Ctx<'_>, id: &Hash) -> Result<Head, UrbisError> {
    let head: Head = ctx
        .get(&keys::head(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no record {id}")))?;
    if head.custodian != ctx.sender() {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the record's custodian writes it",
        ));
    }
    if head.erased {
        return Err(err(ErrorCode::InvalidState, "the record was erased"));
    }
    Ok(head)
}

impl Module for Records {
    urbis_runtime::json_calls!(RecordsCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
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
                    || has_role(ctx, &sender, Role::CredentialIssuer)?)
                {
                    return Err(err(
                        ErrorCode::Unauthorized,
                        "records are kept by departments and credential issuers",
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
            RecordsCall::Erase { id } => {
                let mut head = custodian_of(ctx, &id)?;
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
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        match value {
            None => Ok(serde_json::Value::Null),
            Some(b) => serde_json::to_value(decode_value::<Head>(&key, b)?)
                .map_err(|e| err(ErrorCode::Internal, e.to_string())),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        let hash = |t: &str| kit::parse_hash("a record id or pseudonym", t);
        Ok(match path {
            ["versions", id] => Some(keys::versions(&hash(id)?)),
            ["about", p] => Some(keys::about_prefix(&hash(p)?)),
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
