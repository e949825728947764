//! Identity: the `did:urbis` method, the registry of accredited credential issuers, and
//! credential status lists in the IETF Token Status List format.
//!
//! **DIDs.** `did:urbis:<40 lowercase hex digits>`: the first 20 bytes of
//! `sha256_domain("urbis/did/v1", borsh((controller, next_key_hash, salt, document)))`, the
//! hash of the inception, so nobody can choose someone else's identifier. A citizen creates
//! their own (an open call: no role needed, under the per-block quota); a department creates
//! those of organisations and devices for the account that will control them. Only the
//! controlling account changes a document. **Pre-rotation**: the inception commits
//! `next_key_hash = sha256_domain("urbis/did-next-key/v1", next account address)`; a rotation
//! is sent by that next account (revealing it) and commits the following one, so a stolen
//! current key cannot rotate the identifier away. Every change adds a version; the history is
//! kept (`versionId`, `versionTime` resolution). Deactivation is final.
//!
//! **Issuers.** A city admin accredits an issuer DID for a credential type (`vct`) for a
//! validity period; verifiers check the accreditation as it was when a credential was issued.
//!
//! **Status lists.** An issuer's controller creates lists of 1 or 2 bits per entry (up to
//! [`MAX_LIST_SIZE`] entries) and sets entries (0 valid, 1 invalid/revoked, 2 suspended); each
//! change rewrites one chunk of [`CHUNK_BYTES`] bytes, whatever the list's size. The bytes are
//! exactly the Token Status List's byte array (`urbis_credentials::status`).
//!
//! | key | value (borsh) |
//! |---|---|
//! | `identity/did/<id hex>` | [`DidRecord`] (current version) |
//! | `identity/version/<id hex>/<version:020>` | [`DidRecord`] as of that version |
//! | `identity/accreditation/<vct>/<issuer did>` | [`Accreditation`] |
//! | `identity/list/<id:020>` | [`StatusListMeta`] |
//! | `identity/chunk/<id:020>/<chunk:010>` | raw bytes (absent: all zero) |
//! | `identity/next_list` | `u64` |
//! | `identity/recovery/<id hex>` | [`PendingRecovery`] |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `create {document, next_key_hash, salt, subject, controller?}` | anyone for their own `person` DID without `controller` (open); a department for `organisation`/`device`, or for someone else's `controller` | `unauthorized`, `invalid_argument` (document, subject), `already_exists` |
//! | `update {did, document}` | the controller (open) | `invalid_argument`, `not_found`, `unauthorized`, `invalid_state` (deactivated) |
//! | `rotate {did, next_key_hash}` | the committed next account (open) | `invalid_argument`, `not_found`, `unauthorized` (not the committed account), `invalid_state` |
//! | `deactivate {did}` | the controller (open) | `invalid_argument`, `not_found`, `unauthorized`, `invalid_state` |
//! | `accredit {issuer, vct, from_ms, until_ms}` | city admin | `unauthorized`, `invalid_argument`, `not_found` (issuer) |
//! | `withdraw_accreditation {issuer, vct}` | city admin | `unauthorized`, `not_found` |
//! | `create_status_list {issuer, bits, size}` | the issuer DID's controller | `invalid_argument`, `not_found`, `unauthorized`, `invalid_state` |
//! | `set_status {list, idx, status}` | the list issuer's controller | `not_found`, `unauthorized`, `invalid_argument` |
//! | `set_recovery {did, recovery}` | the controller (open) | `invalid_argument` (fewer than 2 guardians or a threshold below 2, time-lock under 1 h), `not_found`, `unauthorized`, `invalid_state` (deactivated guardian, recovery under way) |
//! | `recover {did, guardian, new_controller, next_key_hash}` | a guardian's controller (open) | `not_found`, `invalid_state` (no guardians, deactivated, another recovery), `unauthorized` (not a guardian), `already_exists` (approved already) |
//! | `veto {did}` | the controller (open) | `not_found`, `unauthorized`, `invalid_state` (time-lock over) |
//!
//! **Recovery.** A controller may name 2–8 guardian DIDs and a threshold of at least 2; that
//! many guardians, each through its own DID's controlling account, hand control to a new
//! account (committing its next key). It takes effect through the scheduler once the time-lock
//! (default 72 h of block time, at least 1 h) after the last needed approval has passed, unless
//! the current controller vetoes it before then. Nobody, the city included, takes over a DID
//! alone.
//!
//! Events: `created {did, subject}`, `updated {did, version}`, `rotated {did, version}`,
//! `deactivated {did}`, `recovery_set`, `recovery_approved`, `recovery_vetoed`, `recovered`, `accredited {issuer, vct}`, `accreditation_withdrawn {issuer, vct}`,
//! `status_list_created {list, issuer}`, `status_set {list, idx, status}`.
//!
//! Queries: `did/<did>`, `version/<did>/<n>`, `versions/<did>` (list), `accreditation/<vct>/<did>`,
//! `accreditations/<vct>` (list: the type's trust list), `recovery/<did>`,
//! `status_list/<id>`, `chunk/<id>/<n>`, `chunks/<id>` (list).
//!
//! Privacy: documents hold public keys and service endpoints only; a person's DID says nothing
//! about who they are (no name, no number) unless they put it in a service, which the CLI warns
//! against. Credentials themselves never touch the chain.

