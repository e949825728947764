//! Every command except `dev`.

use std::path::{Path, PathBuf};

use clap::Parser as _;
use serde::Serialize;
use serde_json::json;
use urbis_accounts::AccountsCall;
use urbis_assets::AssetsCall;
use urbis_client::keystore::{is_valid_name, parse_seed};
use urbis_client::{
    Client, ClientError, Keystore, KeystoreError, ProofBundle, Protection, QueryResult,
    ReceiptBundle, Signer, TxStatus, verify_proof, verify_query, verify_receipt,
};
use urbis_core::{Address, Call, SecretKey};
use urbis_rewards::RewardsCall;
use urbis_runtime::Genesis;

use crate::cli::{
    AccountsTx, AssetsTx, Cli, Command, EventsCmd, KeysCmd, ModuleQuery, Output, ProveOpts,
    QueryCmd, RewardsTx, TxCmd, TxOpts, VerifyArgs,
};
use crate::passphrase::{self, Passphrase, Source};
use crate::{fail, output, values};

/// Largest proof or genesis file read.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) struct Ctx {
    pub(crate) node: String,
    keystore_path: Option<PathBuf>,
    pub(crate) passphrase: Source,
    pub(crate) out: Output,
}

impl Ctx {
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.node)?)
    }

    pub(crate) fn keystore_path(&self) -> anyhow::Result<PathBuf> {
        match &self.keystore_path {
            Some(p) => Ok(p.clone()),
            None => Ok(Keystore::default_path()?),
        }
    }

    pub(crate) fn keystore(&self) -> anyhow::Result<Keystore> {
        Ok(Keystore::open(self.keystore_path()?)?)
    }

    /// The secret key `name`, asking for the passphrase only if it is sealed.
    pub(crate) fn secret(&self, ks: &Keystore, name: &str) -> anyhow::Result<SecretKey> {
        let pass = if ks.is_sealed(name)? {
            Some(self.passphrase.get(&format!("key {name:?}"))?)
        } else {
            None
        };
        Ok(ks.get(name, pass.as_deref().map(String::as_str))?)
    }

    /// The passphrase new keys are sealed with: the keystore's (checked against its keys), or,
    /// for a keystore without sealed keys yet, a new one (asked twice on a terminal).
    pub(crate) fn passphrase_for_new_key(&self, ks: &Keystore) -> anyhow::Result<Passphrase> {
        if ks.has_sealed_keys() {
            self.passphrase.get("the keystore")
        } else {
            match &self.passphrase.file {
                Some(_) => self.passphrase.get("the keystore"),
                None => Source::new_passphrase("the keystore", None, passphrase::ENV),
            }
        }
    }

    /// An address given as `urbis1…` or as the name of a key in the keystore.
    pub(crate) fn resolve_address(&self, text: &str) -> anyhow::Result<Address> {
        if let Ok(addr) = text.parse::<Address>() {
            return Ok(addr);
        }
        let bad_address = || {
            let reason = text
                .parse::<Address>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            fail(
                "invalid_argument",
                format!("{text:?} is not a valid address: {reason}"),
            )
        };
        if !is_valid_name(text) {
            return Err(bad_address());
        }
        let ks = self.keystore()?;
        match ks.entry(text) {
            Ok(e) => Ok(e.address),
            Err(_) if text.starts_with("urbis1") => Err(bad_address()),
            Err(_) => Err(fail(
                "invalid_argument",
                format!(
                    "{text:?} is neither an address nor a key in {}",
                    ks.path().display()
                ),
            )),
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx {
        node: cli.node,
        keystore_path: cli.keystore,
        passphrase: Source::new(cli.passphrase_file),
        out: cli.output,
    };
    match cli.command {
        Command::Dev(_)
        | Command::Init(_)
        | Command::Genesis(_)
        | Command::Node(_)
        | Command::Testnet(_)
        | Command::Bench(_) => Err(fail(
            "internal",
            "node commands run outside the async runtime",
        )),
        Command::Keys(cmd) => keys(&ctx, cmd),
        Command::Tx(cmd) => tx(&ctx, cmd).await,
        Command::Did(cmd) => crate::identity::did(&ctx, cmd).await,
        Command::Credential(cmd) => crate::identity::credential(&ctx, cmd).await,
        Command::Consent(cmd) => crate::consent::consent(&ctx, cmd).await,
        Command::Blob(cmd) => crate::blob::blob(&ctx, cmd).await,
        Command::Share(cmd) => crate::share::share(&ctx, cmd).await,
        Command::Land(cmd) => crate::land::land(&ctx, cmd).await,
        Command::Record(cmd) => crate::record::record(&ctx, cmd).await,
        Command::Petition(cmd) => crate::petition::petition(&ctx, cmd).await,
        Command::Poll(cmd) => crate::poll::poll(&ctx, cmd).await,
        Command::Notice(cmd) => crate::notice::notice(&ctx, cmd).await,
        Command::Election(cmd) => crate::election::run(&ctx, cmd).await,
        Command::Gov(cmd) => crate::gov::gov(&ctx, cmd).await,
        Command::Workflow(cmd) => crate::workflow::workflow(&ctx, cmd).await,
        Command::Energy(cmd) => crate::energy::energy(&ctx, cmd).await,
        Command::Mobility(cmd) => crate::mobility::mobility(&ctx, cmd).await,
        Command::Waste(cmd) => crate::waste::waste(&ctx, cmd).await,
        Command::Query(cmd) => query(&ctx, cmd).await,
        Command::Block { id } => {
            let block = ctx.client()?.block(id).await?;
            match ctx.out {
                Output::Json => output::json(&block),
                Output::Table => {
                    output::block(&block);
                    Ok(())
                }
            }
        }
        Command::Modules { name, schema } => {
            let answer = ctx.client()?.modules(name.as_deref()).await?;
            let list = match &answer["modules"] {
                serde_json::Value::Array(l) => l.clone(),
                _ => vec![answer.clone()],
            };
            if schema {
                let mut schemas: serde_json::Map<String, serde_json::Value> = list
                    .iter()
                    .filter(|m| !m["call_schema"].is_null())
                    .map(|m| {
                        let name = m["name"].as_str().unwrap_or("").to_string();
                        (name, m["call_schema"].clone())
                    })
                    .collect();
                return match name {
                    None => output::json(&schemas),
                    Some(n) => match schemas.remove(&n) {
                        Some(one) => output::json(&one),
                        None => Err(fail("not_found", format!("module {n} takes no calls"))),
                    },
                };
            }
            match ctx.out {
                Output::Json => output::json(&answer),
                Output::Table => {
                    for m in &list {
                        output::module_summary(m);
                    }
                    Ok(())
                }
            }
        }
        Command::Status => {
            let status = ctx.client()?.status().await?;
            match ctx.out {
                Output::Json => output::json(&status),
                Output::Table => {
                    output::node_status(&status);
                    Ok(())
                }
            }
        }
        Command::Verify(args) => verify(&ctx, args).await,
        Command::Events(EventsCmd::Search {
            module,
            kind,
            account,
            object,
            from_height,
            to_height,
            limit,
            cursor,
        }) => {
            let account = match account {
                Some(a) => Some(ctx.resolve_address(&a)?.to_string()),
                None => None,
            };
            let q = urbis_client::EventQuery {
                module,
                kind,
                account,
                object,
                from_height,
                to_height,
                limit: Some(limit),
                cursor,
            };
            let page = ctx.client()?.search_events(&q).await?;
            match ctx.out {
                Output::Json => output::json(&page),
                Output::Table => {
                    for e in &page.events {
                        println!("{}", serde_json::to_string(e).unwrap_or_default());
                    }
                    if let Some(c) = &page.next_cursor {
                        eprintln!("more: --cursor {c}");
                    }
                    Ok(())
                }
            }
        }
    }
}

// ---------------------------------------------------------------- keys

#[derive(Serialize)]
struct KeyView<'a> {
    name: &'a str,
    public_key: String,
    address: String,
    encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
}

