//! The measured workload: accounts, the transaction mix, per-sender nonces, signing and the
//! assignment of senders to submitter tasks.

use urbis_accounts::AccountsCall;
use urbis_assets::AssetsCall;
use urbis_core::{Address, Call, Hash, SecretKey, SignedTx};
use urbis_rewards::RewardsCall;

/// What a measured transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Department → citizen award (writes program, cap counter, holdings, supply).
    Award,
    /// Citizen → citizen transfer (two holdings).
    Transfer,
    /// Citizen redeems at a merchant (program, holdings, supply and a new redemption record).
    Redeem,
    /// Citizen → citizen settlement-asset transfer (two balances).
    AssetTransfer,
    /// Citizen → citizen escrow payment: a hold with an expiry (balance, asset totals, the
    /// hold, its payee, a scheduler job; the job refunds it later, inside the measured run).
    Escrow,
    /// A station validator's transit tap (`urbis bench --scenario transit`).
    TransitTap,
    /// A smart bin's weighed deposit (`urbis bench --scenario waste`).
    WasteDeposit,
}

/// The transaction mix: percent of reward awards, reward transfers, redemptions and asset
/// transfers; the rest are escrow payments (holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    pub award: u64,
    pub transfer: u64,
    pub redeem: u64,
    pub asset_transfer: u64,
}

impl Mix {
    /// The city mix (the default): 45% awards, 20% reward transfers, 10% redemptions, 15%
    /// asset transfers, 10% escrow payments.
    pub const CITY: Mix = Mix {
        award: 45,
        transfer: 20,
        redeem: 10,
        asset_transfer: 15,
    };
    /// The rewards-only mix of the benchmarks before the module platform: 60% awards, 30%
    /// transfers, 10% redemptions (for comparisons with older figures).
    pub const REWARDS: Mix = Mix {
        award: 60,
        transfer: 30,
        redeem: 10,
        asset_transfer: 0,
    };

    /// A mix by name: `city` or `rewards`.
    pub fn named(name: &str) -> Option<Mix> {
        match name {
            "city" => Some(Mix::CITY),
            "rewards" => Some(Mix::REWARDS),
            _ => None,
        }
    }
}

/// What the measured transactions act on.
#[derive(Clone, Debug)]
pub struct Targets {
    /// The reward program.
    pub program: u64,
    /// The settlement asset every citizen holds.
    pub asset: String,
    /// When escrow payments expire (block time, ms).
    pub escrow_expires_ms: u64,
    pub mix: Mix,
}

/// The bench's accounts, derived from a run-unique prefix.
pub struct Accounts {
    pub departments: Vec<SecretKey>,
    pub citizens: Vec<SecretKey>,
    pub merchants: Vec<SecretKey>,
}

impl Accounts {
    pub fn new(prefix: &str, departments: usize, citizens: usize, merchants: usize) -> Self {
        let keys = |role: &str, n: usize| {
            (0..n)
                .map(|i| SecretKey::from_label(&format!("{prefix}/{role}/{i}")))
                .collect::<Vec<_>>()
        };
        Accounts {
            departments: keys("department", departments),
            citizens: keys("citizen", citizens),
            merchants: keys("merchant", merchants),
        }
    }

    /// Senders of measured transactions: departments first, then citizens.
    pub fn sender_count(&self) -> usize {
        self.departments.len() + self.citizens.len()
    }

    pub fn sender(&self, i: usize) -> &SecretKey {
        if i < self.departments.len() {
            &self.departments[i]
        } else {
            &self.citizens[i - self.departments.len()]
        }
    }

    fn citizen_sender(&self, c: usize) -> usize {
        self.departments.len() + c
    }
}

/// A small deterministic generator (splitmix64), so a run's workload is reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// One measured transaction before signing.
#[derive(Clone, Debug)]
pub struct Planned {
    pub kind: Kind,
    /// Index into [`Accounts::sender`].
    pub sender: usize,
    pub nonce: u64,
    pub call: Call,
}