mod types;

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError, sha256_domain};
use urbis_runtime::kit;
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

use types::invalid;
pub use types::{
    Accreditation, DidRecord, Document, Jwk, Method, PendingRecovery, Purpose, Recovery, Service,
    StatusListMeta, Subject,
};

/// Namespace and module name.
pub const MODULE: &str = "identity";
/// The method prefix.
pub const DID_PREFIX: &str = "did:urbis:";
/// Bytes per status-list chunk: one status change rewrites one chunk.
pub const CHUNK_BYTES: u64 = 1024;
/// Most entries per status list (at 2 bits: 256 KiB in 256 chunks).
pub const MAX_LIST_SIZE: u64 = 1 << 20;
/// Longest credential type.
pub const MAX_VCT: usize = 128;
/// Most guardians of a DID.
pub const MAX_GUARDIANS: usize = 8;
/// Default and shortest time-lock of a recovery (72 h and 1 h of block time).
pub const DEFAULT_RECOVERY_DELAY_MS: u64 = 72 * 3_600_000;
pub const MIN_RECOVERY_DELAY_MS: u64 = 3_600_000;

const DID_DOMAIN: &[u8] = b"urbis/did/v1";
const NEXT_KEY_DOMAIN: &[u8] = b"urbis/did-next-key/v1";

/// `sha256_domain("urbis/did-next-key/v1", address)`: what an inception or rotation commits to.
pub fn next_key_commitment(next: &Address) -> Hash {
    sha256_domain(NEXT_KEY_DOMAIN, &[&next.0])
}

/// The id of the DID whose inception is given.
pub fn did_id(
    controller: &Address,
    next_key_hash: &Hash,
    salt: &Hash,
    document: &Document,
) -> [u8; 20] {
    let bytes = borsh::to_vec(&(controller, next_key_hash, salt, document))
        .expect("borsh to vec never fails");
    let h = sha256_domain(DID_DOMAIN, &[&bytes]);
    let mut id = [0u8; 20];
    id.copy_from_slice(&h.0[..20]);
    id
}

/// The DID string of an id.
pub fn did_string(id: &[u8; 20]) -> String {
    format!("{DID_PREFIX}{}", hex::encode(id))
}

/// Parse `did:urbis:<40 lowercase hex>` (a DID URL's fragment or query is not part of it).
pub fn parse_did(text: &str) -> Result<[u8; 20], UrbisError> {
    let bad = || {
        UrbisError::new(
            ErrorCode::InvalidArgument,
            format!("{text:.80} is not did:urbis:<40 lowercase hex digits>"),
        )
    };
    let hexpart = text.strip_prefix(DID_PREFIX).ok_or_else(bad)?;
    if hexpart.len() != 40
        || !hexpart
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    let mut id = [0u8; 20];
    hex::decode_to_slice(hexpart, &mut id).map_err(|_| bad())?;
    Ok(id)
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_runtime::kit;

    pub fn did(id: &[u8; 20]) -> Vec<u8> {
        kit::key(MODULE, &[&"did", &hex::encode(id)])
    }
    pub fn version(id: &[u8; 20], version: u64) -> Vec<u8> {
        kit::key(
            MODULE,
            &[&"version", &hex::encode(id), &format!("{version:020}")],
        )
    }
    pub fn versions(id: &[u8; 20]) -> Vec<u8> {
        kit::prefix(MODULE, &[&"version", &hex::encode(id)])
    }
    pub fn accreditation(vct: &str, issuer: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"accreditation", &vct, &issuer])
    }
    pub fn list(id: u64) -> Vec<u8> {
        kit::key(MODULE, &[&"list", &format!("{id:020}")])
    }
    pub fn chunk(id: u64, n: u64) -> Vec<u8> {
        kit::key(
            MODULE,
            &[&"chunk", &format!("{id:020}"), &format!("{n:010}")],
        )
    }
    pub fn chunks(id: u64) -> Vec<u8> {
        kit::prefix(MODULE, &[&"chunk", &format!("{id:020}")])
    }
    pub fn next_list() -> Vec<u8> {
        kit::key(MODULE, &[&"next_list"])
    }
    pub fn recovery(id: &[u8; 20]) -> Vec<u8> {
        kit::key(MODULE, &[&"recovery", &hex::encode(id)])
    }
    pub fn accreditations(vct: &str) -> Vec<u8> {
        kit::prefix(MODULE, &[&"accreditation", &vct])
    }
}