fn print_key(ctx: &Ctx, view: &KeyView<'_>) -> anyhow::Result<()> {
    match ctx.out {
        Output::Json => output::json(view),
        Output::Table => {
            let mut rows = vec![
                ("name", view.name.to_string()),
                ("address", view.address.clone()),
                ("public_key", view.public_key.clone()),
                (
                    "encrypted",
                    if view.encrypted {
                        "yes"
                    } else {
                        "no (in the clear)"
                    }
                    .to_string(),
                ),
            ];
            if let Some(seed) = &view.seed {
                rows.push(("seed", seed.clone()));
            }
            output::rows(&rows);
            Ok(())
        }
    }
}

fn keys(ctx: &Ctx, cmd: KeysCmd) -> anyhow::Result<()> {
    let mut ks = ctx.keystore()?;
    match cmd {
        KeysCmd::New { name } => {
            if !is_valid_name(&name) {
                return Err(KeystoreError::InvalidName(name).into());
            }
            if ks.contains(&name) {
                return Err(KeystoreError::AlreadyExists(name).into());
            }
            let pass = ctx.passphrase_for_new_key(&ks)?;
            let e = ks.create(&name, Protection::Passphrase(&pass))?;
            print_key(
                ctx,
                &KeyView {
                    name: &e.name,
                    public_key: e.public_key.to_text(),
                    address: e.address.to_string(),
                    encrypted: e.encrypted,
                    seed: None,
                },
            )?;
            eprintln!("saved to {}", ks.path().display());
            Ok(())
        }
        KeysCmd::Import { name, seed } => {
            if !is_valid_name(&name) {
                return Err(KeystoreError::InvalidName(name).into());
            }
            let seed = parse_seed(&seed)?;
            if ks.contains(&name) {
                return Err(KeystoreError::AlreadyExists(name).into());
            }
            let pass = ctx.passphrase_for_new_key(&ks)?;
            let e = ks.import(&name, seed, Protection::Passphrase(&pass))?;
            print_key(
                ctx,
                &KeyView {
                    name: &e.name,
                    public_key: e.public_key.to_text(),
                    address: e.address.to_string(),
                    encrypted: e.encrypted,
                    seed: None,
                },
            )
        }
        KeysCmd::Show {
            name,
            reveal_secret,
        } => {
            let e = ks.entry(&name)?;
            let seed = if reveal_secret {
                Some(hex::encode(ctx.secret(&ks, &name)?.seed()))
            } else {
                None
            };
            print_key(
                ctx,
                &KeyView {
                    name: &e.name,
                    public_key: e.public_key.to_text(),
                    address: e.address.to_string(),
                    encrypted: e.encrypted,
                    seed,
                },
            )
        }
        KeysCmd::ChangePassphrase {
            new_passphrase_file,
        } => {
            let old = if ks.has_sealed_keys() {
                let old = ctx.passphrase.get("the keystore (current)")?;
                ks.check_passphrase(&old)?;
                Some(old)
            } else {
                None
            };
            let new = Source::new_passphrase(
                "the keystore",
                new_passphrase_file.as_deref(),
                passphrase::ENV_NEW,
            )?;
            let n = ks.change_passphrase(old.as_deref().map(String::as_str), &new)?;
            match ctx.out {
                Output::Json => output::json(&json!({ "sealed": n })),
                Output::Table => {
                    println!("{n} keys sealed with the new passphrase");
                    Ok(())
                }
            }
        }
        KeysCmd::List => {
            let list = ks.list();
            match ctx.out {
                Output::Json => output::json(&list),
                Output::Table => {
                    if list.is_empty() {
                        eprintln!("no keys in {}", ks.path().display());
                        return Ok(());
                    }
                    let width = list.iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
                    println!(
                        "{:<width$}  {:<45}  {:<9}  PUBLIC KEY",
                        "NAME", "ADDRESS", "ENCRYPTED"
                    );
                    for e in &list {
                        println!(
                            "{:<width$}  {:<45}  {:<9}  {}",
                            e.name,
                            e.address.to_string(),
                            if e.encrypted { "yes" } else { "no" },
                            e.public_key.to_text()
                        );
                    }
                    Ok(())
                }
            }
        }
    }
}

