//! `urbis election …`: elections on chain (the `voting` module) and their records.
//!
//! Who runs what: the election office `create`s, `open`s and `close`s; each trustee runs
//! `ceremony` (until the joint key is fixed) and later `decrypt`; the registrar runs
//! `credentials` (and `commit`); voters `cast` and `spoil` with their credential file; anyone
//! runs `status`, `export` and `verify`. `demo` simulates a whole election off chain.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use urbis_client::{Client, QueryResult, Signer};
use urbis_core::{Address, Call, Hash, SecretKey};
use urbis_runtime::Genesis;
use urbis_votecrypto::ballot::{
    BallotReveal, BallotStatus, BoardEntry, EncryptedBallot, PlaintextBallot, PlaintextContest,
    check_reveal, encrypt_ballot, sign_ballot,
};
use urbis_votecrypto::context::ElectionContext;
use urbis_votecrypto::dkg::{
    CeremonyRecord, Complaint, EncryptedShare, Trustee, TrusteeAnnouncement, TrusteeSecret,
};
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::manifest::{Credential, Manifest};
use urbis_votecrypto::tally::{ContestAggregate, ContestResult, DecryptionShare, partial_decrypt};
use urbis_votecrypto::{BoardAnchor, DemoOptions, ElectionRecord, demo, verify_record};
use urbis_voting::{Board, MODULE, VotingCall};

use crate::cli::{Output, TxOpts};
use crate::commands::{Ctx, now_ms, send_for_receipt};
use crate::fail;
use crate::identity::print_json;

