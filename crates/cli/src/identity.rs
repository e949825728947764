//! `urbis did …` and `urbis credential …`.
//!
//! Keys: a DID is controlled by an account key of the keystore (`--from NAME`); creating it
//! adds three keys next to it, `NAME.next` (the pre-rotation key, whose commitment goes on
//! chain), `NAME.vc` (the DID's `key-1`: signs credentials it issues and presentations it
//! makes) and `NAME.enc` (its seed is the X25519 secret of `enc-1`, the `keyAgreement` key that
//! shared files are encrypted to).
//! Which DID belongs to which name is kept in `dids.json` next to the keystore (with the
//! status-list indices the name has handed out as an issuer).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use urbis_client::Protection;
use urbis_core::{Call, Hash};
use urbis_credentials::jose::{Alg, PublicJwk, SigningKey};
use urbis_credentials::sdjwt::{Binding, KbCheck, SdJwt, present};
use urbis_credentials::status::StatusRef;
use urbis_credentials::{CredError, types, vc};
use urbis_identity::{Document, IdentityCall, Jwk, Method, Purpose, Subject, next_key_commitment};

use crate::cli::TxOpts;
use crate::commands::{Ctx, send};
use crate::fail;

/// The URI of status list `id` in credentials (any node serves it at `/v1/status-lists/{id}`).
pub fn status_uri(id: u64) -> String {
    format!("urn:urbis:status-list:{id}")
}

fn status_id(uri: &str) -> anyhow::Result<u64> {
    uri.strip_prefix("urn:urbis:status-list:")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| fail("malformed", format!("unknown status list URI {uri}")))
}

