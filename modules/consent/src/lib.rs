//! Consent: a citizen grants an organisation access to some of their data for a registered
//! purpose, a scope, a period and a number of uses; every use is a transaction by the grantee
//! that the validators check against the grant and that leaves an **access receipt**. Revoking
//! takes effect at once.
//!
//! **Privacy.** Chain state is public, so nothing here names a person or says what was read:
//! - the grantor and the grantee act through **pairwise accounts**, fresh keys made for this
//!   one relationship (the CLI makes them), so grants cannot be linked to a citizen's DID or
//!   account, or to each other, and the grantee's usual account never appears;
//! - the scope is a list of **commitments**, `sha256_domain("urbis/consent-scope/v1", salt,
//!   item)`, where `item` is e.g. `record:<id>`, `credential:<vct>` or `category:<name>` and the
//!   32-byte salt is known only to the two parties; a use names the commitment of the item it
//!   reads, which must be in the scope;
//! - `sealed` may carry the grant's details encrypted to the two parties, so that either can
//!   restore them from the chain after losing its wallet (`urbis consent recover`). The CLI
//!   writes `0x01 || HPKE wrap for the grantor (80 bytes) || wrap for the grantee (80) ||
//!   XChaCha20-Poly1305(data key, details JSON, aad "urbis/consent-sealed/v1")`, each wrap to
//!   the party's DID `enc-1` key with context `"urbis/consent-sealed/v1" || grantee account`;
//!   the module treats it as opaque bytes.
//!
//! An outside observer learns: that a grant exists, its registered purpose (a coarse public
//! category such as `treatment`), its period, the number of scope items and of allowed uses,
//! whether a guardian made it, when it was used and how often, and when it was revoked; not who
//! granted it, to whom, or which items were read. The grantor and the grantee (and only they)
//! can match the commitments to items and the pairwise accounts to each other.
//!
//! | key | value (borsh) |
//! |---|---|
//! | `consent/purpose/<code>` | [`Purpose`] |
//! | `consent/grant/<id hex>` | [`Grant`] |
//! | `consent/use/<id hex>/<n:010>` | [`AccessReceipt`] |
//!
//! | call | who | fails with (in order) |
//! |---|---|---|
//! | `register_purpose {code, description}` | city admin | `unauthorized`, `invalid_argument`, `already_exists` |
//! | `grant {grantee, purpose, scope, not_before_ms, expires_ms, max_uses, by_guardian, sealed}` | anyone (open: a pairwise account) | `invalid_argument`, `not_found` (purpose) |
//! | `revoke {grant}` | the grantor account (open) | `not_found`, `unauthorized`, `revoked` (already) |
//! | `use {grant, item}` | the grantee account (open) | `not_found`, `unauthorized`, `revoked`, `not_yet_valid`, `expired`, `exhausted`, `out_of_scope` |
//!
//! Events (no accounts in them): `purpose_registered {code}`, `granted {grant, purpose}`,
//! `revoked {grant}`, `used {grant, n}`.
//!
//! Queries: `grant/<id>`, `uses/<id>` (list: the access receipts), `purpose/<code>`,
//! `purposes` (list).

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, UrbisError, sha256_domain};
use urbis_runtime::{Ctx, EventInfo, Module, ModuleInfo, QueryInfo, decode_value};

/// Namespace and module name.
pub const MODULE: &str = "consent";
/// Most scope items of one grant.
pub const MAX_SCOPE: usize = 32;
/// Largest sealed details.
pub const MAX_SEALED: usize = 4096;
/// Most uses of one grant.
pub const MAX_USES: u32 = 1_000_000;

const SCOPE_DOMAIN: &[u8] = b"urbis/consent-scope/v1";

/// The commitment to a scope item under a grant's salt.
pub fn scope_commitment(salt: &Hash, item: &str) -> Hash {
    sha256_domain(SCOPE_DOMAIN, &[&salt.0, item.as_bytes()])
}

/// A registered purpose.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Purpose {
    pub code: String,
    pub description: String,
    pub by: Address,
}

/// A grant.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Grant {
    pub id: Hash,
    /// The grantor's pairwise account.
    pub grantor: Address,
    /// The grantee's pairwise account.
    pub grantee: Address,
    pub purpose: String,
    /// Commitments to the items it covers ([`scope_commitment`]).
    pub scope: Vec<Hash>,
    pub not_before_ms: u64,
    pub expires_ms: u64,
    pub max_uses: u32,
    pub uses: u32,
    pub revoked_ms: Option<u64>,
    /// Made by a guardian for a ward (under a guardianship credential the grantee checked).
    pub by_guardian: bool,
    /// The details, encrypted to the two parties (opaque here).
    #[serde(with = "hex_bytes")]
    pub sealed: Vec<u8>,
    pub created_ms: u64,
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