#[derive(Debug, Subcommand)]
pub enum ElectionCmd {
    /// Create an election (city admin or a department); prints its id.
    Create {
        #[command(flatten)]
        tx: TxOpts,
        /// The manifest (JSON, crypto/votecrypto/SPEC.md); or use --question.
        #[arg(long, conflicts_with = "question")]
        manifest: Option<PathBuf>,
        /// A yes/no referendum on this question (instead of --manifest).
        #[arg(long)]
        question: Option<String>,
        /// Trustees' addresses (or key names), in trustee order 1, 2, …
        #[arg(long = "trustee", required = true)]
        trustees: Vec<String>,
        /// Shares needed to decrypt.
        #[arg(long)]
        threshold: u32,
        /// Who issues the voting credentials.
        #[arg(long)]
        registrar: String,
        /// The eligibility rule the registrar applies.
        #[arg(long)]
        eligibility: String,
        /// Seconds from now until the key ceremony must be complete.
        #[arg(long, default_value_t = 3_600)]
        ceremony_secs: u64,
        /// Seconds from now until the election opens.
        #[arg(long, default_value_t = 7_200)]
        opens_secs: u64,
        /// Seconds it stays open.
        #[arg(long, default_value_t = 86_400)]
        voting_secs: u64,
    },
    /// A trustee's part of the key ceremony: announce, deal, then complain (about bad shares,
    /// or nobody), then keep the key share; each run does the steps the chain is ready for.
    /// STATE holds the trustee's secrets (mode 0600; keep it until the tally).
    Ceremony {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
        #[arg(long)]
        state: PathBuf,
        /// Keep going until the key share is saved (polling the chain).
        #[arg(long)]
        wait: bool,
    },
    /// Fix the key with the trustees who took part (the election's admin, after the
    /// ceremony's end).
    Finalize {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// Issue voting credentials (the registrar), Belenios-style: one credential file per
    /// eligible resident in DIR (hand each over privately), their public keys registered on
    /// chain.
    Credentials {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
        #[arg(long)]
        count: u32,
        #[arg(long)]
        out_dir: PathBuf,
        /// Ballot style of these credentials [default: the manifest's first].
        #[arg(long)]
        style: Option<String>,
        #[arg(long, default_value_t = 1)]
        weight: u64,
        /// Also commit the list (no more credentials after this).
        #[arg(long)]
        commit: bool,
    },
    /// Enroll one resident (the registrar): check their presentation of a resident
    /// credential against the chain (accredited issuer, not revoked, bound to the resident's
    /// key, for audience `urbis-election:ID` and the NONCE you gave them) and against the
    /// rule (--locality, --min-age on the opening day), refuse a credential enrolled before
    /// (ROLL, your private list), then write the resident's voting credential to OUT and
    /// register its public key. Nothing about the resident goes on chain.
    Enroll {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
        #[arg(long)]
        presentation: PathBuf,
        #[arg(long)]
        nonce: String,
        /// Required disclosed `address.locality` (the district).
        #[arg(long)]
        locality: Option<String>,
        /// Minimum age on the opening day (needs a disclosed `birthdate`).
        #[arg(long)]
        min_age: Option<u32>,
        /// The registrar's enrollment roll (created if absent; keep it private).
        #[arg(long)]
        roll: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Commit the credential list (the registrar): fixes the election hash.
    Commit {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// Open now (the election's admin; otherwise it opens at its scheduled time).
    Open {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// Close now (the election's admin; otherwise it closes at its scheduled time).
    Close {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
    },
    /// Cast a ballot with a credential file; prints the confirmation code. A later ballot
    /// replaces it. With --votes, cast many (a polling station's batch).
    Cast {
        id: Hash,
        /// The credential file.
        #[arg(long, required_unless_present = "votes")]
        credential: Option<PathBuf>,
        /// A selection id, or CONTEST=SELECTION (repeat for several).
        #[arg(long = "choice")]
        choices: Vec<String>,
        /// Vote blank in CONTEST.
        #[arg(long)]
        blank: Vec<String>,
        /// Lines of `CREDENTIAL_FILE CHOICE…` to cast in one batch.
        #[arg(long, conflicts_with = "credential")]
        votes: Option<PathBuf>,
    },
    /// Encrypt a ballot and spoil it (Benaloh challenge): the chain publishes its opening and
    /// this command checks that it encrypts your choice. It does not count.
    Spoil {
        id: Hash,
        #[arg(long)]
        credential: PathBuf,
        #[arg(long = "choice")]
        choices: Vec<String>,
        #[arg(long)]
        blank: Vec<String>,
    },
    /// A trustee's decryption share of the closed election's aggregate, with proofs.
    Decrypt {
        #[command(flatten)]
        tx: TxOpts,
        id: Hash,
        #[arg(long)]
        state: PathBuf,
    },
    /// Phase, schedule, board, turnout and result.
    Status { id: Hash },
    /// Write the election record (SPEC.md format) from chain state, with the chain's proof
    /// of the board's head.
    Export {
        id: Hash,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a complete simulated election off chain (key ceremony, ballots with re-votes and
    /// spoiled ballots, one absent trustee, tally) and write its record.
    Demo {
        #[arg(long, default_value_t = 100)]
        ballots: usize,
        #[arg(long, default_value_t = 5)]
        trustees: u32,
        #[arg(long, default_value_t = 3)]
        threshold: u32,
        /// Make the run reproducible.
        #[arg(long)]
        seed: Option<u64>,
        /// A single yes/no contest instead of the multi-contest ballot.
        #[arg(long)]
        referendum: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check every proof, signature, the replacement rule, the aggregation and the result of
    /// an election record, and the chain's proof of its board against the genesis; exits
    /// non-zero naming the first failed check. A record without the chain's anchor fails
    /// unless --unanchored is given.
    Verify {
        record: PathBuf,
        /// Trusted genesis file for the anchor. Without it, the genesis is fetched from
        /// --node, which means trusting that node.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Accept a record that no chain certified (e.g. from `urbis election demo`): its
        /// board is then only as trustworthy as whoever published it, since anyone can drop
        /// or insert entries and recompute the code chain.
        #[arg(long)]
        unanchored: bool,
    },
}

/// A voting credential as handed to a voter (secret: whoever holds it votes).
#[derive(Serialize, Deserialize)]
struct CredentialFile {
    election: Hash,
    /// The Ed25519 seed (hex).
    seed: String,
    public_key: Hex32,
    style: String,
}

/// A trustee's secrets between the ceremony and the tally.
#[derive(Serialize, Deserialize, Default)]
struct TrusteeFile {
    election: Option<Hash>,
    index: u32,
    /// The ceremony state (polynomial, encryption key, shares received).
    state: Option<String>,
    /// The key share once the joint key is fixed.
    share: Option<String>,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    fail("io", format!("{}: {e}", path.display()))
}

/// Write a file only its owner can read.
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| io_err(path, e))?;
    f.write_all(bytes).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        fail(
            "malformed",
            format!("{} is not a {what}: {e}", path.display()),
        )
    })
}

fn call(c: &VotingCall) -> Call {
    Call::new(MODULE, c)
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("votecrypto types serialize")
}

/// A query of the voting module; `None` when the value is absent.
async fn get(client: &Client, path: &[&str]) -> anyhow::Result<Option<serde_json::Value>> {
    let v = client.query(MODULE, path, true).await?.value;
    Ok((!v.is_null()).then_some(v))
}

async fn get_as<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &[&str],
) -> anyhow::Result<Option<T>> {
    get(client, path)
        .await?
        .map(|v| {
            serde_json::from_value(v)
                .map_err(|e| fail("malformed", format!("{}: {e}", path.join("/"))))
        })
        .transpose()
}

async fn election(client: &Client, id: &Hash) -> anyhow::Result<serde_json::Value> {
    get(client, &["election", &id.to_string()])
        .await?
        .ok_or_else(|| fail("not_found", format!("no election {id}")))
}

async fn list_all(client: &Client, path: &[&str]) -> anyhow::Result<Vec<serde_json::Value>> {
    Ok(client.query_list_all(MODULE, path).await?)
}

fn manifest_of(question: Option<String>, file: Option<PathBuf>) -> anyhow::Result<Manifest> {
    match (question, file) {
        (_, Some(path)) => read_json(&path, "manifest"),
        (Some(q), None) => {
            let mut m = urbis_votecrypto::referendum_manifest();
            m.election_id = format!("referendum-{}", now_ms());
            m.name = q.clone();
            m.contests[0].name = q;
            Ok(m)
        }
        (None, None) => Err(fail(
            "invalid_argument",
            "give the ballot as --manifest FILE or --question TEXT",
        )),
    }
}

pub async fn run(ctx: &Ctx, cmd: ElectionCmd) -> anyhow::Result<()> {
    match cmd {
        ElectionCmd::Create {
            tx,
            manifest,
            question,
            trustees,
            threshold,
            registrar,
            eligibility,
            ceremony_secs,
            opens_secs,
            voting_secs,
        } => {
            let manifest = manifest_of(question, manifest)?;
            let trustees = trustees
                .iter()
                .map(|t| ctx.resolve_address(t))
                .collect::<anyhow::Result<Vec<Address>>>()?;
            let now = now_ms();
            let opens_ms = now + opens_secs * 1_000;
            let c = VotingCall::Create {
                manifest: to_json(&manifest),
                trustees,
                threshold,
                registrar: ctx.resolve_address(&registrar)?,
                eligibility,
                ceremony_ends_ms: now + ceremony_secs * 1_000,
                opens_ms,
                closes_ms: opens_ms + voting_secs * 1_000,
            };
            let receipt = send_for_receipt(ctx, &tx, call(&c)).await?;
            if let Some(id) = receipt
                .as_ref()
                .and_then(|r| r.events.iter().find(|e| e.kind == "created"))
                .and_then(|e| e.attr("id"))
            {
                println!("{id}");
            }
            Ok(())
        }
        ElectionCmd::Ceremony {
            tx,
            id,
            state,
            wait,
        } => ceremony(ctx, &tx, id, &state, wait).await,
        ElectionCmd::Finalize { tx, id } => {
            send_for_receipt(ctx, &tx, call(&VotingCall::Finalize { election: id }))
                .await
                .map(drop)
        }
        ElectionCmd::Credentials {
            tx,
            id,
            count,
            out_dir,
            style,
            weight,
            commit,
        } => credentials(ctx, &tx, id, count, &out_dir, style, weight, commit).await,
        ElectionCmd::Commit { tx, id } => commit_list(ctx, &tx, id).await,
        ElectionCmd::Enroll {
            tx,
            id,
            presentation,
            nonce,
            locality,
            min_age,
            roll,
            out,
        } => {
            let rule = Rule { locality, min_age };
            enroll(ctx, &tx, id, &presentation, &nonce, &rule, &roll, &out).await
        }
        ElectionCmd::Open { tx, id } => {
            send_for_receipt(ctx, &tx, call(&VotingCall::Open { election: id }))
                .await
                .map(drop)
        }
        ElectionCmd::Close { tx, id } => {
            send_for_receipt(ctx, &tx, call(&VotingCall::Close { election: id }))
                .await
                .map(drop)
        }
        ElectionCmd::Cast {
            id,
            credential,
            choices,
            blank,
            votes,
        } => match (credential, votes) {
            (_, Some(votes)) => cast_many(ctx, id, &votes).await,
            (Some(cred), None) => {
                let code = vote(ctx, id, &cred, &choices, &blank, false).await?;
                println!("{code}");
                Ok(())
            }
            (None, None) => Err(fail("invalid_argument", "give --credential or --votes")),
        },
        ElectionCmd::Spoil {
            id,
            credential,
            choices,
            blank,
        } => {
            let code = vote(ctx, id, &credential, &choices, &blank, true).await?;
            println!("{code}");
            Ok(())
        }
        ElectionCmd::Decrypt { tx, id, state } => decrypt(ctx, &tx, id, &state).await,
        ElectionCmd::Status { id } => status(ctx, id).await,
        ElectionCmd::Export { id, out } => {
            let record = export(&ctx.client()?, id).await?;
            let text = record
                .to_json_pretty()
                .map_err(|e| fail("election", e.to_string()))?;
            std::fs::write(&out, text).map_err(|e| io_err(&out, e))?;
            eprintln!(
                "wrote {} ({} board entries, anchored at state height {}); check it with: urbis election verify {}",
                out.display(),
                record.ballots.len(),
                record
                    .anchor
                    .as_ref()
                    .and_then(|a| a.proof.get("height"))
                    .cloned()
                    .unwrap_or_default(),
                out.display()
            );
            Ok(())
        }
        ElectionCmd::Demo {
            ballots,
            trustees,
            threshold,
            seed,
            referendum,
            out,
        } => {
            let record = demo(DemoOptions {
                ballots,
                trustees,
                threshold,
                seed,
                referendum,
            })
            .map_err(|e| fail("election", e.to_string()))?;
            let json = record
                .to_json_pretty()
                .map_err(|e| fail("election", e.to_string()))?;
            std::fs::write(&out, json).map_err(|e| io_err(&out, e))?;
            eprintln!(
                "wrote {} ({} trustees, threshold {}, one trustee absent at the tally); check it with: urbis election verify {}",
                out.display(),
                trustees,
                threshold,
                out.display()
            );
            Ok(())
        }
        ElectionCmd::Verify {
            record,
            genesis,
            unanchored,
        } => verify(ctx, &record, genesis.as_deref(), unanchored).await,
    }
}

async fn trustee_signer(ctx: &Ctx, tx: &TxOpts) -> anyhow::Result<(Client, Signer)> {
    let key = ctx.secret(&ctx.keystore()?, &tx.from)?;
    let client = ctx.client()?;
    let signer = Signer::for_node(&client, key).await?;
    Ok((client, signer))
}

async fn submit(client: &Client, signer: &Signer, c: &VotingCall) -> anyhow::Result<()> {
    let tx = signer.sign_next(client, call(c)).await?;
    let committed = client.submit_and_wait(&tx).await?;
    urbis_client::check_receipt(committed.receipt)?;
    Ok(())
}

fn indices(v: &serde_json::Value, field: &str) -> Vec<u32> {
    v[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64().map(|x| x as u32))
                .collect()
        })
        .unwrap_or_default()
}

