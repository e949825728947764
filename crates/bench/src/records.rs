//! Benchmarks of the records issue:
//!
//! - `urbis bench --scenario land-transfers`: `--transfers N` parcel sales through the whole
//!   workflow on a dev node (propose by the seller, accept by the buyer, approve by the
//!   registrar, the objection window, the title changing hands by the scheduler). Set-up
//!   (roles, parcels) is not measured.
//! - `urbis bench --scenario blob-replication`: blobs uploaded to one validator of a
//!   4-validator loopback testnet (signed `PUT /v1/blobs`), timed until every blob is in the
//!   data directory of the three other validators.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_accounts::{AccountsCall, Role};
use urbis_client::{Client, Signer, TxStatus};
use urbis_core::{Call, Hash, Receipt, SecretKey, SignedTx};
use urbis_land::{LandCall, Share};

use crate::cluster::Cluster;

/// Pending transactions one sender keeps in flight (the mempool's per-sender bound is 4096).
const CHUNK: usize = 2_000;
/// The objection window the bench sets (the smallest the module allows).
pub const WINDOW_MS: u64 = 1_000;

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// Submit `txs` (any senders, each sender's in nonce order), retrying what the node refuses
/// for load, and wait for every one; their receipts, in order.
pub(crate) async fn submit_all(client: &Client, txs: &[SignedTx]) -> anyhow::Result<Vec<Receipt>> {
    for chunk in txs.chunks(CHUNK) {
        let mut todo: Vec<&SignedTx> = chunk.iter().collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !todo.is_empty() {
            let batch: Vec<SignedTx> = todo.iter().map(|t| (*t).clone()).collect();
            let results = match client.submit_batch(&batch).await {
                Ok(r) => r,
                // The node sheds load while its execution catches up: try again shortly.
                Err(e) if e.is(urbis_core::ErrorCode::NotReady) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut again = Vec::new();
            for (tx, r) in todo.iter().zip(results) {
                match r {
                    Ok(_) => {}
                    Err((code, _)) if code == "duplicate_tx" || code == "nonce_too_low" => {}
                    Err((code, _))
                        if matches!(
                            code.as_str(),
                            "mempool_full" | "overloaded" | "nonce_gap" | "not_ready"
                        ) =>
                    {
                        again.push(*tx)
                    }
                    Err((code, message)) => bail!("a transaction was refused: {code}: {message}"),
                }
            }
            if !again.is_empty() {
                if Instant::now() > deadline {
                    bail!("the node kept refusing transactions");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            todo = again;
        }
        // Keep each sender below the mempool's bound: wait for this chunk's last one.
        if let Some(last) = chunk.last() {
            wait(client, &last.hash()).await?;
        }
    }
    // Receipts, 64 requests in flight (a client reads them as they come).
    use futures::StreamExt as _;
    let receipts: Vec<anyhow::Result<Receipt>> = futures::stream::iter(txs.iter().map(|tx| {
        let hash = tx.hash();
        async move { wait(client, &hash).await }
    }))
    .buffered(64)
    .collect()
    .await;
    receipts.into_iter().collect()
}

async fn wait(client: &Client, hash: &Hash) -> anyhow::Result<Receipt> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Ok(TxStatus::Committed(c)) = client.tx(hash).await {
            return Ok(c.receipt);
        }
        if Instant::now() > deadline {
            bail!("transaction {hash} not committed in time");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn ok(r: &Receipt, what: &str) -> anyhow::Result<()> {
    if !r.success {
        bail!("{what} failed: {:?}", r.error);
    }
    Ok(())
}

/// What the land bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LandReport {
    pub transfers: usize,
    /// Transactions of the workflow (propose, accept, approve).
    pub workflow_txs: usize,
    /// From the first proposal submitted to the last approval committed.
    pub workflow_seconds: f64,
    pub workflow_tx_per_s: f64,
    /// From the first proposal submitted to the last title changed (the window included).
    pub end_to_end_seconds: f64,
    pub objection_window_ms: u64,
    pub transfers_per_s: f64,
}

impl LandReport {
    pub fn table(&self) -> String {
        format!(
            "Land transfers through the workflow (dev node, {} sales, objection window {} ms)\n\
             workflow transactions      {} in {:.2} s ({:.0} tx/s)\n\
             end to end (titles moved)  {:.2} s ({:.0} transfers/s)\n",
            self.transfers,
            self.objection_window_ms,
            self.workflow_txs,
            self.workflow_seconds,
            self.workflow_tx_per_s,
            self.end_to_end_seconds,
            self.transfers_per_s,
        )
    }
}

fn parcel(i: usize) -> String {
    format!("BENCH-{i:06}")
}

/// Run the land scenario (starts and stops its own dev node).
pub fn land_transfers(exe: PathBuf, block_time_ms: u64, n: usize) -> anyhow::Result<LandReport> {
    if n == 0 {
        bail!("--transfers must be positive");
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
            SecretKey::from_label(&format!("urbis-bench/land/{run}/{what}/{i}"))
        };
        let registrar = signer(key("registrar", 0));
        let sellers: Vec<Signer> = (0..n).map(|i| signer(key("seller", i))).collect();
        let buyers: Vec<Signer> = (0..n).map(|i| signer(key("buyer", i))).collect();

        eprintln!("set-up: roles for {} accounts, {n} parcels…", 2 * n + 1);
        let admin = signer(admin);
        let mut nonce = client.next_nonce(&admin.address()).await?;
        let mut setup = Vec::new();
        let grant = |account, role| {
            Call::new(
                urbis_accounts::MODULE,
                &AccountsCall::GrantRole { account, role },
            )
        };
        setup.push(admin.sign(nonce, grant(registrar.address(), Role::LandRegistrar)));
        nonce += 1;
        for s in sellers.iter().chain(&buyers) {
            setup.push(admin.sign(nonce, grant(s.address(), Role::Citizen)));
            nonce += 1;
        }
        setup.push(admin.sign(
            nonce,
            Call::new(
                urbis_land::MODULE,
                &LandCall::SetObjectionWindow { ms: WINDOW_MS },
            ),
        ));
        for r in submit_all(&client, &setup).await? {
            ok(&r, "set-up")?;
        }
        let parcels: Vec<SignedTx> = (0..n)
            .map(|i| {
                registrar.sign(
                    i as u64,
                    Call::new(
                        urbis_land::MODULE,
                        &LandCall::RegisterParcel {
                            id: parcel(i),
                            geometry_hash: Hash([(i % 251) as u8; 32]),
                            area_m2: 300 + i as u64 % 700,
                            owners: vec![Share {
                                owner: sellers[i].address(),
                                parts: 1,
                            }],
                            whole: 1,
                        },
                    ),
                )
            })
            .collect();
        for r in submit_all(&client, &parcels).await? {
            ok(&r, "register_parcel")?;
        }

        eprintln!("measuring: {n} sales…");
        let started = Instant::now();
        let proposals: Vec<SignedTx> = (0..n)
            .map(|i| {
                sellers[i].sign(
                    0,
                    Call::new(
                        urbis_land::MODULE,
                        &LandCall::Propose {
                            parcel: parcel(i),
                            buyers: vec![Share {
                                owner: buyers[i].address(),
                                parts: 1,
                            }],
                            price: 25_000_000 + i as u64,
                            deed_hash: Hash([7; 32]),
                        },
                    ),
                )
            })
            .collect();
        let mut transfers = Vec::with_capacity(n);
        for r in submit_all(&client, &proposals).await? {
            ok(&r, "propose")?;
            let id = r
                .events
                .iter()
                .find(|e| e.kind == "proposed")
                .and_then(|e| e.attr("transfer"))
                .and_then(|t| t.parse::<u64>().ok())
                .context("a proposal names its transfer")?;
            transfers.push(id);
        }
        let accepts: Vec<SignedTx> = (0..n)
            .map(|i| {
                buyers[i].sign(
                    0,
                    Call::new(
                        urbis_land::MODULE,
                        &LandCall::Accept {
                            transfer: transfers[i],
                        },
                    ),
                )
            })
            .collect();
        for r in submit_all(&client, &accepts).await? {
            ok(&r, "accept")?;
        }
        let approvals: Vec<SignedTx> = (0..n)
            .map(|i| {
                registrar.sign(
                    (n + i) as u64,
                    Call::new(
                        urbis_land::MODULE,
                        &LandCall::Approve {
                            transfer: transfers[i],
                        },
                    ),
                )
            })
            .collect();
        for r in submit_all(&client, &approvals).await? {
            ok(&r, "approve")?;
        }
        let workflow = started.elapsed().as_secs_f64();
        // The scheduler moves each title once its window ends; the last approved is the last.
        let owner_of = |i: usize| {
            let client = &client;
            async move {
                let p = client
                    .query(urbis_land::MODULE, &["parcel", &parcel(i)], false)
                    .await?;
                anyhow::Ok(
                    p.value["owners"][0]["owner"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            }
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        while owner_of(n - 1).await? != buyers[n - 1].address().to_string() {
            if Instant::now() > deadline {
                bail!("the last title did not change hands in time");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let end_to_end = started.elapsed().as_secs_f64();
        // Every title moved (checked on a spread of parcels, not timed).
        let sample: BTreeSet<usize> = (0..n).step_by((n / 200).max(1)).collect();
        for i in sample {
            if owner_of(i).await? != buyers[i].address().to_string() {
                bail!("parcel {} did not change hands", parcel(i));
            }
        }
        anyhow::Ok(LandReport {
            transfers: n,
            workflow_txs: 3 * n,
            workflow_seconds: workflow,
            workflow_tx_per_s: (3 * n) as f64 / workflow,
            end_to_end_seconds: end_to_end,
            objection_window_ms: WINDOW_MS,
            transfers_per_s: n as f64 / end_to_end,
        })
    })?;
    drop(cluster);
    Ok(report)
}

/// What the blob bench measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BlobReport {
    pub validators: usize,
    pub blobs: usize,
    pub blob_bytes: usize,
    pub total_mb: f64,
    /// Until every upload was answered by the first validator.
    pub upload_seconds: f64,
    pub upload_mb_per_s: f64,
    /// Until every blob was on every other validator too.
    pub replicated_seconds: f64,
    pub replicated_mb_per_s: f64,
}

impl BlobReport {
    pub fn table(&self) -> String {
        format!(
            "Blob upload and replication ({} validators on loopback, {} blobs of {} KiB, {:.0} MB)\n\
             upload to one validator      {:.2} s ({:.1} MB/s)\n\
             on all {} other validators    {:.2} s ({:.1} MB/s)\n",
            self.validators,
            self.blobs,
            self.blob_bytes / 1024,
            self.total_mb,
            self.upload_seconds,
            self.upload_mb_per_s,
            self.validators - 1,
            self.replicated_seconds,
            self.replicated_mb_per_s,
        )
    }
}

/// Run the blob scenario (starts and stops its own 4-validator testnet).
pub fn blob_replication(
    exe: PathBuf,
    block_time_ms: u64,
    total_mib: usize,
) -> anyhow::Result<BlobReport> {
    const VALIDATORS: usize = 4;
    const BLOB: usize = 4 << 20;
    let blobs = (total_mib * (1 << 20)).div_ceil(BLOB).max(1);
    eprintln!("starting a {VALIDATORS}-validator testnet…");
    let cluster = Cluster::start_testnet(&exe, VALIDATORS, block_time_ms)?;
    let apis: Vec<String> = cluster.nodes.iter().map(|n| n.api.clone()).collect();
    let dirs: Vec<PathBuf> = cluster.nodes.iter().map(|n| n.data_dir.clone()).collect();
    let admin = cluster.admin.clone();
    let report = runtime()?.block_on(async move {
        let client = Client::new(&apis[0])?;
        let status = client.status().await?;
        let uploader = SecretKey::from_label(&format!("urbis-bench/blobs/{}", std::process::id()));
        let admin = Signer::new(admin, status.chain_id.clone(), status.genesis_hash);
        let tx = admin
            .sign_next(
                &client,
                Call::new(
                    urbis_accounts::MODULE,
                    &AccountsCall::GrantRole {
                        account: uploader.address(),
                        role: Role::Department,
                    },
                ),
            )
            .await?;
        ok(&client.submit_and_wait(&tx).await?.receipt, "grant")?;
        // Every validator must know the role before the upload (they check it on their own).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let payloads: Vec<Vec<u8>> = (0..blobs)
            .map(|b| {
                let mut v = vec![0u8; BLOB];
                let mut x = (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                for chunk in v.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
                }
                v
            })
            .collect();
        let http = reqwest::Client::new();
        let chain_id = status.chain_id.clone();
        eprintln!("uploading {blobs} blobs of {} MiB…", BLOB >> 20);
        let started = Instant::now();
        let mut hashes = Vec::new();
        let mut tasks = Vec::new();
        for p in payloads {
            let (http, url, key, chain_id) = (
                http.clone(),
                apis[0].clone(),
                uploader.clone(),
                chain_id.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let digest: [u8; 32] = {
                    use sha2::Digest as _;
                    sha2::Sha256::digest(&p).into()
                };
                let time = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let msg = urbis_node::blobs::put_message(&chain_id, time, &digest);
                let sig = key.sign(urbis_node::blobs::PUT_TAG, &msg);
                let r = http
                    .put(format!("{url}/v1/blobs"))
                    .header("x-urbis-key", key.public_key().to_text())
                    .header("x-urbis-time", time.to_string())
                    .header("x-urbis-signature", sig.to_hex())
                    .body(p)
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("upload refused: {}", r.text().await.unwrap_or_default());
                }
                anyhow::Ok(Hash(digest))
            }));
            // Four uploads in flight (custodians upload concurrently).
            if tasks.len() == 4 {
                hashes.push(tasks.remove(0).await??);
            }
        }
        for t in tasks {
            hashes.push(t.await??);
        }
        let uploaded = started.elapsed().as_secs_f64();
        let path = |dir: &PathBuf, h: &Hash| {
            let hex = h.to_hex();
            dir.join("blobs").join(&hex[..2]).join(hex)
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        while !dirs[1..]
            .iter()
            .all(|d| hashes.iter().all(|h| path(d, h).exists()))
        {
            if Instant::now() > deadline {
                bail!("blobs not replicated in time");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let replicated = started.elapsed().as_secs_f64();
        let total_mb = (blobs * BLOB) as f64 / 1e6;
        anyhow::Ok(BlobReport {
            validators: VALIDATORS,
            blobs,
            blob_bytes: BLOB,
            total_mb,
            upload_seconds: uploaded,
            upload_mb_per_s: total_mb / uploaded,
            replicated_seconds: replicated,
            replicated_mb_per_s: total_mb / replicated,
        })
    })?;
    drop(cluster);
    Ok(report)
}