impl Grant {
    /// Whether the grant is in force at `now_ms` (block time): not revoked, started, not
    /// expired (uses and scope are the caller's to check).
    pub fn check_live(&self, now_ms: u64) -> Result<(), UrbisError> {
        if self.revoked_ms.is_some() {
            return Err(err(ErrorCode::Revoked, "the grant was revoked"));
        }
        if now_ms < self.not_before_ms {
            return Err(err(ErrorCode::NotYetValid, "the grant has not started"));
        }
        if now_ms >= self.expires_ms {
            return Err(err(ErrorCode::Expired, "the grant has expired"));
        }
        Ok(())
    }
}

/// One use of a grant.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct AccessReceipt {
    pub grant: Hash,
    /// 1 for the first use.
    pub n: u32,
    pub at_ms: u64,
    /// The commitment of the item read.
    pub item: Hash,
    /// The transaction that used it.
    pub tx: Hash,
}

/// A call to the consent module (borsh in transactions; never reorder, only append).
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
pub enum ConsentCall {
    /// Add a purpose grants may name (city admin).
    RegisterPurpose { code: String, description: String },
    /// Grant `grantee` (a pairwise account) access for `purpose` to the items committed in
    /// `scope`, from `not_before_ms` until `expires_ms` (block time), at most `max_uses` times.
    Grant {
        grantee: Address,
        purpose: String,
        scope: Vec<Hash>,
        not_before_ms: u64,
        expires_ms: u64,
        max_uses: u32,
        #[serde(default)]
        by_guardian: bool,
        /// Hex of the details encrypted to both parties (may be empty).
        #[serde(default, with = "hex_vec")]
        #[schemars(with = "urbis_runtime::kit::HexBytes")]
        sealed: Vec<u8>,
    },
    /// End a grant now (its grantor).
    Revoke { grant: Hash },
    /// Use a grant to read the item committed as `item` (its grantee).
    Use { grant: Hash, item: Hash },
}

mod hex_vec {
    use serde::Deserialize;
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let t = String::deserialize(d)?;
        hex::decode(t).map_err(serde::de::Error::custom)
    }
}

pub mod keys {
    //! State keys.
    use super::MODULE;
    use urbis_core::Hash;
    use urbis_runtime::kit;

    pub fn purpose(code: &str) -> Vec<u8> {
        kit::key(MODULE, &[&"purpose", &code])
    }
    pub fn purposes() -> Vec<u8> {
        kit::prefix(MODULE, &[&"purpose"])
    }
    pub fn grant(id: &Hash) -> Vec<u8> {
        kit::key(MODULE, &[&"grant", id])
    }
    pub fn receipt(id: &Hash, n: u32) -> Vec<u8> {
        kit::key(MODULE, &[&"use", id, &format!("{n:010}")])
    }
    pub fn receipts(id: &Hash) -> Vec<u8> {
        kit::prefix(MODULE, &[&"use", id])
    }
}

/// Queries and events (`GET /v1/modules`).
pub const INFO: ModuleInfo = ModuleInfo {
    description: "Pseudonymous consent grants with committed scopes; every use leaves an access receipt.",
    queries: &[
        QueryInfo {
            path: "grant/<id>",
            list: false,
            description: "A grant: pairwise accounts, purpose, scope commitments, period, uses, revocation.",
        },
        QueryInfo {
            path: "uses/<id>",
            list: true,
            description: "The access receipts of a grant, in order.",
        },
        QueryInfo {
            path: "purpose/<code>",
            list: false,
            description: "A registered purpose.",
        },
        QueryInfo {
            path: "purposes",
            list: true,
            description: "Every registered purpose.",
        },
    ],
    events: &[
        EventInfo {
            kind: "purpose_registered",
            attributes: &["code"],
            description: "A purpose was added to the registry.",
        },
        EventInfo {
            kind: "granted",
            attributes: &["grant", "purpose"],
            description: "A grant was made.",
        },
        EventInfo {
            kind: "revoked",
            attributes: &["grant"],
            description: "A grant was revoked.",
        },
        EventInfo {
            kind: "used",
            attributes: &["grant", "n"],
            description: "A grant was used (its n-th access receipt).",
        },
    ],
    exported: &[],
};

/// The consent module.
pub struct Consent;

/// The module, for the registry.
pub fn module() -> Arc<dyn Module> {
    Arc::new(Consent)
}

fn err(code: ErrorCode, msg: impl Into<String>) -> UrbisError {
    UrbisError::new(code, msg)
}