/// A call to the identity module (borsh in transactions; never reorder, only append).
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
pub enum IdentityCall {
    /// Create a DID. `controller` (default: the sender) is the account that will control it;
    /// only a department may name another account, for an organisation or a device.
    Create {
        document: Document,
        next_key_hash: Hash,
        salt: Hash,
        subject: Subject,
        #[serde(default)]
        controller: Option<Address>,
    },
    /// Replace the document (keys, services); a new version.
    Update { did: String, document: Document },
    /// Sent by the committed next account: it becomes the controller and commits the next one.
    Rotate { did: String, next_key_hash: Hash },
    /// Tombstone the DID for good.
    Deactivate { did: String },
    /// Accredit `issuer` for credentials of type `vct` from `from_ms` until `until_ms`.
    Accredit {
        issuer: String,
        vct: String,
        from_ms: u64,
        until_ms: u64,
    },
    /// End an accreditation now (credentials issued before stay verifiable as issued then).
    WithdrawAccreditation { issuer: String, vct: String },
    /// A new status list of `size` entries of `bits` (1 or 2) bits, for `issuer`'s credentials.
    CreateStatusList { issuer: String, bits: u8, size: u64 },
    /// Set entry `idx` of `list` to `status` (0 valid, 1 invalid, 2 suspended).
    SetStatus { list: u64, idx: u64, status: u8 },
    /// Name the guardians who may recover the DID (`null`: nobody). By its controller.
    SetRecovery {
        did: String,
        recovery: Option<Recovery>,
    },
    /// A guardian (sent by the controller of the guardian DID `guardian`) starts a recovery
    /// of `did` to `new_controller`, committing its next key; or approves the one under way
    /// if it is the same.
    Recover {
        did: String,
        guardian: String,
        new_controller: Address,
        next_key_hash: Hash,
    },
    /// The current controller stops a recovery before its time-lock ends.
    Veto { did: String },
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "The did:urbis method with pre-rotation and history, accredited credential issuers, IETF Token Status Lists.",
    queries: &[
        QueryInfo {
            path: "did/<did>",
            list: false,
            description: "A DID's current record: controller, next-key commitment, document, version, times, deactivated.",
        },
        QueryInfo {
            path: "version/<did>/<n>",
            list: false,
            description: "A DID's record as of version n.",
        },
        QueryInfo {
            path: "versions/<did>",
            list: true,
            description: "Every version of a DID, oldest first.",
        },
        QueryInfo {
            path: "accreditation/<vct>/<did>",
            list: false,
            description: "Whether and when an issuer is accredited for a credential type.",
        },
        QueryInfo {
            path: "accreditations/<vct>",
            list: true,
            description: "The trust list of a credential type: every issuer accredited for it, with periods.",
        },
        QueryInfo {
            path: "recovery/<did>",
            list: false,
            description: "The recovery of a DID under way: new controller, approvals, when it takes effect.",
        },
        QueryInfo {
            path: "status_list/<id>",
            list: false,
            description: "A status list's issuer, bits and size.",
        },
        QueryInfo {
            path: "chunk/<id>/<n>",
            list: false,
            description: "Bytes n*1024.. of a status list's byte array (hex; null: all zero).",
        },
        QueryInfo {
            path: "chunks/<id>",
            list: true,
            description: "The non-zero chunks of a status list.",
        },
    ],
    events: &[
        EventInfo {
            kind: "created",
            attributes: &["did", "subject", "controller"],
            description: "A DID was created (`controller`: the account that controls it, so a \
                          holder finds their DIDs with `account=`).",
        },
        EventInfo {
            kind: "updated",
            attributes: &["did", "version"],
            description: "A DID's document changed.",
        },
        EventInfo {
            kind: "rotated",
            attributes: &["did", "version"],
            description: "A DID's controlling key was rotated to the committed one.",
        },
        EventInfo {
            kind: "deactivated",
            attributes: &["did"],
            description: "A DID was deactivated.",
        },
        EventInfo {
            kind: "recovery_set",
            attributes: &["did", "guardians", "threshold"],
            description: "A DID named (or removed) its guardians.",
        },
        EventInfo {
            kind: "recovery_approved",
            attributes: &["did", "guardian", "approvals", "effective_ms"],
            description: "A guardian started or approved a recovery; effective_ms once the threshold is met.",
        },
        EventInfo {
            kind: "recovery_vetoed",
            attributes: &["did"],
            description: "The controller stopped a recovery.",
        },
        EventInfo {
            kind: "recovered",
            attributes: &["did", "version"],
            description: "A recovery took effect: a new account controls the DID.",
        },
        EventInfo {
            kind: "accredited",
            attributes: &["issuer", "vct", "from_ms", "until_ms"],
            description: "An issuer was accredited for a credential type.",
        },
        EventInfo {
            kind: "accreditation_withdrawn",
            attributes: &["issuer", "vct"],
            description: "An accreditation ended early.",
        },
        EventInfo {
            kind: "status_list_created",
            attributes: &["list", "issuer", "bits", "size"],
            description: "A status list was created.",
        },
        EventInfo {
            kind: "status_set",
            attributes: &["list", "idx", "status"],
            description: "A credential's status changed.",
        },
    ],
    exported: &["council_accredit"],
};

/// The identity module.
pub struct Identity;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Identity)
}

fn not_found(what: impl std::fmt::Display) -> UrbisError {
    UrbisError::new(ErrorCode::NotFound, format!("no {what}"))
}

fn unauthorized(msg: &str) -> UrbisError {
    UrbisError::new(ErrorCode::Unauthorized, msg.to_string())
}

/// Status list `id`'s issuer, bits and size, if it exists.
pub fn status_list(ctx: &Ctx<'_>, id: u64) -> Result<Option<StatusListMeta>, UrbisError> {
    ctx.get(&keys::list(id))
}

/// The current record of `did`.
pub fn load(ctx: &Ctx<'_>, did: &str) -> Result<DidRecord, UrbisError> {
    let id = parse_did(did)?;
    ctx.get(&keys::did(&id))?
        .ok_or_else(|| not_found(format!("DID {did}")))
}

