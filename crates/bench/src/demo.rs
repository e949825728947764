//! The demo city of `urbis dev --demo`: a fresh dev chain seeded with a small city, and a
//! simulator that keeps it busy, so that the portal shows every service working within a
//! minute.
//!
//! **Seeded** (genesis, then transactions once the chain runs): the city's departments (social
//! affairs, planning with three officials, environment, transport, the registry office), a
//! land registrar, a grid operator, a mobility authority and two bus operators, a collector, a
//! transfer station and a glass recycler; this year's budget and a council; [`CITIZENS`]
//! residents, each with a DID, euro cents and a resident credential (an SD-JWT VC the registry
//! office issues, written to [`DemoConfig::credentials_dir`]); reward programs (green commute,
//! recycling, energy saving); three feeders with ten meters each; four transit zones with
//! validators at [`STOPS`] stops, [`CARDS`] travel cards and [`BUSES`] buses; ride-sharing rules
//! and ten licensed drivers; twelve bins (four districts, three streams) and two weighbridges;
//! [`PARCELS`] land parcels; the building permit workflow (`workflows/building-permit.json`)
//! with its issuer DID and status list; a petition; a consultation; and a referendum whose key
//! ceremony has run and whose voters' credentials are registered, open.
//!
//! **Simulated**, at about `rate` transactions per second: transit taps (in, then out at
//! another stop), waste deposits weighed at the bins, energy orders for the interval after next
//! by every meter and signed readings of the last one, reward awards, petition signatures,
//! answers to the consultation, ballots, spending against the budget, building-permit
//! applications taken through the workflow (complete, publish, the scheduler closes the
//! notice, two approvals issue the permit), rides (offer, request, accept, pickup with the
//! passenger's signed code, confirmations, rating), telemetry anchors, and every 20 s a glass
//! bin collected, handed over to the transfer station, then to the recycler who records its
//! fate.
//!
//! Every key is derived from a public label (`urbis-demo/<role>/<n>`): the demo is for
//! looking at, and anyone may act as any of its residents. Restarting `urbis dev --demo` on the
//! same data directory resumes the simulator (nonces and ids are read back from the chain).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value as Json, json};
use urbis_client::{Client, Signer};
use urbis_core::{Address, Call, Hash, Receipt, SecretKey, SignedTx};
use urbis_energy::{EnergyCall, OrderSide};
use urbis_governance::GovernanceCall;
use urbis_identity::{IdentityCall, Subject, did_id, did_string, next_key_commitment};
use urbis_land::{LandCall, Share};
use urbis_mobility::{MobilityCall, TapKind};
use urbis_petitions::PetitionsCall;
use urbis_rewards::RewardsCall;
use urbis_waste::{ActorKind, DeviceKind, FateKind, Licence, Stream, WasteCall};

use crate::election::{Opened, cast, open_election};
use crate::records::{ok, submit_all};
use crate::workload::Rng;

/// Residents of the demo city.
pub const CITIZENS: usize = 1_000;
/// Feeders of the grid, and meters on each.
pub const FEEDERS: u32 = 3;
pub const METERS_PER_FEEDER: usize = 10;
/// Transit stops (one validator each) and travel cards (held by the first residents).
pub const STOPS: usize = 24;
pub const CARDS: usize = 300;
/// Buses whose on-board units anchor their telemetry (operator 1's fleet).
pub const BUSES: usize = 12;
/// Telemetry is anchored every 30 s.
const ANCHOR_MS: u64 = 30_000;
/// Residents holding a voting credential in the referendum.
pub const VOTERS: usize = 300;
/// Land parcels.
pub const PARCELS: usize = 40;
/// The demo chain's energy market interval (the market clears one every 15 s).
pub const ENERGY_INTERVAL_MS: u64 = 15_000;

/// This year's budget lines: department, category, amount (euro cents).
const BUDGET: [(&str, &str, u64); 5] = [
    ("planning", "permits", 2_000_000),
    ("planning", "public-space", 4_500_000),
    ("social", "transport-rewards", 1_500_000),
    ("environment", "recycling", 3_000_000),
    ("environment", "street-cleaning", 2_500_000),
];
const DISTRICTS: [&str; 4] = ["north", "south", "east", "west"];
const STREAMS: [Stream; 3] = [Stream::Glass, Stream::Paper, Stream::Pet];
const EURC: &str = "EURc";

/// The demo's knobs.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Transactions per second the simulator aims at.
    pub rate: f64,
    /// Where each resident's resident credential (an SD-JWT VC) is written at seeding, as
    /// `resident-<n>.sd-jwt` (1-based); none are written without it.
    pub credentials_dir: Option<std::path::PathBuf>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            rate: 20.0,
            credentials_dir: None,
        }
    }
}

/// The credential type of a driving licence (rides check it against its status list).
pub const LICENCE_VCT: &str = "urn:urbis:driving-licence";
/// Residents 11 to 20 drive for the ride-sharing service.
const DRIVERS: std::ops::Range<usize> = 10..20;

/// A demo key: public, derived from its label.
fn key(what: &str, i: usize) -> SecretKey {
    SecretKey::from_label(&format!("urbis-demo/{what}/{i}"))
}

/// Everyone in the demo city, by role.
struct Cast {
    social: SecretKey,
    planning: Vec<SecretKey>,
    environment: SecretKey,
    registrar: SecretKey,
    grid: SecretKey,
    authority: SecretKey,
    transport: SecretKey,
    registry: SecretKey,
    units: Vec<SecretKey>,
    operators: Vec<SecretKey>,
    collector: SecretKey,
    station: SecretKey,
    recycler: SecretKey,
    citizens: Vec<SecretKey>,
    meters: Vec<SecretKey>,
    stops: Vec<SecretKey>,
    cards: Vec<SecretKey>,
    bins: Vec<SecretKey>,
    bridges: Vec<SecretKey>,
}

impl Cast {
    fn new() -> Self {
        let many = |what: &str, n: usize| (0..n).map(|i| key(what, i)).collect::<Vec<_>>();
        Cast {
            social: key("social", 0),
            planning: many("planning", 3),
            environment: key("environment", 0),
            registrar: key("registrar", 0),
            grid: key("grid", 0),
            authority: key("mobility-authority", 0),
            transport: key("transport", 0),
            registry: key("registry-office", 0),
            units: many("bus-unit", BUSES),
            operators: many("operator", 2),
            collector: key("collector", 0),
            station: key("station", 0),
            recycler: key("recycler", 0),
            citizens: many("citizen", CITIZENS),
            meters: many("meter", FEEDERS as usize * METERS_PER_FEEDER),
            stops: many("stop", STOPS),
            cards: many("card", CARDS),
            bins: many("bin", DISTRICTS.len() * STREAMS.len()),
            // The transfer station's weighbridge, then the recycler's.
            bridges: many("weighbridge", 2),
        }
    }

    fn bin_place(b: usize) -> (&'static str, Stream) {
        (DISTRICTS[b / STREAMS.len()], STREAMS[b % STREAMS.len()])
    }
}