fn code_ok(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn register_purpose(
    ctx: &mut Ctx<'_>,
    code: String,
    description: String,
) -> Result<(), UrbisError> {
    if !has_role(ctx, &ctx.sender(), Role::CityAdmin)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "the purpose registry is the city admin's",
        ));
    }
    if !code_ok(&code) || description.is_empty() || description.chars().count() > 200 {
        return Err(err(
            ErrorCode::InvalidArgument,
            "a purpose code is 1-32 of a-z 0-9 -, its description 1-200 characters",
        ));
    }
    let key = keys::purpose(&code);
    if ctx.get_raw(&key)?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            format!("purpose {code} exists"),
        ));
    }
    let p = Purpose {
        code: code.clone(),
        description,
        by: ctx.sender(),
    };
    ctx.put(key, &p);
    ctx.emit(Event::new(MODULE, "purpose_registered").with("code", code));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn grant(
    ctx: &mut Ctx<'_>,
    grantee: Address,
    purpose: String,
    scope: Vec<Hash>,
    not_before_ms: u64,
    expires_ms: u64,
    max_uses: u32,
    by_guardian: bool,
    sealed: Vec<u8>,
) -> Result<(), UrbisError> {
    let now = ctx.timestamp_ms();
    let bad = |m: &str| err(ErrorCode::InvalidArgument, m);
    if scope.is_empty() || scope.len() > MAX_SCOPE {
        return Err(bad("a grant covers 1 to 32 scope items"));
    }
    let mut sorted = scope.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != scope.len() {
        return Err(bad("a scope item is listed twice"));
    }
    if expires_ms <= now || expires_ms <= not_before_ms {
        return Err(bad("a grant expires in the future and after it starts"));
    }
    if max_uses == 0 || max_uses > MAX_USES {
        return Err(bad("max_uses is 1 to 1,000,000"));
    }
    if sealed.len() > MAX_SEALED {
        return Err(bad("sealed details are at most 4096 bytes"));
    }
    if grantee == ctx.sender() {
        return Err(bad("a grant is to someone else"));
    }
    if !code_ok(&purpose) || ctx.get_raw(&keys::purpose(&purpose))?.is_none() {
        return Err(err(
            ErrorCode::NotFound,
            format!("no registered purpose {purpose:.40}"),
        ));
    }
    let id = ctx.new_id();
    let g = Grant {
        id,
        grantor: ctx.sender(),
        grantee,
        purpose: purpose.clone(),
        scope,
        not_before_ms,
        expires_ms,
        max_uses,
        uses: 0,
        revoked_ms: None,
        by_guardian,
        sealed,
        created_ms: now,
    };
    ctx.put(keys::grant(&id), &g);
    ctx.emit(
        Event::new(MODULE, "granted")
            .with("grant", id)
            .with("purpose", purpose),
    );
    Ok(())
}

fn load(ctx: &Ctx<'_>, id: &Hash) -> Result<Grant, UrbisError> {
    ctx.get(&keys::grant(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no grant {id}")))
}

fn revoke(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let mut g = load(ctx, &id)?;
    if g.grantor != ctx.sender() {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the grantor revokes a grant",
        ));
    }
    if g.revoked_ms.is_some() {
        return Err(err(ErrorCode::Revoked, "the grant is already revoked"));
    }
    g.revoked_ms = Some(ctx.timestamp_ms());
    ctx.put(keys::grant(&id), &g);
    ctx.emit(Event::new(MODULE, "revoked").with("grant", id));
    Ok(())
}

fn use_grant(ctx: &mut Ctx<'_>, id: Hash, item: Hash) -> Result<(), UrbisError> {
    let mut g = load(ctx, &id)?;
    if g.grantee != ctx.sender() {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the grantee uses a grant",
        ));
    }
    let now = ctx.timestamp_ms();
    g.check_live(now)?;
    if g.uses >= g.max_uses {
        return Err(err(ErrorCode::Exhausted, "the grant has no uses left"));
    }
    if !g.scope.contains(&item) {
        return Err(err(
            ErrorCode::OutOfScope,
            "the item is not in the grant's scope",
        ));
    }
    g.uses += 1;
    let tx = ctx
        .tx()
        .map(|t| t.hash)
        .ok_or_else(|| err(ErrorCode::Internal, "a use is a transaction"))?;
    let receipt = AccessReceipt {
        grant: id,
        n: g.uses,
        at_ms: now,
        item,
        tx,
    };
    ctx.put(keys::receipt(&id, g.uses), &receipt);
    ctx.put(keys::grant(&id), &g);
    ctx.emit(
        Event::new(MODULE, "used")
            .with("grant", id)
            .with("n", g.uses),
    );
    Ok(())
}