/// A record its controller may change: exists, not deactivated, sender controls it.
fn controlled(ctx: &Ctx<'_>, did: &str) -> Result<DidRecord, UrbisError> {
    let rec = load(ctx, did)?;
    if rec.controller != ctx.sender() {
        return Err(unauthorized(
            "only the DID's controlling account may change it",
        ));
    }
    if rec.deactivated {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            format!("{did} is deactivated"),
        ));
    }
    Ok(rec)
}

fn save(ctx: &mut Ctx<'_>, rec: &DidRecord) {
    ctx.put(keys::did(&rec.id), rec);
    ctx.put(keys::version(&rec.id, rec.version), rec);
}

fn next_version(ctx: &Ctx<'_>, mut rec: DidRecord) -> Result<DidRecord, UrbisError> {
    rec.version = rec
        .version
        .checked_add(1)
        .ok_or_else(|| UrbisError::new(ErrorCode::Overflow, "version overflow"))?;
    rec.updated_ms = ctx.timestamp_ms();
    Ok(rec)
}

fn create(
    ctx: &mut Ctx<'_>,
    document: Document,
    next_key_hash: Hash,
    salt: Hash,
    subject: Subject,
    controller: Option<Address>,
) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    let controller = controller.unwrap_or(sender);
    let for_someone_else = controller != sender || subject != Subject::Person;
    if for_someone_else && !has_role(ctx, &sender, Role::Department)? {
        return Err(unauthorized(
            "only a department creates DIDs of organisations and devices or for another account",
        ));
    }
    document.check()?;
    if next_key_hash == next_key_commitment(&controller) {
        return Err(invalid("the next key must differ from the controlling one"));
    }
    let id = did_id(&controller, &next_key_hash, &salt, &document);
    if ctx.get_raw(&keys::did(&id))?.is_some() {
        return Err(UrbisError::new(
            ErrorCode::AlreadyExists,
            format!("{} exists", did_string(&id)),
        ));
    }
    let now = ctx.timestamp_ms();
    let rec = DidRecord {
        id,
        subject,
        controller,
        next_key_hash,
        document,
        version: 1,
        created_ms: now,
        updated_ms: now,
        deactivated: false,
        recovery: None,
    };
    save(ctx, &rec);
    ctx.emit(
        Event::new(MODULE, "created")
            .with("did", did_string(&id))
            .with("controller", rec.controller.to_string())
            .with(
                "subject",
                serde_json::to_value(subject)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or(""),
            ),
    );
    Ok(())
}

fn update(ctx: &mut Ctx<'_>, did: &str, document: Document) -> Result<(), UrbisError> {
    document.check()?;
    let rec = controlled(ctx, did)?;
    let mut rec = next_version(ctx, rec)?;
    rec.document = document;
    save(ctx, &rec);
    ctx.emit(
        Event::new(MODULE, "updated")
            .with("did", did)
            .with("version", rec.version),
    );
    Ok(())
}

fn rotate(ctx: &mut Ctx<'_>, did: &str, next_key_hash: Hash) -> Result<(), UrbisError> {
    let rec = load(ctx, did)?;
    let sender = ctx.sender();
    if next_key_commitment(&sender) != rec.next_key_hash {
        return Err(unauthorized(
            "a rotation is sent by the account the DID committed to as its next key",
        ));
    }
    if rec.deactivated {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            format!("{did} is deactivated"),
        ));
    }
    if next_key_hash == rec.next_key_hash || next_key_hash == next_key_commitment(&sender) {
        return Err(invalid("commit to a new next key"));
    }
    let mut rec = next_version(ctx, rec)?;
    rec.controller = sender;
    rec.next_key_hash = next_key_hash;
    save(ctx, &rec);
    ctx.emit(
        Event::new(MODULE, "rotated")
            .with("did", did)
            .with("version", rec.version),
    );
    Ok(())
}

fn deactivate(ctx: &mut Ctx<'_>, did: &str) -> Result<(), UrbisError> {
    let rec = controlled(ctx, did)?;
    let mut rec = next_version(ctx, rec)?;
    rec.deactivated = true;
    save(ctx, &rec);
    ctx.emit(Event::new(MODULE, "deactivated").with("did", did));
    Ok(())
}

fn check_vct(vct: &str) -> Result<(), UrbisError> {
    if vct.is_empty()
        || vct.len() > MAX_VCT
        || !vct.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
    {
        return Err(invalid(format!(
            "a credential type is 1-{MAX_VCT} printable ASCII characters without /"
        )));
    }
    Ok(())
}

fn require_admin(ctx: &Ctx<'_>) -> Result<(), UrbisError> {
    if has_role(ctx, &ctx.sender(), Role::CityAdmin)? {
        Ok(())
    } else {
        Err(unauthorized(
            "issuer accreditation requires the city_admin role",
        ))
    }
}

/// The module whose council may accredit issuers (through [`IdentityOp::CouncilAccredit`]).
pub const COUNCIL_MODULE: &str = "governance";

/// Operations other modules call through `Ctx::invoke` (borsh; never reorder, only append).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum IdentityOp {
    /// Accredit an issuer by council decision (only the governance module, executing an
    /// approved proposal).
    CouncilAccredit {
        issuer: String,
        vct: String,
        from_ms: u64,
        until_ms: u64,
    },
}

