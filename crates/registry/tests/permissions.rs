//! The permission matrix: every call of every module (one sample each, from the JavaScript
//! client's vectors `clients/vectors/tx/calls.json`, every field filled) sent by every role and
//! by accounts with no role, each on a fresh chain, against **the permission tables in the
//! modules' own documentation** (the `| call | who | fails with (in order) |` tables of each
//! `modules/<m>/src/lib.rs`, read by this test; the accounts module's role table is below).
//!
//! What is asserted, for every (call, sender):
//! - an account with no role is refused at the door (`unauthorized`, its nonce untouched)
//!   unless the documentation calls the call open (`open`, `anyone …` but "anyone with a role");
//!   an open call is never refused at the door;
//! - a role holder is never refused at the door;
//! - where the documented "who" is a set of roles and `unauthorized` is the first documented
//!   failure, exactly the holders of those roles get past the module's check and everyone else
//!   gets `unauthorized` (writing nothing but the nonce);
//! - "who" that depends on the object (an owner, the meter's account, …) is checked by each
//!   module's own tests with the object in place; here only the door is;
//! - every call a module's schema lists has a documented row, and every row names a real call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use urbis_core::{Call, ChainRef, ErrorCode, Hash, SecretKey, SignedTx};
use urbis_runtime::{BlockEnv, Genesis, MemState, Runtime, WriteSet, nonce_key};

const CHAIN: &str = "urbis-permissions";
const GENESIS_MS: u64 = 1_700_000_000_000;

const ROLES: &[&str] = &[
    "city_admin",
    "department",
    "validator_operator",
    "credential_issuer",
    "certified_device",
    "merchant",
    "citizen",
    "land_registrar",
    "bank",
    "hospital",
    "grid_operator",
    "mobility_authority",
    "transport_operator",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The sender holding `role` (`None`: no role).
fn sender(role: Option<&str>) -> SecretKey {
    SecretKey::from_label(&format!("urbis-permissions/{}", role.unwrap_or("nobody")))
}

/// Who the documentation says may make a call.
#[derive(Clone, Debug, PartialEq)]
enum Who {
    /// Holders of any of these roles, checked before anything else.
    Roles(BTreeSet<&'static str>),
    /// Anyone, even without a role (an open call).
    Open,
    /// Any role holder.
    AnyRole,
    /// Depends on the object (its owner, its account, an officer of its department, …).
    Relative,
}

/// The documented "who" of a row, as [`Who`].
fn who(text: &str) -> Who {
    let t = text.to_lowercase().replace('`', "");
    let roles = |r: &[&'static str]| Who::Roles(r.iter().copied().collect());
    // "anyone for X (open); a department for Y": open for some arguments only.
    if t.contains("(open") && (t.contains(';') || t.contains(',')) {
        return Who::Relative;
    }
    if t.contains("(open") || (t.starts_with("anyone") && !t.starts_with("anyone with a role")) {
        return Who::Open;
    }
    if t.starts_with("anyone with a role") || t == "any holder" {
        return Who::AnyRole;
    }
    match t.as_str() {
        "city_admin" | "city admin" => roles(&["city_admin"]),
        "department" => roles(&["department"]),
        "city_admin or department" | "city admin or department" | "department, city admin" => {
            roles(&["city_admin", "department"])
        }
        "grid operator" => roles(&["grid_operator"]),
        "land registrar" => roles(&["land_registrar"]),
        "mobility authority" => roles(&["mobility_authority"]),
        "transport operator" => roles(&["transport_operator"]),
        "a merchant" => roles(&["merchant"]),
        "a citizen" | "a citizen, once" => roles(&["citizen"]),
        "a citizen or a department" => roles(&["citizen", "department"]),
        "a hospital" => roles(&["hospital"]),
        "a custodian (department, credential issuer, hospital)" => {
            roles(&["department", "credential_issuer", "hospital"])
        }
        _ if t.starts_with("city admin (") && !t.contains(',') => roles(&["city_admin"]),
        _ => Who::Relative,
    }
}

/// `CreateAsset` → `create_asset` (some tables name the Rust variants).
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// One documented row: the call names it covers, who, and the first documented failure.
struct Row {
    calls: Vec<String>,
    who: Who,
    first_failure: Option<String>,
    text: String,
}

/// The permission table of `module`'s documentation.
fn documented(module: &str) -> Vec<Row> {
    let src = std::fs::read_to_string(repo().join(format!("modules/{module}/src/lib.rs")))
        .unwrap_or_else(|e| panic!("{module}: {e}"));
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in src.lines() {
        let Some(t) = line.strip_prefix("//!").map(str::trim) else {
            in_table = false;
            continue;
        };
        let cells: Vec<&str> = t.split(" | ").map(|c| c.trim_matches('|').trim()).collect();
        if t.starts_with('|') && cells.first().is_some_and(|c| c.starts_with("call")) {
            in_table = true;
            continue;
        }
        if !in_table || !t.starts_with('|') || t.starts_with("|-") || t.starts_with("| -") {
            in_table = t.starts_with('|') && in_table;
            continue;
        }
        if cells.len() < 2 {
            continue;
        }
        // `name {fields}` / `other {…}`: every backticked name that starts a call.
        let calls: Vec<String> = cells[0]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter_map(|c| c.split([' ', '{', '(']).next())
            .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphabetic() || ch == '_'))
            .map(snake)
            .collect();
        let first_failure = cells
            .get(2)
            .and_then(|f| f.split('`').nth(1))
            .map(str::to_string);
        rows.push(Row {
            calls,
            who: who(cells[1]),
            first_failure,
            text: t.to_string(),
        });
    }
    rows
}

/// The accounts module's documented table: who may grant or revoke each role; `set_label`
/// any role holder.
fn accounts_managers(role: &str) -> BTreeSet<&'static str> {
    match role {
        "city_admin" | "department" | "validator_operator" | "credential_issuer" => {
            ["city_admin"].into()
        }
        "certified_device" | "merchant" => ["city_admin", "department"].into(),
        "citizen" => ["city_admin", "department", "credential_issuer"].into(),
        _ => ["city_admin"].into(),
    }
}