fn json(v: Result<serde_json::Value, serde_json::Error>) -> Result<serde_json::Value, UrbisError> {
    v.map_err(|e| err(ErrorCode::Internal, e.to_string()))
}

impl Module for Consent {
    urbis_runtime::json_calls!(ConsentCall);

    fn name(&self) -> &'static str {
        MODULE
    }

    fn genesis(&self, ctx: &mut Ctx<'_>, config: &serde_json::Value) -> Result<(), UrbisError> {
        // Optional: {"purposes": [{"code", "description"}]}.
        if config.is_null() {
            return Ok(());
        }
        let list = config
            .get("purposes")
            .and_then(|p| p.as_array())
            .ok_or_else(|| {
                err(
                    ErrorCode::InvalidArgument,
                    "consent genesis: {purposes: [...]}",
                )
            })?;
        for p in list {
            let code = p["code"].as_str().unwrap_or_default().to_string();
            let description = p["description"].as_str().unwrap_or_default().to_string();
            if !code_ok(&code) || description.is_empty() {
                return Err(err(
                    ErrorCode::InvalidArgument,
                    "consent genesis: bad purpose",
                ));
            }
            let purpose = Purpose {
                code: code.clone(),
                description,
                by: Address([0; 20]),
            };
            ctx.put(keys::purpose(&code), &purpose);
        }
        Ok(())
    }

    /// A grant writes at most 32 commitments and 4 KiB of sealed details.
    fn weight(&self, _data: &[u8]) -> u64 {
        150_000
    }

    /// Grants, revocations and uses come from pairwise accounts that hold no role.
    fn is_open_call(&self, data: &[u8]) -> bool {
        matches!(
            ConsentCall::try_from_slice(data),
            Ok(ConsentCall::Grant { .. } | ConsentCall::Revoke { .. } | ConsentCall::Use { .. })
        )
    }

    fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
        let call: ConsentCall = urbis_runtime::kit::decode_call(data)?;
        match call {
            ConsentCall::RegisterPurpose { code, description } => {
                register_purpose(ctx, code, description)
            }
            ConsentCall::Grant {
                grantee,
                purpose,
                scope,
                not_before_ms,
                expires_ms,
                max_uses,
                by_guardian,
                sealed,
            } => grant(
                ctx,
                grantee,
                purpose,
                scope,
                not_before_ms,
                expires_ms,
                max_uses,
                by_guardian,
                sealed,
            ),
            ConsentCall::Revoke { grant } => revoke(ctx, grant),
            ConsentCall::Use { grant, item } => use_grant(ctx, grant, item),
        }
    }

    fn query_key(&self, path: &[&str]) -> Result<Vec<u8>, UrbisError> {
        match path {
            ["grant", id] => Ok(keys::grant(&urbis_runtime::kit::parse_hash(
                "a grant id",
                id,
            )?)),
            ["purpose", code] if code_ok(code) => Ok(keys::purpose(code)),
            _ => Err(INFO.unknown_path(MODULE, path)),
        }
    }

    fn render(&self, path: &[&str], value: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
        let key = self.query_key(path)?;
        let Some(bytes) = value else {
            return Ok(serde_json::Value::Null);
        };
        match path.first() {
            Some(&"grant") => json(serde_json::to_value(decode_value::<Grant>(&key, bytes)?)),
            _ => json(serde_json::to_value(decode_value::<Purpose>(&key, bytes)?)),
        }
    }

    fn list_prefix(&self, path: &[&str]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(match path {
            ["uses", id] => Some(keys::receipts(&urbis_runtime::kit::parse_hash(
                "a grant id",
                id,
            )?)),
            ["purposes"] => Some(keys::purposes()),
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
            Some(&"uses") => json(serde_json::to_value(decode_value::<AccessReceipt>(
                key, value,
            )?)),
            _ => json(serde_json::to_value(decode_value::<Purpose>(key, value)?)),
        }
    }

    fn info(&self) -> ModuleInfo {
        INFO
    }
}

/// Parse a list of `item`s against a salt: the commitments, in order.
pub fn commitments(salt: &Hash, items: &[String]) -> Vec<Hash> {
    items.iter().map(|i| scope_commitment(salt, i)).collect()
}

/// Whether `text` is a scope item: `record:<id>`, `credential:<vct>` or `category:<name>`.
pub fn is_scope_item(text: &str) -> bool {
    let Some((kind, rest)) = text.split_once(':') else {
        return false;
    };
    matches!(kind, "record" | "credential" | "category")
        && !rest.is_empty()
        && rest.len() <= 128
        && !rest.chars().any(char::is_control)
}

#[cfg(test)]
mod tests;