// ---------------------------------------------------------------- transactions

async fn tx(ctx: &Ctx, cmd: TxCmd) -> anyhow::Result<()> {
    let (opts, call) = match cmd {
        TxCmd::Status { hash, prove, out } => {
            let client = ctx.client()?;
            if prove {
                let mut committed = client.tx_proven(&hash).await?;
                let bundle = committed.proof.take().ok_or_else(|| {
                    fail(
                        "decode",
                        "asked for a proof, but the node's answer has none",
                    )
                })?;
                if let Some(out) = &out {
                    let text = serde_json::to_string_pretty(&bundle)
                        .map_err(|e| fail("internal", format!("cannot render the proof: {e}")))?;
                    std::fs::write(out, text + "\n")
                        .map_err(|e| fail("io", format!("{}: {e}", out.display())))?;
                    eprintln!("receipt bundle written to {}", out.display());
                } else {
                    committed.proof = Some(bundle);
                }
                let status = TxStatus::Committed(committed);
                return match ctx.out {
                    Output::Json => output::json(&status),
                    Output::Table => {
                        output::tx_status(&status);
                        Ok(())
                    }
                };
            }
            let status = client.tx(&hash).await?;
            return match ctx.out {
                Output::Json => output::json(&status),
                Output::Table => {
                    output::tx_status(&status);
                    Ok(())
                }
            };
        }
        TxCmd::Accounts(cmd) => accounts_call(ctx, cmd)?,
        TxCmd::Rewards(cmd) => rewards_call(ctx, cmd)?,
        TxCmd::Assets(cmd) => assets_call(ctx, cmd)?,
        TxCmd::Call { tx, module, json } => (tx, json_call(&module, &json)?),
    };
    send(ctx, &opts, call).await
}