/// Do every ceremony step the chain is ready for; with `wait`, until the key share is saved.
async fn ceremony(ctx: &Ctx, tx: &TxOpts, id: Hash, path: &Path, wait: bool) -> anyhow::Result<()> {
    let (client, signer) = trustee_signer(ctx, tx).await?;
    let me = signer.address();
    let mut file: TrusteeFile = if path.exists() {
        read_json(path, "trustee state file")?
    } else {
        TrusteeFile::default()
    };
    if file.election.is_some_and(|e| e != id) {
        return Err(fail(
            "invalid_argument",
            format!("{} belongs to another election", path.display()),
        ));
    }
    let ids = id.to_string();
    loop {
        let e = election(&client, &id).await?;
        let trustees: Vec<String> = e["trustees"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let n = trustees.len() as u32;
        let k = e["threshold"].as_u64().unwrap_or(0) as u32;
        let index = trustees
            .iter()
            .position(|t| *t == me.to_string())
            .map(|i| i as u32 + 1)
            .ok_or_else(|| {
                fail(
                    "unauthorized",
                    format!("{me} is not a trustee of election {id}"),
                )
            })?;
        file.election = Some(id);
        file.index = index;
        let phase = e["phase"].as_str().unwrap_or("");
        let (announced, dealt, complained) = (
            indices(&e, "announced"),
            indices(&e, "dealt"),
            indices(&e, "complained"),
        );
        let manifest_hash: Hex32 = serde_json::from_value(e["manifest_hash"].clone())
            .map_err(|x| fail("malformed", x.to_string()))?;
        let mut progressed = false;
        if phase == "ceremony" {
            if !announced.contains(&index) {
                let (t, a) = Trustee::new(index, n, k, manifest_hash, &mut rand::rng())
                    .map_err(|x| fail("election", x.to_string()))?;
                file.state = Some(t.to_json());
                write_secret(path, to_json(&file).as_bytes())?;
                submit(
                    &client,
                    &signer,
                    &VotingCall::Announce {
                        election: id,
                        announcement: to_json(&a),
                    },
                )
                .await?;
                eprintln!("trustee {index}: announced");
                progressed = true;
            } else if announced.len() as u32 == n && !dealt.contains(&index) {
                let anns = announcements(&client, &ids, n).await?;
                let t = state_of(&file)?;
                let shares = t.deal(&anns).map_err(|x| fail("election", x.to_string()))?;
                submit(
                    &client,
                    &signer,
                    &VotingCall::Deal {
                        election: id,
                        shares: to_json(&shares),
                    },
                )
                .await?;
                eprintln!("trustee {index}: dealt {} shares", shares.len());
                progressed = true;
            } else if dealt.len() as u32 == n && !complained.contains(&index) {
                let anns = announcements(&client, &ids, n).await?;
                let mut shares: Vec<EncryptedShare> = Vec::new();
                for i in 1..=n {
                    shares.extend(
                        get_as::<Vec<EncryptedShare>>(&client, &["deal", &ids, &i.to_string()])
                            .await?
                            .unwrap_or_default(),
                    );
                }
                let mut t = state_of(&file)?;
                let complaints: Vec<Complaint> = t
                    .receive(&anns, &shares, &mut rand::rng())
                    .map_err(|x| fail("election", x.to_string()))?;
                file.state = Some(t.to_json());
                write_secret(path, to_json(&file).as_bytes())?;
                submit(
                    &client,
                    &signer,
                    &VotingCall::Complain {
                        election: id,
                        complaints: to_json(&complaints),
                    },
                )
                .await?;
                eprintln!(
                    "trustee {index}: checked its shares ({} complaints)",
                    complaints.len()
                );
                progressed = true;
            }
        } else if phase != "failed" && file.share.is_none() && file.state.is_some() {
            let record: CeremonyRecord = get_as(&client, &["ceremony", &ids])
                .await?
                .ok_or_else(|| fail("not_found", "no ceremony record"))?;
            let secret = state_of(&file)?
                .finish(&record)
                .map_err(|x| fail("election", x.to_string()))?;
            file.share = Some(secret.to_json());
            file.state = None;
            write_secret(path, to_json(&file).as_bytes())?;
            eprintln!(
                "trustee {index}: key share saved in {} (joint key {})",
                path.display(),
                record.joint_public_key
            );
        }
        if phase == "failed" {
            return Err(fail(
                "invalid_state",
                format!(
                    "election {id} failed: {}",
                    e["failure"].as_str().unwrap_or("")
                ),
            ));
        }
        if file.share.is_some() || (!wait && !progressed) {
            if file.share.is_none() {
                eprintln!("trustee {index}: waiting for the other trustees (phase {phase})");
            }
            return Ok(());
        }
        if !progressed {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn state_of(file: &TrusteeFile) -> anyhow::Result<Trustee> {
    let s = file
        .state
        .as_deref()
        .ok_or_else(|| fail("invalid_state", "the trustee file has no ceremony state"))?;
    Trustee::from_json(s).map_err(|x| fail("malformed", x.to_string()))
}

async fn announcements(
    client: &Client,
    ids: &str,
    n: u32,
) -> anyhow::Result<Vec<TrusteeAnnouncement>> {
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(
            get_as(client, &["announcement", ids, &i.to_string()])
                .await?
                .ok_or_else(|| fail("not_found", format!("no announcement of trustee {i}")))?,
        );
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn credentials(
    ctx: &Ctx,
    tx: &TxOpts,
    id: Hash,
    count: u32,
    dir: &Path,
    style: Option<String>,
    weight: u64,
    commit: bool,
) -> anyhow::Result<()> {
    let (client, signer) = trustee_signer(ctx, tx).await?;
    let ids = id.to_string();
    let manifest: Manifest = get_as(&client, &["manifest", &ids])
        .await?
        .ok_or_else(|| fail("not_found", format!("no election {id}")))?;
    let style = match style {
        Some(s) => s,
        None => manifest
            .ballot_styles
            .first()
            .map(|s| s.id.clone())
            .ok_or_else(|| fail("invalid_state", "the manifest has no ballot style"))?,
    };
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut issued = Vec::new();
    for _ in 0..count {
        let (file, credential) = new_credential(id, &style, weight);
        let path = dir.join(format!(
            "credential-{}.json",
            &file.public_key.to_string()[..16]
        ));
        write_secret(&path, to_json(&file).as_bytes())?;
        issued.push(credential);
    }
    for chunk in issued.chunks(urbis_voting::MAX_REGISTER) {
        submit(
            &client,
            &signer,
            &VotingCall::Register {
                election: id,
                credentials: to_json(&chunk),
            },
        )
        .await?;
    }
    eprintln!(
        "issued {count} credentials into {} (hand each file to one eligible resident)",
        dir.display()
    );
    if commit {
        commit_list(ctx, tx, id).await?;
    }
    Ok(())
}

/// The eligibility rule `enroll` applies to a resident credential's disclosed claims.
struct Rule {
    locality: Option<String>,
    min_age: Option<u32>,
}

/// `(year, month, day)` of an ISO date `YYYY-MM-DD…`.
fn ymd(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.get(..10)?;
    if b.as_bytes().get(4) != Some(&b'-') || b.as_bytes().get(7) != Some(&b'-') {
        return None;
    }
    Some((
        b[..4].parse().ok()?,
        b[5..7].parse().ok()?,
        b[8..10].parse().ok()?,
    ))
}

/// Age in whole years on `on`, of someone born on `born`.
fn age_on(born: (i64, u32, u32), on: (i64, u32, u32)) -> i64 {
    on.0 - born.0 - i64::from((on.1, on.2) < (born.1, born.2))
}

#[allow(clippy::too_many_arguments)]
async fn enroll(
    ctx: &Ctx,
    tx: &TxOpts,
    id: Hash,
    presentation: &Path,
    nonce: &str,
    rule: &Rule,
    roll_path: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(presentation).map_err(|e| io_err(presentation, e))?;
    let audience = format!("urbis-election:{id}");
    let report =
        crate::identity::verify_presentation(ctx, text.trim(), &audience, nonce, 600, None).await?;
    let not_eligible = |why: String| fail("not_eligible", why);
    if report["vct"] != "urn:urbis:resident" {
        return Err(not_eligible(format!(
            "a resident credential is needed, this is {}",
            report["vct"]
        )));
    }
    let claims = &report["claims"];
    if let Some(want) = &rule.locality {
        let got = claims["address"]["locality"].as_str();
        if got != Some(want.as_str()) {
            return Err(not_eligible(format!(
                "the rule needs a disclosed address.locality of {want:?}, got {got:?}"
            )));
        }
    }
    let (client, signer) = trustee_signer(ctx, tx).await?;
    let e = election(&client, &id).await?;
    if let Some(min) = rule.min_age {
        let born = claims["birthdate"]
            .as_str()
            .and_then(ymd)
            .ok_or_else(|| not_eligible("the rule needs a disclosed birthdate".into()))?;
        let opens = urbis_node::identity::xml_datetime(e["opens_ms"].as_u64().unwrap_or(0));
        let on = ymd(&opens).ok_or_else(|| fail("malformed", "the opening time"))?;
        if age_on(born, on) < i64::from(min) {
            return Err(not_eligible(format!(
                "the rule needs an age of {min} on the opening day"
            )));
        }
    }
    // One enrollment per credential: the roll keeps a hash of its status entry, which the
    // issuer gives each credential once.
    let entry = {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(b"urbis/election-roll/v1");
        h.update(id.0);
        h.update(report["issuer"].as_str().unwrap_or("").as_bytes());
        h.update(report["status"]["list"].as_u64().unwrap_or(0).to_be_bytes());
        h.update(report["status"]["idx"].as_u64().unwrap_or(0).to_be_bytes());
        hex::encode(h.finalize())
    };
    let mut roll: Vec<String> = if roll_path.exists() {
        read_json(roll_path, "enrollment roll")?
    } else {
        Vec::new()
    };
    if roll.contains(&entry) {
        return Err(fail(
            "already_exists",
            "this resident credential is enrolled already",
        ));
    }
    let manifest: Manifest = get_as(&client, &["manifest", &id.to_string()])
        .await?
        .ok_or_else(|| fail("not_found", format!("no election {id}")))?;
    let style = manifest
        .ballot_styles
        .first()
        .map(|s| s.id.clone())
        .ok_or_else(|| fail("invalid_state", "the manifest has no ballot style"))?;
    let (file, credential) = new_credential(id, &style, 1);
    submit(
        &client,
        &signer,
        &VotingCall::Register {
            election: id,
            credentials: to_json(&[credential]),
        },
    )
    .await?;
    write_secret(out, to_json(&file).as_bytes())?;
    roll.push(entry);
    write_secret(roll_path, to_json(&roll).as_bytes())?;
    eprintln!(
        "enrolled: the voting credential is in {} (hand it to the resident privately)",
        out.display()
    );
    Ok(())
}

/// A fresh voting credential: the voter's file and its public part.
fn new_credential(id: Hash, style: &str, weight: u64) -> (CredentialFile, Credential) {
    let key = SecretKey::generate();
    let public_key = Hex32(key.public_key().raw().try_into().expect("32-byte key"));
    (
        CredentialFile {
            election: id,
            seed: hex::encode(key.seed()),
            public_key,
            style: style.to_string(),
        },
        Credential {
            public_key,
            weight,
            style: style.to_string(),
        },
    )
}

async fn commit_list(ctx: &Ctx, tx: &TxOpts, id: Hash) -> anyhow::Result<()> {
    let (client, signer) = trustee_signer(ctx, tx).await?;
    let e = election(&client, &id).await?;
    let count = e["credentials"].as_u64().unwrap_or(0);
    submit(
        &client,
        &signer,
        &VotingCall::Commit {
            election: id,
            count,
        },
    )
    .await?;
    let e = election(&client, &id).await?;
    eprintln!(
        "committed {count} credentials; election hash {}",
        e["election_hash"].as_str().unwrap_or("")
    );
    Ok(())
}

/// The full context of a committed election, rebuilt from chain state (and checked against
/// the election hash the chain fixed).
async fn context(client: &Client, id: &Hash) -> anyhow::Result<(ElectionContext, CeremonyRecord)> {
    let ids = id.to_string();
    let e = election(client, id).await?;
    let manifest: Manifest = get_as(client, &["manifest", &ids])
        .await?
        .ok_or_else(|| fail("not_found", "no manifest"))?;
    let ceremony: CeremonyRecord = get_as(client, &["ceremony", &ids])
        .await?
        .ok_or_else(|| fail("invalid_state", "the key ceremony is not complete"))?;
    let credentials: Vec<Credential> = list_all(client, &["credentials", &ids])
        .await?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|x| fail("malformed", x.to_string()))?;
    let ctx = ElectionContext::new(manifest, &ceremony, credentials)
        .map_err(|x| fail("election", x.to_string()))?;
    if e["election_hash"].as_str() != Some(ctx.election_hash.to_string().as_str()) {
        return Err(fail(
            "invalid_state",
            "the credential list is not committed yet (or differs from the election hash)",
        ));
    }
    Ok((ctx, ceremony))
}

/// The plaintext ballot for `choices` (selection ids, or CONTEST=SELECTION) and blanks.
fn plaintext(
    ctx: &ElectionContext,
    style: &str,
    choices: &[String],
    blanks: &[String],
) -> anyhow::Result<PlaintextBallot> {
    let style = ctx
        .manifest
        .style(style)
        .ok_or_else(|| fail("invalid_argument", format!("unknown ballot style {style}")))?;
    let mut picked: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in choices {
        let (contest, selection) = match c.split_once('=') {
            Some((contest, sel)) => (contest, sel),
            None if style.contests.len() == 1 => (style.contests[0].as_str(), c.as_str()),
            None => {
                return Err(fail(
                    "invalid_argument",
                    format!("{c:?}: this ballot has several contests; write CONTEST=SELECTION"),
                ));
            }
        };
        picked.entry(contest).or_default().push(selection);
    }
    let mut contests = Vec::new();
    for cid in &style.contests {
        let contest = ctx
            .manifest
            .contest(cid)
            .ok_or_else(|| fail("malformed", format!("unknown contest {cid}")))?;
        let chosen = picked.remove(cid.as_str()).unwrap_or_default();
        let mut selected = vec![false; contest.selections.len()];
        for sel in chosen {
            let i = contest
                .selections
                .iter()
                .position(|s| s.id == sel)
                .ok_or_else(|| {
                    let ids: Vec<&str> = contest.selections.iter().map(|s| s.id.as_str()).collect();
                    fail(
                        "invalid_argument",
                        format!("contest {cid} has no selection {sel:?} (it has {ids:?})"),
                    )
                })?;
            selected[i] = true;
        }
        contests.push(PlaintextContest {
            contest_id: cid.clone(),
            selected,
            blank: blanks.iter().any(|b| b == cid),
        });
    }
    if let Some((extra, _)) = picked.into_iter().next() {
        return Err(fail(
            "invalid_argument",
            format!("contest {extra:?} is not on this ballot"),
        ));
    }
    Ok(PlaintextBallot { contests })
}

/// Encrypt and sign a ballot for `cred` (the sequence after its last one on the board).
async fn prepare(
    client: &Client,
    ctx: &ElectionContext,
    cred: &CredentialFile,
    choices: &[String],
    blanks: &[String],
) -> anyhow::Result<(SecretKey, EncryptedBallot, BallotReveal)> {
    let seed: [u8; 32] = hex::decode(&cred.seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| fail("malformed", "the credential's seed is not 32 bytes of hex"))?;
    let voter = ed25519_dalek::SigningKey::from_bytes(&seed);
    let plain = plaintext(ctx, &cred.style, choices, blanks)?;
    let last = get(
        client,
        &[
            "last",
            &cred.election.to_string(),
            &cred.public_key.to_string(),
        ],
    )
    .await?;
    let sequence = last.and_then(|l| l["sequence"].as_u64()).unwrap_or(0) + 1;
    let (ballot, reveal) = encrypt_ballot(ctx, &voter, &plain, sequence, &mut rand::rng())
        .map_err(|x| fail("invalid_argument", x.to_string()))?;
    Ok((SecretKey::from_seed(seed), ballot, reveal))
}

async fn vote(
    ctx: &Ctx,
    id: Hash,
    cred_path: &Path,
    choices: &[String],
    blanks: &[String],
    spoil: bool,
) -> anyhow::Result<String> {
    let cred: CredentialFile = read_json(cred_path, "credential file")?;
    if cred.election != id {
        return Err(fail(
            "invalid_argument",
            format!("this credential is for election {}", cred.election),
        ));
    }
    let client = ctx.client()?;
    let (ectx, _) = context(&client, &id).await?;
    let (key, mut ballot, reveal) = prepare(&client, &ectx, &cred, choices, blanks).await?;
    let c = if spoil {
        let seed = *key.seed();
        sign_ballot(
            &ectx.election_hash,
            &ed25519_dalek::SigningKey::from_bytes(&seed),
            &mut ballot,
            BallotStatus::Spoiled,
        );
        let opened = check_reveal(&ectx, &ballot, &reveal).map_err(|x| {
            fail(
                "election",
                format!("the device's ballot does not open: {x}"),
            )
        })?;
        eprintln!(
            "the spoiled ballot opens to {}",
            serde_json::to_string(
                &opened
                    .contests
                    .iter()
                    .map(|c| (&c.contest_id, &c.selected))
                    .collect::<Vec<_>>()
            )
            .unwrap_or_default()
        );
        VotingCall::Spoil {
            election: id,
            ballot: to_json(&ballot),
            opening: to_json(&reveal),
        }
    } else {
        VotingCall::Cast {
            election: id,
            ballot: to_json(&ballot),
        }
    };
    let signer = Signer::for_node(&client, key).await?;
    let tx = signer.sign_next(&client, call(&c)).await?;
    let committed = client.submit_and_wait(&tx).await?;
    let receipt = urbis_client::check_receipt(committed.receipt)?;
    receipt
        .events
        .iter()
        .find(|e| e.kind == "cast" || e.kind == "spoiled")
        .and_then(|e| e.attr("code"))
        .map(str::to_string)
        .ok_or_else(|| fail("internal", "the receipt has no confirmation code"))
}

/// Cast every line of `votes` (`CREDENTIAL_FILE CHOICE…`) in batches; prints one
/// confirmation code per line.
async fn cast_many(ctx: &Ctx, id: Hash, votes: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(votes).map_err(|e| io_err(votes, e))?;
    let client = ctx.client()?;
    let (ectx, _) = context(&client, &id).await?;
    let base = votes.parent().unwrap_or(Path::new("."));
    let mut ballots = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(file) = words.next() else { continue };
        let choices: Vec<String> = words.map(String::from).collect();
        let path = base.join(file);
        let cred: CredentialFile = read_json(&path, "credential file")?;
        if cred.election != id {
            return Err(fail(
                "invalid_argument",
                format!("line {}: the credential is for another election", n + 1),
            ));
        }
        ballots.push((cred, choices));
    }
    // Encrypted and signed as a voting device would, 16 voters' chain reads in flight.
    let status = client.status().await?;
    let (client_ref, ectx_ref) = (&client, &ectx);
    let txs: Vec<urbis_core::SignedTx> =
        futures::stream::iter(ballots.iter().map(|(cred, choices)| {
            let chain_id = status.chain_id.clone();
            async move {
                let (key, ballot, _) = prepare(client_ref, ectx_ref, cred, choices, &[]).await?;
                let signer = Signer::new(key, chain_id, status.genesis_hash);
                let c = call(&VotingCall::Cast {
                    election: id,
                    ballot: to_json(&ballot),
                });
                anyhow::Ok(signer.sign_next(client_ref, c).await?)
            }
        }))
        .buffered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let mut hashes = Vec::new();
    for chunk in txs.chunks(500) {
        for (i, r) in client.submit_batch(chunk).await?.into_iter().enumerate() {
            match r {
                Ok(h) => hashes.push(h),
                Err((code, message)) => {
                    return Err(fail(
                        "rejected",
                        format!("ballot {}: {code}: {message}", hashes.len() + i + 1),
                    ));
                }
            }
        }
    }
    let receipts: Vec<anyhow::Result<urbis_core::Receipt>> =
        futures::stream::iter(hashes.iter().map(|h| async move {
            loop {
                match client_ref.tx(h).await?.committed() {
                    Some(c) => break Ok(urbis_client::check_receipt(c.receipt)?),
                    None => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }))
        .buffered(16)
        .collect()
        .await;
    for receipt in receipts {
        if let Some(code) = receipt?
            .events
            .iter()
            .find(|e| e.kind == "cast")
            .and_then(|e| e.attr("code"))
        {
            println!("{code}");
        }
    }
    Ok(())
}

async fn decrypt(ctx: &Ctx, tx: &TxOpts, id: Hash, path: &Path) -> anyhow::Result<()> {
    let (client, signer) = trustee_signer(ctx, tx).await?;
    let file: TrusteeFile = read_json(path, "trustee state file")?;
    let secret = TrusteeSecret::from_json(
        file.share
            .as_deref()
            .ok_or_else(|| fail("invalid_state", "the trustee file holds no key share yet"))?,
    )
    .map_err(|x| fail("malformed", x.to_string()))?;
    let (ectx, _) = context(&client, &id).await?;
    let aggregate: Vec<ContestAggregate> = get_as(&client, &["aggregate", &id.to_string()])
        .await?
        .unwrap_or_else(|| {
            ectx.manifest
                .contests
                .iter()
                .map(|c| ContestAggregate {
                    contest_id: c.id.clone(),
                    ciphertexts: vec![
                        urbis_votecrypto::group::Ciphertext::zero().to_wire();
                        c.selections.len() + usize::from(c.allow_blank)
                    ],
                })
                .collect()
        });
    let share = partial_decrypt(&ectx, &secret, &aggregate, &mut rand::rng())
        .map_err(|x| fail("election", x.to_string()))?;
    submit(
        &client,
        &signer,
        &VotingCall::Decrypt {
            election: id,
            share: to_json(&share),
        },
    )
    .await?;
    let e = election(&client, &id).await?;
    eprintln!(
        "trustee {}: decryption share accepted; {} of {} needed are in{}",
        secret.index,
        indices(&e, "decrypted").len(),
        e["threshold"],
        if e["phase"] == "tallied" {
            ": the result is final"
        } else {
            ""
        }
    );
    Ok(())
}

async fn status(ctx: &Ctx, id: Hash) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let ids = id.to_string();
    let e = election(&client, &id).await?;
    let board = get(&client, &["board", &ids]).await?;
    let result = get(&client, &["result", &ids]).await?;
    let turnout = board
        .as_ref()
        .and_then(|b| b["counted"].as_u64())
        .unwrap_or(0);
    let listed = e["credentials"].as_u64().unwrap_or(0);
    let answer = json!({
        "election": e,
        "board": board,
        "turnout": {"voted": turnout, "credentials": listed},
        "result": result,
    });
    match ctx.out {
        Output::Json => print_json(&answer),
        Output::Table => {
            println!("{} — {}", e["name"].as_str().unwrap_or(""), id);
            println!("phase: {}", e["phase"].as_str().unwrap_or(""));
            if let Some(b) = &board {
                println!(
                    "board: {} entries, head {}",
                    b["entries"],
                    b["head"].as_str().unwrap_or("")
                );
            }
            println!("turnout: {turnout} of {listed} credentials");
            if let Some(r) = result {
                let r: Vec<ContestResult> =
                    serde_json::from_value(r).map_err(|x| fail("malformed", x.to_string()))?;
                for c in r {
                    println!(
                        "{}: {:?}{}",
                        c.contest_id,
                        c.counts,
                        c.blank.map(|b| format!(", blank {b}")).unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
    }
}

/// The record of election `id` from chain state, with the proof of its board.
async fn export(client: &Client, id: Hash) -> anyhow::Result<ElectionRecord> {
    let ids = id.to_string();
    let (ectx, ceremony) = context(client, &id).await?;
    // The anchor first: everything after it is read at the same or a later height, and only
    // the board's first `entries` entries are exported.
    let anchor: QueryResult = client.query(MODULE, &["board", &ids], true).await?;
    let board: Board = serde_json::from_value(anchor.value.clone())
        .map_err(|x| fail("malformed", format!("board: {x}")))?;
    let mut ballots: Vec<BoardEntry> = list_all(client, &["entries", &ids])
        .await?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|x| fail("malformed", x.to_string()))?;
    ballots.truncate(board.entries as usize);
    let e = election(client, &id).await?;
    let mut shares: Vec<DecryptionShare> = Vec::new();
    for t in indices(&e, "decrypted") {
        if let Some(d) = get_as(client, &["decryption", &ids, &t.to_string()]).await? {
            shares.push(d);
        }
    }
    shares.sort_by_key(|d| d.trustee);
    let aggregate: Vec<ContestAggregate> = get_as(client, &["aggregate", &ids])
        .await?
        .unwrap_or_default();
    let result: Vec<ContestResult> = get_as(client, &["result", &ids]).await?.unwrap_or_default();
    let mut record = urbis_voting::record_from_parts(
        ectx.manifest.clone(),
        ceremony,
        ectx.credentials.clone(),
        ectx.election_hash,
        ballots,
        aggregate,
        shares,
        result,
    );
    record.anchor = Some(BoardAnchor {
        entries: board.entries,
        head: Hex32(board.head.0),
        proof: serde_json::to_value(&anchor).map_err(|x| fail("internal", x.to_string()))?,
    });
    Ok(record)
}

/// Check the record's anchor: the proof verifies against `genesis` and proves the board of
/// this election (its hash) with the record's entry count and head.
fn check_anchor(
    record: &ElectionRecord,
    anchor: &BoardAnchor,
    genesis: &Genesis,
) -> Result<String, String> {
    let answer: QueryResult = serde_json::from_value(anchor.proof.clone())
        .map_err(|e| format!("the anchor's proof is not a query answer: {e}"))?;
    if answer.module != MODULE || answer.path.first().map(String::as_str) != Some("board") {
        return Err("the anchor's proof is not of an election board".into());
    }
    let verified = urbis_client::verify_query(&answer, genesis).map_err(|e| e.to_string())?;
    let board: Board = serde_json::from_value(answer.value.clone())
        .map_err(|e| format!("the proven board does not decode: {e}"))?;
    if board.election_hash.0 != record.election_hash.0 {
        return Err("the proven board belongs to another election".into());
    }
    if board.entries != anchor.entries || board.head.0 != anchor.head.0 {
        return Err("the anchor differs from the proven board".into());
    }
    if board.entries != record.ballots.len() as u64 || board.head.0 != record.chain_head.0 {
        return Err(format!(
            "the chain certifies {} entries with head {}, the record has {} with head {}",
            board.entries,
            board.head,
            record.ballots.len(),
            record.chain_head
        ));
    }
    Ok(format!(
        "board of {} entries certified at state height {} by block {} of chain {}",
        board.entries, verified.state_height, verified.certified_height, verified.chain_id
    ))
}

async fn verify(
    ctx: &Ctx,
    path: &Path,
    genesis: Option<&Path>,
    unanchored: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    let record = ElectionRecord::from_json(&text)
        .map_err(|e| fail("malformed", format!("{}: {e}", path.display())))?;
    let mut report = verify_record(&record);
    let checked = match (&record.anchor, unanchored) {
        (Some(anchor), _) => {
            let genesis =
                crate::commands::trusted_genesis(ctx, genesis, "the anchor check").await?;
            check_anchor(&record, anchor, &genesis)
        }
        (None, true) => Ok(
            "not checked (--unanchored): the board is only as trustworthy as its publisher"
                .to_string(),
        ),
        (None, false) => Err(
            "the record carries no anchor, so nothing binds its board to a chain's certified \
             state and dropped or inserted entries cannot be detected; `urbis election export` \
             always writes one (pass --unanchored to check a record made off chain)"
                .to_string(),
        ),
    };
    let (passed, detail) = match checked {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    if !passed && report.first_failure.is_none() {
        report.first_failure = Some(("chain.anchor".into(), detail.clone()));
    }
    report.checks.push(urbis_votecrypto::CheckResult {
        name: "chain.anchor".into(),
        passed,
        detail,
    });
    match ctx.out {
        Output::Json => {
            let checks: Vec<serde_json::Value> = report
                .checks
                .iter()
                .map(|c| json!({"name": c.name, "passed": c.passed, "detail": c.detail}))
                .collect();
            println!(
                "{}",
                json!({"ok": report.first_failure.is_none(), "checks": checks, "first_failure": report.first_failure.as_ref().map(|(n, d)| json!({"check": n, "detail": d}))})
            );
        }
        Output::Table => println!("{}", report.to_string().trim_end()),
    }
    match &report.first_failure {
        None => Ok(()),
        Some((name, detail)) => Err(fail("election_invalid", format!("{name}: {detail}"))),
    }
}
