//! Shared parts of the fuzz targets: the city every `module_calls` input runs in, the input
//! framing, and the fixed keys the credential targets verify against. The seed corpora are
//! written by `examples/seeds.rs` from these same definitions.

use std::sync::OnceLock;

use serde_json::json;
use urbis_core::{Address, Call, ChainRef, ErrorCode, Hash, SecretKey, SignedTx};
use urbis_runtime::{BlockEnv, Genesis, MemState, Runtime, WriteSet, nonce_key};

/// The chain every fuzz input runs on.
pub const CHAIN: &str = "urbis-fuzz";
/// Genesis time of the fuzz chain.
pub const GENESIS_MS: u64 = 1_700_000_000_000;

/// The accounts that sign `module_calls` inputs: one per role, then two without any.
pub const SIGNERS: &[(&str, Option<&str>)] = &[
    ("admin", Some("city_admin")),
    ("department", Some("department")),
    ("validator-operator", Some("validator_operator")),
    ("credential-issuer", Some("credential_issuer")),
    ("certified-device", Some("certified_device")),
    ("merchant", Some("merchant")),
    ("citizen", Some("citizen")),
    ("citizen-2", Some("citizen")),
    ("land-registrar", Some("land_registrar")),
    ("bank", Some("bank")),
    ("hospital", Some("hospital")),
    ("grid-operator", Some("grid_operator")),
    ("mobility-authority", Some("mobility_authority")),
    ("transport-operator", Some("transport_operator")),
    ("nobody", None),
    ("nobody-2", None),
];

/// The key of signer `i` of [`SIGNERS`].
pub fn signer(i: usize) -> SecretKey {
    SecretKey::from_label(&format!("urbis-fuzz/{}", SIGNERS[i % SIGNERS.len()].0))
}

/// The genesis of the fuzz city: every role held by someone, euro cents for everyone, a
/// reward program, a 15-minute energy interval.
pub fn genesis() -> Genesis {
    let accounts: Vec<_> = (SIGNERS.iter().enumerate())
        .filter_map(|(i, (label, role))| {
            role.map(|r| json!({"address": signer(i).address(), "roles": [r], "label": label}))
        })
        .collect();
    let supply: Vec<_> = (0..SIGNERS.len())
        .map(|i| json!([signer(i).address(), 1_000_000u64]))
        .collect();
    let modules = [
        ("accounts", json!({ "accounts": accounts })),
        (
            "assets",
            json!({"assets": [{"symbol": "EURC", "name": "Euro cents", "decimals": 2,
                "issuer": signer(0).address(), "supply": supply}]}),
        ),
        (
            "rewards",
            json!({"programs": [{"name": "Recycle", "category": "recycling",
                "budget": 1_000_000u64, "cap_per_period": 100, "period_ms": 86_400_000u64,
                "transferable": true}]}),
        ),
        ("energy", json!({ "interval_ms": 900_000u64 })),
    ];
    Genesis {
        epoch_length: None,
        chain_id: CHAIN.to_string(),
        genesis_time_ms: GENESIS_MS,
        validators: Vec::new(),
        modules: modules
            .into_iter()
            .map(|(m, c)| (m.to_string(), c))
            .collect(),
    }
}

/// The runtime and the state genesis writes, made once per process.
pub struct World {
    pub runtime: Runtime,
    pub modules: Vec<&'static str>,
    pub genesis: WriteSet,
    pub keys: Vec<SecretKey>,
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = urbis_registry::runtime(CHAIN);
        let genesis = runtime
            .genesis(&MemState::default(), &genesis())
            .expect("the fuzz city's genesis applies");
        World {
            modules: runtime.module_names(),
            runtime,
            genesis,
            keys: (0..SIGNERS.len()).map(signer).collect(),
        }
    })
}

/// One transaction of a `module_calls` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step<'a> {
    /// Index into the runtime's modules (modulo their number).
    pub module: u8,
    /// Index into [`SIGNERS`] (modulo).
    pub signer: u8,
    /// How far the clock moves before this block: `1 + wait³/8` seconds (up to ~24 days).
    pub wait: u8,
    pub data: &'a [u8],
}

/// Most steps of one input.
pub const MAX_STEPS: usize = 24;

