//! `urbis bench --scenario election`: an election of `--ballots N` yes/no voters end to end on
//! a dev node, each stage timed: credentials (issued, registered, committed), ballots
//! (encrypted and signed by the voters' devices, in parallel), cast (submitted until every
//! ballot is on the board: each checked by the validator's precheck at the door and again at
//! execution unless remembered), close, decryption by 3 of 5 trustees, export of the record
//! from chain state (`urbis election export`) and its verification (`urbis election verify`).
//! The key ceremony (5 trustees, threshold 3) is set-up, not measured.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use urbis_accounts::{AccountsCall, Role};
use urbis_client::{Client, Signer};
use urbis_core::{Call, ErrorCode, Hash, Receipt, SecretKey, SignedTx};
use urbis_votecrypto::ballot::{PlaintextBallot, PlaintextContest, encrypt_ballot};
use urbis_votecrypto::context::ElectionContext;
use urbis_votecrypto::dkg::{CeremonyRecord, Trustee, TrusteeSecret};
use urbis_votecrypto::encoding::Hex32;
use urbis_votecrypto::manifest::Credential;
use urbis_votecrypto::tally::{ContestAggregate, partial_decrypt};
use urbis_voting::{MODULE, VotingCall};

use crate::cluster::Cluster;
use crate::records::{ok, runtime, submit_all};

const TRUSTEES: u32 = 5;
const THRESHOLD: u32 = 3;

/// What the election bench measured (seconds per stage).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ElectionReport {
    pub ballots: usize,
    pub credentials_s: f64,
    pub encrypt_s: f64,
    pub cast_s: f64,
    pub ballots_per_s: f64,
    pub close_s: f64,
    pub decrypt_s: f64,
    pub export_s: f64,
    pub record_mb: f64,
    pub verify_s: f64,
    pub yes: u64,
    pub no: u64,
}

impl ElectionReport {
    pub fn table(&self) -> String {
        format!(
            "Election on a dev node: {} yes/no ballots, 3-of-5 trustees\n\
             credentials (issue, register, commit)  {:>8.2} s\n\
             ballots encrypted and signed (client)  {:>8.2} s\n\
             cast until all on the board            {:>8.2} s ({:.0} ballots/s accepted)\n\
             close                                  {:>8.2} s\n\
             decrypt (3 trustees, result final)     {:>8.2} s\n\
             export the record (urbis election)     {:>8.2} s ({:.1} MB)\n\
             verify the record and its anchor       {:>8.2} s\n\
             result: {} yes, {} no\n",
            self.ballots,
            self.credentials_s,
            self.encrypt_s,
            self.cast_s,
            self.ballots_per_s,
            self.close_s,
            self.decrypt_s,
            self.export_s,
            self.record_mb,
            self.verify_s,
            self.yes,
            self.no,
        )
    }
}

fn voting(c: &VotingCall) -> Call {
    Call::new(MODULE, c)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("votecrypto types serialize")
}

async fn value(client: &Client, path: &[&str]) -> anyhow::Result<serde_json::Value> {
    Ok(client.query(MODULE, path, false).await?.value)
}

async fn one(client: &Client, tx: SignedTx, what: &str) -> anyhow::Result<Receipt> {
    let r = submit_all(client, &[tx]).await?.remove(0);
    ok(&r, what)?;
    Ok(r)
}

