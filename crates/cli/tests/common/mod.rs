//! Shared helpers for integration tests: an in-process dev node on port 0 in a temp dir.
#![allow(dead_code, clippy::unwrap_used)]

pub mod changes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use urbis_core::SecretKey;
use urbis_node::dev::{DevOptions, DevReady};

pub struct TestNode {
    pub api: SocketAddr,
    pub url: String,
    pub admin: SecretKey,
    pub chain_id: String,
    /// Chain id and genesis hash, as transactions are signed for them.
    pub chain: urbis_core::ChainRef,
    pub data_dir: PathBuf,
    pub genesis_path: PathBuf,
    stop: Option<futures::channel::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestNode {
    /// Start a dev chain in a fresh temp dir.
    pub fn start() -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("dev");
        let mut node = TestNode::start_in(data_dir);
        node._dir = Some(dir);
        node
    }

    /// Start a dev chain in a fresh temp dir, with these API limits.
    pub fn start_with_limits(limits: urbis_node::api::ApiLimits) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut node = TestNode::start_in_with(dir.path().join("dev"), limits);
        node._dir = Some(dir);
        node
    }

    /// Start (or restart) a dev chain in `data_dir`.
    pub fn start_in(data_dir: PathBuf) -> TestNode {
        TestNode::start_in_with(data_dir, Default::default())
    }

    fn start_in_with(data_dir: PathBuf, api_limits: urbis_node::api::ApiLimits) -> TestNode {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel();
        let opts = DevOptions {
            genesis_patch: None,
            data_dir: Some(data_dir),
            api: "127.0.0.1:0".parse().unwrap(),
            block_time: Duration::from_millis(50),
            reset: false,
            api_limits,
            shutdown: Some(stop_rx),
        };
        let thread = std::thread::spawn(move || {
            urbis_node::dev::run(
                opts,
                Box::new(move |r: &DevReady| {
                    let _ = ready_tx.send((
                        r.api,
                        r.admin.clone(),
                        r.chain_id.clone(),
                        r.data_dir.clone(),
                        r.genesis_path.clone(),
                    ));
                }),
            )
        });
        let (api, admin, chain_id, data_dir, genesis_path) = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("dev node did not start");
        wait_ready(&format!("http://{api}"));
        let chain = chain_ref(&format!("http://{api}"));
        TestNode {
            api,
            url: format!("http://{api}"),
            admin,
            chain_id,
            chain,
            data_dir,
            genesis_path,
            stop: Some(stop_tx),
            thread: Some(thread),
            _dir: None,
        }
    }

    /// Stop cleanly and wait for the node thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Wait until `/readyz` answers 200 (the node has executed the chain it knows of). Plain
/// HTTP over std, so that it can be called from async tests too.
pub fn wait_ready(base: &str) {
    use std::io::{Read as _, Write as _};
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let ready = || -> std::io::Result<bool> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out.starts_with("HTTP/1.1 200"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if ready().unwrap_or(false) {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("node at {base} never became ready");
}

/// The chain id and genesis hash a node serves (`/v1/status`), for signing. Plain HTTP over
/// std, so that it can be called from async tests too.
pub fn chain_ref(base: &str) -> urbis_core::ChainRef {
    use std::io::{Read as _, Write as _};
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split_once("\r\n\r\n").expect("HTTP response").1;
    let status: serde_json::Value = serde_json::from_str(body).expect("status JSON");
    urbis_core::ChainRef::new(
        status["chain_id"].as_str().expect("chain id"),
        status["genesis_hash"]
            .as_str()
            .expect("genesis hash")
            .parse()
            .expect("hash"),
    )
}

// ---- helpers for tests that run `urbis` as child processes ----

/// Kills node processes however the test ends (a panic included).
pub struct Nodes(pub Vec<Option<std::process::Child>>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `urbis` against a test node with a keystore in `dir`; `ok` asserts success and gives
/// stdout.
pub struct Cli<'a> {
    pub node: &'a TestNode,
    pub dir: &'a std::path::Path,
}

impl Cli<'_> {
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        run_cli(&self.node.url, self.dir, args)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(r.0, "{args:?}: {} {}", r.1, r.2);
        r.1
    }

    /// The command fails, naming `code`.
    pub fn fails(&self, args: &[&str], code: &str) {
        let r = self.run(args);
        assert!(
            !r.0 && r.2.contains(code),
            "{args:?} should fail with {code}: {} {}",
            r.1,
            r.2
        );
    }

    /// The command's `--output json` answer.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--output", "json"];
        full.extend_from_slice(args);
        serde_json::from_str(&self.ok(&full)).expect("a JSON answer")
    }

    /// The dev chain's admin key as `admin`, and a new key for each `(name, role)` holding
    /// that role.
    pub fn accounts(&self, accounts: &[(&str, &str)]) {
        let seed = hex::encode(self.node.admin.seed());
        self.ok(&["keys", "import", "admin", "--seed", &seed]);
        for (name, role) in accounts {
            self.ok(&["keys", "new", name]);
            self.ok(&[
                "tx",
                "accounts",
                "grant-role",
                "--from",
                "admin",
                "--account",
                name,
                "--role",
                role,
            ]);
        }
    }
}

