//! `urbis bench --scenario permits`: `--permits N` building-permit applications through the
//! shipped workflow (`workflows/building-permit.json`) on a dev node. Set-up (roles, the fee
//! asset and each applicant's funds, the department's DID and status list, the definition) is
//! not measured; then every application is started (its fee held), checked complete, published
//! (a public notice each), its notice closed by the scheduler after 1 s, and approved by two of
//! the department's three officials (the permit issued with its credential's status entry, the
//! fee released to the treasury, the issuance recorded on the ledger).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_accounts::Role;
use urbis_assets::AssetsCall;
use urbis_client::{Client, Signer};
use urbis_core::{Call, Hash, SecretKey, SignedTx};
use urbis_governance::{GovernanceCall, MODULE};
use urbis_identity::{IdentityCall, Subject, did_id, did_string, next_key_commitment};

use crate::cluster::Cluster;
use crate::records::{ok, runtime, submit_all};

/// The notice period the bench sets.
pub const NOTICE_MS: u64 = 1_000;

/// What the permits bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PermitsReport {
    pub permits: usize,
    /// Transactions of the workflow (start, complete, publish, two approvals).
    pub workflow_txs: usize,
    pub seconds: f64,
    pub tx_per_s: f64,
    pub permits_per_s: f64,
    pub notice_ms: u64,
}

impl PermitsReport {
    pub fn table(&self) -> String {
        format!(
            "Building permits through the workflow (dev node, {} applications, notice {} ms)\n\
             workflow transactions      {} in {:.2} s ({:.0} tx/s)\n\
             permits issued             {:.0} per second, end to end\n",
            self.permits,
            self.notice_ms,
            self.workflow_txs,
            self.seconds,
            self.tx_per_s,
            self.permits_per_s,
        )
    }
}

fn definition(treasury: &str, issuer: &str, list: u64) -> anyhow::Result<String> {
    let text = include_str!("../../../workflows/building-permit.json")
        .replace("${FEE_ASSET}", "PERMIT")
        .replace("${FEE}", "250")
        .replace("${NOTICE_MS}", &NOTICE_MS.to_string())
        .replace("${TREASURY}", treasury)
        .replace("${DEPARTMENT}", "planning")
        .replace("${ISSUER}", issuer)
        .replace("${STATUS_LIST}", &list.to_string());
    let json: serde_json::Value = serde_json::from_str(&text).context("the shipped definition")?;
    Ok(json.to_string())
}

fn gov(c: GovernanceCall) -> Call {
    Call::new(MODULE, &c)
}

