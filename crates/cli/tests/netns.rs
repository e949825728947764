//! Validators on separate hosts: each `urbis node` in its own Linux network namespace, joined to
//! the others through veth pairs and a router namespace that delays every packet between
//! validators by 50 ms ± 10 ms and drops 1% (a userspace link emulator on TUN devices: the
//! kernels these machines run have no netem). The network survives a validator cut off and a
//! split with no quorum on either side, both healed, while transactions keep coming.
//!
//! Needs root (or CAP_NET_ADMIN) and `ip` (iproute2); where the machine does not allow network
//! namespaces the test says so on stderr and passes without running (set
//! `URBIS_REQUIRE_NETNS=1` to make that a failure instead). `URBIS_NETNS_BENCH=1` also runs
//! `urbis bench` against 4 and 7 validators over the same links and prints the figures.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{get_json, grant_citizen, key_from_hex, wait_until};
use serde_json::Value;

/// The `urbis` binary the nodes and the bench run (`URBIS_BIN`, else this build's).
fn urbis_bin() -> PathBuf {
    std::env::var_os("URBIS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_urbis")))
}

/// Shown in CI logs even when the test passes (libtest captures only the print macros).
fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "netns: {msg}");
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) {
    ip(args).unwrap();
}

/// Why this machine cannot run the test, if it cannot.
fn unsupported() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("network namespaces are Linux's".into());
    }
    let probe = format!("urbis-probe-{}", std::process::id());
    match ip(&["netns", "add", &probe]) {
        Ok(()) => {
            let _ = ip(&["netns", "del", &probe]);
            None
        }
        Err(e) => Some(format!("cannot make a network namespace ({e})")),
    }
}

/// The namespaces, links and processes of one emulated network; all removed on drop.
///
/// Validator `i` lives in namespace `<tag>v<i>` at `10.A.(i+1).1`, linked by a veth pair to a
/// router namespace `<tag>hub`. The router sends every packet that comes from a validator's
/// link through the link emulator (`netns_router.py`, on two TUN devices: policy routing sends
/// what arrives on a validator link to `tun_in`, what comes out of `tun_out` is routed
/// normally), so each validator-to-validator packet is delayed 50 ms ± 10 ms once, and 1% is
/// lost. The test itself reaches the APIs through a link of its own, undelayed. A cut is a
/// pair of blackhole rules at the router (the cut validator's API stays reachable).
struct Net {
    tag: String,
    /// `10.A`.
    prefix: String,
    hosts: usize,
    nodes: Vec<Option<Child>>,
    router: Option<Child>,
}

const DELAY_MS: &str = "50";
const JITTER_MS: &str = "10";
const LOSS_PERCENT: &str = "1";