fn accounts_call(ctx: &Ctx, cmd: AccountsTx) -> anyhow::Result<(TxOpts, Call)> {
    let (opts, call) = match cmd {
        AccountsTx::GrantRole { tx, account, role } => (
            tx,
            AccountsCall::GrantRole {
                account: ctx.resolve_address(&account)?,
                role,
            },
        ),
        AccountsTx::RevokeRole { tx, account, role } => (
            tx,
            AccountsCall::RevokeRole {
                account: ctx.resolve_address(&account)?,
                role,
            },
        ),
        AccountsTx::SetLabel { tx, label } => (tx, AccountsCall::SetLabel { label }),
    };
    Ok((opts, Call::new(urbis_accounts::MODULE, &call)))
}

fn rewards_call(ctx: &Ctx, cmd: RewardsTx) -> anyhow::Result<(TxOpts, Call)> {
    let (opts, call) = match cmd {
        RewardsTx::CreateProgram {
            tx,
            name,
            category,
            budget,
            cap,
            period_ms,
            non_transferable,
        } => (
            tx,
            RewardsCall::CreateProgram {
                name,
                category,
                budget,
                cap_per_period: cap,
                period_ms,
                transferable: !non_transferable,
            },
        ),
        RewardsTx::Award {
            tx,
            program,
            to,
            amount,
            reason,
        } => (
            tx,
            RewardsCall::Award {
                program,
                to: ctx.resolve_address(&to)?,
                amount,
                reason,
            },
        ),
        RewardsTx::Transfer {
            tx,
            program,
            to,
            amount,
        } => (
            tx,
            RewardsCall::Transfer {
                to: ctx.resolve_address(&to)?,
                program,
                amount,
            },
        ),
        RewardsTx::Redeem {
            tx,
            merchant,
            program,
            amount,
            item,
        } => (
            tx,
            RewardsCall::Redeem {
                merchant: ctx.resolve_address(&merchant)?,
                program,
                amount,
                item,
            },
        ),
        RewardsTx::SetProgramActive {
            tx,
            program,
            active,
        } => (tx, RewardsCall::SetProgramActive { program, active }),
    };
    Ok((opts, Call::new(urbis_rewards::MODULE, &call)))
}

fn assets_call(ctx: &Ctx, cmd: AssetsTx) -> anyhow::Result<(TxOpts, Call)> {
    let (opts, call) = match cmd {
        AssetsTx::Create {
            tx,
            symbol,
            name,
            decimals,
        } => (
            tx,
            AssetsCall::CreateAsset {
                symbol,
                name,
                decimals,
            },
        ),
        AssetsTx::Issue {
            tx,
            symbol,
            to,
            amount,
        } => (
            tx,
            AssetsCall::Issue {
                symbol,
                to: ctx.resolve_address(&to)?,
                amount,
            },
        ),
        AssetsTx::Burn { tx, symbol, amount } => (tx, AssetsCall::Burn { symbol, amount }),
        AssetsTx::Transfer {
            tx,
            symbol,
            to,
            amount,
        } => (
            tx,
            AssetsCall::Transfer {
                symbol,
                to: ctx.resolve_address(&to)?,
                amount,
            },
        ),
    };
    Ok((opts, Call::new(urbis_assets::MODULE, &call)))
}