struct World {
    runtime: Runtime,
    genesis: WriteSet,
}

fn world() -> World {
    let accounts: Vec<Value> = ROLES
        .iter()
        .map(|r| json!({"address": sender(Some(r)).address(), "roles": [r]}))
        .collect();
    let supply: Vec<Value> = (ROLES.iter().map(|r| Some(*r)).chain([None]))
        .map(|r| json!([sender(r).address(), 1_000_000u64]))
        .collect();
    let genesis = Genesis {
        epoch_length: None,
        chain_id: CHAIN.into(),
        genesis_time_ms: GENESIS_MS,
        validators: Vec::new(),
        modules: [
            ("accounts".to_string(), json!({ "accounts": accounts })),
            (
                "assets".to_string(),
                json!({"assets": [{"symbol": "EURC", "name": "Euro cents", "decimals": 2,
                    "issuer": sender(Some("city_admin")).address(), "supply": supply}]}),
            ),
        ]
        .into_iter()
        .collect(),
    };
    let runtime = urbis_registry::runtime(CHAIN);
    let genesis = runtime.genesis(&MemState::default(), &genesis).unwrap();
    World { runtime, genesis }
}

/// What happened to a call.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Refused by the runtime before the module ran (`unauthorized`, nonce untouched).
    Door,
    /// The module's permission check refused it (`unauthorized`).
    Denied,
    /// Anything else: it succeeded, or failed for another reason.
    Passed(Option<ErrorCode>),
}

