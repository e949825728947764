//! Running a validator: storage, consensus and executor inside one Commonware tokio runtime, the
//! HTTP API on a runtime of its own (so that no load on the API can take threads from
//! consensus).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use commonware_codec::DecodeExt as _;
use commonware_cryptography::{Signer as _, ed25519};
use commonware_runtime::{Metrics as _, Runner as _, Supervisor as _, tokio as cw_tokio};
use tracing::{info, warn};
use urbis_consensus::{MempoolConfig, ProposerConfig, Shared};
use urbis_core::SecretKey;
use urbis_runtime::Genesis;
use urbis_state::{ChainStore, EventIndex};

use crate::api::{self, ApiLimits, ApiRuntime, ApiState};

/// Most blocks the event indexer takes in one write transaction.
const INDEX_BATCH: u64 = 64;

/// The runtime context every node component runs on.
pub type Ctx = cw_tokio::Context;

/// What a node does (see [`crate::config::NodeRole`]).
pub enum Role {
    Validator {
        /// The validator's consensus key (32-byte Ed25519 seed).
        key: SecretKey,
        /// p2p listen address.
        p2p: SocketAddr,
        /// Every validator's consensus key and p2p address (this node included).
        peers: Vec<(urbis_core::PublicKey, SocketAddr)>,
    },
    Full {
        /// Base URLs of the node APIs it follows.
        follow: Vec<String>,
        /// On a first start, take the state at a recent certified height from them instead of
        /// replaying the chain from genesis.
        state_sync: bool,
    },
}

/// Everything needed to run one node.
pub struct NodeSpec {
    pub data_dir: PathBuf,
    pub genesis: Genesis,
    pub role: Role,
    pub api: SocketAddr,
    pub block_time: Duration,
    pub mempool: MempoolConfig,
    /// The API's threads and limits.
    pub api_limits: ApiLimits,
    /// Stops the node when it resolves (besides Ctrl-C); used by tests and embedders.
    pub shutdown: Option<futures::channel::oneshot::Receiver<()>>,
}

/// Facts about a started node, handed to the caller once the API is listening.
pub struct Started {
    pub api: SocketAddr,
    pub chain_id: String,
}

/// Convert an Urbis secret key into the consensus signer.
pub fn consensus_signer(key: &SecretKey) -> anyhow::Result<ed25519::PrivateKey> {
    let signer = ed25519::PrivateKey::decode(bytes::Bytes::copy_from_slice(key.seed()))
        .map_err(|e| anyhow::anyhow!("validator key: {e}"))?;
    let pk = urbis_consensus::app::to_public_key(&signer.public_key());
    if pk != key.public_key() {
        bail!("validator key derivation mismatch");
    }
    Ok(signer)
}