/// Sign with `--from`, submit, and print the outcome; a failed receipt is an error.
pub(crate) async fn send(ctx: &Ctx, opts: &TxOpts, call: Call) -> anyhow::Result<()> {
    send_for_receipt(ctx, opts, call).await.map(drop)
}

/// [`send`], returning the receipt once executed (`None` with `--no-wait`).
pub(crate) async fn send_for_receipt(
    ctx: &Ctx,
    opts: &TxOpts,
    call: Call,
) -> anyhow::Result<Option<urbis_core::Receipt>> {
    let key: SecretKey = ctx.secret(&ctx.keystore()?, &opts.from)?;
    let client = ctx.client()?;
    let signer = Signer::for_node(&client, key).await?;
    let tx = signer.sign_next(&client, call).await?;
    if opts.no_wait {
        let status = client.submit(&tx).await?;
        match ctx.out {
            Output::Json => output::json(&status)?,
            Output::Table => println!("{}", status.hash()),
        }
        return Ok(None);
    }
    let committed = client.submit_and_wait(&tx).await?;
    let receipt = committed.receipt.clone();
    let status = TxStatus::Committed(committed);
    match ctx.out {
        Output::Json => output::json(&status)?,
        Output::Table => output::tx_status(&status),
    }
    Ok(Some(urbis_client::check_receipt(receipt)?))
}

/// A call from its JSON form (`-`: standard input), encoded here.
fn json_call(module: &str, text: &str) -> anyhow::Result<Call> {
    let text = if text == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| fail("io", format!("standard input: {e}")))?
    } else {
        text.to_string()
    };
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| fail("schema_mismatch", format!("the call is not JSON: {e}")))?;
    Ok(urbis_client::json_call(module, &json)?)
}

// ---------------------------------------------------------------- queries

async fn query(ctx: &Ctx, cmd: QueryCmd) -> anyhow::Result<()> {
    let (module, path, prove): (String, Vec<String>, ProveOpts) = match cmd {
        QueryCmd::List {
            module,
            path,
            limit,
            cursor,
            all,
        } => return list(ctx, &module, &path, limit, cursor, all).await,
        QueryCmd::Account { address, prove } => (
            "accounts".into(),
            vec!["account".into(), ctx.resolve_address(&address)?.to_string()],
            prove,
        ),
        QueryCmd::Balance { address, prove } => (
            "rewards".into(),
            vec!["balance".into(), ctx.resolve_address(&address)?.to_string()],
            prove,
        ),
        QueryCmd::Program { id, prove } => (
            "rewards".into(),
            vec!["program".into(), id.to_string()],
            prove,
        ),
        QueryCmd::Supply { prove } => ("rewards".into(), vec!["supply".into()], prove),
        QueryCmd::Redemption { id, prove } => (
            "rewards".into(),
            vec!["redemption".into(), id.to_string()],
            prove,
        ),
        QueryCmd::Raw {
            module,
            path,
            prove,
        } => (module, path, prove),
        QueryCmd::Module(args) => {
            let mut args = args.into_iter();
            let module = args.next().unwrap_or_default();
            let q = ModuleQuery::try_parse_from(args)
                .map_err(|e| fail("invalid_argument", e.to_string().trim_end().to_string()))?;
            let path = q.path;
            let is_list = q.limit.is_some()
                || q.cursor.is_some()
                || q.all
                || urbis_client::is_list_query(
                    &module,
                    &path.iter().map(String::as_str).collect::<Vec<_>>(),
                );
            if is_list {
                if q.prove.prove {
                    return Err(fail(
                        "invalid_argument",
                        "lists are not proven; prove one entry at a time",
                    ));
                }
                return list(ctx, &module, &path, q.limit.unwrap_or(100), q.cursor, q.all).await;
            }
            (module, path, q.prove)
        }
    };
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let mut result = ctx.client()?.query(&module, &segments, prove.prove).await?;

    if !prove.prove {
        return print_query(ctx, &result);
    }
    let bundle = result.proof.take().ok_or_else(|| {
        fail(
            "decode",
            "asked for a proof, but the node's answer has none",
        )
    })?;
    if let Some(out) = &prove.out {
        let text = serde_json::to_string_pretty(&bundle)
            .map_err(|e| fail("internal", format!("cannot render the proof: {e}")))?;
        std::fs::write(out, text + "\n")
            .map_err(|e| fail("io", format!("{}: {e}", out.display())))?;
        print_query(ctx, &result)?;
        eprintln!("proof written to {}", out.display());
        return Ok(());
    }
    match ctx.out {
        Output::Json => {
            result.proof = Some(bundle);
            output::json(&result)
        }
        Output::Table => {
            // Keep stdout a pure bundle (redirect it to a file for `urbis verify`).
            eprintln!(
                "{} = {} at height {}",
                result.key,
                render_value(&result.value),
                result.height
            );
            output::json(&bundle)
        }
    }
}