/// Plan `n` transactions of the mix. `next_nonce[s]` is sender `s`'s next nonce on chain; each
/// sender's nonces in the plan are contiguous from it, in plan order.
pub fn plan(
    accounts: &Accounts,
    targets: &Targets,
    n: usize,
    next_nonce: &[u64],
    seed: u64,
) -> Vec<Planned> {
    assert!(
        !accounts.departments.is_empty()
            && accounts.citizens.len() >= 2
            && !accounts.merchants.is_empty(),
        "the workload needs departments, two citizens and a merchant"
    );
    assert_eq!(next_nonce.len(), accounts.sender_count());
    let mut nonces = next_nonce.to_vec();
    let mut rng = Rng::new(seed);
    let citizens = accounts.citizens.len();
    let program = targets.program;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let roll = rng.next_u64() % 100;
        let m = targets.mix;
        let (kind, sender, call) = if roll < m.award {
            let d = rng.below(accounts.departments.len());
            let to = accounts.citizens[rng.below(citizens)].address();
            let call = RewardsCall::Award {
                program,
                to,
                amount: 1 + rng.below(5) as u64,
                reason: "bench".into(),
            };
            (Kind::Award, d, call)
        } else if roll < m.award + m.transfer {
            let a = rng.below(citizens);
            let b = (a + 1 + rng.below(citizens - 1)) % citizens;
            let call = RewardsCall::Transfer {
                to: accounts.citizens[b].address(),
                program,
                amount: 1,
            };
            (Kind::Transfer, accounts.citizen_sender(a), call)
        } else if roll < m.award + m.transfer + m.redeem {
            let a = rng.below(citizens);
            let m = rng.below(accounts.merchants.len());
            let call = RewardsCall::Redeem {
                merchant: accounts.merchants[m].address(),
                program,
                amount: 1,
                item: format!("bench-item-{i}"),
            };
            (Kind::Redeem, accounts.citizen_sender(a), call)
        } else {
            let a = rng.below(citizens);
            let b = (a + 1 + rng.below(citizens - 1)) % citizens;
            let to = accounts.citizens[b].address();
            let symbol = targets.asset.clone();
            let (kind, call) = if roll < m.award + m.transfer + m.redeem + m.asset_transfer {
                let call = AssetsCall::Transfer {
                    symbol,
                    to,
                    amount: 1,
                };
                (Kind::AssetTransfer, call)
            } else {
                let call = AssetsCall::Escrow {
                    symbol,
                    to,
                    amount: 1,
                    expires_ms: Some(targets.escrow_expires_ms),
                };
                (Kind::Escrow, call)
            };
            let nonce = nonces[accounts.citizen_sender(a)];
            nonces[accounts.citizen_sender(a)] += 1;
            out.push(Planned {
                kind,
                sender: accounts.citizen_sender(a),
                nonce,
                call: Call::new(urbis_assets::MODULE, &call),
            });
            continue;
        };
        let nonce = nonces[sender];
        nonces[sender] += 1;
        out.push(Planned {
            kind,
            sender,
            nonce,
            call: Call::new(urbis_rewards::MODULE, &call),
        });
    }
    out
}

/// A signed measured transaction, ready to post.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub kind: Kind,
    pub sender: usize,
    pub hash: Hash,
    pub bytes: Vec<u8>,
}

/// Sign every planned transaction, on all cores.
pub fn sign_all(
    accounts: &Accounts,
    chain: &urbis_core::ChainRef,
    planned: Vec<Planned>,
) -> Vec<Prepared> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let chunk = planned.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<Planned>> = Vec::new();
    let mut rest = planned;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .map(|p| {
                            let tx =
                                SignedTx::new(chain, accounts.sender(p.sender), p.nonce, p.call);
                            let bytes = tx.encode();
                            Prepared {
                                kind: p.kind,
                                sender: p.sender,
                                hash: tx.hash(),
                                bytes,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread panicked"))
            .collect()
    })
}

/// Split transaction indices over `tasks` submitters: a sender always goes to the same task, and
/// each task keeps the plan's order, so a sender's nonces reach the node in order.
pub fn assign(senders: impl IntoIterator<Item = usize>, tasks: usize) -> Vec<Vec<usize>> {
    let tasks = tasks.max(1);
    let mut out = vec![Vec::new(); tasks];
    for (i, s) in senders.into_iter().enumerate() {
        out[s % tasks].push(i);
    }
    out
}

