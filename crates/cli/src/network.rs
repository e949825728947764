//! Consortium commands: `init`, `genesis`, `node`, `testnet`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use urbis_node::config::{self, ValidatorPublic};

use crate::cli::{GenesisArgs, InitArgs, NodeArgs, TestnetArgs};
use crate::fail;

/// Logs to stderr, each line prefixed with the node's name; `RUST_LOG` overrides the filter.
pub fn init_logging(name: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,urbis=info,urbis_node=info,urbis_consensus=info"));
    let prefix = name.map(|n| format!("[{n}] ")).unwrap_or_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(move || Prefixed {
            prefix: prefix.clone(),
            inner: std::io::stderr(),
        })
        .try_init();
}

struct Prefixed {
    prefix: String,
    inner: std::io::Stderr,
}

impl std::io::Write for Prefixed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut lock = self.inner.lock();
        lock.write_all(self.prefix.as_bytes())?;
        lock.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub fn init(args: InitArgs, passphrase: &crate::passphrase::Source) -> anyhow::Result<()> {
    let name = args.name.unwrap_or_else(|| {
        args.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "validator".into())
    });
    if args.full {
        let path = config::init_full(
            &args.dir,
            &name,
            args.api,
            &args.genesis,
            &args.follow,
            args.state_sync,
        )
        .map_err(|e| fail("init", format!("{e:#}")))?;
        eprintln!(
            "wrote {} (a full node: no key; put the chain's genesis file at {} and run `urbis node --config {}`)",
            path.display(),
            args.dir.join(&args.genesis).display(),
            path.display()
        );
        return Ok(());
    }
    let pass = if args.insecure_plaintext_key {
        None
    } else {
        Some(crate::passphrase::Source::new_passphrase(
            "the validator key",
            passphrase.file.as_deref(),
            crate::passphrase::ENV,
        )?)
    };
    let protection = match &pass {
        Some(p) => config::KeyProtection::Passphrase(p),
        None => config::KeyProtection::Plaintext,
    };
    let public = config::init(
        &args.dir,
        &name,
        args.api,
        args.p2p,
        &args.genesis,
        protection,
    )
    .map_err(|e| fail("init", format!("{e:#}")))?;
    println!("{}", serde_json::to_string_pretty(&public)?);
    let sealed = if pass.is_some() {
        "secret, sealed with your passphrase, 0600"
    } else {
        "secret, IN THE CLEAR, 0600"
    };
    eprintln!(
        "wrote {0}/node.toml, {0}/validator.key ({sealed}) and {0}/validator.json (public: send it to whoever assembles the genesis)",
        args.dir.display()
    );
    Ok(())
}

fn read_validator(path: &Path) -> anyhow::Result<ValidatorPublic> {
    let file = if path.is_dir() {
        path.join("validator.json")
    } else {
        path.to_path_buf()
    };
    serde_json::from_slice(
        &std::fs::read(&file).with_context(|| format!("read {}", file.display()))?,
    )
    .with_context(|| format!("parse {}", file.display()))
}

pub fn genesis(args: GenesisArgs) -> anyhow::Result<()> {
    let validators = args
        .validator
        .iter()
        .map(|p| read_validator(p))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|e| fail("genesis", format!("{e:#}")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let g = config::assemble_genesis(
        &args.chain_id,
        &validators,
        &args.admin,
        now,
        args.epoch_length,
    )
    .map_err(|e| fail("genesis", format!("{e:#}")))?;
    std::fs::write(&args.out, serde_json::to_vec_pretty(&g)?)
        .with_context(|| format!("write {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} validators, chain {})",
        args.out.display(),
        g.validators.len(),
        g.chain_id
    );
    Ok(())
}

pub fn node(args: NodeArgs, passphrase: &crate::passphrase::Source) -> anyhow::Result<()> {
    let (cfg, spec) = config::load(&args.config, || passphrase.get("the validator key"))
        .map_err(|e| fail("config", format!("{e:#}")))?;
    init_logging(Some(&cfg.name));
    let name = cfg.name.clone();
    urbis_node::node::run(
        spec,
        Box::new(move |s| {
            println!("{name}: chain {} API http://{}", s.chain_id, s.api);
        }),
    )
    .map_err(|e| fail("node", format!("{e:#}")))
}

fn configs_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in 0.. {
        let p = dir.join(format!("node{i}")).join("node.toml");
        if !p.exists() {
            break;
        }
        out.push(p);
    }
    out
}

pub fn testnet(args: TestnetArgs) -> anyhow::Result<()> {
    let existing = configs_in(&args.dir);
    let configs = if existing.is_empty() {
        config::init_testnet(
            &args.dir,
            usize::from(args.validators),
            &args.chain_id,
            args.base_api,
            args.base_p2p,
            args.block_time_ms,
            args.epoch_length,
        )
        .map_err(|e| fail("testnet", format!("{e:#}")))?
    } else {
        if existing.len() != usize::from(args.validators) {
            return Err(fail(
                "testnet",
                format!(
                    "{} already holds a {}-validator testnet; use another --dir",
                    args.dir.display(),
                    existing.len()
                ),
            ));
        }
        existing
    };
    for c in &configs {
        let cfg = config::load_config(c).map_err(|e| fail("config", format!("{e:#}")))?;
        println!(
            "{}: API http://{}  (config {})",
            cfg.name,
            cfg.api,
            c.display()
        );
    }
    println!(
        "genesis {}; city admin key {} (hex seed: import with `urbis keys import admin --seed $(cat …)`); \
         a local testnet's validator and admin keys are throwaway keys, kept unencrypted",
        args.dir.join("genesis.json").display(),
        args.dir.join("admin.key").display()
    );
    if args.init_only {
        return Ok(());
    }
    let exe = std::env::current_exe().context("locate the urbis binary")?;
    let mut children: Vec<Child> = Vec::new();
    for c in &configs {
        let log = std::fs::File::create(c.with_file_name("node.log"))?;
        let child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(c)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", c.display()))?;
        children.push(child);
    }
    println!(
        "{} validators running; logs in DIR/nodeI/node.log; Ctrl-C stops them",
        children.len()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    // The children got the terminal's SIGINT too; give them time to stop cleanly.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for mut c in children {
        loop {
            match c.try_wait() {
                Ok(Some(_)) => break,
                _ if std::time::Instant::now() > deadline => {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    Ok(())
}