/// `urbis query list`: one page, or every page with `--all`; JSON lines of entries.
async fn list(
    ctx: &Ctx,
    module: &str,
    path: &[String],
    limit: usize,
    mut cursor: Option<String>,
    all: bool,
) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let mut items = Vec::new();
    loop {
        let page = client
            .query_list(module, &segments, limit, cursor.as_deref())
            .await?;
        items.extend(page.items);
        cursor = page.next_cursor;
        if !all || cursor.is_none() {
            break;
        }
    }
    match ctx.out {
        Output::Json => output::json(&json!({ "items": items, "next_cursor": cursor })),
        Output::Table => {
            for item in &items {
                println!("{item}");
            }
            if let Some(c) = cursor {
                eprintln!("more: --cursor {c}");
            }
            Ok(())
        }
    }
}

fn render_value(v: &serde_json::Value) -> String {
    if v.is_null() {
        "absent".to_string()
    } else {
        v.to_string()
    }
}

fn print_query(ctx: &Ctx, result: &QueryResult) -> anyhow::Result<()> {
    match ctx.out {
        Output::Json => output::json(result),
        Output::Table => {
            output::rows(&[
                ("key", result.key.clone()),
                ("height", result.height.to_string()),
            ]);
            if result.value.is_null() {
                println!("value   absent");
            } else {
                let text = serde_json::to_string_pretty(&result.value)
                    .map_err(|e| fail("internal", format!("cannot render JSON: {e}")))?;
                println!("value:\n{text}");
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- verify

pub(crate) fn read_json_file(path: &Path, what: &str) -> anyhow::Result<serde_json::Value> {
    let meta =
        std::fs::metadata(path).map_err(|e| fail("io", format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(
            "too_large",
            format!("{} is larger than {MAX_FILE_BYTES} bytes", path.display()),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| fail("io", format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        fail(
            "malformed",
            format!("{} is not a valid {what} (JSON): {e}", path.display()),
        )
    })
}

/// A bundle file, or a query answer (`--output json … --prove`) that contains one.
enum ProofInput {
    Bundle(ProofBundle),
    Answer(QueryResult),
    Receipt(Box<ReceiptBundle>),
}

fn read_proof(path: &Path) -> anyhow::Result<ProofInput> {
    let value = read_json_file(path, "proof bundle")?;
    // A receipt bundle, or a transaction answer (`tx status --prove --output json`) with one.
    let receipt_bundle = if value.get("receipt").is_some() && value.get("path").is_some() {
        Some(value.clone())
    } else {
        value
            .get("proof")
            .filter(|p| p.get("receipt").is_some())
            .cloned()
    };
    if let Some(b) = receipt_bundle {
        let bundle: ReceiptBundle = serde_json::from_value(b).map_err(|e| {
            fail(
                "malformed",
                format!("{} is not a valid receipt bundle: {e}", path.display()),
            )
        })?;
        return Ok(ProofInput::Receipt(Box::new(bundle)));
    }
    let is_answer = value.get("proof").is_some() && value.get("state").is_none();
    if is_answer {
        let answer: QueryResult = serde_json::from_value(value).map_err(|e| {
            fail(
                "malformed",
                format!("{} is not a valid query answer: {e}", path.display()),
            )
        })?;
        return Ok(ProofInput::Answer(answer));
    }
    let bundle: ProofBundle = serde_json::from_value(value).map_err(|e| {
        fail(
            "malformed",
            format!("{} is not a valid proof bundle: {e}", path.display()),
        )
    })?;
    Ok(ProofInput::Bundle(bundle))
}

/// A module's answer to `path` (`null` when there is nothing there).
pub(crate) async fn module_value(
    ctx: &Ctx,
    module: &str,
    path: &[&str],
) -> anyhow::Result<serde_json::Value> {
    match ctx.client()?.query(module, path, false).await {
        Ok(a) => Ok(a.value),
        Err(e) if e.is(urbis_core::ErrorCode::NotFound) => Ok(serde_json::Value::Null),
        Err(e) => Err(e.into()),
    }
}

/// The first `limit` items of a module's list query.
pub(crate) async fn module_items(
    ctx: &Ctx,
    module: &str,
    path: &[&str],
    limit: usize,
) -> anyhow::Result<Vec<serde_json::Value>> {
    Ok(ctx
        .client()?
        .query_list(module, path, limit, None)
        .await?
        .items)
}

/// The genesis (validator set) proofs are checked against: the file given, or, with a warning
/// that `what` then trusts the node, the one the node serves.
pub(crate) async fn trusted_genesis(
    ctx: &Ctx,
    path: Option<&Path>,
    what: &str,
) -> anyhow::Result<Genesis> {
    match path {
        Some(path) => serde_json::from_value(read_json_file(path, "genesis file")?).map_err(|e| {
            fail(
                "malformed",
                format!("{} is not a valid genesis file: {e}", path.display()),
            )
        }),
        None => {
            eprintln!(
                "warning: no --genesis given; fetching the genesis (validator set) from {}, so {what} trusts that node",
                ctx.node
            );
            ctx.client()?.genesis().await.map_err(|e: ClientError| {
                fail(
                    "http",
                    format!("cannot fetch the genesis from {}: {e}", ctx.node),
                )
            })
        }
    }
}

async fn verify(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<()> {
    let input = read_proof(&args.proof)?;
    let genesis = trusted_genesis(ctx, args.genesis.as_deref(), "this check").await?;
    let verified = match &input {
        ProofInput::Bundle(b) => verify_proof(b, &genesis)?,
        ProofInput::Answer(a) => verify_query(a, &genesis)?,
        ProofInput::Receipt(b) => {
            let v = verify_receipt(b, &genesis)?;
            return match ctx.out {
                Output::Json => output::json(&json!({
                    "ok": true,
                    "chain_id": v.chain_id,
                    "receipt": v.receipt,
                    "certified_height": v.certified_height,
                    "certified_block": v.certified_block,
                    "validators": v.validators,
                })),
                Output::Table => {
                    let r = &v.receipt;
                    let outcome = match &r.error {
                        None => "succeeded".to_string(),
                        Some(e) => format!("failed with {}", e.code),
                    };
                    println!(
                        "OK: transaction {} {outcome} at height {}, index {}, with {} events (certified by block {} {}, finalized by the {}-validator set of chain {})",
                        r.tx_hash,
                        r.height,
                        r.index,
                        r.events.len(),
                        v.certified_height,
                        v.certified_block,
                        v.validators,
                        v.chain_id
                    );
                    Ok(())
                }
            };
        }
    };
    let key = verified.key_text();
    // A query answer: the answer recomputed from the proven bytes; a bare bundle: the bytes.
    let value = match &verified.answer {
        Some(answer) if !answer.is_null() => Some(answer.clone()),
        _ => verified.value.as_deref().map(|v| values::describe(&key, v)),
    };
    match ctx.out {
        Output::Json => output::json(&json!({
            "ok": true,
            "chain_id": verified.chain_id,
            "key": key,
            "value": value,
            "value_hex": verified.value.as_deref().map(hex::encode),
            "state_height": verified.state_height,
            "certified_height": verified.certified_height,
            "certified_block": verified.certified_block,
            "validators": verified.validators,
        })),
        Output::Table => {
            let shown = value
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "absent".into());
            println!(
                "OK: {key} = {shown} at height {} (certified by block {} {}, finalized by the {}-validator set of chain {})",
                verified.state_height,
                verified.certified_height,
                verified.certified_block,
                verified.validators,
                verified.chain_id,
            );
            Ok(())
        }
    }
}

/// The SHA-256 of a file (documents whose hash alone goes on chain).
pub(crate) fn file_hash(path: &Path) -> anyhow::Result<urbis_core::Hash> {
    use sha2::Digest as _;
    let bytes = std::fs::read(path).map_err(|e| fail("io", format!("{}: {e}", path.display())))?;
    Ok(urbis_core::Hash(sha2::Sha256::digest(&bytes).into()))
}

/// This machine's clock in milliseconds since 1970 (for deadlines a client proposes; the
/// chain judges them against block time).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