#[derive(Debug, Subcommand)]
pub enum DidCmd {
    /// Create a DID controlled by the key NAME (adds NAME.next and NAME.vc to the keystore).
    Create {
        #[command(flatten)]
        tx: TxOpts,
        /// Who it is for: person (your own; no role needed), organisation or device
        /// (departments only; with --controller).
        #[arg(long, default_value = "person")]
        subject: String,
        /// The account that will control an organisation's or device's DID.
        #[arg(long)]
        controller: Option<String>,
        /// The name the new DID is kept under here, with its keys NAME.next and NAME.vc
        /// [default: --from]: a department creating many devices' DIDs names each.
        #[arg(long)]
        name: Option<String>,
        /// A service `TYPE=URL` (public forever: never personal data).
        #[arg(long = "service")]
        services: Vec<String>,
    },
    /// Resolve a DID (or a keystore name that has one): the DID resolution result.
    Show(ResolveArgs),
    /// Resolve a DID: the DID document only.
    Resolve(ResolveArgs),
    /// Rotate to the pre-committed key NAME.next (committing a new next key).
    Rotate {
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Add a verification method: a JWK (file or inline JSON) with its purposes.
    AddKey {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        fragment: String,
        #[arg(long)]
        jwk: String,
        /// Comma-separated: authentication, assertion_method, key_agreement,
        /// capability_invocation.
        #[arg(long, value_delimiter = ',', default_value = "authentication")]
        purpose: Vec<String>,
    },
    /// Deactivate the DID of NAME for good.
    Deactivate {
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Accredit an issuer for a credential type (city admin).
    Accredit {
        #[command(flatten)]
        tx: TxOpts,
        /// The issuer: a DID or a keystore name that has one.
        #[arg(long)]
        issuer: String,
        #[arg(long = "type")]
        vct: String,
        /// Block time, ms since the epoch [default: 0].
        #[arg(long, default_value_t = 0)]
        from_ms: u64,
        #[arg(long, default_value_t = u64::MAX)]
        until_ms: u64,
    },
    /// Name the guardians (other DIDs) who may together recover NAME's DID, and how many of
    /// them must agree (at least 2); it takes effect after a time-lock unless NAME vetoes.
    RecoverySet {
        #[command(flatten)]
        tx: TxOpts,
        /// Comma-separated DIDs (or keystore names that have one).
        #[arg(long, value_delimiter = ',')]
        guardians: Vec<String>,
        #[arg(long, default_value_t = 2)]
        threshold: u8,
        /// Time-lock in hours of block time (at least 1).
        #[arg(long, default_value_t = 72)]
        delay_hours: u64,
    },
    /// As a guardian (--from: the name whose DID is the guardian), start or approve the
    /// recovery of DID to a new controlling account and its committed next key.
    Recover {
        #[command(flatten)]
        tx: TxOpts,
        did: String,
        /// The new controlling account (address or keystore name).
        #[arg(long)]
        new_controller: String,
        /// The new controller's pre-rotation commitment (`urbis did commitment NAME` prints it).
        #[arg(long)]
        next_key_hash: Hash,
    },
    /// Stop a recovery of NAME's DID before its time-lock ends.
    Veto {
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Print the pre-rotation commitment of an account (address or keystore name).
    Commitment { account: String },
    /// Create a status list for the credentials NAME's DID issues.
    StatusList {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long, default_value_t = 1)]
        bits: u8,
        #[arg(long, default_value_t = 131_072)]
        size: u64,
    },
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    pub did: String,
    #[arg(long)]
    pub version_id: Option<u64>,
    /// RFC 3339 date-time.
    #[arg(long)]
    pub version_time: Option<String>,
    /// Ask for a proof bundle of the resolved version.
    #[arg(long)]
    pub prove: bool,
}

#[derive(Debug, Subcommand)]
pub enum CredentialCmd {
    /// Issue an SD-JWT VC to a subject DID (bound to its key-1), signed by ISSUER's DID key.
    Issue {
        /// The issuer's keystore name (its DID's key-1 signs).
        #[arg(long)]
        from: String,
        #[arg(long = "type")]
        vct: String,
        /// The subject: a DID or a keystore name that has one.
        #[arg(long)]
        subject: String,
        /// JSON file of the claims (the type says which it may carry; all are disclosable).
        #[arg(long)]
        claims: PathBuf,
        /// The issuer's status list for it.
        #[arg(long)]
        status_list: u64,
        /// Entry in the list [default: an unused random one].
        #[arg(long)]
        status_idx: Option<u64>,
        /// Days of validity [default: no expiry].
        #[arg(long)]
        valid_days: Option<u64>,
        /// Write it here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Present a credential: disclose some claims, bound to an audience and a nonce.
    Present {
        credential: PathBuf,
        /// Comma-separated claim paths, e.g. given_name,address.locality.
        #[arg(long, value_delimiter = ',')]
        disclose: Vec<String>,
        #[arg(long)]
        audience: String,
        #[arg(long)]
        nonce: String,
        /// The holder's keystore name (its DID's key-1 signs the KB-JWT) [default: the name
        /// whose key the credential is bound to].
        #[arg(long)]
        holder: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a presentation against the chain: issuer key as at issuance, accreditation,
    /// disclosures, key binding, validity and status.
    Verify {
        presentation: PathBuf,
        #[arg(long)]
        audience: String,
        #[arg(long)]
        nonce: String,
        /// How old the key-binding JWT may be, seconds.
        #[arg(long, default_value_t = 300)]
        max_age_s: u64,
        /// The identity document shown with it: its SHA-256 must be the disclosed
        /// `document_hash` (lowercase hex).
        #[arg(long)]
        document: Option<PathBuf>,
        /// Trust no node: check every chain fact used (the issuer's DID version, its
        /// accreditation, the status list and its entry) with a proof bundle against this
        /// genesis file's validator set.
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
    /// Revoke a credential the issuer issued (status 1).
    Revoke(StatusArgs),
    /// Suspend a credential (status 2, in a 2-bit list).
    Suspend(StatusArgs),
    /// Make a suspended credential valid again (status 0).
    Reinstate(StatusArgs),
    /// The credential types and their claims.
    Types,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub credential: PathBuf,
    #[command(flatten)]
    pub tx: TxOpts,
}

/// One name's identity, in `dids.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) did: String,
    pub(crate) controller: String,
    next: String,
    pub(crate) vc: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Wallet {
    #[serde(default)]
    pub(crate) dids: BTreeMap<String, Entry>,
    /// Status-list indices handed out, per list.
    #[serde(default)]
    status: BTreeMap<u64, Vec<u64>>,
    /// Consent requests and grants this keystore's names are party to.
    #[serde(default)]
    pub(crate) consent: Vec<crate::consent::Relationship>,
    /// Pseudonyms made for custodians of records about this keystore's names.
    #[serde(default)]
    pub(crate) records: Vec<crate::record::SubjectLink>,
}

fn wallet_path(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let ks = ctx.keystore_path()?;
    Ok(ks
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
        .join("dids.json"))
}

pub(crate) fn load_wallet(ctx: &Ctx) -> anyhow::Result<Wallet> {
    let p = wallet_path(ctx)?;
    match std::fs::read_to_string(&p) {
        Ok(t) => {
            serde_json::from_str(&t).map_err(|e| fail("malformed", format!("{}: {e}", p.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Wallet::default()),
        Err(e) => Err(fail("io", format!("{}: {e}", p.display()))),
    }
}

pub(crate) fn save_wallet(ctx: &Ctx, w: &Wallet) -> anyhow::Result<()> {
    let p = wallet_path(ctx)?;
    let text = serde_json::to_string_pretty(w).map_err(|e| fail("internal", e.to_string()))?;
    let tmp = p.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n").map_err(|e| fail("io", format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, &p).map_err(|e| fail("io", format!("{}: {e}", p.display())))
}

pub(crate) fn entry<'w>(w: &'w Wallet, name: &str) -> anyhow::Result<&'w Entry> {
    w.dids.get(name).ok_or_else(|| {
        fail(
            "not_found",
            format!("{name} has no DID here (urbis did create --from {name})"),
        )
    })
}

/// A DID given as itself or as a keystore name that has one.
pub(crate) fn did_of(ctx: &Ctx, text: &str) -> anyhow::Result<String> {
    if text.starts_with("did:") {
        return Ok(text.to_string());
    }
    Ok(entry(&load_wallet(ctx)?, text)?.did.clone())
}

/// The JWS signing key of keystore key `name` (an Ed25519 seed).
fn jose_key(ctx: &Ctx, name: &str) -> anyhow::Result<SigningKey> {
    let ks = ctx.keystore()?;
    let secret = ctx.secret(&ks, name)?;
    SigningKey::from_seed(Alg::EdDSA, secret.seed()).map_err(cred)
}

/// The X25519 key-agreement key of keystore key `name` (its seed is the X25519 secret).
pub(crate) fn agreement_key(ctx: &Ctx, name: &str) -> anyhow::Result<urbis_sealing::AgreementKey> {
    let ks = ctx.keystore()?;
    let secret = ctx.secret(&ks, name)?;
    Ok(urbis_sealing::AgreementKey::from_secret(*secret.seed()))
}

pub(crate) fn cred(e: CredError) -> anyhow::Error {
    fail(e.code(), e.to_string())
}

pub(crate) fn random_hash() -> Hash {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("operating system randomness is available");
    Hash(b)
}

/// Add key `name` to the keystore unless it is there.
pub(crate) fn ensure_key(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let mut ks = ctx.keystore()?;
    if ks.contains(name) {
        return Ok(());
    }
    let pass = ctx.passphrase_for_new_key(&ks)?;
    ks.create(name, Protection::Passphrase(&pass))?;
    Ok(())
}

/// Print a JSON answer, pretty.
pub(crate) fn print_json(v: &Value) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| fail("internal", e.to_string()))?
    );
    Ok(())
}

/// The current record of `did` from the chain.
async fn record(ctx: &Ctx, did: &str) -> anyhow::Result<Value> {
    let client = ctx.client()?;
    Ok(client.query("identity", &["did", did], false).await?.value)
}

/// The resolution result `a` asks for.
async fn resolve(ctx: &Ctx, a: &ResolveArgs) -> anyhow::Result<Value> {
    let did = did_of(ctx, &a.did)?;
    Ok(ctx
        .client()?
        .resolve_did(&did, a.version_id, a.version_time.as_deref(), a.prove)
        .await?)
}

pub async fn did(ctx: &Ctx, cmd: DidCmd) -> anyhow::Result<()> {
    match cmd {
        DidCmd::Create {
            tx,
            subject,
            controller,
            name,
            services,
        } => {
            let name = name.unwrap_or_else(|| tx.from.clone());
            let mut wallet = load_wallet(ctx)?;
            if let Some(e) = wallet.dids.get(&name) {
                return Err(fail(
                    "already_exists",
                    format!("{name} already has {}", e.did),
                ));
            }
            let subject: Subject = serde_json::from_value(json!(subject)).map_err(|_| {
                fail(
                    "invalid_argument",
                    "subject is person, organisation or device",
                )
            })?;
            let next_name = format!("{name}.next");
            let vc_name = format!("{name}.vc");
            ensure_key(ctx, &next_name)?;
            ensure_key(ctx, &vc_name)?;
            let enc_name = format!("{name}.enc");
            ensure_key(ctx, &enc_name)?;
            let enc_public = agreement_key(ctx, &enc_name)?.public();
            let next_addr = ctx.resolve_address(&next_name)?;
            let vc_key = jose_key(ctx, &vc_name)?;
            let mut svc = Vec::new();
            for (i, s) in services.iter().enumerate() {
                let (kind, endpoint) = s
                    .split_once('=')
                    .ok_or_else(|| fail("invalid_argument", "a service is TYPE=URL"))?;
                svc.push(urbis_identity::Service {
                    fragment: format!("service-{}", i + 1),
                    kind: kind.to_string(),
                    endpoint: endpoint.to_string(),
                });
            }
            let document = Document {
                methods: vec![
                    Method {
                        fragment: "key-1".into(),
                        jwk: Jwk::from_key(&vc_key.public()),
                        purposes: vec![Purpose::Authentication, Purpose::AssertionMethod],
                    },
                    Method {
                        fragment: "enc-1".into(),
                        jwk: Jwk::from_key(&PublicJwk::X25519(enc_public)),
                        purposes: vec![Purpose::KeyAgreement],
                    },
                ],
                services: svc,
                controllers: Vec::new(),
            };
            let controller_addr = controller
                .as_deref()
                .map(|c| ctx.resolve_address(c))
                .transpose()?;
            let ctrl = match controller_addr {
                Some(a) => a,
                None => ctx.resolve_address(&name)?,
            };
            let next_key_hash = next_key_commitment(&next_addr);
            let salt = random_hash();
            let id = urbis_identity::did_id(&ctrl, &next_key_hash, &salt, &document);
            let did = urbis_identity::did_string(&id);
            let call = IdentityCall::Create {
                document,
                next_key_hash,
                salt,
                subject,
                controller: controller_addr,
            };
            send(ctx, &tx, Call::new(urbis_identity::MODULE, &call)).await?;
            wallet.dids.insert(
                name.clone(),
                Entry {
                    did: did.clone(),
                    controller: name,
                    next: next_name,
                    vc: vc_name,
                },
            );
            save_wallet(ctx, &wallet)?;
            eprintln!("created {did}");
            println!("{did}");
            Ok(())
        }
        DidCmd::Show(a) => print_json(&resolve(ctx, &a).await?),
        DidCmd::Resolve(a) => print_json(&resolve(ctx, &a).await?["didDocument"]),
        DidCmd::Rotate { tx } => {
            let mut wallet = load_wallet(ctx)?;
            let e = entry(&wallet, &tx.from)?.clone();
            let rec = record(ctx, &e.did).await?;
            let version = rec["version"].as_u64().unwrap_or(0);
            let new_next = format!("{}.next{}", tx.from, version + 1);
            ensure_key(ctx, &new_next)?;
            let call = IdentityCall::Rotate {
                did: e.did.clone(),
                next_key_hash: next_key_commitment(&ctx.resolve_address(&new_next)?),
            };
            // Sent by the pre-committed key.
            let opts = TxOpts {
                from: e.next.clone(),
                no_wait: tx.no_wait,
            };
            send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await?;
            if let Some(w) = wallet.dids.get_mut(&tx.from) {
                w.controller = e.next.clone();
                w.next = new_next;
            }
            save_wallet(ctx, &wallet)
        }
        DidCmd::AddKey {
            tx,
            fragment,
            jwk,
            purpose,
        } => {
            let wallet = load_wallet(ctx)?;
            let e = entry(&wallet, &tx.from)?.clone();
            let rec = record(ctx, &e.did).await?;
            let mut document: Document = serde_json::from_value(rec["document"].clone())
                .map_err(|err| fail("decode", err.to_string()))?;
            let text = if jwk.trim_start().starts_with('{') {
                jwk
            } else {
                std::fs::read_to_string(&jwk).map_err(|err| fail("io", format!("{jwk}: {err}")))?
            };
            let jwk: Jwk = serde_json::from_str(&text)
                .map_err(|err| fail("invalid_argument", format!("not a JWK: {err}")))?;
            let purposes: Vec<Purpose> = purpose
                .iter()
                .map(|p| serde_json::from_value(json!(p)))
                .collect::<Result<_, _>>()
                .map_err(|_| fail("invalid_argument", "unknown purpose"))?;
            document.methods.push(Method {
                fragment,
                jwk,
                purposes,
            });
            let call = IdentityCall::Update {
                did: e.did,
                document,
            };
            let opts = TxOpts {
                from: e.controller,
                no_wait: tx.no_wait,
            };
            send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await
        }
        DidCmd::Deactivate { tx } => {
            let wallet = load_wallet(ctx)?;
            let e = entry(&wallet, &tx.from)?.clone();
            let opts = TxOpts {
                from: e.controller,
                no_wait: tx.no_wait,
            };
            let call = IdentityCall::Deactivate { did: e.did };
            send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await
        }
        DidCmd::Accredit {
            tx,
            issuer,
            vct,
            from_ms,
            until_ms,
        } => {
            let call = IdentityCall::Accredit {
                issuer: did_of(ctx, &issuer)?,
                vct,
                from_ms,
                until_ms,
            };
            send(ctx, &tx, Call::new(urbis_identity::MODULE, &call)).await
        }
        DidCmd::RecoverySet {
            tx,
            guardians,
            threshold,
            delay_hours,
        } => {
            let wallet = load_wallet(ctx)?;
            let e = entry(&wallet, &tx.from)?.clone();
            let guardians = guardians
                .iter()
                .map(|g| did_of(ctx, g))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let call = IdentityCall::SetRecovery {
                did: e.did,
                recovery: Some(urbis_identity::Recovery {
                    guardians,
                    threshold,
                    delay_ms: delay_hours.saturating_mul(3_600_000),
                }),
            };
            let opts = TxOpts {
                from: e.controller,
                no_wait: tx.no_wait,
            };
            send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await
        }
        DidCmd::Recover {
            tx,
            did,
            new_controller,
            next_key_hash,
        } => {
            let wallet = load_wallet(ctx)?;
            let g = entry(&wallet, &tx.from)?.clone();
            let call = IdentityCall::Recover {
                did: did_of(ctx, &did)?,
                guardian: g.did,
                new_controller: ctx.resolve_address(&new_controller)?,
                next_key_hash,
            };
            let opts = TxOpts {
                from: g.controller,
                no_wait: tx.no_wait,
            };
            send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await
        }
        DidCmd::Veto { tx } => {
            let wallet = load_wallet(ctx)?;
            let e = entry(&wallet, &tx.from)?.clone();
            let opts = TxOpts {
                from: e.controller,
                no_wait: tx.no_wait,
            };
            let call = IdentityCall::Veto { did: e.did };
            send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await
        }
        DidCmd::Commitment { account } => {
            let addr = ctx.resolve_address(&account)?;
            println!("{}", next_key_commitment(&addr));
            Ok(())
        }
        DidCmd::StatusList { tx, bits, size } => {
            let wallet = load_wallet(ctx)?;
            let e = entry(&wallet, &tx.from)?.clone();
            let opts = TxOpts {
                from: e.controller,
                no_wait: tx.no_wait,
            };
            let call = IdentityCall::CreateStatusList {
                issuer: e.did,
                bits,
                size,
            };
            send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await
        }
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(p) => std::fs::write(p, format!("{text}\n"))
            .map_err(|e| fail("io", format!("{}: {e}", p.display()))),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn read_compact(p: &Path) -> anyhow::Result<String> {
    let t = std::fs::read_to_string(p).map_err(|e| fail("io", format!("{}: {e}", p.display())))?;
    Ok(t.trim().to_string())
}

pub(crate) use urbis_credentials::did::method_key;

/// Which status entry a new credential takes.
pub(crate) enum StatusPick {
    /// This one, if the issuer has not used it.
    Chosen(u64),
    /// An unused one at random (so the index says nothing about when it was issued).
    Random,
    /// The one the chain assigned (a permit's): the same credential may be issued again.
    Assigned(u64),
}

/// Sign an SD-JWT VC of type `vct` with `claims` for `subject` (a DID, or a keystore name with
/// one; bound to its key-1) as `from`'s DID, with an entry of `status_list` (which must be
/// `from`'s). Returns the compact credential, the subject's DID and the status entry.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn issue_credential(
    ctx: &Ctx,
    from: &str,
    vct: &str,
    subject: &str,
    claims: Map<String, Value>,
    status_list: u64,
    status: StatusPick,
    exp: Option<u64>,
) -> anyhow::Result<(String, String, u64)> {
    let t = types::find(vct).map_err(cred)?;
    let disclosable = t.disclosable(&claims).map_err(cred)?;
    let mut wallet = load_wallet(ctx)?;
    let issuer = entry(&wallet, from)?.clone();
    let subject_did = did_of(ctx, subject)?;
    let client = ctx.client()?;
    let resolved = client.resolve_did(&subject_did, None, None, false).await?;
    let doc = &resolved["didDocument"];
    let holder = method_key(doc, &subject_did, "key-1", "authentication").ok_or_else(|| {
        fail(
            "invalid_argument",
            format!("{subject_did} has no authentication key key-1 to bind to"),
        )
    })?;
    let list = client.status_list(status_list, None, false).await?;
    if list["issuer"].as_str() != Some(&issuer.did) {
        return Err(fail(
            "unauthorized",
            format!("status list {status_list} belongs to another issuer"),
        ));
    }
    let size = list["size"].as_u64().unwrap_or(0);
    let used = wallet.status.entry(status_list).or_default();
    let idx = match status {
        StatusPick::Assigned(i) if i < size => i,
        StatusPick::Chosen(i) if i < size && !used.contains(&i) => i,
        StatusPick::Assigned(i) | StatusPick::Chosen(i) => {
            return Err(fail(
                "invalid_argument",
                format!("index {i} is used or past the list's {size} entries"),
            ));
        }
        StatusPick::Random => {
            if used.len() as u64 >= size {
                return Err(fail("invalid_state", "the status list is full"));
            }
            loop {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).expect("operating system randomness is available");
                let i = u64::from_le_bytes(b) % size;
                if !used.contains(&i) {
                    break i;
                }
            }
        }
    };
    if !used.contains(&idx) {
        used.push(idx);
    }
    let key = jose_key(ctx, &issuer.vc)?;
    let paths: Vec<&str> = disclosable.iter().map(String::as_str).collect();
    let sd = vc::issue(
        &key,
        vc::Request {
            iss: &issuer.did,
            kid: &format!("{}#key-1", issuer.did),
            vct: t.vct,
            iat: now_s(),
            exp,
            sub: Some(&subject_did),
            holder: &holder,
            status: Some(StatusRef {
                idx,
                uri: status_uri(status_list),
            }),
            claims,
            disclosable: &paths,
        },
    )
    .map_err(cred)?;
    save_wallet(ctx, &wallet)?;
    Ok((sd.serialize(), subject_did, idx))
}

pub async fn credential(ctx: &Ctx, cmd: CredentialCmd) -> anyhow::Result<()> {
    match cmd {
        CredentialCmd::Types => {
            let list: Vec<Value> = types::TYPES
                .iter()
                .map(|t| json!({"vct": t.vct, "description": t.description, "claims": t.claims}))
                .collect();
            print_json(&json!(list))
        }
        CredentialCmd::Issue {
            from,
            vct,
            subject,
            claims,
            status_list,
            status_idx,
            valid_days,
            out,
        } => {
            let text = std::fs::read_to_string(&claims)
                .map_err(|e| fail("io", format!("{}: {e}", claims.display())))?;
            let claims: Map<String, Value> = serde_json::from_str(&text)
                .map_err(|e| fail("invalid_argument", format!("claims are a JSON object: {e}")))?;
            let exp = valid_days.map(|d| now_s() + d * 86_400);
            let status = match status_idx {
                Some(i) => StatusPick::Chosen(i),
                None => StatusPick::Random,
            };
            let (compact, subject_did, idx) =
                issue_credential(ctx, &from, &vct, &subject, claims, status_list, status, exp)
                    .await?;
            eprintln!("issued {vct} to {subject_did} (status list {status_list}, entry {idx})");
            write_out(out.as_deref(), &compact)
        }
        CredentialCmd::Present {
            credential,
            disclose,
            audience,
            nonce,
            holder,
            out,
        } => {
            let (sd, kb) = SdJwt::split(&read_compact(&credential)?).map_err(cred)?;
            if kb.is_some() {
                return Err(fail(
                    "malformed",
                    "that is a presentation, not a credential",
                ));
            }
            let jws = urbis_credentials::jose::Jws::parse(&sd.jwt).map_err(cred)?;
            let bound = jws
                .payload
                .get("cnf")
                .and_then(|c| c.get("jwk"))
                .and_then(|j| PublicJwk::from_json(j).ok())
                .ok_or_else(|| fail("malformed", "the credential has no holder key (cnf.jwk)"))?;
            let wallet = load_wallet(ctx)?;
            let holder = match holder {
                Some(h) => h,
                None => {
                    // The name whose credential key is the bound one (public keys only: no
                    // passphrase needed to find it).
                    let ks = ctx.keystore()?;
                    wallet
                        .dids
                        .iter()
                        .find(|(_, e)| {
                            ks.entry(&e.vc).is_ok_and(|k| {
                                PublicJwk::Ed25519(k.public_key.raw().try_into().unwrap_or([0; 32]))
                                    == bound
                            })
                        })
                        .map(|(n, _)| n.clone())
                        .ok_or_else(|| {
                            fail(
                                "key_mismatch",
                                "no name in this keystore holds the key the credential is bound to",
                            )
                        })?
                }
            };
            let h = entry(&wallet, &holder)?.clone();
            let key = jose_key(ctx, &h.vc)?;
            if bound != key.public() {
                return Err(fail(
                    "key_mismatch",
                    format!("the credential is bound to another key than {holder}'s"),
                ));
            }
            let paths: Vec<&str> = disclose.iter().map(String::as_str).collect();
            let p = present(
                &sd,
                &paths,
                Some(Binding {
                    holder: &key,
                    audience: &audience,
                    nonce: &nonce,
                    iat: now_s(),
                }),
            )
            .map_err(cred)?;
            write_out(out.as_deref(), &p)
        }
        CredentialCmd::Verify {
            presentation,
            audience,
            nonce,
            max_age_s,
            document,
            genesis,
        } => {
            let text = read_compact(&presentation)?;
            let genesis: Option<urbis_runtime::Genesis> = genesis
                .map(|p| {
                    serde_json::from_value(crate::commands::read_json_file(&p, "genesis file")?)
                        .map_err(|e| fail("malformed", format!("{}: {e}", p.display())))
                })
                .transpose()?;
            let mut report =
                verify_presentation(ctx, &text, &audience, &nonce, max_age_s, genesis.as_ref())
                    .await?;
            if let Some(doc) = document {
                let bytes = std::fs::read(&doc)
                    .map_err(|e| fail("io", format!("{}: {e}", doc.display())))?;
                let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                let disclosed = report["claims"]["document_hash"].as_str().ok_or_else(|| {
                    fail(
                        "document_mismatch",
                        "the presentation does not disclose document_hash",
                    )
                })?;
                if disclosed != digest {
                    return Err(fail(
                        "document_mismatch",
                        "the document is not the one the credential attests",
                    ));
                }
                report["document"] = json!({"sha256": digest, "matches": true});
            }
            print_json(&report)
        }
        CredentialCmd::Revoke(a) => set_status(ctx, a, urbis_credentials::status::INVALID).await,
        CredentialCmd::Suspend(a) => set_status(ctx, a, urbis_credentials::status::SUSPENDED).await,
        CredentialCmd::Reinstate(a) => set_status(ctx, a, urbis_credentials::status::VALID).await,
    }
}

async fn set_status(ctx: &Ctx, a: StatusArgs, status: u8) -> anyhow::Result<()> {
    let (sd, _) = SdJwt::split(&read_compact(&a.credential)?).map_err(cred)?;
    let jws = urbis_credentials::jose::Jws::parse(&sd.jwt).map_err(cred)?;
    let r = jws
        .payload
        .get("status")
        .map(StatusRef::from_claim)
        .transpose()
        .map_err(cred)?
        .ok_or_else(|| fail("malformed", "the credential has no status entry"))?;
    let list = status_id(&r.uri)?;
    let wallet = load_wallet(ctx)?;
    let e = entry(&wallet, &a.tx.from)?.clone();
    let opts = TxOpts {
        from: e.controller,
        no_wait: a.tx.no_wait,
    };
    let call = IdentityCall::SetStatus {
        list,
        idx: r.idx,
        status,
    };
    send(ctx, &opts, Call::new(urbis_identity::MODULE, &call)).await
}

/// Verify a presentation against the chain the client talks to; the report on success.
/// A single-key query's answer; with `genesis`, proven and checked against it (the answer is
/// recomputed from the proven bytes). `Null` when absent.
async fn chain_fact(
    client: &urbis_client::Client,
    genesis: Option<&urbis_runtime::Genesis>,
    module: &str,
    path: &[&str],
) -> anyhow::Result<Value> {
    match genesis {
        None => match client.query(module, path, false).await {
            Ok(a) => Ok(a.value),
            Err(e) if e.is(urbis_core::ErrorCode::NotFound) => Ok(Value::Null),
            Err(e) => Err(e.into()),
        },
        Some(g) => {
            let answer = client.query(module, path, true).await?;
            urbis_client::verify_query(&answer, g)
                .map_err(|e| fail("invalid_proof", e.message.clone()))?;
            Ok(answer.value)
        }
    }
}

pub async fn verify_presentation(
    ctx: &Ctx,
    text: &str,
    audience: &str,
    nonce: &str,
    max_age_s: u64,
    genesis: Option<&urbis_runtime::Genesis>,
) -> anyhow::Result<Value> {
    let client = ctx.client()?;
    let (sd, _) = SdJwt::split(text).map_err(cred)?;
    let jws = urbis_credentials::jose::Jws::parse(&sd.jwt).map_err(cred)?;
    let iss = jws
        .payload
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("malformed", "no iss"))?
        .to_string();
    let kid = jws
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("malformed", "no kid"))?
        .to_string();
    let (kid_did, fragment) = kid
        .split_once('#')
        .ok_or_else(|| fail("malformed", "kid is <did>#<fragment>"))?;
    if kid_did != iss {
        return Err(fail("key_mismatch", "kid names another DID than iss"));
    }
    let iat = jws
        .payload
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| fail("malformed", "no iat"))?;
    // The issuer's key as it was when the credential was issued.
    let at = urbis_node::identity::xml_datetime(iat.saturating_mul(1000).saturating_add(999));
    let resolved = client.resolve_did(&iss, None, Some(&at), false).await?;
    let version = resolved["didDocumentMetadata"]["versionId"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    // The version in force then, proven when asked (its record renders the document).
    let record = chain_fact(&client, genesis, "identity", &["version", &iss, &version]).await?;
    if record.is_null() {
        return Err(fail(
            "unknown_issuer_key",
            format!("{iss} has no version {version}"),
        ));
    }
    if record["deactivated"] == json!(true) {
        return Err(fail(
            "unknown_issuer_key",
            format!("{iss} was deactivated at {at}"),
        ));
    }
    let key = method_key(&record["did_document"], &iss, fragment, "assertionMethod").ok_or_else(
        || {
            fail(
                "unknown_issuer_key",
                format!("{kid} was not an assertion key of {iss} at {at}"),
            )
        },
    )?;
    let now = now_s();
    let check = KbCheck {
        audience,
        nonce,
        now,
        max_age_s,
    };
    let v = vc::verify(text, |_| Ok(key), Some(&check), now).map_err(cred)?;
    // Accredited for this type when it was issued.
    let acc = chain_fact(
        &client,
        genesis,
        "identity",
        &["accreditation", &v.vct, &iss],
    )
    .await?;
    let at_ms = iat.saturating_mul(1000);
    let accredited = acc["from_ms"].as_u64().is_some_and(|f| f <= at_ms)
        && acc["until_ms"].as_u64().is_some_and(|u| at_ms < u);
    if !accredited {
        return Err(fail(
            "unaccredited",
            format!("{iss} was not accredited for {} when it issued this", v.vct),
        ));
    }
    let status_ref = v
        .status
        .clone()
        .ok_or_else(|| fail("malformed", "the credential has no status entry"))?;
    let list_id = status_id(&status_ref.uri)?;
    let (status, height) = match genesis {
        None => {
            let list = client
                .status_list(list_id, Some(status_ref.idx), false)
                .await?;
            if list["issuer"].as_str() != Some(iss.as_str()) {
                return Err(fail(
                    "unauthorized",
                    "the status list belongs to another issuer",
                ));
            }
            (list["status"].as_u64(), list["height"].clone())
        }
        Some(_) => {
            // The list's header and the chunk holding the entry, both proven.
            let id = list_id.to_string();
            let meta = chain_fact(&client, genesis, "identity", &["status_list", &id]).await?;
            if meta["issuer"].as_str() != Some(iss.as_str()) {
                return Err(fail(
                    "unauthorized",
                    "the status list belongs to another issuer",
                ));
            }
            let bits = meta["bits"].as_u64().unwrap_or(1) as u8;
            let size = meta["size"].as_u64().unwrap_or(0);
            if status_ref.idx >= size {
                return Err(fail("malformed", "the status index is past the list"));
            }
            let (chunk, _) = urbis_identity::status_position(bits, status_ref.idx);
            let chunk_text = chunk.to_string();
            let bytes =
                chain_fact(&client, genesis, "identity", &["chunk", &id, &chunk_text]).await?;
            let bytes = bytes
                .as_str()
                .map(hex::decode)
                .transpose()
                .map_err(|e| fail("decode", e.to_string()))?;
            let status = urbis_identity::status_in_chunk(bits, status_ref.idx, bytes.as_deref())
                .map_err(|e| fail("malformed", e.message))?;
            (Some(u64::from(status)), json!("proven"))
        }
    };
    match status {
        Some(0) => {}
        Some(1) => return Err(fail("revoked", "the issuer revoked this credential")),
        Some(2) => return Err(fail("suspended", "the issuer suspended this credential")),
        other => {
            return Err(fail("revoked", format!("status {other:?} is not valid")));
        }
    }
    Ok(json!({
        "verified": true,
        "issuer": iss,
        "vct": v.vct,
        "issued_at": urbis_node::identity::xml_datetime(at_ms),
        "claims": v.inner.claims,
        "disclosed": v.inner.disclosed,
        "status": {"list": list_id, "idx": status_ref.idx, "value": "valid", "height": height},
        "proven": genesis.is_some(),
    }))
}