/// Run the permits scenario (starts and stops its own dev node).
pub fn run(exe: PathBuf, block_time_ms: u64, n: usize) -> anyhow::Result<PermitsReport> {
    if n == 0 {
        bail!("--permits must be positive");
    }
    eprintln!("starting urbis dev (block time {block_time_ms} ms)…");
    let cluster = Cluster::start_dev(&exe, block_time_ms)?;
    let url = cluster.nodes[0].api.clone();
    let admin = cluster.admin.clone();
    let report = runtime()?.block_on(async move {
        let client = Client::new(&url)?;
        let status = client.status().await?;
        let signer = |k: SecretKey| Signer::new(k, status.chain_id.clone(), status.genesis_hash);
        let run = std::process::id();
        let key = |what: &str, i: usize| {
            SecretKey::from_label(&format!("urbis-bench/permits/{run}/{what}/{i}"))
        };
        let officials: Vec<Signer> = (0..3).map(|i| signer(key("official", i))).collect();
        let applicants: Vec<Signer> = (0..n).map(|i| signer(key("applicant", i))).collect();
        let treasury = officials[0].address();

        eprintln!("set-up: roles, the fee asset, {n} applicants' funds, the definition…");
        let admin = signer(admin);
        let mut nonce = client.next_nonce(&admin.address()).await?;
        let mut setup = Vec::new();
        let mut push = |c: Call| {
            setup.push(admin.sign(nonce, c));
            nonce += 1;
        };
        for o in &officials {
            push(crate::workload::grant(o.address(), Role::Department));
        }
        for a in &applicants {
            push(crate::workload::grant(a.address(), Role::Citizen));
        }
        push(gov(GovernanceCall::Department {
            code: "planning".into(),
            name: "Planning".into(),
        }));
        for o in &officials {
            push(gov(GovernanceCall::Officer {
                department: "planning".into(),
                account: o.address(),
                active: true,
            }));
        }
        push(Call::new(
            urbis_assets::MODULE,
            &AssetsCall::CreateAsset {
                symbol: "PERMIT".into(),
                name: "permit fees".into(),
                decimals: 2,
            },
        ));
        for a in &applicants {
            push(Call::new(
                urbis_assets::MODULE,
                &AssetsCall::Issue {
                    symbol: "PERMIT".into(),
                    to: a.address(),
                    amount: 250,
                },
            ));
        }
        for r in submit_all(&client, &setup).await? {
            ok(&r, "set-up")?;
        }
        // The department's DID and a status list for the permits' credentials.
        let document = crate::mobility::unit_document(&key("issuer", 0));
        let next_key_hash = next_key_commitment(&key("issuer-next", 0).address());
        let salt = Hash([3; 32]);
        let issuer = did_string(&did_id(
            &officials[0].address(),
            &next_key_hash,
            &salt,
            &document,
        ));
        let identity = |c: IdentityCall| Call::new(urbis_identity::MODULE, &c);
        let txs = [
            officials[0].sign(
                0,
                identity(IdentityCall::Create {
                    document,
                    next_key_hash,
                    salt,
                    subject: Subject::Organisation,
                    controller: None,
                }),
            ),
            officials[0].sign(
                1,
                identity(IdentityCall::CreateStatusList {
                    issuer: issuer.clone(),
                    bits: 1,
                    size: (n as u64).div_ceil(8).max(1) * 8,
                }),
            ),
        ];
        let mut list = 0;
        for r in submit_all(&client, &txs).await? {
            ok(&r, "the issuer's DID and status list")?;
            if let Some(l) = r
                .events
                .iter()
                .find(|e| e.kind == "status_list_created")
                .and_then(|e| e.attr("list"))
            {
                list = l.parse().context("a status list id")?;
            }
        }
        let define = officials[0].sign(
            2,
            gov(GovernanceCall::DefineWorkflow {
                definition: definition(&treasury.to_string(), &issuer, list)?,
            }),
        );
        for r in submit_all(&client, &[define]).await? {
            ok(&r, "define")?;
        }
        // Official 0's next nonce.
        const BASE: u64 = 3;

        eprintln!("measuring: {n} applications…");
        let started = Instant::now();
        let starts: Vec<SignedTx> = applicants
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.sign(
                    0,
                    gov(GovernanceCall::StartWorkflow {
                        workflow: "building-permit".into(),
                        subject_hash: Hash([(i % 251) as u8; 32]),
                        documents: vec![Hash([7; 32])],
                    }),
                )
            })
            .collect();
        let mut ids = Vec::with_capacity(n);
        for r in submit_all(&client, &starts).await? {
            ok(&r, "start")?;
            let id: Hash = r
                .events
                .iter()
                .find(|e| e.kind == "started")
                .and_then(|e| e.attr("id"))
                .and_then(|s| s.parse().ok())
                .context("a started process")?;
            ids.push(id);
        }
        let act = |s: &Signer, nonce: u64, instance: Hash, t: &str| {
            s.sign(
                nonce,
                gov(GovernanceCall::Act {
                    instance,
                    transition: t.into(),
                    document_hash: None,
                }),
            )
        };
        // Official 0 checks and publishes; officials 1 and 2 approve.
        let step: Vec<SignedTx> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| act(&officials[0], BASE + i as u64, *id, "complete"))
            .collect();
        for r in submit_all(&client, &step).await? {
            ok(&r, "complete")?;
        }
        let step: Vec<SignedTx> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| act(&officials[0], BASE + (n + i) as u64, *id, "publish"))
            .collect();
        for r in submit_all(&client, &step).await? {
            ok(&r, "publish")?;
        }
        // The scheduler closes each notice (at most 256 jobs per block).
        let deadline = Instant::now() + Duration::from_secs(600);
        let state = |i: usize| {
            let client = &client;
            let id = ids[i].to_string();
            async move {
                let v = client.query(MODULE, &["instance", &id], false).await?.value;
                anyhow::Ok(v["state"].as_str().unwrap_or_default().to_string())
            }
        };
        while state(n - 1).await? != "review" {
            if Instant::now() > deadline {
                bail!("the notices did not close in time");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (k, official) in officials.iter().enumerate().skip(1) {
            let step: Vec<SignedTx> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| act(official, i as u64, *id, "approve"))
                .collect();
            for r in submit_all(&client, &step).await? {
                ok(
                    &r,
                    if k == 1 {
                        "first approval"
                    } else {
                        "second approval"
                    },
                )?;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        // Spot checks (not timed): permits issued.
        for i in (0..n).step_by((n / 50).max(1)) {
            if state(i).await? != "issued" {
                bail!("application {i} was not issued");
            }
        }
        anyhow::Ok(PermitsReport {
            permits: n,
            workflow_txs: 5 * n,
            seconds,
            tx_per_s: (5 * n) as f64 / seconds,
            permits_per_s: n as f64 / seconds,
            notice_ms: NOTICE_MS,
        })
    })?;
    drop(cluster);
    Ok(report)
}