/// The last line of a command's output (an id it printed).
pub fn last_line(out: &str) -> String {
    out.lines().last().unwrap_or_default().trim().to_string()
}

/// A small city for the portal's tests: `roads` (a department and officer of the `roads`
/// governance department) and `carol` (a citizen), the reward program "Green commute", a 2027
/// budget line roads/maintenance of 1000 set by the resolution "Budget 2027", and Carol's
/// petition "Benches on Elm Square". Returns the document file the ledger entries name.
pub fn seed_city(cli: &Cli) -> String {
    cli.accounts(&[("roads", "department"), ("carol", "citizen")]);
    let doc = cli.dir.join("budget.pdf");
    std::fs::write(&doc, "The 2027 budget.\n").expect("write a document");
    let doc = doc.to_str().expect("a UTF-8 path").to_string();
    cli.ok(&[
        "tx",
        "rewards",
        "create-program",
        "--from",
        "admin",
        "--name",
        "Green commute",
        "--category",
        "public_transport",
        "--budget",
        "5000",
        "--cap",
        "10",
        "--period-ms",
        "86400000",
    ]);
    cli.ok(&[
        "gov",
        "department",
        "--from",
        "admin",
        "roads",
        "--name",
        "Roads",
    ]);
    cli.ok(&["gov", "officer", "--from", "admin", "roads", "roads"]);
    let budget = last_line(&cli.ok(&[
        "gov",
        "decide",
        "--from",
        "admin",
        "--kind",
        "resolution",
        "--department",
        "roads",
        "--category",
        "maintenance",
        "--title",
        "Budget 2027",
        "--document",
        &doc,
    ]));
    cli.ok(&[
        "gov",
        "appropriate",
        "--from",
        "admin",
        "--year",
        "2027",
        "--department",
        "roads",
        "--category",
        "maintenance",
        "--amount",
        "1000",
        "--decision",
        &budget,
    ]);
    cli.ok(&[
        "petition",
        "open",
        "--from",
        "carol",
        "--title",
        "Benches on Elm Square",
        "--text",
        &doc,
        "--threshold",
        "50",
        "--days",
        "30",
        "--answer-days",
        "30",
    ]);
    doc
}

/// The transaction hash and height of the first indexed event of `module` (the event index
/// follows execution closely, not instantly: this waits for it).
pub fn first_event(cli: &Cli, module: &str) -> (String, u64) {
    let mut events = serde_json::Value::Null;
    wait_until(
        &format!("an event of {module} is indexed"),
        Duration::from_secs(20),
        || {
            events = cli.json(&["events", "search", "--module", module]);
            events["events"][0]["tx_hash"].is_string()
        },
    );
    let e = &events["events"][0];
    (
        e["tx_hash"].as_str().unwrap_or_default().to_string(),
        e["height"].as_u64().unwrap_or_default(),
    )
}