fn exported_op(ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
    let op: IdentityOp = kit::decode_call(op)?;
    if ctx.caller() != Some(COUNCIL_MODULE) {
        return Err(unauthorized(
            "issuers are accredited by council decision only through the governance module",
        ));
    }
    match op {
        IdentityOp::CouncilAccredit {
            issuer,
            vct,
            from_ms,
            until_ms,
        } => write_accreditation(ctx, issuer, vct, from_ms, until_ms)?,
    }
    Ok(Vec::new())
}

fn accredit(
    ctx: &mut Ctx<'_>,
    issuer: String,
    vct: String,
    from_ms: u64,
    until_ms: u64,
) -> Result<(), UrbisError> {
    require_admin(ctx)?;
    write_accreditation(ctx, issuer, vct, from_ms, until_ms)
}

fn write_accreditation(
    ctx: &mut Ctx<'_>,
    issuer: String,
    vct: String,
    from_ms: u64,
    until_ms: u64,
) -> Result<(), UrbisError> {
    check_vct(&vct)?;
    parse_did(&issuer)?;
    if until_ms <= from_ms {
        return Err(invalid("until_ms must be after from_ms"));
    }
    let rec = load(ctx, &issuer)?;
    if rec.deactivated {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            format!("{issuer} is deactivated"),
        ));
    }
    let acc = Accreditation {
        issuer: issuer.clone(),
        vct: vct.clone(),
        from_ms,
        until_ms,
        by: ctx.sender(),
    };
    ctx.put(keys::accreditation(&vct, &issuer), &acc);
    ctx.emit(
        Event::new(MODULE, "accredited")
            .with("issuer", issuer)
            .with("vct", vct)
            .with("from_ms", from_ms)
            .with("until_ms", until_ms),
    );
    Ok(())
}

fn withdraw(ctx: &mut Ctx<'_>, issuer: String, vct: String) -> Result<(), UrbisError> {
    require_admin(ctx)?;
    let key = keys::accreditation(&vct, &issuer);
    let mut acc: Accreditation = ctx
        .get(&key)?
        .ok_or_else(|| not_found(format!("accreditation of {issuer} for {vct}")))?;
    let now = ctx.timestamp_ms();
    if acc.until_ms <= now {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            "the accreditation has ended",
        ));
    }
    acc.until_ms = now.max(acc.from_ms);
    ctx.put(key, &acc);
    ctx.emit(
        Event::new(MODULE, "accreditation_withdrawn")
            .with("issuer", issuer)
            .with("vct", vct),
    );
    Ok(())
}

fn create_list(ctx: &mut Ctx<'_>, issuer: String, bits: u8, size: u64) -> Result<(), UrbisError> {
    if !matches!(bits, 1 | 2) || size == 0 || size > MAX_LIST_SIZE || !size.is_multiple_of(8) {
        return Err(invalid(format!(
            "a status list has 1 or 2 bits per entry and 8 to {MAX_LIST_SIZE} entries, a multiple of 8"
        )));
    }
    controlled(ctx, &issuer)?;
    let id: u64 = ctx.get(&keys::next_list())?.unwrap_or(1);
    ctx.put(keys::next_list(), &(id + 1));
    let now = ctx.timestamp_ms();
    let meta = StatusListMeta {
        id,
        issuer: issuer.clone(),
        bits,
        size,
        created_ms: now,
        updated_ms: now,
    };
    ctx.put(keys::list(id), &meta);
    ctx.emit(
        Event::new(MODULE, "status_list_created")
            .with("list", id)
            .with("issuer", issuer)
            .with("bits", bits)
            .with("size", size),
    );
    Ok(())
}

/// Where entry `idx` of a list of `bits`-bit entries lives: the chunk number and the entry's
/// index within that chunk.
pub fn status_position(bits: u8, idx: u64) -> (u64, u64) {
    let per_chunk = CHUNK_BYTES * 8 / u64::from(bits);
    (idx / per_chunk, idx % per_chunk)
}

/// The status of entry `idx` given the bytes of the chunk holding it (`None`: absent, all zero).
pub fn status_in_chunk(bits: u8, idx: u64, chunk: Option<&[u8]>) -> Result<u8, UrbisError> {
    let (_, within) = status_position(bits, idx);
    let bytes = chunk.map_or_else(|| vec![0u8; CHUNK_BYTES as usize], <[u8]>::to_vec);
    urbis_credentials::status::StatusList::from_bytes(bits, bytes)
        .ok()
        .and_then(|l| l.get(within))
        .ok_or_else(|| UrbisError::new(ErrorCode::Internal, "a status chunk is too short"))
}

/// The whole byte array of a list of `size` entries of `bits` bits from its stored chunks
/// (`(chunk number, bytes)`; absent chunks are zero).
pub fn assemble_list(
    bits: u8,
    size: u64,
    chunks: impl IntoIterator<Item = (u64, Vec<u8>)>,
) -> Result<urbis_credentials::status::StatusList, UrbisError> {
    let total = (size * u64::from(bits)).div_ceil(8) as usize;
    let mut bytes = vec![0u8; total];
    for (n, v) in chunks {
        let start = (n * CHUNK_BYTES) as usize;
        let end = (start + v.len()).min(total);
        if start < end {
            bytes[start..end].copy_from_slice(&v[..end - start]);
        }
    }
    urbis_credentials::status::StatusList::from_bytes(bits, bytes)
        .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
}