impl Net {
    fn new(hosts: usize) -> Net {
        let pid = std::process::id();
        let mut net = Net {
            tag: format!("u{}", pid % 100_000),
            prefix: format!("10.{}", 100 + pid % 100),
            hosts,
            nodes: Vec::new(),
            router: None,
        };
        let (t, p) = (net.tag.clone(), net.prefix.clone());
        let hub = format!("{t}hub");
        must(&["netns", "add", &hub]);
        let sysctl = |key: &str| {
            let status = Command::new("ip")
                .args(["netns", "exec", &hub, "sh", "-c"])
                .arg(format!(
                    "echo {} > /proc/sys/net/ipv4/{key}",
                    if key == "ip_forward" { 1 } else { 0 }
                ))
                .status()
                .unwrap();
            assert!(status.success(), "{key}");
        };
        sysctl("ip_forward");
        sysctl("conf/all/rp_filter");
        sysctl("conf/default/rp_filter");
        must(&["-n", &hub, "link", "set", "lo", "up"]);
        for tun in ["tun_in", "tun_out"] {
            must(&["-n", &hub, "tuntap", "add", "dev", tun, "mode", "tun"]);
            must(&["-n", &hub, "link", "set", tun, "up"]);
        }
        must(&[
            "-n", &hub, "route", "add", "default", "dev", "tun_in", "table", "100",
        ]);
        // The test's own link: undelayed both ways, and never cut.
        let (h, g) = (format!("{t}h"), format!("{t}g"));
        must(&["link", "add", &h, "type", "veth", "peer", "name", &g]);
        must(&["link", "set", &g, "netns", &hub]);
        must(&[
            "-n",
            &hub,
            "addr",
            "add",
            &format!("{p}.250.254/24"),
            "dev",
            &g,
        ]);
        must(&["-n", &hub, "link", "set", &g, "up"]);
        must(&["addr", "add", &format!("{p}.250.1/24"), "dev", &h]);
        must(&["link", "set", &h, "up"]);
        must(&[
            "route",
            "add",
            &format!("{p}.0.0/16"),
            "via",
            &format!("{p}.250.254"),
        ]);
        must(&[
            "-n", &hub, "rule", "add", "iif", &g, "lookup", "main", "priority", "40",
        ]);
        let to_test = format!("{p}.250.0/24");
        must(&[
            "-n", &hub, "rule", "add", "to", &to_test, "lookup", "main", "priority", "50",
        ]);
        for i in 0..hosts {
            let (ns, a, b) = (format!("{t}v{i}"), format!("{t}a{i}"), format!("{t}b{i}"));
            must(&["netns", "add", &ns]);
            must(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
            must(&["link", "set", &a, "netns", &ns]);
            must(&["link", "set", &b, "netns", &hub]);
            must(&[
                "-n",
                &hub,
                "addr",
                "add",
                &format!("{p}.{}.254/24", i + 1),
                "dev",
                &b,
            ]);
            must(&["-n", &hub, "link", "set", &b, "up"]);
            must(&[
                "-n", &hub, "rule", "add", "iif", &b, "lookup", "100", "priority", "100",
            ]);
            must(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", net.host(i)),
                "dev",
                &a,
            ]);
            must(&["-n", &ns, "link", "set", &a, "up"]);
            must(&["-n", &ns, "link", "set", "lo", "up"]);
            must(&[
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &format!("{p}.{}.254", i + 1),
            ]);
        }
        let script = common::repo().join("crates/cli/tests/netns_router.py");
        let mut router = Command::new("ip")
            .args(["netns", "exec", &hub, "python3"])
            .arg(script)
            .args(["tun_in", "tun_out", DELAY_MS, JITTER_MS, LOSS_PERCENT, "1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(router.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready.trim(), "ready", "the link emulator did not start");
        net.router = Some(router);
        net
    }

    fn host(&self, i: usize) -> String {
        format!("{}.{}.1", self.prefix, i + 1)
    }

    fn api(&self, i: usize) -> String {
        format!("http://{}:8545", self.host(i))
    }

    /// Point the testnet under `d` at the namespaces' addresses.
    fn configure(&self, d: &Path) {
        let mut genesis: Value =
            serde_json::from_slice(&std::fs::read(d.join("genesis.json")).unwrap()).unwrap();
        for i in 0..self.hosts {
            let node = d.join(format!("node{i}"));
            let public: Value =
                serde_json::from_slice(&std::fs::read(node.join("validator.json")).unwrap())
                    .unwrap();
            let p2p = format!("{}:9545", self.host(i));
            for v in genesis["validators"].as_array_mut().unwrap() {
                if v["public_key"] == public["public_key"] {
                    v["address"] = Value::String(p2p.clone());
                }
            }
            let toml = std::fs::read_to_string(node.join("node.toml")).unwrap();
            let toml: Vec<String> = toml
                .lines()
                .map(|l| {
                    if l.starts_with("api = ") {
                        format!("api = \"{}:8545\"", self.host(i))
                    } else if l.starts_with("p2p = ") {
                        format!("p2p = \"{p2p}\"")
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            std::fs::write(node.join("node.toml"), toml.join("\n")).unwrap();
        }
        std::fs::write(
            d.join("genesis.json"),
            serde_json::to_vec_pretty(&genesis).unwrap(),
        )
        .unwrap();
    }

    fn start(&mut self, d: &Path) {
        for i in 0..self.hosts {
            let log = std::fs::File::create(d.join(format!("node{i}/test.log"))).unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", &format!("{}v{i}", self.tag)])
                .arg(urbis_bin())
                .args(["node", "--config"])
                .arg(d.join(format!("node{i}/node.toml")))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            self.nodes.push(Some(child));
        }
    }

    /// Cut validator `i` off from the other validators (`cut = true`) or heal the cut.
    fn cut(&self, i: usize, cut: bool) {
        let hub = format!("{}hub", self.tag);
        let subnet = format!("{}.{}.0/24", self.prefix, i + 1);
        let op = if cut { "add" } else { "del" };
        must(&[
            "-n",
            &hub,
            "rule",
            op,
            "from",
            &subnet,
            "blackhole",
            "priority",
            "60",
        ]);
        must(&[
            "-n",
            &hub,
            "rule",
            op,
            "to",
            &subnet,
            "blackhole",
            "priority",
            "61",
        ]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in self
            .nodes
            .iter_mut()
            .chain(std::iter::once(&mut self.router))
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        let t = &self.tag;
        let _ = ip(&["route", "del", &format!("{}.0.0/16", self.prefix)]);
        let _ = ip(&["link", "del", &format!("{t}h")]);
        for i in 0..self.hosts {
            let _ = ip(&["netns", "del", &format!("{t}v{i}")]);
        }
        let _ = ip(&["netns", "del", &format!("{t}hub")]);
    }
}

fn height(http: &reqwest::blocking::Client, api: &str) -> u64 {
    get_json(http, &format!("{api}/v1/status"))
        .and_then(|s| s["height"].as_u64())
        .unwrap_or(0)
}

/// A network of `n` validators in namespaces, producing blocks.
fn network(d: &Path, n: usize) -> Net {
    common::init_testnet(d, n, "netns");
    let mut net = Net::new(n);
    net.configure(d);
    net.start(d);
    let apis: Vec<String> = (0..n).map(|i| net.api(i)).collect();
    common::wait_for_network(d, &apis, 3, Duration::from_secs(120));
    net
}

fn skip() -> bool {
    match unsupported() {
        None => false,
        Some(why) if std::env::var_os("URBIS_REQUIRE_NETNS").is_some() => {
            panic!("URBIS_REQUIRE_NETNS is set but {why}")
        }
        Some(why) => {
            say(&format!("skipped: {why}"));
            true
        }
    }
}

#[test]
fn validators_on_separate_hosts_survive_a_cut_and_a_split() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let net = network(d, 4);
    let apis: Vec<String> = (0..4).map(|i| net.api(i)).collect();
    let http = common::http();
    let admin = key_from_hex(&std::fs::read_to_string(d.join("admin.key")).unwrap());
    let chain = common::chain_ref(&apis[0]);
    let mut nonce = 0;
    // Submit to `api` and wait for the receipt (retrying while the node catches up, as a
    // client switching nodes would).
    let mut send = |api: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = http
                .post(format!("{api}/v1/txs?wait=true"))
                .json(&grant_citizen(&admin, &chain, nonce, "resident"))
                .send();
            if let Ok(r) = r {
                let ok = r.status().is_success();
                let body: Value = r.json().unwrap_or(Value::Null);
                if ok {
                    assert_eq!(body["receipt"]["success"], true, "{body}");
                    nonce += 1;
                    return;
                }
                let code = body["code"].as_str().unwrap_or("");
                assert!(
                    matches!(code, "nonce_gap" | "not_ready" | "timeout" | "duplicate_tx"),
                    "{body}"
                );
            }
            assert!(Instant::now() < deadline, "no receipt from {api}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    send(&apis[0]);

    // One validator cut off: the other three (a quorum) go on, it stands still.
    net.cut(3, true);
    let h3 = height(&http, &apis[3]);
    let h0 = height(&http, &apis[0]);
    for api in [&apis[0], &apis[1], &apis[2]] {
        send(api);
    }
    wait_until("the three to go on", Duration::from_secs(60), || {
        height(&http, &apis[0]) >= h0 + 10
    });
    assert!(
        height(&http, &apis[3]) <= h3 + 1,
        "a validator alone finalized blocks"
    );
    // Healed: it catches up and agrees.
    net.cut(3, false);
    let target = height(&http, &apis[0]);
    wait_until(
        "the cut-off validator to catch up",
        Duration::from_secs(120),
        || height(&http, &apis[3]) >= target,
    );
    send(&apis[3]);

    // A split, two and two (and then one and one of those): no side has a quorum, so nobody
    // finalizes; healed, the chain goes on.
    net.cut(2, true);
    net.cut(3, true);
    std::thread::sleep(Duration::from_secs(2));
    let stalled: Vec<u64> = apis.iter().map(|a| height(&http, a)).collect();
    std::thread::sleep(Duration::from_secs(5));
    for (i, api) in apis.iter().enumerate() {
        assert!(
            height(&http, api) <= stalled[i] + 1,
            "validator {i} finalized without a quorum"
        );
    }
    net.cut(2, false);
    net.cut(3, false);
    let resumed = stalled.iter().max().copied().unwrap_or(0) + 5;
    wait_until(
        "the chain to resume after the split",
        Duration::from_secs(120),
        || apis.iter().all(|a| height(&http, a) >= resumed),
    );
    send(&apis[2]);

    // Everyone holds the same chain.
    let common_height = apis.iter().map(|a| height(&http, a)).min().unwrap();
    let blocks: Vec<Value> = apis
        .iter()
        .map(|a| get_json(&http, &format!("{a}/v1/blocks/{common_height}")).unwrap())
        .collect();
    for b in &blocks[1..] {
        assert_eq!(b["hash"], blocks[0]["hash"]);
        assert_eq!(b["state_root_after"], blocks[0]["state_root_after"]);
    }
    // Every transaction sent is committed, as every node sees it.
    for api in &apis {
        wait_until(
            "every node to hold every transaction",
            Duration::from_secs(30),
            || {
                get_json(&http, &format!("{api}/v1/nonce/{}", admin.address()))
                    .and_then(|n| n["nonce"].as_u64())
                    == Some(nonce)
            },
        );
    }
    say(&format!(
        "4 validators in namespaces ({}): a cut and a 2/2 split healed, {nonce} transactions committed, height {common_height}",
        "50 ms ± 10 ms, 1% loss"
    ));
}

/// `URBIS_NETNS_BENCH=1`: `urbis bench` against 4 and 7 validators in namespaces.
#[test]
fn bench_over_namespaced_links() {
    if std::env::var_os("URBIS_NETNS_BENCH").is_none() || skip() {
        return;
    }
    let txs = std::env::var("URBIS_NETNS_BENCH_TXS").unwrap_or_else(|_| "20000".into());
    for n in [4usize, 7] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let net = network(d, n);
        let seed = std::fs::read_to_string(d.join("admin.key")).unwrap();
        let out: PathBuf = d.join("bench.json");
        let status = Command::new(urbis_bin())
            .args([
                "bench",
                "--target",
                &net.api(0),
                "--admin-seed",
                seed.trim(),
            ])
            .args(["--txs", &txs, "--json"])
            .args(
                std::env::var("URBIS_NETNS_BENCH_RATE")
                    .map(|r| vec!["--rate".to_string(), r])
                    .unwrap_or_default(),
            )
            .stdout(std::fs::File::create(&out).unwrap())
            .status()
            .unwrap();
        assert!(status.success());
        let report = std::fs::read_to_string(&out).unwrap();
        say(&format!(
            "bench, {n} validators ({}): {report}",
            "50 ms ± 10 ms, 1% loss"
        ));
    }
}

/// The council changes the validator set while load runs, across the namespaces' delayed and
/// lossy links: validator 4 (not in the genesis, on its own host from the start) is added,
/// validator 0 removed; then validators 0 and 1 stop and 2, 3, 4 go on (a quorum of the new
/// set only), and a proof certified by the new set verifies from the genesis file.
#[test]
fn council_adds_and_removes_validators_across_namespaces_under_load() {
    if skip() {
        return;
    }
    const EPOCH: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::init_testnet_with(
        d,
        4,
        "netns-changes",
        &["--epoch-length", &EPOCH.to_string()],
    );
    let out = Command::new(urbis_bin())
        .args([
            "init",
            "--insecure-plaintext-key",
            "--name",
            "node4",
            "--dir",
        ])
        .arg(d.join("node4"))
        .args(["--genesis", "../genesis.json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = d.join("node4/node.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace("block_time_ms = 250", "block_time_ms = 100"),
    )
    .unwrap();
    let public: Value =
        serde_json::from_slice(&std::fs::read(d.join("node4/validator.json")).unwrap()).unwrap();
    let key4 = public["public_key"].as_str().unwrap().to_string();

    let mut net = Net::new(5);
    net.configure(d);
    net.start(d);
    let apis: Vec<String> = (0..5).map(|i| net.api(i)).collect();
    common::wait_for_network(d, &apis[..4], 3, Duration::from_secs(120));
    let p2p4 = format!("{}:9545", net.host(4));
    let top = common::changes::run(
        d,
        &[&apis[0], &apis[1], &apis[2], &apis[3], &apis[4]],
        &key4,
        &p2p4,
        EPOCH,
        &mut |i| {
            if let Some(mut c) = net.nodes[i].take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        },
    );
    let loader = urbis_core::SecretKey::from_label("changes-loader").address();
    common::prove_and_verify(
        &apis[2],
        &loader.to_string(),
        &d.join("genesis.json"),
        &d.join("answer.json"),
    );
    say(&format!(
        "validators in namespaces ({}): validator 4 added and validator 0 removed by the council under load, the new set at height {top}, a proof from it verified from genesis",
        "50 ms ± 10 ms, 1% loss"
    ));
}