/// A keystore name's address.
pub fn address_of(cli: &Cli, name: &str) -> String {
    cli.json(&["keys", "show", name])["address"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A portal page of `node` (redirects followed): asserts an HTML 200 and returns its text.
pub fn page(node: &TestNode, path: &str) -> String {
    let r = reqwest::blocking::get(format!("{}{path}", node.url)).expect("the node answers");
    assert_eq!(r.status().as_u16(), 200, "{path}");
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("text/html"), "{path}: {kind}");
    r.text().expect("a text page")
}

/// A base port with `2 * n` free ports after it (API ports, then p2p ports), below the
/// ephemeral range.
pub fn free_base(n: usize) -> u16 {
    for attempt in 0..200u16 {
        let base = 20_000 + (std::process::id() as u16 % 1000) * 20 + attempt * 7;
        let ok =
            (0..2 * n as u16).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return base;
        }
    }
    panic!("no free ports");
}

/// Write an `n`-validator loopback testnet under `d` (`urbis testnet --init-only`); the API
/// URLs.
pub fn init_testnet(d: &std::path::Path, n: usize, chain_id: &str) -> Vec<String> {
    init_testnet_with(d, n, chain_id, &[])
}

/// [`init_testnet`] with more `urbis testnet` arguments (e.g. `--epoch-length`).
pub fn init_testnet_with(
    d: &std::path::Path,
    n: usize,
    chain_id: &str,
    extra: &[&str],
) -> Vec<String> {
    let base = free_base(n);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
        .args([
            "testnet",
            "--validators",
            &n.to_string(),
            "--init-only",
            "--dir",
        ])
        .arg(d)
        .args([
            "--base-api",
            &base.to_string(),
            "--base-p2p",
            &(base + n as u16).to_string(),
        ])
        .args(["--block-time-ms", "100", "--chain-id", chain_id])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (0..n)
        .map(|i| format!("http://127.0.0.1:{}", base + i as u16))
        .collect()
}

/// Start validator `i` of a testnet written by [`init_testnet`], logging to its directory.
pub fn start_validator(d: &std::path::Path, i: usize) -> std::process::Child {
    let log = std::fs::File::create(d.join(format!("node{i}/test.log"))).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
        .args(["node", "--config"])
        .arg(d.join(format!("node{i}/node.toml")))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Every file under `dir`, recursively (files that vanish while a node runs are skipped).
pub fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The files under `dir` whose contents include `needle`.
pub fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .collect()
}

/// The files and directories under `dir` named `name`.
pub fn files_named(dir: &std::path::Path, name: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            if e.file_name().to_string_lossy() == name {
                hits.push(p);
            }
        }
    }
    hits
}

/// GET a JSON document; `None` on any failure or non-2xx status.
pub fn get_json(http: &reqwest::blocking::Client, url: &str) -> Option<serde_json::Value> {
    let r = http.get(url).send().ok()?;
    r.status().is_success().then(|| r.json().ok()).flatten()
}

