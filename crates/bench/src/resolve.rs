//! `urbis bench --scenario did-resolve`: DID resolutions per second over HTTP.
//!
//! A dev node is started; a department the admin names creates `dids` device DIDs (in
//! batches, set-up not measured); then `clients` concurrent HTTP clients resolve random ones
//! (`GET /1.0/identifiers/{did}`, the full resolution result) for `duration`. Every answer
//! must be 200 with the DID's document.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_accounts::{AccountsCall, Role};
use urbis_client::{Client, Signer};
use urbis_core::{Call, Hash, SecretKey};
use urbis_identity::{Document, IdentityCall, Jwk, Method, Purpose, Subject};

use crate::cluster::Cluster;
use crate::stats;
use crate::workload::Rng;

/// What to run.
#[derive(Clone, Debug)]
pub struct ResolveOptions {
    pub exe: std::path::PathBuf,
    pub block_time_ms: u64,
    pub dids: usize,
    pub clients: usize,
    pub duration: Duration,
}

/// What it measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ResolveReport {
    pub dids: usize,
    pub clients: usize,
    pub seconds: f64,
    pub resolutions: u64,
    pub resolutions_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

impl ResolveReport {
    pub fn table(&self) -> String {
        format!(
            "DID resolution over HTTP (dev node, {} DIDs, {} clients, {:.1} s)\n\
             resolutions/s            {:.0}\n\
             latency p50 / p99        {:.2} / {:.2} ms\n\
             errors                   {}\n",
            self.dids,
            self.clients,
            self.seconds,
            self.resolutions_per_s,
            self.p50_ms,
            self.p99_ms,
            self.errors
        )
    }
}

fn device_document(i: usize) -> Document {
    let key = SecretKey::from_label(&format!("urbis-bench/did/{i}"));
    let jwk = Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: urbis_credentials::jose::b64(key.public_key().raw()),
        y: None,
    };
    Document {
        methods: vec![Method {
            fragment: "key-1".into(),
            jwk,
            purposes: vec![Purpose::Authentication, Purpose::AssertionMethod],
        }],
        services: Vec::new(),
        controllers: Vec::new(),
    }
}

async fn setup(client: &Client, admin: &SecretKey, n: usize) -> anyhow::Result<Vec<String>> {
    let status = client.status().await.context("read /v1/status")?;
    let admin = Signer::new(admin.clone(), status.chain_id.clone(), status.genesis_hash);
    let dept_key = SecretKey::from_label(&format!("urbis-bench/did-dept/{}", std::process::id()));
    let grant = Call::new(
        urbis_accounts::MODULE,
        &AccountsCall::GrantRole {
            account: dept_key.address(),
            role: Role::Department,
        },
    );
    let tx = admin.sign_next(client, grant).await?;
    urbis_client::check_receipt(client.submit_and_wait(&tx).await?.receipt)?;
    let dept = Signer::new(dept_key, status.chain_id, status.genesis_hash);
    let mut nonce = client.next_nonce(&dept.address()).await?;
    let mut dids = Vec::with_capacity(n);
    let mut txs = Vec::with_capacity(n);
    for i in 0..n {
        let document = device_document(i);
        let controller =
            SecretKey::from_label(&format!("urbis-bench/did-controller/{i}")).address();
        let next_key_hash = urbis_identity::next_key_commitment(
            &SecretKey::from_label(&format!("urbis-bench/did-next/{i}")).address(),
        );
        let salt = Hash([(i % 251) as u8; 32]);
        let id = urbis_identity::did_id(&controller, &next_key_hash, &salt, &document);
        dids.push(urbis_identity::did_string(&id));
        txs.push(dept.sign(
            nonce,
            Call::new(
                urbis_identity::MODULE,
                &IdentityCall::Create {
                    document,
                    next_key_hash,
                    salt,
                    subject: Subject::Device,
                    controller: Some(controller),
                },
            ),
        ));
        nonce += 1;
    }
    for chunk in txs.chunks(500) {
        client.submit_batch(chunk).await?;
    }
    let last = txs.last().map(|t| t.hash());
    if let Some(h) = last {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !matches!(
            client.tx(&h).await,
            Ok(urbis_client::TxStatus::Committed(_))
        ) {
            if Instant::now() > deadline {
                bail!("the DIDs were not created in time");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(dids)
}

/// Run the scenario (starts and stops its own dev node).
pub fn run(opts: ResolveOptions) -> anyhow::Result<ResolveReport> {
    if opts.dids == 0 || opts.clients == 0 {
        bail!("--dids and --clients must be positive");
    }
    eprintln!("starting urbis dev (block time {} ms)…", opts.block_time_ms);
    let cluster = Cluster::start_dev(&opts.exe, opts.block_time_ms)?;
    let url = cluster.nodes[0].api.clone();
    let admin = cluster.admin.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let report = rt.block_on(async {
        let client = Client::new(&url)?;
        eprintln!("set-up: creating {} DIDs…", opts.dids);
        let dids = Arc::new(setup(&client, &admin, opts.dids).await?);
        eprintln!(
            "resolving for {:.1} s with {} clients…",
            opts.duration.as_secs_f64(),
            opts.clients
        );
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(opts.clients)
            .build()?;
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..opts.clients {
            let (http, dids, stop, base) = (http.clone(), dids.clone(), stop.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut rng = Rng::new(c as u64 + 1);
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let did = &dids[rng.below(dids.len())];
                    let t = Instant::now();
                    let ok = match http
                        .get(format!("{base}/1.0/identifiers/{did}"))
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => match r.bytes().await {
                            Ok(b) => b.windows(did.len()).any(|w| w == did.as_bytes()),
                            Err(_) => false,
                        },
                        _ => false,
                    };
                    if ok {
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            }));
        }
        tokio::time::sleep(opts.duration).await;
        stop.store(true, Ordering::Relaxed);
        let seconds = started.elapsed().as_secs_f64();
        let mut lat = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await?;
            lat.extend(l);
            errors += e;
        }
        lat.sort_by(f64::total_cmp);
        let n = lat.len() as u64;
        anyhow::Ok(ResolveReport {
            dids: opts.dids,
            clients: opts.clients,
            seconds,
            resolutions: n,
            resolutions_per_s: n as f64 / seconds,
            p50_ms: stats::percentile(&lat, 50.0).unwrap_or(0.0),
            p99_ms: stats::percentile(&lat, 99.0).unwrap_or(0.0),
            errors,
        })
    })?;
    drop(cluster);
    Ok(report)
}