/// The chunk number in a chunk key (`identity/chunk/<id>/<n>`).
pub fn chunk_number(key: &[u8]) -> Option<u64> {
    std::str::from_utf8(key)
        .ok()?
        .rsplit('/')
        .next()?
        .parse()
        .ok()
}

fn set_status(ctx: &mut Ctx<'_>, list: u64, idx: u64, status: u8) -> Result<(), UrbisError> {
    let mut meta: StatusListMeta = ctx
        .get(&keys::list(list))?
        .ok_or_else(|| not_found(format!("status list {list}")))?;
    let issuer = load(ctx, &meta.issuer)?;
    if issuer.controller != ctx.sender() {
        return Err(unauthorized(
            "only the list issuer's controller sets statuses",
        ));
    }
    if idx >= meta.size || u16::from(status) >= (1u16 << meta.bits) {
        return Err(invalid(format!(
            "index below {} and status below {}",
            meta.size,
            1u16 << meta.bits
        )));
    }
    let (chunk, within) = status_position(meta.bits, idx);
    let key = keys::chunk(list, chunk);
    let mut bytes = ctx
        .get_raw(&key)?
        .unwrap_or_else(|| vec![0u8; CHUNK_BYTES as usize]);
    let mut part = urbis_credentials::status::StatusList::from_bytes(meta.bits, bytes.clone())
        .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))?;
    part.set(within, status)
        .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))?;
    bytes.copy_from_slice(part.bytes());
    if bytes.iter().all(|b| *b == 0) {
        ctx.delete(key);
    } else {
        ctx.put_raw(key, bytes);
    }
    meta.updated_ms = ctx.timestamp_ms();
    ctx.put(keys::list(list), &meta);
    ctx.emit(
        Event::new(MODULE, "status_set")
            .with("list", list)
            .with("idx", idx)
            .with("status", status),
    );
    Ok(())
}

fn set_recovery(
    ctx: &mut Ctx<'_>,
    did: &str,
    recovery: Option<Recovery>,
) -> Result<(), UrbisError> {
    if let Some(r) = &recovery {
        let n = r.guardians.len();
        if !(2..=MAX_GUARDIANS).contains(&n) || r.threshold < 2 || usize::from(r.threshold) > n {
            return Err(invalid(format!(
                "recovery needs 2 to {MAX_GUARDIANS} guardians and a threshold of at least 2 (nobody recovers a DID alone)"
            )));
        }
        if r.delay_ms < MIN_RECOVERY_DELAY_MS {
            return Err(invalid(format!(
                "the recovery time-lock is at least {MIN_RECOVERY_DELAY_MS} ms"
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &r.guardians {
            if g == did || !seen.insert(g.as_str()) {
                return Err(invalid("guardians are other DIDs, each once"));
            }
            parse_did(g)?;
        }
    }
    let rec = controlled(ctx, did)?;
    if let Some(r) = &recovery {
        for g in &r.guardians {
            if load(ctx, g)?.deactivated {
                return Err(UrbisError::new(
                    ErrorCode::InvalidState,
                    format!("{g} is deactivated"),
                ));
            }
        }
    }
    if ctx.get_raw(&keys::recovery(&rec.id))?.is_some() {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            "a recovery is under way: veto it first",
        ));
    }
    let mut rec = next_version(ctx, rec)?;
    let (guardians, threshold) = recovery
        .as_ref()
        .map_or((0, 0), |r| (r.guardians.len(), r.threshold));
    rec.recovery = recovery;
    save(ctx, &rec);
    ctx.emit(
        Event::new(MODULE, "recovery_set")
            .with("did", did)
            .with("guardians", guardians)
            .with("threshold", threshold),
    );
    Ok(())
}

fn recover(
    ctx: &mut Ctx<'_>,
    did: &str,
    guardian: String,
    new_controller: Address,
    next_key_hash: Hash,
) -> Result<(), UrbisError> {
    let rec = load(ctx, did)?;
    let cfg = rec.recovery.clone().ok_or_else(|| {
        UrbisError::new(ErrorCode::InvalidState, format!("{did} names no guardians"))
    })?;
    if !cfg.guardians.contains(&guardian) {
        return Err(unauthorized("only the DID's guardians may recover it"));
    }
    let g = load(ctx, &guardian)?;
    if g.controller != ctx.sender() || g.deactivated {
        return Err(unauthorized(
            "a guardian acts through the controlling account of its own DID",
        ));
    }
    if rec.deactivated {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            format!("{did} is deactivated"),
        ));
    }
    if next_key_hash == next_key_commitment(&new_controller) {
        return Err(invalid(
            "the next key must differ from the new controlling one",
        ));
    }
    let key = keys::recovery(&rec.id);
    let now = ctx.timestamp_ms();
    let mut pending = match ctx.get::<PendingRecovery>(&key)? {
        None => PendingRecovery {
            did: did.to_string(),
            new_controller,
            next_key_hash,
            approvals: Vec::new(),
            started_ms: now,
            effective_ms: None,
        },
        Some(p) => {
            if p.new_controller != new_controller || p.next_key_hash != next_key_hash {
                return Err(UrbisError::new(
                    ErrorCode::InvalidState,
                    "another recovery of this DID is under way",
                ));
            }
            if p.approvals.contains(&guardian) {
                return Err(UrbisError::new(
                    ErrorCode::AlreadyExists,
                    format!("{guardian} already approved"),
                ));
            }
            p
        }
    };
    pending.approvals.push(guardian.clone());
    if pending.effective_ms.is_none() && pending.approvals.len() >= usize::from(cfg.threshold) {
        let t = now
            .checked_add(cfg.delay_ms)
            .ok_or_else(|| UrbisError::new(ErrorCode::Overflow, "time-lock overflow"))?;
        pending.effective_ms = Some(t);
        ctx.schedule_at(t, rec.id.to_vec());
    }
    ctx.put(key, &pending);
    let mut ev = Event::new(MODULE, "recovery_approved")
        .with("did", did)
        .with("guardian", guardian)
        .with("approvals", pending.approvals.len());
    if let Some(t) = pending.effective_ms {
        ev = ev.with("effective_ms", t);
    }
    ctx.emit(ev);
    Ok(())
}