/// Poll `f` every 50 ms until it holds, or panic after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Wait until every node of the testnet under `d` has produced `min_height` blocks; on a
/// timeout, fail with the tail of each node's log (the first thing to read when a network
/// does not start).
pub fn wait_for_network(d: &std::path::Path, apis: &[String], min_height: u64, limit: Duration) {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let height = |api: &str| {
        get_json(&http, &format!("{api}/v1/status"))
            .and_then(|s| s["height"].as_u64())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if apis.iter().all(|a| height(a) >= min_height) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut report = String::new();
    for (i, api) in apis.iter().enumerate() {
        let log = std::fs::read_to_string(d.join(format!("node{i}/test.log"))).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        report.push_str(&format!(
            "\n--- node {i} ({api}) at height {}:\n{}",
            height(api),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    panic!("the network did not reach height {min_height} in {limit:?}:{report}");
}

/// A key from a file or JSON field holding a 32-byte hex seed.
pub fn key_from_hex(hex_seed: &str) -> SecretKey {
    let seed: [u8; 32] = hex::decode(hex_seed.trim()).unwrap().try_into().unwrap();
    SecretKey::from_seed(seed)
}

/// The admin grants the citizen role to a fresh account named after `label` and `nonce`.
pub fn grant_citizen(
    admin: &SecretKey,
    chain: &urbis_core::ChainRef,
    nonce: u64,
    label: &str,
) -> urbis_core::SignedTx {
    grant_label(chain, admin, nonce, &format!("{label}-{nonce}"))
}

/// Run the `urbis` binary against `node_url` with the keystore `dir/keystore.json` (sealed with
/// a fixed test passphrase): (success, stdout, stderr).
#[allow(dead_code)]
pub fn run_cli(node_url: &str, dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
        .env("URBIS_KEYSTORE", dir.join("keystore.json"))
        .env("URBIS_PASSPHRASE", "cli test passphrase")
        .env_remove("URBIS_PASSPHRASE_FILE")
        .stdin(std::process::Stdio::null())
        .args(["--node", node_url])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---- live-node helpers shared by the verifier tests ----

/// A blocking HTTP client with a generous timeout (proof requests wait for the chain).
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Submit `tx` and wait until it is committed (its receipt may record a failure).
pub fn commit(
    http: &reqwest::blocking::Client,
    url: &str,
    tx: &urbis_core::SignedTx,
) -> urbis_core::Hash {
    let hash = tx.hash();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body = http
            .post(format!("{url}/v1/txs?wait=true"))
            .json(tx)
            .send()
            .unwrap()
            .text()
            .unwrap();
        if !(body.contains("\"nonce_gap\"") || body.contains("\"not_ready\""))
            || std::time::Instant::now() > deadline
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_until(
        "the transaction is committed",
        Duration::from_secs(60),
        || {
            get_json(http, &format!("{url}/v1/txs/{hash}"))
                .is_some_and(|v| v["status"] == "committed")
        },
    );
    hash
}

/// The admin grants the citizen role to the account of label `who`.
pub fn grant_label(
    chain: &urbis_core::ChainRef,
    admin: &SecretKey,
    nonce: u64,
    who: &str,
) -> urbis_core::SignedTx {
    use urbis_accounts::{AccountsCall, Role};
    urbis_core::SignedTx::new(
        chain,
        admin,
        nonce,
        urbis_core::Call::new(
            "accounts",
            &AccountsCall::GrantRole {
                account: SecretKey::from_label(who).address(),
                role: Role::Citizen,
            },
        ),
    )
}

/// A port free on loopback when asked.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `urbis dev` on `dir/chain` (keystore in `dir`), 50 ms blocks, API on `port`.
pub fn spawn_dev(dir: &std::path::Path, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_urbis"))
        .env("URBIS_KEYSTORE", dir.join("keystore.json"))
        .args(["dev", "--data-dir"])
        .arg(dir.join("chain"))
        .args([
            "--api",
            &format!("127.0.0.1:{port}"),
            "--block-time-ms",
            "50",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A test tool: the path in environment variable `env` if set, else what the `.ci/<script>`
/// installer prints (it installs the tool the first time; `needs` says what it needs).
pub fn ci_tool(env: &str, script: &str, needs: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    let out = std::process::Command::new(repo().join(".ci").join(script))
        .output()
        .unwrap_or_else(|e| panic!("run .ci/{script}: {e}"));
    assert!(
        out.status.success(),
        ".ci/{script} failed (it needs {needs}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The headers of a request signed by `key` for the node's blob store or key vault (`tag`):
/// `x-urbis-key`, `x-urbis-time`, `x-urbis-signature` over the body's SHA-256.
pub fn signed_headers(
    key: &SecretKey,
    chain_id: &str,
    tag: &[u8],
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let digest: [u8; 32] = {
        use sha2::Digest as _;
        sha2::Sha256::digest(body).into()
    };
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let msg = urbis_node::blobs::put_message(chain_id, time, &digest);
    let sig = key.sign(tag, &msg);
    vec![
        ("x-urbis-key", key.public_key().to_text()),
        ("x-urbis-time", time.to_string()),
        ("x-urbis-signature", sig.to_hex()),
    ]
}

/// `urbis query account ADDRESS --prove` against `node`, then `urbis verify` of the bundle
/// against the genesis file `genesis`: both must succeed.
pub fn prove_and_verify(
    node: &str,
    address: &str,
    genesis: &std::path::Path,
    out: &std::path::Path,
) {
    let urbis = || std::process::Command::new(env!("CARGO_BIN_EXE_urbis"));
    let run = urbis()
        .args([
            "--node", node, "query", "account", address, "--prove", "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let run = urbis()
        .arg("verify")
        .arg(out)
        .arg("--genesis")
        .arg(genesis)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("OK"));
}