/// Run a node until Ctrl-C (or a fatal error). Blocks the calling thread.
pub fn run(spec: NodeSpec, on_started: Box<dyn FnOnce(&Started) + Send>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&spec.data_dir)
        .with_context(|| format!("create data directory {}", spec.data_dir.display()))?;
    let validator = match &spec.role {
        Role::Validator { key, .. } => {
            let me = key.public_key();
            if spec.genesis.epoch_length.is_none()
                && !spec.genesis.validators.iter().any(|v| v.public_key == me)
            {
                bail!("this node's validator key {me} is not in the genesis validator set");
            }
            Some((me, consensus_signer(key)?))
        }
        Role::Full { .. } => None,
    };
    let api_runtime = ApiRuntime::new(&spec.api_limits).context("start the API runtime")?;
    let api_handle = api_runtime.handle().clone();
    let cfg = cw_tokio::Config::new()
        .with_storage_directory(spec.data_dir.join("store"))
        .with_worker_threads(2)
        .with_catch_panics(false);
    let runner = cw_tokio::Runner::new(cfg);
    let result = runner.start(|context| async move {
        let chain = Arc::new(
            ChainStore::open(&spec.data_dir.join("chain.redb"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let runtime = crate::runtime(&spec.genesis.chain_id);
        let sources = match &spec.role {
            Role::Full { follow, .. } => Some(crate::follow::Sources::new(follow.clone())?),
            Role::Validator { .. } => None,
        };
        if let (
            Some(sources),
            Role::Full {
                state_sync: true, ..
            },
        ) = (&sources, &spec.role)
            && chain
                .executed_height()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .is_none()
        {
            info!("empty data directory: syncing the state from the nodes followed");
            crate::follow::state_sync(&context, &chain, &spec.genesis, &runtime, sources).await?;
        }
        let chain_id = spec.genesis.chain_id.clone();
        let shared = Arc::new(
            Shared::open(
                context.child("state"),
                "",
                chain,
                spec.genesis,
                runtime,
                spec.mempool,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        info!(
            chain_id = %chain_id,
            validator = ?validator.as_ref().map(|(me, _)| me.to_string()),
            height = shared.executed_height(),
            "state opened"
        );
        let (executor, blob_link, upstream) = match (spec.role, validator) {
            (Role::Validator { p2p, peers, .. }, Some((_, signer))) => {
                let proposer = ProposerConfig {
                    block_time: spec.block_time,
                    ..ProposerConfig::default()
                };
                let mut keys = Vec::new();
                for (pk, addr) in &peers {
                    let key = commonware_cryptography::ed25519::PublicKey::decode(
                        bytes::Bytes::copy_from_slice(pk.raw()),
                    )
                    .map_err(|e| anyhow::anyhow!("validator key {pk}: {e}"))?;
                    keys.push((key, *addr));
                }
                let running = urbis_consensus::start_networked(
                    context.child("consensus"),
                    shared.clone(),
                    signer,
                    proposer,
                    p2p,
                    keys,
                )
                .await;
                (running.executor, running.blobs, None)
            }
            (Role::Full { .. }, _) => {
                let sources =
                    sources.ok_or_else(|| anyhow::anyhow!("a full node without sources"))?;
                let executor = crate::follow::start(&context, shared.clone(), sources.clone());
                (executor, None, Some(sources))
            }
            (Role::Validator { .. }, None) => bail!("a validator without a key"),
        };

        let metrics_ctx = context.child("metrics");
        // The event index follows the chain store on a thread of its own.
        let events = Arc::new(
            EventIndex::open(&spec.data_dir.join("events.redb"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let blobs = Arc::new(
            crate::blobs::BlobStore::open(
                &spec.data_dir.join("blobs"),
                crate::blobs::DEFAULT_MAX_BLOB,
                crate::blobs::DEFAULT_QUOTA,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let vault = Arc::new(
            crate::vault::Vault::open(&spec.data_dir.join("vault"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let shredder = crate::vault::Shredder::new(vault.clone(), blobs.clone());
        let indexer_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let (events, chain, stop, counters) = (
                events.clone(),
                shared.chain.clone(),
                indexer_stop.clone(),
                shared.counters.clone(),
            );
            std::thread::Builder::new()
                .name("urbis-indexer".into())
                .spawn(move || {
                    // The index may lag under load; consensus, execution and the door come
                    // first (the lowest priority: it runs on what they leave; searches say
                    // up to which height they are complete). On Linux a nice value is per
                    // thread: this lowers the indexer's alone.
                    #[cfg(unix)]
                    if let Err(e) = rustix::process::nice(19) {
                        tracing::debug!(%e, "cannot lower the indexer's priority");
                    }
                    // Index commits are flushed to disk about once a second (the index is
                    // derived: after a crash it resumes from its last flushed height).
                    // Once caught up it waits a little between batches: one transaction
                    // for several blocks costs much less than one per block.
                    let mut flushed = std::time::Instant::now();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let durable = flushed.elapsed() >= Duration::from_secs(1);
                        let indexed =
                            urbis_consensus::shared::Counters::cpu(&counters.cpu_index_us, || {
                                events.catch_up(&chain, INDEX_BATCH, durable)
                            });
                        // Erased records are shredded here once their erasure is indexed.
                        if let Err(e) = shredder.catch_up(&events, &chain) {
                            warn!(%e, "shredding erased records failed; retrying");
                        }
                        match indexed {
                            Ok(0) => std::thread::sleep(Duration::from_millis(50)),
                            Ok(n) => {
                                if durable {
                                    flushed = std::time::Instant::now();
                                }
                                if n < INDEX_BATCH {
                                    std::thread::sleep(Duration::from_millis(200));
                                }
                            }
                            Err(e) => {
                                warn!(%e, "event indexing failed; retrying");
                                std::thread::sleep(Duration::from_secs(1));
                            }
                        }
                    }
                })
                .context("start the event indexer")?;
        }
        let mut state = ApiState::new(
            shared.clone(),
            events,
            blobs.clone(),
            vault,
            Arc::new(move || metrics_ctx.encode()),
            spec.block_time,
            spec.api_limits.clone(),
        );
        state.upstream = upstream;
        state.sync_ops = Some(crate::follow::spawn_ops_server(&context, shared.clone()));
        if let Some(link) = blob_link {
            let sink = Arc::new(crate::vault::VaultSync {
                shared: shared.clone(),
                vault: state.vault.clone(),
            });
            let peers = shared.sets.current_set().keys.len().saturating_sub(1);
            state.replicator = Some(crate::replicate::Replicator::start(
                blobs, sink, link, peers,
            ));
        }
        state.start_renderer(&api_handle);
        let listener = {
            let _guard = api_handle.enter();
            let std_listener = std::net::TcpListener::bind(spec.api)
                .with_context(|| format!("bind API address {}", spec.api))?;
            std_listener.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let api_addr = listener.local_addr()?;
        let app = api::router(state);
        // A client that stops reading (a silent event subscriber, say) can make the node queue
        // only this much in the kernel for it, instead of the autotuned megabytes.
        let send_buffer = spec.api_limits.send_buffer_bytes;
        let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp| {
            let sock = socket2::SockRef::from(&*tcp);
            if let Err(e) = sock.set_send_buffer_size(send_buffer) {
                tracing::debug!(%e, "cannot bound an API connection's send buffer");
            }
            let _ = tcp.set_nodelay(true);
        });
        api_handle.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                warn!(%e, "API server stopped");
            }
        });
        info!(api = %api_addr, "API listening");
        on_started(&Started {
            api: api_addr,
            chain_id: chain_id.clone(),
        });

        let shutdown = async move {
            match spec.shutdown {
                Some(rx) => {
                    let _ = rx.await;
                }
                None => futures::future::pending::<()>().await,
            }
        };
        let mut halted = shared.halted.subscribe();
        let halt = async move {
            let _ = halted.wait_for(Option::is_some).await;
            halted.borrow().clone().unwrap_or_default()
        };
        let result = tokio::select! {
            why = halt => Err(anyhow::anyhow!("node halted: {why}")),
            () = shutdown => {
                info!("shutdown requested");
                Ok(())
            }
            r = tokio::signal::ctrl_c() => {
                r.context("install Ctrl-C handler")?;
                info!("shutting down");
                Ok(())
            }
            r = executor => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(anyhow::anyhow!("executor failed: {e}")),
                Err(e) => Err(anyhow::anyhow!("executor task ended: {e:?}")),
            },
        };
        indexer_stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = shared.auth.lock().await.sync().await {
            warn!(%e, "final state sync failed (the next start replays the journal)");
        }
        result
    });
    api_runtime.shutdown();
    result
}