fn veto(ctx: &mut Ctx<'_>, did: &str) -> Result<(), UrbisError> {
    let rec = controlled(ctx, did)?;
    let key = keys::recovery(&rec.id);
    let pending: PendingRecovery = ctx
        .get(&key)?
        .ok_or_else(|| not_found(format!("recovery of {did} under way")))?;
    if pending
        .effective_ms
        .is_some_and(|t| ctx.timestamp_ms() >= t)
    {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            "the recovery's time-lock has passed: it can no longer be vetoed",
        ));
    }
    ctx.delete(key);
    ctx.emit(Event::new(MODULE, "recovery_vetoed").with("did", did));
    Ok(())
}

/// A recovery's time-lock ended: hand control over unless it was vetoed meanwhile.
fn complete_recovery(ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
    let id: [u8; 20] = payload
        .try_into()
        .map_err(|_| UrbisError::new(ErrorCode::Internal, "recovery job payload is not an id"))?;
    let key = keys::recovery(&id);
    let Some(pending) = ctx.get::<PendingRecovery>(&key)? else {
        return Ok(()); // vetoed
    };
    if pending.effective_ms.is_none_or(|t| t > ctx.timestamp_ms()) {
        return Ok(());
    }
    ctx.delete(key);
    let Some(rec) = ctx.get::<DidRecord>(&keys::did(&id))? else {
        return Ok(());
    };
    if rec.deactivated {
        return Ok(());
    }
    let mut rec = next_version(ctx, rec)?;
    rec.controller = pending.new_controller;
    rec.next_key_hash = pending.next_key_hash;
    save(ctx, &rec);
    ctx.emit(
        Event::new(MODULE, "recovered")
            .with("did", did_string(&id))
            .with("version", rec.version),
    );
    Ok(())
}

fn parse_u64(what: &str, text: &str) -> Result<u64, UrbisError> {
    kit::parse_u64(what, text)
}

impl Module for Identity {
    urbis_runtime::json_calls!(IdentityCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, _ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        kit::no_genesis(MODULE, config)
    }

    /// A create or update writes a document of at most 16 methods and 16 services twice (the
    /// current record and its version): under 200,000; a status change rewrites one 1 KiB
    /// chunk.
    fn weight(&self, _data: &[u8]) -> u64 {
        200_000
    }

    /// A person manages their own DID without holding any role: creating it for themself,
    /// updating, rotating and deactivating it are open calls (under the per-block quota).
    fn is_open_call(&self, data: &[u8]) -> bool {
        matches!(
            IdentityCall::try_from_slice(data),
            Ok(IdentityCall::Create {
                subject: Subject::Person,
                controller: None,
                ..
            } | IdentityCall::Update { .. }
                | IdentityCall::Rotate { .. }
                | IdentityCall::Deactivate { .. }
                | IdentityCall::SetRecovery { .. }
                | IdentityCall::Recover { .. }
                | IdentityCall::Veto { .. })
        )
    }

    fn exported(&self, ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
        exported_op(ctx, op)
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call: IdentityCall = kit::decode_call(data)?;
        match call {
            IdentityCall::Create {
                document,
                next_key_hash,
                salt,
                subject,
                controller,
            } => create(ctx, document, next_key_hash, salt, subject, controller),
            IdentityCall::Update { did, document } => update(ctx, &did, document),
            IdentityCall::Rotate { did, next_key_hash } => rotate(ctx, &did, next_key_hash),
            IdentityCall::Deactivate { did } => deactivate(ctx, &did),
            IdentityCall::Accredit {
                issuer,
                vct,
                from_ms,
                until_ms,
            } => accredit(ctx, issuer, vct, from_ms, until_ms),
            IdentityCall::WithdrawAccreditation { issuer, vct } => withdraw(ctx, issuer, vct),
            IdentityCall::CreateStatusList { issuer, bits, size } => {
                create_list(ctx, issuer, bits, size)
            }
            IdentityCall::SetStatus { list, idx, status } => set_status(ctx, list, idx, status),
            IdentityCall::SetRecovery { did, recovery } => set_recovery(ctx, &did, recovery),
            IdentityCall::Recover {
                did,
                guardian,
                new_controller,
                next_key_hash,
            } => recover(ctx, &did, guardian, new_controller, next_key_hash),
            IdentityCall::Veto { did } => veto(ctx, &did),
        }
    }