fn run(w: &World, module: &str, data: &[u8], role: Option<&str>) -> Outcome {
    let state = MemState::default();
    state.apply(&w.genesis);
    let key = sender(role);
    let call = Call {
        module: module.into(),
        data: data.to_vec(),
    };
    let tx = SignedTx::new(&ChainRef::new(CHAIN, Hash::ZERO), &key, 0, call);
    let env = BlockEnv {
        chain_id: CHAIN.into(),
        height: 1,
        timestamp_ms: GENESIS_MS + 1_000,
        proposer: None,
    };
    let out = w.runtime.execute_block(&state, &env, &[tx]).unwrap();
    let r = &out.receipts[0];
    match &r.error {
        Some(e) if e.code == ErrorCode::Unauthorized => {
            let mut others = out.writes.clone();
            others.remove(&nonce_key(&key.address()));
            let empty = w.runtime.execute_block(&state, &env, &[]).unwrap();
            assert_eq!(others, empty.writes, "{module}: a refused call wrote");
            if r.nonce_used {
                Outcome::Denied
            } else {
                Outcome::Door
            }
        }
        e => Outcome::Passed(e.as_ref().map(|e| e.code)),
    }
}

#[test]
fn every_call_from_every_role_matches_the_documented_permissions() {
    let w = world();
    let vectors: Value = serde_json::from_slice(
        &std::fs::read(repo().join("clients/vectors/tx/calls.json")).unwrap(),
    )
    .unwrap();
    let mut problems = Vec::new();
    let mut checked = 0usize;
    let mut by_role = 0usize;
    let senders: Vec<Option<&str>> = ROLES.iter().map(|r| Some(*r)).chain([None]).collect();
    for m in vectors["modules"].as_array().unwrap() {
        let module = m["module"].as_str().unwrap();
        let rows = if module == "accounts" {
            Vec::new()
        } else {
            documented(module)
        };
        let schema_calls: BTreeSet<String> = (m["schema"]["oneOf"].as_array().unwrap().iter())
            .map(|v| {
                v["properties"]["call"]["const"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if module != "accounts" {
            let documented_calls: BTreeSet<String> =
                rows.iter().flat_map(|r| r.calls.iter().cloned()).collect();
            for c in schema_calls.difference(&documented_calls) {
                problems.push(format!(
                    "{module}.{c}: no row in the module's permission table"
                ));
            }
            for c in documented_calls.difference(&schema_calls) {
                problems.push(format!(
                    "{module}: the table names {c}, which is not a call"
                ));
            }
        }
        let mut sampled = BTreeSet::new();
        for sample in m["calls"].as_array().unwrap() {
            let name = sample["json"]["call"].as_str().unwrap().to_string();
            if !sampled.insert(name.clone()) {
                continue;
            }
            let data = hex::decode(sample["borsh"].as_str().unwrap()).unwrap();
            let (who, first, text) = if module == "accounts" {
                let managers = match name.as_str() {
                    "grant_role" | "revoke_role" => {
                        Who::Roles(accounts_managers(sample["json"]["role"].as_str().unwrap()))
                    }
                    _ => Who::AnyRole,
                };
                (
                    managers,
                    Some("unauthorized".to_string()),
                    "accounts table".into(),
                )
            } else {
                match rows.iter().find(|r| r.calls.contains(&name)) {
                    Some(r) => (r.who.clone(), r.first_failure.clone(), r.text.clone()),
                    None => continue,
                }
            };
            for role in &senders {
                checked += 1;
                let got = run(&w, module, &data, *role);
                let who_is = role.unwrap_or("nobody");
                let expected_ok = match (&who, role) {
                    (Who::Open, None) => !matches!(got, Outcome::Door),
                    (_, None) => got == Outcome::Door,
                    (_, Some(_)) if got == Outcome::Door => false,
                    (Who::Roles(set), Some(r)) if first.as_deref() == Some("unauthorized") => {
                        by_role += 1;
                        if set.contains(r) {
                            matches!(got, Outcome::Passed(_))
                        } else {
                            got == Outcome::Denied
                        }
                    }
                    _ => true,
                };
                if !expected_ok {
                    problems.push(format!(
                        "{module}.{name} from {who_is}: got {got:?}; documented: {text}"
                    ));
                }
            }
        }
        for c in schema_calls.difference(&sampled) {
            problems.push(format!("{module}.{c}: no sample call in the vectors"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {checked} (call, sender) pairs disagree with the documentation:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!(
        "{checked} (call, sender) pairs match the documented permissions ({by_role} of them against a role set)"
    );
}