/// Set-up calls: role grants by the admin.
pub fn grant(account: Address, role: urbis_accounts::Role) -> Call {
    Call::new(
        urbis_accounts::MODULE,
        &AccountsCall::GrantRole { account, role },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn targets() -> Targets {
        Targets {
            program: 1,
            asset: "BENCH".into(),
            escrow_expires_ms: 1_000,
            mix: Mix::CITY,
        }
    }

    #[test]
    fn nonces_are_contiguous_per_sender_and_the_mix_holds() {
        let acc = Accounts::new("t", 4, 20, 2);
        let start: Vec<u64> = (0..acc.sender_count() as u64).map(|s| s * 3).collect();
        let plan = plan(&acc, &targets(), 20_000, &start, 42);
        assert_eq!(plan.len(), 20_000);
        let mut next: HashMap<usize, u64> = HashMap::new();
        let mut kinds: HashMap<Kind, usize> = HashMap::new();
        for p in &plan {
            let n = next.entry(p.sender).or_insert(start[p.sender]);
            assert_eq!(p.nonce, *n, "sender {} skipped a nonce", p.sender);
            *n += 1;
            *kinds.entry(p.kind).or_default() += 1;
            match p.kind {
                Kind::Award => assert!(p.sender < 4),
                Kind::Transfer | Kind::Redeem | Kind::AssetTransfer | Kind::Escrow => {
                    assert!(p.sender >= 4)
                }
                Kind::TransitTap | Kind::WasteDeposit => {
                    unreachable!("the reward mix plans no taps or deposits")
                }
            }
        }
        let share = |k| kinds[&k] as f64 / plan.len() as f64;
        assert!((share(Kind::Award) - 0.45).abs() < 0.02, "{kinds:?}");
        assert!((share(Kind::Transfer) - 0.2).abs() < 0.02, "{kinds:?}");
        assert!((share(Kind::Redeem) - 0.1).abs() < 0.02, "{kinds:?}");
        assert!(
            (share(Kind::AssetTransfer) - 0.15).abs() < 0.02,
            "{kinds:?}"
        );
        assert!((share(Kind::Escrow) - 0.1).abs() < 0.02, "{kinds:?}");
        // Reproducible.
        let again = super::plan(&acc, &targets(), 100, &start, 42);
        assert!(
            again
                .iter()
                .zip(&plan)
                .all(|(a, b)| a.call == b.call && a.nonce == b.nonce)
        );
    }

    #[test]
    fn transfers_never_go_to_the_sender() {
        let acc = Accounts::new("t", 1, 2, 1);
        let plan = plan(&acc, &targets(), 2_000, &vec![0; acc.sender_count()], 1);
        for p in &plan {
            let to = match p.kind {
                Kind::Transfer => match borsh::from_slice(&p.call.data).expect("decodes") {
                    RewardsCall::Transfer { to, .. } => to,
                    other => panic!("not a transfer: {other:?}"),
                },
                Kind::AssetTransfer | Kind::Escrow => {
                    match borsh::from_slice(&p.call.data).expect("decodes") {
                        AssetsCall::Transfer { to, .. } | AssetsCall::Escrow { to, .. } => to,
                        other => panic!("not a payment: {other:?}"),
                    }
                }
                _ => continue,
            };
            assert_ne!(to, acc.sender(p.sender).address());
        }
    }

    #[test]
    fn senders_stay_on_one_task_in_order() {
        let senders = [3usize, 1, 3, 2, 1, 3, 0];
        let tasks = assign(senders, 2);
        assert_eq!(tasks.iter().map(Vec::len).sum::<usize>(), senders.len());
        for t in &tasks {
            assert!(t.windows(2).all(|w| w[0] < w[1]), "order kept");
        }
        for s in 0..4 {
            let owners: Vec<usize> = tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.iter().any(|&i| senders[i] == s))
                .map(|(k, _)| k)
                .collect();
            assert!(owners.len() <= 1, "sender {s} on tasks {owners:?}");
        }
    }

    #[test]
    fn signed_transactions_verify_and_hash() {
        let acc = Accounts::new("t", 1, 2, 1);
        let plan = plan(&acc, &targets(), 50, &vec![0; acc.sender_count()], 9);
        let chain = urbis_core::ChainRef::new("urbis-test", urbis_core::Hash([1; 32]));
        let prepared = sign_all(&acc, &chain, plan.clone());
        assert_eq!(prepared.len(), 50);
        for (p, q) in prepared.iter().zip(&plan) {
            let tx = SignedTx::decode(&p.bytes).expect("decodes");
            tx.check_stateless(&chain).expect("valid");
            assert_eq!(tx.hash(), p.hash);
            assert_eq!(tx.nonce, q.nonce);
            assert_eq!(p.sender, q.sender);
        }
    }
}