    /// A recovery's time-lock is over.
    fn on_scheduled(&self, ctx: &mut Ctx<'_>, payload: &[u8]) -> Result<(), UrbisError> {
        complete_recovery(ctx, payload)
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        match path {
            ["did", did] => Ok(keys::did(&parse_did(did)?)),
            ["version", did, n] => Ok(keys::version(&parse_did(did)?, parse_u64("version", n)?)),
            ["accreditation", vct, did] => {
                check_vct(vct)?;
                parse_did(did)?;
                Ok(keys::accreditation(vct, did))
            }
            ["status_list", id] => Ok(keys::list(parse_u64("list id", id)?)),
            ["recovery", did] => Ok(keys::recovery(&parse_did(did)?)),
            ["chunk", id, n] => Ok(keys::chunk(
                parse_u64("list id", id)?,
                parse_u64("chunk", n)?,
            )),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(bytes) = value else {
            return Ok(serde_json::Value::Null);
        };
        let json = |v: Result<serde_json::Value, serde_json::Error>| {
            v.map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
        };
        match path.first() {
            Some(&"did") | Some(&"version") => {
                json(serde_json::to_value(render_record(&decode_value::<
                    DidRecord,
                >(
                    &key, bytes
                )?)))
            }
            Some(&"accreditation") => json(serde_json::to_value(decode_value::<Accreditation>(
                &key, bytes,
            )?)),
            Some(&"status_list") => json(serde_json::to_value(decode_value::<StatusListMeta>(
                &key, bytes,
            )?)),
            Some(&"recovery") => json(serde_json::to_value(decode_value::<PendingRecovery>(
                &key, bytes,
            )?)),
            _ => Ok(serde_json::Value::String(hex::encode(bytes))),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(match path {
            ["versions", did] => Some(keys::versions(&parse_did(did)?)),
            ["chunks", id] => Some(keys::chunks(parse_u64("list id", id)?)),
            ["accreditations", vct] => {
                check_vct(vct)?;
                Some(keys::accreditations(vct))
            }
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
            Some(&"versions") => {
                serde_json::to_value(render_record(&decode_value::<DidRecord>(key, value)?))
                    .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
            }
            Some(&"accreditations") => {
                serde_json::to_value(decode_value::<Accreditation>(key, value)?)
                    .map_err(|e| UrbisError::new(ErrorCode::Internal, e.to_string()))
            }
            _ => Ok(serde_json::json!({
                "key": String::from_utf8_lossy(key),
                "bytes": hex::encode(value),
            })),
        }
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

/// A record as JSON: the stored fields plus the DID and its W3C DID document.
pub fn render_record(rec: &DidRecord) -> serde_json::Value {
    serde_json::json!({
        "did": did_string(&rec.id),
        "subject": rec.subject,
        "controller": rec.controller,
        "next_key_hash": rec.next_key_hash,
        "version": rec.version,
        "created_ms": rec.created_ms,
        "updated_ms": rec.updated_ms,
        "deactivated": rec.deactivated,
        "recovery": rec.recovery,
        "document": rec.document,
        "did_document": did_document(rec),
    })
}

/// The W3C DID document (DID Core 1.0) of a record: verification methods as `JsonWebKey2020`
/// with `publicKeyJwk`, relationships by reference, services.
pub fn did_document(rec: &DidRecord) -> serde_json::Value {
    let did = did_string(&rec.id);
    let mut doc = serde_json::Map::new();
    doc.insert(
        "@context".into(),
        serde_json::json!([
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/jws-2020/v1"
        ]),
    );
    doc.insert("id".into(), did.clone().into());
    if !rec.document.controllers.is_empty() {
        doc.insert(
            "controller".into(),
            serde_json::json!(rec.document.controllers),
        );
    }
    if rec.deactivated {
        return serde_json::Value::Object(doc);
    }
    let methods: Vec<serde_json::Value> = rec
        .document
        .methods
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": format!("{did}#{}", m.fragment),
                "type": "JsonWebKey2020",
                "controller": did,
                "publicKeyJwk": m.jwk.to_json(),
            })
        })
        .collect();
    doc.insert("verificationMethod".into(), methods.into());
    for purpose in [
        Purpose::Authentication,
        Purpose::AssertionMethod,
        Purpose::KeyAgreement,
        Purpose::CapabilityInvocation,
    ] {
        let refs: Vec<String> = rec
            .document
            .methods
            .iter()
            .filter(|m| m.purposes.contains(&purpose))
            .map(|m| format!("{did}#{}", m.fragment))
            .collect();
        if !refs.is_empty() {
            doc.insert(purpose.property().into(), serde_json::json!(refs));
        }
    }
    if !rec.document.services.is_empty() {
        let services: Vec<serde_json::Value> = rec
            .document
            .services
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": format!("{did}#{}", s.fragment),
                    "type": s.kind,
                    "serviceEndpoint": s.endpoint,
                })
            })
            .collect();
        doc.insert("service".into(), services.into());
    }
    serde_json::Value::Object(doc)
}

#[cfg(test)]
mod tests;