/// Add the demo city's accounts, roles, funds, reward programs and energy interval to a fresh
/// dev genesis (`urbis dev --demo` calls it before the chain's first block).
pub fn patch_genesis(g: &mut Json, admin: &SecretKey) {
    let cast = Cast::new();
    let mut accounts = vec![json!({"address": admin.address(), "roles": ["city_admin"],
        "label": "City of Urbis"})];
    let mut add = |k: &SecretKey, role: &str, label: &str| {
        accounts.push(json!({"address": k.address(), "roles": [role], "label": label}));
    };
    add(&cast.social, "department", "Social affairs");
    for (i, k) in cast.planning.iter().enumerate() {
        add(k, "department", &format!("Planning official {}", i + 1));
    }
    add(&cast.environment, "department", "Environment");
    add(&cast.registrar, "land_registrar", "Land registry");
    add(&cast.grid, "grid_operator", "Urbis Grid");
    add(&cast.authority, "mobility_authority", "Transit authority");
    add(&cast.transport, "department", "Transport");
    add(&cast.registry, "department", "Registry office");
    for (i, k) in cast.operators.iter().enumerate() {
        add(k, "transport_operator", &format!("Bus operator {}", i + 1));
    }
    add(&cast.collector, "merchant", "City collection service");
    add(&cast.station, "merchant", "Transfer station");
    add(&cast.recycler, "merchant", "Glassworks recycler");
    for (i, k) in cast.citizens.iter().enumerate() {
        add(k, "citizen", &format!("Resident {}", i + 1));
    }
    g["modules"]["accounts"] = json!({ "accounts": accounts });
    let mut supply = vec![json!([cast.grid.address(), 1_000_000_000u64])];
    supply.extend(
        cast.citizens
            .iter()
            .map(|c| json!([c.address(), 500_000u64])),
    );
    g["modules"]["assets"] = json!({"assets": [{"symbol": EURC, "name": "Euro cents",
        "decimals": 2, "issuer": admin.address(), "supply": supply}]});
    let program = |name: &str, category: &str, cap: u64| {
        json!({"name": name, "category": category, "budget": 100_000_000u64,
            "cap_per_period": cap, "period_ms": 7 * 86_400_000u64, "transferable": false})
    };
    g["modules"]["rewards"] = json!({"programs": [
        program("Green commute", "public_transport", 50),
        program("Recycle", "recycling", 1_000),
        program("Energy saving", "energy_saving", 100),
    ]});
    g["modules"]["energy"] = json!({ "interval_ms": ENERGY_INTERVAL_MS });
}

/// Resident `i` of the demo city (0-based): a key anyone may sign in with at `/me`.
pub fn resident(i: usize) -> SecretKey {
    key("citizen", i)
}

/// Whether a genesis (JSON) is a demo city's: its accounts include the demo's grid operator.
pub fn is_demo_genesis(g: &Json) -> bool {
    let grid = key("grid", 0).address().to_string();
    g["modules"]["accounts"]["accounts"]
        .as_array()
        .is_some_and(|a| {
            a.iter()
                .any(|x| x["address"].as_str() == Some(grid.as_str()))
        })
}

/// The UTC civil year of a Unix time in milliseconds.
fn year_of(ms: u64) -> u16 {
    urbis_runtime::kit::civil_date(ms / 86_400_000).0 as u16
}

fn now_ms() -> u64 {
    crate::load::unix_ms()
}

fn call<T: borsh::BorshSerialize>(module: &str, c: &T) -> Call {
    Call::new(module, c)
}

/// Nonces of every sender the demo uses, read from the chain the first time.
struct Nonces {
    client: Client,
    next: BTreeMap<Address, u64>,
}

impl Nonces {
    async fn take(&mut self, who: &Address) -> anyhow::Result<u64> {
        let n = match self.next.get(who) {
            Some(n) => *n,
            None => self.client.next_nonce(who).await?,
        };
        self.next.insert(*who, n + 1);
        Ok(n)
    }

    /// Forget what we believed (after a refused submission): read it again next time.
    fn forget(&mut self, who: &Address) {
        self.next.remove(who);
    }
}

/// What the seeding left on chain that the simulator needs.
struct Seeded {
    /// The care service's grant from the last resident, and its scope commitments.
    consent: Option<(Hash, Vec<Hash>)>,
    /// The consultation residents answer.
    poll: Option<Hash>,
    /// Each bus: its vehicle number and id.
    buses: Vec<(u32, Hash)>,
    election: Option<Opened>,
    petition: Option<Hash>,
}

struct Demo {
    client: Client,
    chain_id: String,
    genesis_hash: Hash,
    cast: Cast,
    nonces: Nonces,
    rng: Rng,
}

impl Demo {
    fn signer(&self, k: &SecretKey) -> Signer {
        Signer::new(k.clone(), self.chain_id.clone(), self.genesis_hash)
    }

    async fn sign(&mut self, k: &SecretKey, c: Call) -> anyhow::Result<SignedTx> {
        let nonce = self.nonces.take(&k.address()).await?;
        Ok(self.signer(k).sign(nonce, c))
    }

    /// Submit and wait for every receipt; each must succeed.
    async fn all(&mut self, txs: Vec<SignedTx>, what: &str) -> anyhow::Result<Vec<Receipt>> {
        let receipts = submit_all(&self.client, &txs).await?;
        for r in &receipts {
            ok(r, what)?;
        }
        Ok(receipts)
    }

    /// Submit without waiting; what the node refuses is dropped and its sender's nonce read
    /// again later.
    async fn fire(&mut self, txs: Vec<SignedTx>) -> anyhow::Result<()> {
        if txs.is_empty() {
            return Ok(());
        }
        let results = self.client.submit_batch(&txs).await?;
        for (tx, r) in txs.iter().zip(results) {
            if r.is_err() {
                self.nonces.forget(&tx.sender());
            }
        }
        Ok(())
    }
}

fn attr(r: &Receipt, kind: &str, name: &str) -> Option<String> {
    r.events
        .iter()
        .find(|e| e.kind == kind)
        .and_then(|e| e.attr(name))
        .map(|s| s.trim_matches('"').to_string())
}

/// Seed the city (unless this chain already has it) and simulate until `stop` is set.
pub async fn run(
    url: &str,
    admin: SecretKey,
    config: DemoConfig,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let client = Client::new(url)?;
    let status = client.status().await?;
    let mut demo = Demo {
        client: client.clone(),
        chain_id: status.chain_id.clone(),
        genesis_hash: status.genesis_hash,
        cast: Cast::new(),
        nonces: Nonces {
            client: client.clone(),
            next: BTreeMap::new(),
        },
        rng: Rng::new(status.height ^ 0x5eed),
    };
    let seeded = if client
        .query("land", &["parcel", "URB-0001"], false)
        .await
        .is_ok()
    {
        eprintln!("demo: the city is already seeded; resuming the simulator");
        resume(&mut demo).await?
    } else {
        eprintln!("demo: seeding the city (about a minute)…");
        let s = seed(&mut demo, admin, &config)
            .await
            .context("seeding failed (start again with --reset)")?;
        eprintln!(
            "demo: seeded; the simulator runs at about {} tx/s",
            config.rate
        );
        s
    };
    simulate(&mut demo, seeded, config, stop).await
}

/// A DID's inception made of demo keys: `key-1` is `vc`'s key, the next controlling account
/// is `next`'s, under `salt`; `controller` controls it.
struct Inception {
    controller: Address,
    document: urbis_identity::Document,
    next_key_hash: Hash,
    salt: Hash,
}

impl Inception {
    fn new(controller: Address, vc: &SecretKey, next: &SecretKey, salt: Hash) -> Self {
        Inception {
            controller,
            document: crate::mobility::unit_document(vc),
            next_key_hash: next_key_commitment(&next.address()),
            salt,
        }
    }

    fn did(&self) -> String {
        did_string(&did_id(
            &self.controller,
            &self.next_key_hash,
            &self.salt,
            &self.document,
        ))
    }

    /// The call creating it: sent by its controller, or by a department `for_another`.
    fn create(self, subject: Subject, for_another: bool) -> Call {
        call(
            urbis_identity::MODULE,
            &IdentityCall::Create {
                controller: for_another.then_some(self.controller),
                document: self.document,
                next_key_hash: self.next_key_hash,
                salt: self.salt,
                subject,
            },
        )
    }
}