/// Run the election scenario (starts and stops its own dev node).
pub fn run(exe: PathBuf, block_time_ms: u64, n: usize) -> anyhow::Result<ElectionReport> {
    if n == 0 {
        bail!("--ballots must be positive");
    }
    eprintln!("starting urbis dev (block time {block_time_ms} ms)…");
    let cluster = Cluster::start_dev(&exe, block_time_ms)?;
    let url = cluster.nodes[0].api.clone();
    let admin = cluster.admin.clone();
    let work = tempfile::tempdir()?;
    let record_path = work.path().join("record.json");
    let report = runtime()?.block_on(async move {
        let client = Client::new(&url)?;
        let status = client.status().await?;
        let signer = |k: SecretKey| Signer::new(k, status.chain_id.clone(), status.genesis_hash);
        let run = std::process::id();
        let key = |what: &str, i: usize| {
            SecretKey::from_label(&format!("urbis-bench/election/{run}/{what}/{i}"))
        };
        let voters: Vec<SecretKey> = (0..n).map(|i| key("voter", i)).collect();
        eprintln!("set-up: roles, the election, the key ceremony…");
        let setup = open_election(
            &client,
            &signer,
            admin,
            &key,
            &voters,
            "bench voters",
            |n| eprintln!("measuring: {n} credentials…"),
        )
        .await?;
        let Opened {
            id,
            ctx,
            office,
            trustees,
            secrets,
            credentials_s,
        } = setup;
        let ids = id.to_string();

        eprintln!("measuring: {n} ballots encrypted and signed…");
        let started = Instant::now();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let chunk = n.div_ceil(threads);
        let casts: Vec<SignedTx> = std::thread::scope(|scope| {
            let handles: Vec<_> = voters
                .chunks(chunk)
                .enumerate()
                .map(|(c, part)| {
                    let (ctx, signer) = (&ctx, &signer);
                    scope.spawn(move || {
                        part.iter()
                            .enumerate()
                            .map(|(j, v)| {
                                let i = c * chunk + j;
                                cast(ctx, id, &signer(v.clone()), v, i % 5 < 3, 0)
                            })
                            .collect::<anyhow::Result<Vec<_>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("a thread panicked"))?)
                .collect::<anyhow::Result<Vec<Vec<_>>>>()
                .map(|v| v.into_iter().flatten().collect())
        })?;
        let encrypt_s = started.elapsed().as_secs_f64();

        eprintln!("measuring: {n} ballots cast…");
        let started = Instant::now();
        submit_only(&client, &casts)
            .await
            .context("submit the ballots")?;
        let deadline = Instant::now() + Duration::from_secs(1_800);
        loop {
            let board = value(&client, &["board", &ids])
                .await
                .context("read the board")?;
            if board["entries"].as_u64() == Some(n as u64) {
                break;
            }
            if Instant::now() > deadline {
                bail!("the ballots did not all reach the board in time: {board}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let cast_s = started.elapsed().as_secs_f64();

        let started = Instant::now();
        one(
            &client,
            office.sign(2, voting(&VotingCall::Close { election: id })),
            "close",
        )
        .await?;
        let close_s = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let aggregate: Vec<ContestAggregate> =
            serde_json::from_value(value(&client, &["aggregate", &ids]).await?)?;
        for (t, s) in trustees.iter().zip(&secrets).take(THRESHOLD as usize) {
            let share = partial_decrypt(&ctx, s, &aggregate, &mut rand::rng())?;
            one(
                &client,
                t.sign(
                    3,
                    voting(&VotingCall::Decrypt {
                        election: id,
                        share: json(&share),
                    }),
                ),
                "decrypt",
            )
            .await?;
        }
        let decrypt_s = started.elapsed().as_secs_f64();
        let result = value(&client, &["result", &ids]).await?;
        let counts = &result[0]["counts"];

        let started = Instant::now();
        let cli = |args: &[&str]| -> anyhow::Result<()> {
            let out = std::process::Command::new(&exe)
                .args(["--node", &url])
                .args(args)
                .output()
                .context("run urbis")?;
            if !out.status.success() {
                bail!(
                    "urbis {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(())
        };
        let record = record_path.to_string_lossy().into_owned();
        cli(&["election", "export", &ids, "--out", &record])?;
        let export_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        cli(&["election", "verify", &record])?;
        let verify_s = started.elapsed().as_secs_f64();
        anyhow::Ok(ElectionReport {
            ballots: n,
            credentials_s,
            encrypt_s,
            cast_s,
            ballots_per_s: n as f64 / cast_s,
            close_s,
            decrypt_s,
            export_s,
            record_mb: std::fs::metadata(&record_path)?.len() as f64 / 1e6,
            verify_s,
            yes: counts[0].as_u64().unwrap_or(0),
            no: counts[1].as_u64().unwrap_or(0),
        })
    })?;
    drop(cluster);
    Ok(report)
}

/// An election whose key ceremony has run and whose credential list is committed, opened.
pub(crate) struct Opened {
    pub id: Hash,
    pub ctx: ElectionContext,
    pub office: Signer,
    pub trustees: Vec<Signer>,
    pub secrets: Vec<TrusteeSecret>,
    /// Seconds spent registering and committing the credentials.
    pub credentials_s: f64,
}

/// Create a 3-of-5 referendum on the shipped manifest with the office, registrar and trustees
/// `key` derives (the admin grants them the department role), run its key ceremony, register
/// one credential per voter (the voter's own key), commit the list and open the election.
/// `before_credentials` is told how many credentials are about to be registered.
pub(crate) async fn open_election(
    client: &Client,
    signer: &impl Fn(SecretKey) -> Signer,
    admin: SecretKey,
    key: &impl Fn(&str, usize) -> SecretKey,
    voters: &[SecretKey],
    eligibility: &str,
    before_credentials: impl FnOnce(usize),
) -> anyhow::Result<Opened> {
    let office = signer(key("office", 0));
    let registrar = signer(key("registrar", 0));
    let trustees: Vec<Signer> = (0..TRUSTEES as usize)
        .map(|i| signer(key("trustee", i)))
        .collect();

    let admin = signer(admin);
    let nonce = client.next_nonce(&admin.address()).await?;
    let grants: Vec<SignedTx> = [&office, &registrar]
        .into_iter()
        .chain(&trustees)
        .enumerate()
        .map(|(i, s)| {
            admin.sign(
                nonce + i as u64,
                Call::new(
                    urbis_accounts::MODULE,
                    &AccountsCall::GrantRole {
                        account: s.address(),
                        role: Role::Department,
                    },
                ),
            )
        })
        .collect();
    for r in submit_all(client, &grants).await? {
        ok(&r, "grant")?;
    }
    let manifest = urbis_votecrypto::referendum_manifest();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let created = one(
        client,
        office.sign(
            0,
            voting(&VotingCall::Create {
                manifest: json(&manifest),
                trustees: trustees.iter().map(Signer::address).collect(),
                threshold: THRESHOLD,
                registrar: registrar.address(),
                eligibility: eligibility.into(),
                ceremony_ends_ms: now + 3_600_000,
                opens_ms: now + 7_200_000,
                closes_ms: now + 86_400_000,
            }),
        ),
        "create",
    )
    .await?;
    let id: Hash = created
        .events
        .iter()
        .find(|e| e.kind == "created")
        .and_then(|e| e.attr("id"))
        .and_then(|s| s.parse().ok())
        .context("the election's id")?;
    let ids = id.to_string();

    let mut states = Vec::new();
    let mut anns = Vec::new();
    let mut txs = Vec::new();
    for (i, t) in trustees.iter().enumerate() {
        let (trustee, a) = Trustee::new(
            i as u32 + 1,
            TRUSTEES,
            THRESHOLD,
            manifest.hash(),
            &mut rand::rng(),
        )?;
        txs.push(t.sign(
            0,
            voting(&VotingCall::Announce {
                election: id,
                announcement: json(&a),
            }),
        ));
        states.push(trustee);
        anns.push(a);
    }
    for r in submit_all(client, &txs).await? {
        ok(&r, "announce")?;
    }
    let mut all = Vec::new();
    let mut txs = Vec::new();
    for (t, s) in trustees.iter().zip(&states) {
        let shares = s.deal(&anns)?;
        txs.push(t.sign(
            1,
            voting(&VotingCall::Deal {
                election: id,
                shares: json(&shares),
            }),
        ));
        all.extend(shares);
    }
    for r in submit_all(client, &txs).await? {
        ok(&r, "deal")?;
    }
    let mut txs = Vec::new();
    for (t, s) in trustees.iter().zip(states.iter_mut()) {
        let complaints = s.receive(&anns, &all, &mut rand::rng())?;
        txs.push(t.sign(
            2,
            voting(&VotingCall::Complain {
                election: id,
                complaints: json(&complaints),
            }),
        ));
    }
    for r in submit_all(client, &txs).await? {
        ok(&r, "complain")?;
    }
    let ceremony: CeremonyRecord =
        serde_json::from_value(value(client, &["ceremony", &ids]).await?)?;
    let secrets = states
        .iter()
        .map(|s| s.finish(&ceremony))
        .collect::<Result<Vec<_>, _>>()?;

    before_credentials(voters.len());
    let started = Instant::now();
    let mut credentials: Vec<Credential> = voters
        .iter()
        .map(|v| Credential {
            public_key: Hex32(v.public_key().raw().try_into().expect("32-byte key")),
            weight: 1,
            style: "all".into(),
        })
        .collect();
    let mut txs: Vec<SignedTx> = credentials
        .chunks(urbis_voting::MAX_REGISTER)
        .enumerate()
        .map(|(i, chunk)| {
            registrar.sign(
                i as u64,
                voting(&VotingCall::Register {
                    election: id,
                    credentials: json(&chunk),
                }),
            )
        })
        .collect();
    txs.push(registrar.sign(
        txs.len() as u64,
        voting(&VotingCall::Commit {
            election: id,
            count: voters.len() as u64,
        }),
    ));
    for r in submit_all(client, &txs).await? {
        ok(&r, "register and commit")?;
    }
    let credentials_s = started.elapsed().as_secs_f64();
    one(
        client,
        office.sign(1, voting(&VotingCall::Open { election: id })),
        "open",
    )
    .await?;
    credentials.sort_by_key(|c| c.public_key.0);
    let ctx = ElectionContext::new(manifest, &ceremony, credentials)?;
    Ok(Opened {
        id,
        ctx,
        office,
        trustees,
        secrets,
        credentials_s,
    })
}

/// A voter's ballot in `id`'s referendum (yes or no), encrypted and signed by the voter's
/// credential key, as the voter's `nonce`-th transaction.
pub(crate) fn cast(
    ctx: &ElectionContext,
    id: Hash,
    signer: &Signer,
    voter: &SecretKey,
    yes: bool,
    nonce: u64,
) -> anyhow::Result<SignedTx> {
    let plain = PlaintextBallot {
        contests: vec![PlaintextContest {
            contest_id: "referendum".into(),
            selected: vec![yes, !yes],
            blank: false,
        }],
    };
    let device = ed25519_dalek::SigningKey::from_bytes(voter.seed());
    let (ballot, _) = encrypt_ballot(ctx, &device, &plain, 1, &mut rand::rng())?;
    Ok(signer.sign(
        nonce,
        voting(&VotingCall::Cast {
            election: id,
            ballot: json(&ballot),
        }),
    ))
}

/// Submit every transaction (retrying what the node refuses for load), without waiting.
async fn submit_only(client: &Client, txs: &[SignedTx]) -> anyhow::Result<()> {
    for chunk in txs.chunks(1_000) {
        let mut todo: Vec<&SignedTx> = chunk.iter().collect();
        let deadline = Instant::now() + Duration::from_secs(300);
        while !todo.is_empty() {
            let batch: Vec<SignedTx> = todo.iter().map(|t| (*t).clone()).collect();
            let results = match client.submit_batch(&batch).await {
                Ok(r) => r,
                // The node sheds load while its execution catches up: try again shortly.
                Err(e)
                    if e.is(ErrorCode::NotReady)
                        || e.is(ErrorCode::Overloaded)
                        || e.is(ErrorCode::MempoolFull) =>
                {
                    if Instant::now() > deadline {
                        bail!("the node kept refusing ballots: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut again = Vec::new();
            for (tx, r) in todo.iter().zip(results) {
                match r {
                    Ok(_) => {}
                    Err((code, _)) if code == "duplicate_tx" => {}
                    Err((code, _))
                        if matches!(code.as_str(), "mempool_full" | "overloaded" | "not_ready") =>
                    {
                        again.push(*tx)
                    }
                    Err((code, message)) => bail!("a ballot was refused: {code}: {message}"),
                }
            }
            if !again.is_empty() {
                if Instant::now() > deadline {
                    bail!("the node kept refusing ballots");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            todo = again;
        }
    }
    Ok(())
}
