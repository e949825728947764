//! Local nodes started by the bench: `urbis dev`, or an N-validator testnet of `urbis node`s, as
//! child processes of the `urbis` binary, on a temporary directory. Children are killed when the
//! cluster is dropped (including on error).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_core::SecretKey;

/// How long a node may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

pub struct NodeProc {
    pub name: String,
    pub api: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Child,
}

pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    pub admin: SecretKey,
    dir: tempfile::TempDir,
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("find a free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// A base port with `n` free consecutive ports for the API and `n` more for p2p.
fn free_port_range(n: usize) -> anyhow::Result<(u16, u16)> {
    for _ in 0..50 {
        let base = free_port()?;
        if u32::from(base) + 2 * n as u32 >= 65_000 {
            continue;
        }
        let ok =
            (0..2 * n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return Ok((base, base + n as u16));
        }
    }
    bail!("no range of {} free loopback ports found", 2 * n)
}

/// The nodes' temporary directory; kept (and named on stderr) when `URBIS_BENCH_KEEP` is set,
/// so that their logs and data can be read after the run.
fn work_dir() -> anyhow::Result<tempfile::TempDir> {
    let keep = std::env::var_os("URBIS_BENCH_KEEP").is_some();
    let dir = tempfile::Builder::new()
        .prefix("urbis-bench-")
        .disable_cleanup(keep)
        .tempdir()?;
    if keep {
        eprintln!("keeping the nodes' directory {}", dir.path().display());
    }
    Ok(dir)
}

fn spawn(exe: &Path, args: &[&std::ffi::OsStr], log: &Path) -> anyhow::Result<Child> {
    let file = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(args).stdout(Stdio::null()).stderr(file);
    if std::env::var_os("RUST_LOG").is_none() {
        // Node logs go to a file; keep them to warnings so logging costs nothing measurable.
        cmd.env("RUST_LOG", "warn");
    }
    cmd.spawn()
        .with_context(|| format!("start {}", exe.display()))
}

impl Cluster {
    /// `urbis dev` on a fresh temporary data directory.
    pub fn start_dev(exe: &Path, block_time_ms: u64) -> anyhow::Result<Cluster> {
        Cluster::start_dev_with(exe, block_time_ms, |_, _| {})
    }

    /// [`Cluster::start_dev`] with a genesis changed by `patch` (given the genesis JSON and
    /// the dev admin's key) before the node first starts: accounts, assets, module settings.
    pub fn start_dev_with(
        exe: &Path,
        block_time_ms: u64,
        patch: impl FnOnce(&mut serde_json::Value, &SecretKey),
    ) -> anyhow::Result<Cluster> {
        let dir = work_dir()?;
        let data_dir = dir.path().join("dev");
        let (_, admin, genesis) = urbis_node::dev::prepare(&data_dir)?;
        let mut json = serde_json::to_value(&genesis)?;
        patch(&mut json, &admin);
        std::fs::write(
            data_dir.join("genesis.json"),
            serde_json::to_vec_pretty(&json)?,
        )?;
        let port = free_port()?;
        let api = format!("127.0.0.1:{port}");
        let log = dir.path().join("dev.log");
        let keystore = dir.path().join("keystore.json");
        let bt = block_time_ms.to_string();
        let child = spawn(
            exe,
            &[
                "--keystore".as_ref(),
                keystore.as_os_str(),
                "dev".as_ref(),
                "--data-dir".as_ref(),
                data_dir.as_os_str(),
                "--api".as_ref(),
                api.as_ref(),
                "--block-time-ms".as_ref(),
                bt.as_ref(),
            ],
            &log,
        )?;
        let mut cluster = Cluster {
            nodes: vec![NodeProc {
                name: "dev".into(),
                api: format!("http://{api}"),
                data_dir: data_dir.clone(),
                log,
                child,
            }],
            // Replaced once the node has written its keys.
            admin: SecretKey::from_label("placeholder"),
            dir,
        };
        cluster.wait_ready()?;
        let keys: serde_json::Value = serde_json::from_slice(
            &std::fs::read(data_dir.join("dev-keys.json")).context("read dev-keys.json")?,
        )
        .context("parse dev-keys.json")?;
        let seed = keys["admin_seed"]
            .as_str()
            .context("dev-keys.json has no admin_seed")?;
        cluster.admin = parse_seed(seed)?;
        Ok(cluster)
    }

    /// An `n`-validator testnet on loopback (`urbis testnet --init-only` layout), each validator
    /// an `urbis node` process.
    pub fn start_testnet(exe: &Path, n: usize, block_time_ms: u64) -> anyhow::Result<Cluster> {
        let dir = work_dir()?;
        let (base_api, base_p2p) = free_port_range(n)?;
        let configs = urbis_node::config::init_testnet(
            dir.path(),
            n,
            "urbis-bench",
            base_api,
            base_p2p,
            block_time_ms,
            None,
        )?;
        let admin = urbis_node::config::read_key(&dir.path().join("admin.key"), || {
            anyhow::bail!("a local testnet's admin key is not sealed")
        })?;
        let mut nodes = Vec::new();
        for (i, cfg) in configs.iter().enumerate() {
            let node_dir = cfg.parent().context("config has a parent")?.to_path_buf();
            let log = node_dir.join("node.log");
            let child = spawn(
                exe,
                &["node".as_ref(), "--config".as_ref(), cfg.as_os_str()],
                &log,
            )?;
            nodes.push(NodeProc {
                name: format!("node{i}"),
                api: format!("http://127.0.0.1:{}", base_api + i as u16),
                data_dir: node_dir.join("data"),
                log,
                child,
            });
        }
        let mut cluster = Cluster { nodes, admin, dir };
        cluster.wait_ready()?;
        Ok(cluster)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Block until every node answers `/readyz` with 200, failing early if one exits.
    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = probe::Probe;
        let start = Instant::now();
        for node in &mut self.nodes {
            let url = format!("{}/readyz", node.api);
            loop {
                if let Some(status) = node.child.try_wait()? {
                    bail!(
                        "{} exited ({status}) before it was ready: {}",
                        node.name,
                        tail(&node.log)
                    );
                }
                if http.get(&url)? {
                    break;
                }
                if start.elapsed() > READY_TIMEOUT {
                    bail!(
                        "{} not ready after {READY_TIMEOUT:?}: {}",
                        node.name,
                        tail(&node.log)
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// Peak resident set (`VmHWM`) of each node, in bytes.
    pub fn peak_rss(&self) -> Vec<Option<u64>> {
        self.nodes.iter().map(|n| vm_hwm(n.child.id())).collect()
    }

    /// Current resident set (`VmRSS`) of each node, in bytes.
    pub fn rss(&self) -> Vec<Option<u64>> {
        self.nodes
            .iter()
            .map(|n| proc_status_kb(n.child.id(), "VmRSS:"))
            .collect()
    }

    /// Bytes on disk of each node's data directory.
    pub fn disk_usage(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| dir_bytes(&n.data_dir)).collect()
    }

    /// Whether any node has exited; names it with the end of its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for node in &mut self.nodes {
            if let Some(status) = node.child.try_wait()? {
                bail!("{} exited ({status}): {}", node.name, tail(&node.log));
            }
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn parse_seed(hex_seed: &str) -> anyhow::Result<SecretKey> {
    let bytes = hex::decode(hex_seed.trim()).context("seed is not hex")?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("seed must be 32 bytes"))?;
    Ok(SecretKey::from_seed(seed))
}

/// `VmHWM` of a process, in bytes (Linux only).
pub fn vm_hwm(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmHWM:")
}

/// A `kB` field of `/proc/<pid>/status`, in bytes.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line
        .trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Bytes allocated on disk under `dir` (block counts, so sparse or preallocated files count for
/// what they use).
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt as _;
                    total += meta.blocks() * 512;
                }
                #[cfg(not(unix))]
                {
                    total += meta.len();
                }
            }
        }
    }
    total
}

/// The last lines of a log file, on one line.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(5);
    format!("log {}: {}", log.display(), lines[start..].join(" | "))
}

mod probe {
    //! A minimal blocking GET for readiness polling (the bench's async runtime is not running
    //! while nodes start).
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;
    use std::time::Duration;

    pub struct Probe;

    impl Probe {
        /// Whether `url` (`http://host:port/path`) answers 200.
        pub fn get(&self, url: &str) -> anyhow::Result<bool> {
            let rest = url
                .strip_prefix("http://")
                .ok_or_else(|| anyhow::anyhow!("expected an http:// URL: {url}"))?;
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let Ok(mut s) = TcpStream::connect(host) else {
                return Ok(false);
            };
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            if s.write_all(req.as_bytes()).is_err() {
                return Ok(false);
            }
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            Ok(buf.starts_with(b"HTTP/1.1 200"))
        }
    }
}