/// Split an input into steps: `module u8, signer u8, wait u8, len u16 LE, data[len]`, repeated
/// (a short last `data` takes what is left).
pub fn steps(mut input: &[u8]) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    while input.len() >= 5 && out.len() < MAX_STEPS {
        let len = u16::from_le_bytes([input[3], input[4]]) as usize;
        let rest = &input[5..];
        let len = len.min(rest.len());
        out.push(Step {
            module: input[0],
            signer: input[1],
            wait: input[2],
            data: &rest[..len],
        });
        input = &rest[len..];
    }
    out
}

/// The bytes of `steps` (the inverse of [`steps`]).
pub fn frame(steps: &[Step<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in steps {
        out.extend([s.module, s.signer, s.wait]);
        out.extend((s.data.len() as u16).to_le_bytes());
        out.extend(s.data);
    }
    out
}

fn without(writes: &WriteSet, key: &[u8]) -> WriteSet {
    let mut w = writes.clone();
    w.remove(key);
    w
}

/// Run an input's steps, each in its own block, and check what must hold for any call:
/// - a block of one transaction always executes (never an error of the block);
/// - no module panics (the runtime turns a panic into `internal: module panicked`);
/// - a failed call writes nothing but the sender's nonce: the block's writes equal those of
///   the same block without it, plus at most the nonce;
/// - a call that succeeds has a JSON form that encodes back to the same bytes (so a module
///   never accepts what its published schema cannot say, e.g. an invalid public key).
pub fn run_calls(input: &[u8]) {
    let w = world();
    let state = MemState::default();
    state.apply(&w.genesis);
    let chain = ChainRef::new(CHAIN, Hash::ZERO);
    let mut now = GENESIS_MS;
    for (height, step) in (1u64..).zip(steps(input)) {
        let module = w.modules[step.module as usize % w.modules.len()];
        // The JSON form of the call, if it encodes back to the same bytes.
        let json = (w.runtime.describe_call(module, step.data).ok()).filter(|j| {
            w.runtime
                .call_from_json(module, j)
                .map(|c| c.data)
                .as_deref()
                == Ok(step.data)
        });
        let key = &w.keys[step.signer as usize % w.keys.len()];
        let sender: Address = key.address();
        let nonce = urbis_runtime::read_nonce(&state, &sender).expect("nonce reads");
        let call = Call {
            module: module.to_string(),
            data: step.data.to_vec(),
        };
        let tx = SignedTx::new(&chain, key, nonce, call);
        let wait = step.wait as u64;
        now += 1_000 * (1 + wait * wait * wait / 8);
        let env = BlockEnv {
            chain_id: CHAIN.to_string(),
            height,
            timestamp_ms: now,
            proposer: None,
        };
        let out = (w.runtime)
            .execute_block(&state, &env, std::slice::from_ref(&tx))
            .expect("a block of one transaction executes");
        let receipt = &out.receipts[0];
        if let Some(e) = &receipt.error {
            assert!(
                !(e.code == ErrorCode::Internal && e.message.contains("panicked")),
                "{module} panicked on {:02x?} from {}: {}",
                step.data,
                SIGNERS[step.signer as usize % SIGNERS.len()].0,
                e.message
            );
        }
        if receipt.success {
            assert!(
                json.is_some(),
                "{module}: a call without a faithful JSON form succeeded: {:?}",
                w.runtime.describe_call(module, step.data)
            );
        } else {
            let empty = (w.runtime)
                .execute_block(&state, &env, &[])
                .expect("an empty block executes");
            let nk = nonce_key(&sender);
            assert_eq!(
                without(&out.writes, &nk),
                without(&empty.writes, &nk),
                "{module}: a failed call ({:?}) wrote more than the nonce",
                receipt.error
            );
        }
        state.apply(&out.writes);
    }
}

/// The issuer key the `sd_jwt` target verifies credentials against.
pub fn issuer_key() -> urbis_credentials::jose::SigningKey {
    use urbis_credentials::jose::{Alg, SigningKey};
    SigningKey::from_seed(Alg::EdDSA, &[0x15; 32]).expect("a 32-byte seed is a key")
}

/// The holder key seed credentials are bound to.
pub fn holder_key() -> urbis_credentials::jose::SigningKey {
    use urbis_credentials::jose::{Alg, SigningKey};
    SigningKey::from_seed(Alg::EdDSA, &[0x40; 32]).expect("a 32-byte seed is a key")
}

/// The audience and nonce of key-binding JWTs in the `sd_jwt` corpus, and its "now".
pub const KB_AUDIENCE: &str = "https://verifier.urbis.example";
pub const KB_NONCE: &str = "fuzz-nonce-1";
pub const KB_NOW: u64 = 1_800_000_000;