/// The planning department's issuer DID (permits).
fn permit_issuer(cast: &Cast) -> Inception {
    Inception::new(
        cast.planning[0].address(),
        &key("planning-issuer", 0),
        &key("planning-issuer-next", 0),
        Hash([3; 32]),
    )
}

/// The registry office's issuer DID (resident credentials, driving licences).
fn registry_issuer(cast: &Cast) -> Inception {
    Inception::new(
        cast.registry.address(),
        &key("registry-office-vc", 0),
        &key("registry-office-next", 0),
        Hash([5; 32]),
    )
}

async fn resume(demo: &mut Demo) -> anyhow::Result<Seeded> {
    let petition = demo
        .client
        .query_list("petitions", &["petitions"], 1, None)
        .await
        .ok()
        .and_then(|p| p.items.first().cloned())
        .and_then(|p| p["id"].as_str().and_then(|s| s.parse().ok()));
    // The referendum's trustee secrets were never stored: ballots stop after a restart.
    let mut buses = Vec::new();
    for i in 0..BUSES {
        let id = bus_id(i);
        if let Ok(v) = demo
            .client
            .query(urbis_mobility::MODULE, &["vehicle", &id.to_hex()], false)
            .await
            && let Some(n) = v.value["number"].as_u64()
        {
            buses.push((n as u32, id));
        }
    }
    let poll = demo
        .client
        .query_list("polls", &["polls"], 1, None)
        .await
        .ok()
        .and_then(|p| p.items.first().cloned())
        .and_then(|p| p["id"].as_str().and_then(|s| s.parse().ok()));
    let consent = demo
        .client
        .search_events(&urbis_client::EventQuery {
            module: Some(urbis_consent::MODULE.into()),
            kind: Some("granted".into()),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .ok()
        .and_then(|f| {
            f.events
                .first()?
                .event
                .attr("grant")?
                .trim_matches('"')
                .parse()
                .ok()
        })
        .map(|g| {
            (
                g,
                urbis_consent::commitments(&consent_salt(), &consent_items()),
            )
        });
    Ok(Seeded {
        consent,
        poll,
        buses,
        election: None,
        petition,
    })
}

async fn seed(demo: &mut Demo, admin: SecretKey, config: &DemoConfig) -> anyhow::Result<Seeded> {
    let c = Cast::new();
    let now = now_ms();

    // Departments and the people in them (governance), the permit workflow's fee asset
    // (euro cents) and its issuer DID and status list.
    let mut txs = Vec::new();
    for (code, name, who) in [
        ("social", "Social affairs", vec![&c.social]),
        ("planning", "Planning", c.planning.iter().collect()),
        ("environment", "Environment", vec![&c.environment]),
    ] {
        txs.push(
            demo.sign(
                &admin,
                call(
                    urbis_governance::MODULE,
                    &GovernanceCall::Department {
                        code: code.into(),
                        name: name.into(),
                    },
                ),
            )
            .await?,
        );
        for k in who {
            txs.push(
                demo.sign(
                    &admin,
                    call(
                        urbis_governance::MODULE,
                        &GovernanceCall::Officer {
                            department: code.into(),
                            account: k.address(),
                            active: true,
                        },
                    ),
                )
                .await?,
            );
        }
    }
    // The recycling program pays for weighed deposits (the waste module awards it).
    txs.push(
        demo.sign(
            &admin,
            call(
                urbis_rewards::MODULE,
                &RewardsCall::SetAwarder {
                    program: 2,
                    module: urbis_waste::MODULE.into(),
                    allowed: true,
                },
            ),
        )
        .await?,
    );
    demo.all(txs, "departments").await?;

    let inception = permit_issuer(&c);
    let issuer = inception.did();
    let txs = vec![
        demo.sign(
            &c.planning[0],
            inception.create(Subject::Organisation, false),
        )
        .await?,
        demo.sign(
            &c.planning[0],
            call(
                urbis_identity::MODULE,
                &IdentityCall::CreateStatusList {
                    issuer: issuer.clone(),
                    bits: 1,
                    size: 8 * 4096,
                },
            ),
        )
        .await?,
    ];
    let receipts = demo.all(txs, "the permit issuer").await?;
    let list: u64 = attr(&receipts[1], "status_list_created", "list")
        .and_then(|l| l.parse().ok())
        .context("the status list's id")?;
    let definition = include_str!("../../../workflows/building-permit.json")
        .replace("${FEE_ASSET}", EURC)
        .replace("${FEE}", "12000")
        .replace("${NOTICE_MS}", "20000")
        .replace("${TREASURY}", &c.planning[0].address().to_string())
        .replace("${DEPARTMENT}", "planning")
        .replace("${ISSUER}", &issuer)
        .replace("${STATUS_LIST}", &list.to_string());
    let definition: Json = serde_json::from_str(&definition).context("the shipped workflow")?;
    let tx = demo
        .sign(
            &c.planning[0],
            call(
                urbis_governance::MODULE,
                &GovernanceCall::DefineWorkflow {
                    definition: definition.to_string(),
                },
            ),
        )
        .await?;
    demo.all(vec![tx], "the permit workflow").await?;

    // This year's budget: one resolution, a line per department.
    let year = year_of(now);
    let tx = demo
        .sign(
            &admin,
            call(
                urbis_governance::MODULE,
                &GovernanceCall::Decide {
                    kind: urbis_governance::DecisionKind::Resolution,
                    department: "social".into(),
                    category: "budget".into(),
                    title: format!("Budget {year}"),
                    document_hash: urbis_core::sha256_domain(b"urbis-demo/budget", &[b"budget"]),
                },
            ),
        )
        .await?;
    let r = demo.all(vec![tx], "the budget resolution").await?;
    let decision: Hash = attr(&r[0], "decision", "id")
        .and_then(|s| s.parse().ok())
        .context("the budget decision's id")?;
    let mut txs = Vec::new();
    for (department, category, amount) in BUDGET {
        txs.push(
            demo.sign(
                &admin,
                call(
                    urbis_governance::MODULE,
                    &GovernanceCall::Appropriate {
                        year,
                        department: department.into(),
                        category: category.into(),
                        amount,
                        decision,
                    },
                ),
            )
            .await?,
        );
    }
    // The council: five residents elected to it, three of whom must approve a proposal.
    txs.push(
        demo.sign(
            &admin,
            call(
                urbis_governance::MODULE,
                &GovernanceCall::SetCouncil {
                    members: (0..5).map(|i| c.citizens[100 + i].address()).collect(),
                    threshold: 3,
                    timelock_ms: 60_000,
                },
            ),
        )
        .await?,
    );
    demo.all(txs, "the budget lines and the council").await?;

    // Every resident's DID (a person's, created by themself).
    let mut txs = Vec::with_capacity(CITIZENS);
    for (i, k) in c.citizens.iter().enumerate() {
        let salt = urbis_core::sha256_domain(b"urbis-demo/salt", &[&k.address().0]);
        let inception = Inception::new(k.address(), k, &key("citizen-next", i), salt);
        txs.push(
            demo.sign(k, inception.create(Subject::Person, false))
                .await?,
        );
    }
    demo.all(txs, "residents' DIDs").await?;

    // Energy: the market, three feeders, ten meters each.
    let mut txs = vec![
        demo.sign(
            &c.grid,
            call(
                urbis_energy::MODULE,
                &EnergyCall::Configure {
                    asset: EURC.into(),
                    gate_closure_ms: 0,
                    settle_delay_ms: 3 * ENERGY_INTERVAL_MS,
                    imbalance_price: 40,
                    feed_in_price: 8,
                    tariff_price: 25,
                    reward: None,
                },
            ),
        )
        .await?,
    ];
    for f in 0..FEEDERS {
        txs.push(
            demo.sign(
                &c.grid,
                call(
                    urbis_energy::MODULE,
                    &EnergyCall::SetFeeder {
                        feeder: f,
                        name: ["Harbour", "Old Town", "Hillside"][f as usize].into(),
                        // The harbour's rooftops can export only part of their midday output.
                        max_export_wh: if f == 0 { 1_500 } else { u64::MAX / 4 },
                        max_import_wh: u64::MAX / 4,
                    },
                ),
            )
            .await?,
        );
    }
    for (m, device) in c.meters.iter().enumerate() {
        let owner = c.citizens[m].address();
        txs.push(
            demo.sign(
                &c.grid,
                call(
                    urbis_energy::MODULE,
                    &EnergyCall::RegisterMeter {
                        meter: meter_id(m),
                        key: device.public_key(),
                        account: owner,
                        feeder: (m / METERS_PER_FEEDER) as u32,
                        max_import_w: 6_000,
                        max_export_w: 6_000,
                        owner_commitment: urbis_energy::owner_commitment(&[9; 32], &owner),
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(txs, "the energy market").await?;

    // Transit: fares, four zones, a validator at every stop, travel cards topped up.
    let mut txs = vec![
        demo.sign(
            &c.authority,
            call(
                urbis_mobility::MODULE,
                &MobilityCall::SetFares {
                    fares: crate::mobility::fares(),
                },
            ),
        )
        .await?,
    ];
    for z in 0..4u16 {
        txs.push(
            demo.sign(
                &c.authority,
                call(
                    urbis_mobility::MODULE,
                    &MobilityCall::SetZone {
                        zone: z + 1,
                        name: ["Centre", "Inner ring", "Outer ring", "Airport"][z as usize].into(),
                        operator: c.operators[usize::from(z) / 2].address(),
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(txs, "fares and zones").await?;
    let mut txs = Vec::new();
    for (i, d) in c.stops.iter().enumerate() {
        let zone = (i % 4) as u16 + 1;
        txs.push(
            demo.sign(
                &c.operators[usize::from(zone - 1) / 2],
                call(
                    urbis_mobility::MODULE,
                    &MobilityCall::RegisterValidator {
                        device: d.address(),
                        stop: i as u32,
                        line: (i % 6) as u32 + 1,
                        zone,
                    },
                ),
            )
            .await?,
        );
    }
    for (i, card) in c.cards.iter().enumerate() {
        txs.push(
            demo.sign(
                &c.citizens[i],
                call(
                    urbis_mobility::MODULE,
                    &MobilityCall::TopUp {
                        card: card.public_key(),
                        amount: 5_000,
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(txs, "transit validators and cards").await?;

    // Waste: the reward, the actors, the bins and weighbridges.
    let licences = STREAMS
        .iter()
        .map(|s| Licence {
            stream: *s,
            until_ms: u64::MAX,
        })
        .collect::<Vec<_>>();
    let mut txs = vec![
        demo.sign(
            &c.environment,
            call(
                urbis_waste::MODULE,
                &WasteCall::SetReward {
                    program: 2,
                    grams_per_token: 500,
                },
            ),
        )
        .await?,
    ];
    for (k, kind, name) in [
        (
            &c.collector,
            ActorKind::Collector,
            "City collection service",
        ),
        (
            &c.station,
            ActorKind::TransferStation,
            "North transfer station",
        ),
        (&c.recycler, ActorKind::Recycler, "Glassworks recycler"),
    ] {
        txs.push(
            demo.sign(
                &c.environment,
                call(
                    urbis_waste::MODULE,
                    &WasteCall::RegisterActor {
                        account: k.address(),
                        kind,
                        name: name.into(),
                        licences: licences.clone(),
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(txs, "waste actors").await?;
    let mut txs = Vec::new();
    for (b, bin) in c.bins.iter().enumerate() {
        let (district, stream) = Cast::bin_place(b);
        txs.push(
            demo.sign(
                &c.environment,
                call(
                    urbis_waste::MODULE,
                    &WasteCall::RegisterDevice {
                        key: bin.public_key(),
                        kind: DeviceKind::Bin,
                        operator: c.collector.address(),
                        district: district.into(),
                        stream,
                    },
                ),
            )
            .await?,
        );
    }
    for (bridge, operator) in c.bridges.iter().zip([&c.station, &c.recycler]) {
        txs.push(
            demo.sign(
                &c.environment,
                call(
                    urbis_waste::MODULE,
                    &WasteCall::RegisterDevice {
                        key: bridge.public_key(),
                        kind: DeviceKind::Weighbridge,
                        operator: operator.address(),
                        district: "north".into(),
                        stream: Stream::Glass,
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(txs, "bins and weighbridges").await?;

    // Land: parcels, each owned by one or two residents.
    let mut txs = Vec::new();
    for p in 0..PARCELS {
        let a = c.citizens[(p * 7) % CITIZENS].address();
        let b = c.citizens[(p * 7 + 1) % CITIZENS].address();
        let owners = if p % 3 == 0 {
            vec![Share { owner: a, parts: 1 }, Share { owner: b, parts: 1 }]
        } else {
            vec![Share { owner: a, parts: 1 }]
        };
        txs.push(
            demo.sign(
                &c.registrar,
                call(
                    urbis_land::MODULE,
                    &LandCall::RegisterParcel {
                        id: format!("URB-{:04}", p + 1),
                        geometry_hash: urbis_core::sha256_domain(
                            b"urbis-demo/parcel",
                            &[&(p as u64).to_le_bytes()],
                        ),
                        area_m2: 250 + (p as u64 * 53) % 900,
                        whole: owners.len() as u64,
                        owners,
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(txs, "land parcels").await?;

    // A petition, opened by a resident.
    let tx = demo
        .sign(
            &c.citizens[0],
            call(
                urbis_petitions::MODULE,
                &PetitionsCall::Open {
                    title: "Benches and shade trees on Elm Square".into(),
                    body_hash: urbis_core::sha256_domain(b"urbis-demo/petition", &[b"elm"]),
                    threshold: 100,
                    closes_ms: now + 30 * 86_400_000,
                    answer_days: 30,
                },
            ),
        )
        .await?;
    let r = demo.all(vec![tx], "the petition").await?;
    let petition = attr(&r[0], "opened", "id").and_then(|s| s.parse().ok());

    // A consultation, asked by the planning department.
    let tx = demo
        .sign(
            &c.planning[0],
            call(
                urbis_polls::MODULE,
                &urbis_polls::PollsCall::Create {
                    question: "What should the old tram depot become?".into(),
                    options: ["A covered market", "A sports hall", "Housing", "A park"]
                        .map(String::from)
                        .to_vec(),
                    closes_ms: now + 60 * 86_400_000,
                },
            ),
        )
        .await?;
    let r = demo.all(vec![tx], "the consultation").await?;
    let poll = attr(&r[0], "created", "id").and_then(|s| s.parse().ok());

    // The referendum: the key ceremony, the voters' credentials, opened.
    let signer = |k: SecretKey| Signer::new(k, demo.chain_id.clone(), demo.genesis_hash);
    let voters: Vec<SecretKey> = (0..VOTERS).map(|i| key("voter", i)).collect();
    let election = open_election(
        &demo.client,
        &signer,
        admin.clone(),
        &|what: &str, i: usize| key(&format!("election-{what}"), i),
        &voters,
        "residents aged 16 or more",
        |_| {},
    )
    .await?;
    demo.nonces.forget(&admin.address());
    let buses = seed_buses(demo).await?;
    let list = seed_credentials(demo, &admin, config).await?;
    let consent = seed_consent(demo, &admin, config).await?;
    seed_drivers(demo, list).await?;
    Ok(Seeded {
        consent: Some(consent),
        poll,
        buses,
        election: Some(election),
        petition,
    })
}

/// The registry office: its DID, accredited (by the city) for resident credentials and
/// driving licences, and a status list; then every resident's resident credential, issued
/// off-chain (status entry = the resident's number) into `config.credentials_dir`.
async fn seed_credentials(
    demo: &mut Demo,
    admin: &SecretKey,
    config: &DemoConfig,
) -> anyhow::Result<u64> {
    let registry = demo.cast.registry.clone();
    let inception = registry_issuer(&demo.cast);
    let issuer = inception.did();
    let now = now_ms();
    let mut txs = vec![
        demo.sign(&registry, inception.create(Subject::Organisation, false))
            .await?,
    ];
    // The DID first: the accreditations and the list name it.
    demo.all(std::mem::take(&mut txs), "the registry office's DID")
        .await?;
    for vct in ["urn:urbis:resident", LICENCE_VCT] {
        txs.push(
            demo.sign(
                admin,
                call(
                    urbis_identity::MODULE,
                    &IdentityCall::Accredit {
                        issuer: issuer.clone(),
                        vct: vct.into(),
                        from_ms: now.saturating_sub(86_400_000),
                        until_ms: now + 5 * 365 * 86_400_000,
                    },
                ),
            )
            .await?,
        );
    }
    txs.push(
        demo.sign(
            &registry,
            call(
                urbis_identity::MODULE,
                &IdentityCall::CreateStatusList {
                    issuer: issuer.clone(),
                    bits: 1,
                    size: 2_048,
                },
            ),
        )
        .await?,
    );
    let receipts = demo.all(txs, "the registry office").await?;
    let list: u64 = receipts
        .iter()
        .find_map(|r| attr(r, "status_list_created", "list"))
        .and_then(|l| l.parse().ok())
        .context("the registry's status list")?;
    let Some(dir) = &config.credentials_dir else {
        return Ok(list);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    use urbis_credentials::jose::{Alg, SigningKey};
    let signer = SigningKey::from_seed(Alg::EdDSA, key("registry-office-vc", 0).seed())
        .map_err(|e| anyhow::anyhow!("the registry's key: {e}"))?;
    let kid = format!("{issuer}#key-1");
    let t =
        urbis_credentials::types::find("urn:urbis:resident").map_err(|e| anyhow::anyhow!("{e}"))?;
    for (i, resident) in demo.cast.citizens.iter().enumerate() {
        let holder = SigningKey::from_seed(Alg::EdDSA, resident.seed())
            .map_err(|e| anyhow::anyhow!("a resident's key: {e}"))?
            .public();
        let (district, _) = Cast::bin_place((i % DISTRICTS.len()) * STREAMS.len());
        let claims = json!({
            "given_name": "Resident",
            "family_name": format!("No. {}", i + 1),
            "birthdate": format!("{}-{:02}-{:02}", 1950 + i % 56, 1 + i % 12, 1 + i % 28),
            "address": {"street_address": format!("{} {district} street", 1 + i % 180),
                "locality": "Urbis", "postal_code": format!("UR-{}", 1000 + i % 40)},
            "registered_since": format!("{}-01-01", 1990 + i % 35),
        });
        let claims = claims.as_object().cloned().unwrap_or_default();
        let disclosable = t.disclosable(&claims).map_err(|e| anyhow::anyhow!("{e}"))?;
        let paths: Vec<&str> = disclosable.iter().map(String::as_str).collect();
        let sd = urbis_credentials::vc::issue(
            &signer,
            urbis_credentials::vc::Request {
                iss: &issuer,
                kid: &kid,
                vct: t.vct,
                iat: now / 1_000,
                exp: Some(now / 1_000 + 5 * 365 * 86_400),
                sub: None,
                holder: &holder,
                status: Some(urbis_credentials::status::StatusRef {
                    idx: i as u64,
                    uri: format!("urn:urbis:status-list:{list}"),
                }),
                claims,
                disclosable: &paths,
            },
        )
        .map_err(|e| anyhow::anyhow!("issue a resident credential: {e}"))?;
        std::fs::write(
            dir.join(format!("resident-{}.sd-jwt", i + 1)),
            sd.serialize(),
        )?;
    }
    Ok(list)
}

/// What the last resident lets the home-care service read.
fn consent_items() -> Vec<String> {
    vec![
        "category:care-plan".into(),
        "credential:urn:urbis:resident".into(),
    ]
}

fn consent_salt() -> Hash {
    urbis_core::sha256_domain(b"urbis-demo/consent-salt", &[b"resident-1000"])
}

/// The last resident grants a home-care service (the social affairs department's) access to
/// two items for a year, from pairwise accounts on both sides; the resident's wallet entry
/// (`resident-1000.wallet.json`, the CLI's `dids.json` layout) is written next to the
/// credentials so that /me can show who read what.
async fn seed_consent(
    demo: &mut Demo,
    admin: &SecretKey,
    config: &DemoConfig,
) -> anyhow::Result<(Hash, Vec<Hash>)> {
    let (grantor, grantee) = (key("pairwise-grantor", 0), key("pairwise-grantee", 0));
    let tx = demo
        .sign(
            admin,
            call(
                urbis_consent::MODULE,
                &urbis_consent::ConsentCall::RegisterPurpose {
                    code: "home-care".into(),
                    description: "Planning home care with the social affairs department".into(),
                },
            ),
        )
        .await?;
    demo.all(vec![tx], "the home-care purpose").await?;
    let scope = urbis_consent::commitments(&consent_salt(), &consent_items());
    let now = now_ms();
    let tx = demo
        .sign(
            &grantor,
            call(
                urbis_consent::MODULE,
                &urbis_consent::ConsentCall::Grant {
                    grantee: grantee.address(),
                    purpose: "home-care".into(),
                    scope: scope.clone(),
                    not_before_ms: now,
                    expires_ms: now + 365 * 86_400_000,
                    max_uses: 100_000,
                    by_guardian: false,
                    sealed: Vec::new(),
                },
            ),
        )
        .await?;
    let r = demo.all(vec![tx], "the home-care grant").await?;
    let grant: Hash = attr(&r[0], "granted", "grant")
        .and_then(|g| g.parse().ok())
        .context("the grant's id")?;
    if let Some(dir) = &config.credentials_dir {
        let wallet = json!({
            "dids": {},
            "consent": [{
                "name": "resident-1000",
                "side": "grantor",
                "key": "resident-1000.p1",
                "request": {
                    "grantee_did": "the social affairs department's home-care service",
                    "grantee_account": grantee.address(),
                    "purpose": "home-care",
                    "scope": consent_items(),
                    "salt": consent_salt(),
                },
                "grant": grant,
                "ward": null,
            }],
            "records": [],
        });
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("resident-1000.wallet.json"),
            serde_json::to_vec_pretty(&wallet)?,
        )?;
    }
    Ok((grant, scope))
}

/// The ride-sharing rules, and ten licensed drivers (their licences' status entries follow
/// the residents').
async fn seed_drivers(demo: &mut Demo, list: u64) -> anyhow::Result<()> {
    let authority = demo.cast.authority.clone();
    let issuer = registry_issuer(&demo.cast).did();
    let mut txs = vec![
        demo.sign(
            &authority,
            call(
                urbis_mobility::MODULE,
                &MobilityCall::Configure {
                    rides: urbis_mobility::RideRules {
                        asset: EURC.into(),
                        licence_vct: LICENCE_VCT.into(),
                        accept_timeout_ms: 120_000,
                        pickup_timeout_ms: 600_000,
                        completion_timeout_ms: 3_600_000,
                        free_cancel_ms: 120_000,
                        cancel_fee_bps: 2_000,
                    },
                    gap_tolerance_ms: 2 * ANCHOR_MS,
                },
            ),
        )
        .await?,
    ];
    for d in DRIVERS {
        txs.push(
            demo.sign(
                &authority,
                call(
                    urbis_mobility::MODULE,
                    &MobilityCall::RegisterDriver {
                        driver: demo.cast.citizens[d].address(),
                        issuer: issuer.clone(),
                        status_list: list,
                        status_idx: (CITIZENS + d) as u64,
                        valid_until_ms: now_ms() + 5 * 365 * 86_400_000,
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(txs, "the ride-sharing rules and drivers").await?;
    Ok(())
}

/// A ride on its way: offered, requested, accepted, picked up, confirmed by the passenger
/// then the driver (which pays the fare out of escrow), rated.
struct RideRun {
    driver: usize,
    passenger: usize,
    offer: u64,
    ride: Option<u64>,
    step: u8,
}

/// Offer a ride (every so often) and move the rides under way one step each.
async fn advance_rides(demo: &mut Demo, sim: &mut Sim) -> anyhow::Result<()> {
    if sim.tick % 12 == 6 && sim.rides.len() < 4 {
        let driver = DRIVERS.start + demo.rng.below(DRIVERS.len());
        let passenger = 200 + demo.rng.below(300);
        let d = demo.cast.citizens[driver].clone();
        let now = now_ms();
        let zone = ["centre", "inner-ring", "outer-ring", "airport"][demo.rng.below(4)];
        let fare = 300 + 50 * demo.rng.below(8) as u64;
        let tx = demo
            .sign(
                &d,
                call(
                    urbis_mobility::MODULE,
                    &MobilityCall::Offer {
                        zone: zone.into(),
                        depart_from_ms: now,
                        depart_until_ms: now + 600_000,
                        seats: 3,
                        fare,
                    },
                ),
            )
            .await?;
        let r = demo.all(vec![tx], "a ride offer").await?;
        let offer = attr(&r[0], "offered", "offer")
            .and_then(|o| o.parse().ok())
            .context("the offer's id")?;
        sim.rides.push(RideRun {
            driver,
            passenger,
            offer,
            ride: None,
            step: 0,
        });
    }
    let mut keep = Vec::new();
    for mut run in std::mem::take(&mut sim.rides) {
        let driver = demo.cast.citizens[run.driver].clone();
        let passenger = demo.cast.citizens[run.passenger].clone();
        let pickup = key("pickup", run.offer as usize);
        let (who, c) = match (run.step, run.ride) {
            (0, _) => (
                passenger.clone(),
                MobilityCall::Request {
                    offer: run.offer,
                    pickup_key: pickup.public_key(),
                    pickup_commitment: urbis_core::sha256_domain(
                        b"urbis-demo/pickup",
                        &[&run.offer.to_le_bytes()],
                    ),
                },
            ),
            (1, Some(ride)) => (driver.clone(), MobilityCall::Accept { ride }),
            (2, Some(ride)) => (
                driver.clone(),
                MobilityCall::Pickup {
                    ride,
                    code: pickup.sign(
                        urbis_mobility::PICKUP_TAG,
                        &urbis_mobility::pickup_message(ride, &driver.address()),
                    ),
                },
            ),
            // The passenger confirms the ride first; the driver's confirmation settles it.
            (3, Some(ride)) => (passenger.clone(), MobilityCall::Complete { ride }),
            (4, Some(ride)) => (driver.clone(), MobilityCall::Complete { ride }),
            (5, Some(ride)) => (
                passenger.clone(),
                MobilityCall::Rate {
                    ride,
                    stars: 4 + (ride % 2) as u8,
                },
            ),
            _ => continue,
        };
        let tx = demo.sign(&who, call(urbis_mobility::MODULE, &c)).await?;
        let r = submit_all(&demo.client, &[tx]).await?;
        if !r[0].success {
            // Out of step (a timeout fired, the node restarted): drop this ride.
            demo.nonces.forget(&who.address());
            continue;
        }
        if run.step == 0 {
            run.ride = attr(&r[0], "ride", "ride").and_then(|s| s.parse().ok());
        }
        run.step += 1;
        keep.push(run);
    }
    sim.rides = keep;
    Ok(())
}

fn bus_id(i: usize) -> Hash {
    urbis_mobility::vin_hash(&[3; 32], &format!("URBISBUS{i:04}"))
}

/// The buses of operator 1: each on-board unit's DID (created by the transport department,
/// controlled by the operator), then the vehicle.
async fn seed_buses(demo: &mut Demo) -> anyhow::Result<Vec<(u32, Hash)>> {
    let (transport, operator) = (demo.cast.transport.clone(), demo.cast.operators[0].clone());
    let mut dids = Vec::new();
    let mut vehicles = Vec::new();
    for (i, unit) in demo.cast.units.clone().iter().enumerate() {
        let inception = Inception::new(
            operator.address(),
            unit,
            &key("bus-unit-next", i),
            Hash([(i % 251) as u8; 32]),
        );
        let did = inception.did();
        dids.push(
            demo.sign(&transport, inception.create(Subject::Device, true))
                .await?,
        );
        vehicles.push(
            demo.sign(
                &operator,
                call(
                    urbis_mobility::MODULE,
                    &MobilityCall::RegisterVehicle {
                        vehicle: bus_id(i),
                        operator: operator.address(),
                        class: urbis_mobility::VehicleClass::Bus,
                        unit_did: did,
                        unit_key: unit.public_key(),
                    },
                ),
            )
            .await?,
        );
    }
    demo.all(dids, "the buses' on-board units").await?;
    let mut buses = Vec::new();
    for (i, r) in demo.all(vehicles, "the buses").await?.iter().enumerate() {
        let n = attr(r, "vehicle_registered", "number")
            .and_then(|n| n.parse().ok())
            .context("a vehicle number")?;
        buses.push((n, bus_id(i)));
    }
    buses.sort_unstable();
    Ok(buses)
}

/// Operator 1 anchors the last period's telemetry of its buses: each unit signs its batch of
/// positions, the batches' Merkle root goes on chain.
async fn anchor_telemetry(demo: &mut Demo, buses: &[(u32, Hash)]) -> anyhow::Result<()> {
    if buses.is_empty() {
        return Ok(());
    }
    let to = now_ms() / ANCHOR_MS * ANCHOR_MS;
    let from = to - ANCHOR_MS;
    let period = to / ANCHOR_MS;
    let leaves: Vec<Hash> = buses
        .iter()
        .enumerate()
        .map(|(i, (_, id))| {
            let points = (0..30u64)
                .map(|k| urbis_mobility::telemetry::Point {
                    t_ms: from + k * 1_000,
                    lat_e7: 485_000_000 + (i as i32) * 900 + ((period + k) % 600) as i32 * 7,
                    lon_e7: 23_000_000 - (i as i32) * 900 + ((period + k) % 600) as i32 * 5,
                    speed_cm_s: 500 + ((k * 37 + i as u64) % 900) as u32,
                })
                .collect();
            urbis_mobility::telemetry::Batch::sign(&demo.cast.units[i], *id, period, points).leaf()
        })
        .collect();
    let operator = demo.cast.operators[0].clone();
    let tx = demo
        .sign(
            &operator,
            call(
                urbis_mobility::MODULE,
                &MobilityCall::Anchor {
                    root: urbis_core::merkle_root(&leaves),
                    batches: leaves.len() as u32,
                    from_ms: from,
                    to_ms: to,
                    vehicles: buses.iter().map(|(n, _)| *n).collect(),
                },
            ),
        )
        .await?;
    demo.fire(vec![tx]).await
}

fn meter_id(m: usize) -> Hash {
    urbis_energy::meter_id(&[9; 32], &format!("demo-meter-{m}"))
}

/// A permit application on its way through the workflow.
struct Application {
    instance: Hash,
    /// The next transition the planning department takes, if any.
    next: &'static str,
    approvals: usize,
}

/// What the simulator remembers between ticks.
#[derive(Default)]
struct Sim {
    tick: u64,
    /// Cards currently on a journey: the stop they tapped in at.
    riding: BTreeMap<usize, usize>,
    bin_seq: BTreeMap<usize, u64>,
    applications: Vec<Application>,
    rides: Vec<RideRun>,
    /// The energy interval orders were last posted for.
    ordered_for: u64,
    voted: usize,
    answered: usize,
    signed: usize,
    applied: usize,
}

async fn simulate(
    demo: &mut Demo,
    seeded: Seeded,
    config: DemoConfig,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut sim = Sim::default();
    let per_tick = config.rate.max(1.0);
    while !stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        if let Err(e) = tick(demo, &seeded, &mut sim, per_tick).await {
            eprintln!("demo: {e:#}");
            demo.nonces.next.clear();
        }
        sim.tick += 1;
        let spent = started.elapsed();
        if let Some(rest) = Duration::from_secs(1).checked_sub(spent) {
            tokio::time::sleep(rest).await;
        }
    }
    Ok(())
}

/// One second of city life: about `budget` transactions.
async fn tick(demo: &mut Demo, seeded: &Seeded, sim: &mut Sim, budget: f64) -> anyhow::Result<()> {
    let now = now_ms();
    let mut txs: Vec<SignedTx> = Vec::new();
    let share = |f: f64| ((budget * f).round() as usize).max(1);

    // Energy: once per interval, every meter orders for the interval after next and sends its
    // reading of the last one.
    let interval = now / ENERGY_INTERVAL_MS;
    if sim.ordered_for < interval + 2 {
        sim.ordered_for = interval + 2;
        for m in 0..demo.cast.meters.len() {
            let rooftop = m % 3 == 0;
            let (side, qty, price) = if rooftop {
                (
                    OrderSide::Sell,
                    300 + (m as u64 * 37 + interval) % 500,
                    6 + (m as u64 + interval) % 10,
                )
            } else {
                (
                    OrderSide::Buy,
                    150 + (m as u64 * 11 + interval) % 300,
                    14 + (m as u64 * 3 + interval) % 12,
                )
            };
            let owner = demo.cast.citizens[m].clone();
            txs.push(
                demo.sign(
                    &owner,
                    call(
                        urbis_energy::MODULE,
                        &EnergyCall::Order {
                            meter: meter_id(m),
                            interval: interval + 2,
                            side,
                            qty_wh: qty,
                            price,
                        },
                    ),
                )
                .await?,
            );
            let values = vec![if rooftop {
                urbis_energy::Value {
                    import_wh: 20,
                    export_wh: 250 + (m as u64 * 13 + interval) % 400,
                }
            } else {
                urbis_energy::Value {
                    import_wh: 120 + (m as u64 * 7 + interval) % 300,
                    export_wh: 0,
                }
            }];
            let last = interval - 1;
            let msg = urbis_energy::reading_message(&meter_id(m), last, &values);
            let signature = demo.cast.meters[m].sign(urbis_energy::READING_TAG, &msg);
            txs.push(
                demo.sign(
                    &owner,
                    call(
                        urbis_energy::MODULE,
                        &EnergyCall::Readings {
                            meter: meter_id(m),
                            first_interval: last,
                            values,
                            signature,
                        },
                    ),
                )
                .await?,
            );
        }
    }

    // Transit: cards tap in at one stop and out at another a little later.
    for _ in 0..share(0.4) {
        let card = demo.rng.below(CARDS);
        let (kind, stop) = match sim.riding.remove(&card) {
            Some(from) => (TapKind::Out, (from + 1 + demo.rng.below(STOPS - 1)) % STOPS),
            None => {
                let s = demo.rng.below(STOPS);
                sim.riding.insert(card, s);
                (TapKind::In, s)
            }
        };
        let (card_key, device) = (demo.cast.cards[card].clone(), demo.cast.stops[stop].clone());
        let signature = card_key.sign(
            urbis_mobility::TAP_TAG,
            &urbis_mobility::tap_message(&card_key.public_key(), &device.address(), kind, now),
        );
        txs.push(
            demo.sign(
                &device,
                call(
                    urbis_mobility::MODULE,
                    &MobilityCall::Tap {
                        card: card_key.public_key(),
                        kind,
                        t_ms: now,
                        signature,
                    },
                ),
            )
            .await?,
        );
    }

    // Waste: residents drop bags at the bins.
    for _ in 0..share(0.25) {
        let b = demo.rng.below(demo.cast.bins.len());
        let citizen = demo.cast.citizens[demo.rng.below(CITIZENS)].clone();
        let grams = 300 + demo.rng.below(2_500) as u64;
        let bin = demo.cast.bins[b].clone();
        let seq = match sim.bin_seq.get(&b) {
            Some(s) => *s + 1,
            None => bin_next_seq(&demo.client, &bin).await?,
        };
        sim.bin_seq.insert(b, seq);
        let w = crate::waste::weighing(
            &bin,
            seq,
            grams,
            &urbis_waste::citizen_subject(&citizen.address()),
        );
        let citizen_signature = citizen.sign(
            urbis_waste::DEPOSIT_TAG,
            &urbis_waste::deposit_message(&w.device, w.seq, grams),
        );
        txs.push(
            demo.sign(
                &bin,
                call(
                    urbis_waste::MODULE,
                    &WasteCall::Deposit {
                        citizen: citizen.public_key(),
                        weighing: w,
                        citizen_signature,
                    },
                ),
            )
            .await?,
        );
    }

    // Rewards: social affairs thanks residents for their commute.
    for _ in 0..share(0.1) {
        let to = demo.cast.citizens[demo.rng.below(CITIZENS)].address();
        let social = demo.cast.social.clone();
        let amount = 1 + demo.rng.below(5) as u64;
        txs.push(
            demo.sign(
                &social,
                call(
                    urbis_rewards::MODULE,
                    &RewardsCall::Award {
                        program: 1,
                        to,
                        amount,
                        reason: "commuted by bike".into(),
                    },
                ),
            )
            .await?,
        );
    }

    // Participation: a petition signature and a ballot now and then.
    if let Some(id) = seeded.petition
        && sim.signed < CITIZENS
        && sim.tick.is_multiple_of(2)
    {
        let who = demo.cast.citizens[sim.signed].clone();
        sim.signed += 1;
        txs.push(
            demo.sign(
                &who,
                call(urbis_petitions::MODULE, &PetitionsCall::Sign { id }),
            )
            .await?,
        );
    }
    if let Some(id) = seeded.poll
        && sim.answered + 1 < CITIZENS
        && sim.tick % 2 == 1
    {
        // Residents from the end of the list (the petition's signers come from the start),
        // leaving the last one, whose key `urbis dev --demo` offers for /me, alone.
        let who = demo.cast.citizens[CITIZENS - 2 - sim.answered].clone();
        let option = [0, 0, 1, 2, 3, 3, 3][sim.answered % 7];
        sim.answered += 1;
        txs.push(
            demo.sign(
                &who,
                call(
                    urbis_polls::MODULE,
                    &urbis_polls::PollsCall::Respond {
                        id,
                        option,
                        comment_hash: None,
                    },
                ),
            )
            .await?,
        );
    }
    // The home-care service reads one of the items it was granted, every 15 s.
    if let Some((grant, scope)) = &seeded.consent
        && sim.tick % 15 == 7
    {
        let grantee = key("pairwise-grantee", 0);
        let item = scope[(sim.tick / 15) as usize % scope.len()];
        txs.push(
            demo.sign(
                &grantee,
                call(
                    urbis_consent::MODULE,
                    &urbis_consent::ConsentCall::Use {
                        grant: *grant,
                        item,
                    },
                ),
            )
            .await?,
        );
    }
    if let Some(e) = &seeded.election
        && sim.voted < VOTERS
    {
        let voter = key("voter", sim.voted);
        sim.voted += 1;
        let signer = demo.signer(&voter);
        txs.push(cast(&e.ctx, e.id, &signer, &voter, sim.voted % 5 < 3, 0)?);
    }
    // Spending: a department pays an invoice against one of its budget lines now and then.
    if sim.tick % 4 == 1 {
        let (department, category, amount) = BUDGET[demo.rng.below(BUDGET.len())];
        let payer = match department {
            "planning" => demo.cast.planning[0].clone(),
            "social" => demo.cast.social.clone(),
            _ => demo.cast.environment.clone(),
        };
        let invoice = sim.tick.to_le_bytes();
        let spent = amount / 400 * (1 + demo.rng.below(4) as u64);
        txs.push(
            demo.sign(
                &payer,
                call(
                    urbis_governance::MODULE,
                    &GovernanceCall::Spend {
                        year: year_of(now),
                        department: department.into(),
                        category: category.into(),
                        amount: spent,
                        payee: None,
                        invoice_hash: urbis_core::sha256_domain(b"urbis-demo/invoice", &[&invoice]),
                        memo: format!("{category}: invoice {}", sim.tick),
                    },
                ),
            )
            .await?,
        );
    }
    demo.fire(txs).await?;

    // Permits: a new application every five seconds; the department moves the others on.
    if sim.tick.is_multiple_of(5) {
        let applicant = demo.cast.citizens[500 + sim.applied % 500].clone();
        sim.applied += 1;
        let tx = demo
            .sign(
                &applicant,
                call(
                    urbis_governance::MODULE,
                    &GovernanceCall::StartWorkflow {
                        workflow: "building-permit".into(),
                        subject_hash: urbis_core::sha256_domain(
                            b"urbis-demo/permit",
                            &[&(sim.applied as u64).to_le_bytes()],
                        ),
                        documents: vec![Hash([7; 32])],
                    },
                ),
            )
            .await?;
        let r = submit_all(&demo.client, &[tx]).await?;
        if let Some(id) = attr(&r[0], "started", "id").and_then(|s| s.parse().ok()) {
            sim.applications.push(Application {
                instance: id,
                next: "complete",
                approvals: 0,
            });
        }
    }
    if sim.tick.is_multiple_of(3) {
        advance_permits(demo, sim).await?;
    }

    if sim.tick.is_multiple_of(2) {
        advance_rides(demo, sim).await?;
    }
    if sim.tick % (ANCHOR_MS / 1_000) == 2 {
        anchor_telemetry(demo, &seeded.buses).await?;
    }

    // Every 20 s a bin is emptied and its glass taken to the recycler.
    if sim.tick % 20 == 10 {
        collect_batch(demo, sim).await?;
    }
    Ok(())
}

async fn bin_next_seq(client: &Client, bin: &SecretKey) -> anyhow::Result<u64> {
    let v = client
        .query(
            urbis_waste::MODULE,
            &["device", &urbis_waste::keys::hex(&bin.public_key())],
            false,
        )
        .await?
        .value;
    Ok(v["seq"].as_u64().unwrap_or(0) + 1)
}

async fn advance_permits(demo: &mut Demo, sim: &mut Sim) -> anyhow::Result<()> {
    let mut keep = Vec::new();
    for mut app in std::mem::take(&mut sim.applications) {
        let state = demo
            .client
            .query(
                urbis_governance::MODULE,
                &["instance", &app.instance.to_string()],
                false,
            )
            .await?
            .value["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (transition, official) = match (state.as_str(), app.next) {
            ("applied", _) => ("complete", 0),
            ("complete", _) => ("publish", 0),
            ("review", _) if app.approvals < 2 => ("approve", 1 + app.approvals),
            ("issued" | "refused", _) => continue,
            _ => {
                keep.push(app);
                continue;
            }
        };
        let official = demo.cast.planning[official].clone();
        let tx = demo
            .sign(
                &official,
                call(
                    urbis_governance::MODULE,
                    &GovernanceCall::Act {
                        instance: app.instance,
                        transition: transition.into(),
                        document_hash: None,
                    },
                ),
            )
            .await?;
        let r = submit_all(&demo.client, &[tx]).await?;
        if r[0].success && transition == "approve" {
            app.approvals += 1;
        }
        app.next = transition;
        keep.push(app);
    }
    sim.applications = keep;
    Ok(())
}

/// Empty a glass bin into a batch, hand it to the transfer station, then to the recycler, who
/// records most of it recycled.
async fn collect_batch(demo: &mut Demo, sim: &mut Sim) -> anyhow::Result<()> {
    let glass: Vec<usize> = (0..demo.cast.bins.len())
        .filter(|b| Cast::bin_place(*b).1 == Stream::Glass)
        .collect();
    let b = glass[(sim.tick as usize / 20) % glass.len()];
    let bin = demo.cast.bins[b].clone();
    let state = demo
        .client
        .query(
            urbis_waste::MODULE,
            &["device", &urbis_waste::keys::hex(&bin.public_key())],
            false,
        )
        .await?
        .value;
    let fill = state["fill_grams"].as_u64().unwrap_or(0);
    if fill == 0 {
        return Ok(());
    }
    let epoch = state["epoch"].as_u64().unwrap_or(0);
    let seq = state["seq"].as_u64().unwrap_or(0) + 1;
    sim.bin_seq.insert(b, seq);
    let w = crate::waste::weighing(
        &bin,
        seq,
        fill,
        &urbis_waste::fill_subject(&bin.public_key(), epoch),
    );
    let collector = demo.cast.collector.clone();
    let tx = demo
        .sign(
            &collector,
            call(
                urbis_waste::MODULE,
                &WasteCall::Collect {
                    weighings: vec![w],
                    manifest: None,
                },
            ),
        )
        .await?;
    let r = demo.all(vec![tx], "a collection").await?;
    let batch: u64 = attr(&r[0], "collected", "batch")
        .and_then(|s| s.parse().ok())
        .context("the collection names its batch")?;
    let mut giver = collector;
    // What the holder hands over, as the chain knows it; each weighbridge finds a little less.
    let mut grams = fill;
    let hops = [
        (demo.cast.station.clone(), demo.cast.bridges[0].clone()),
        (demo.cast.recycler.clone(), demo.cast.bridges[1].clone()),
    ];
    for (receiver, bridge) in hops {
        let giver_signature = giver.sign(
            urbis_waste::HANDOVER_TAG,
            &urbis_waste::handover_message(batch, &receiver.address(), grams),
        );
        grams -= grams / 200;
        let bridge_seq = bin_next_seq(&demo.client, &bridge).await?;
        let weighing = crate::waste::weighing(
            &bridge,
            bridge_seq,
            grams,
            &urbis_waste::batch_subject(batch),
        );
        let tx = demo
            .sign(
                &receiver,
                call(
                    urbis_waste::MODULE,
                    &WasteCall::Handover {
                        batch,
                        giver_key: giver.public_key(),
                        giver_signature,
                        weighing,
                    },
                ),
            )
            .await?;
        demo.all(vec![tx], "a handover").await?;
        giver = receiver;
    }
    let recycler = demo.cast.recycler.clone();
    let tx = demo
        .sign(
            &recycler,
            call(
                urbis_waste::MODULE,
                &WasteCall::Fate {
                    batch,
                    kind: FateKind::Recycled,
                    material: Some("cullet".into()),
                    output_grams: grams * 9 / 10,
                },
            ),
        )
        .await?;
    demo.all(vec![tx], "the batch's fate").await?;
    Ok(())
}
