//! The assets module through the runtime, with a small escrow module ("shop") that takes
//! payments in holds the way later city services will.

use serde_json::json;
use urbis_accounts::testkit::{TestChain, addr, key};
use urbis_core::{ErrorCode, Hash};

use crate::testsupport::{ShopCall, call, city, other, shop};
use crate::{AssetsCall, MODULE};

fn balance(chain: &TestChain, who: &str) -> u64 {
    chain.value(MODULE, &["balance", "EURc", &addr(who).to_string()])["amount"]
        .as_u64()
        .expect("amount")
}

fn asset(chain: &TestChain) -> serde_json::Value {
    chain.value(MODULE, &["asset", "EURc"])
}

fn last_hold(chain: &TestChain) -> Hash {
    let bytes = chain
        .snapshot()
        .get(b"shop/last".as_slice())
        .cloned()
        .expect("a hold was made");
    borsh::from_slice(&bytes).expect("hash")
}

#[test]
fn issue_transfer_burn() {
    let mut chain = city();
    chain.ok(
        &key("treasury"),
        call(AssetsCall::Issue {
            symbol: "EURc".into(),
            to: addr("bob"),
            amount: 500,
        }),
    );
    chain.ok(
        &key("alice"),
        call(AssetsCall::Transfer {
            symbol: "EURc".into(),
            to: addr("treasury"),
            amount: 1_000,
        }),
    );
    chain.ok(
        &key("treasury"),
        call(AssetsCall::Burn {
            symbol: "EURc".into(),
            amount: 400,
        }),
    );
    assert_eq!(
        (
            balance(&chain, "alice"),
            balance(&chain, "bob"),
            balance(&chain, "treasury")
        ),
        (9_000, 500, 600)
    );
    let a = asset(&chain);
    assert_eq!(
        (a["issued"].as_u64(), a["burned"].as_u64()),
        (Some(10_500), Some(400))
    );
    assert_eq!(a["outstanding"], 10_100);

    // Every failure, with nothing changed.
    let f = |chain: &mut TestChain, who: &str, c: AssetsCall, code: ErrorCode| {
        chain.fails(&key(who), call(c), code);
    };
    f(
        &mut chain,
        "alice",
        AssetsCall::Issue {
            symbol: "EURc".into(),
            to: addr("alice"),
            amount: 1,
        },
        ErrorCode::Unauthorized,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::Issue {
            symbol: "EURc".into(),
            to: addr("alice"),
            amount: 0,
        },
        ErrorCode::InvalidArgument,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::Issue {
            symbol: "XYZ".into(),
            to: addr("alice"),
            amount: 1,
        },
        ErrorCode::NotFound,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::Issue {
            symbol: "EURc".into(),
            to: addr("alice"),
            amount: u64::MAX,
        },
        ErrorCode::Overflow,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::Burn {
            symbol: "EURc".into(),
            amount: 601,
        },
        ErrorCode::InsufficientBalance,
    );
    f(
        &mut chain,
        "bob",
        AssetsCall::Burn {
            symbol: "EURc".into(),
            amount: 1,
        },
        ErrorCode::Unauthorized,
    );
    f(
        &mut chain,
        "bob",
        AssetsCall::Transfer {
            symbol: "EURc".into(),
            to: addr("alice"),
            amount: 501,
        },
        ErrorCode::InsufficientBalance,
    );
    f(
        &mut chain,
        "bob",
        AssetsCall::Transfer {
            symbol: "EURc".into(),
            to: addr("bob"),
            amount: 1,
        },
        ErrorCode::InvalidArgument,
    );
    f(
        &mut chain,
        "bob",
        AssetsCall::Transfer {
            symbol: "EURc".into(),
            to: addr("alice"),
            amount: 0,
        },
        ErrorCode::InvalidArgument,
    );
    f(
        &mut chain,
        "alice",
        AssetsCall::CreateAsset {
            symbol: "GBP".into(),
            name: "x".into(),
            decimals: 2,
        },
        ErrorCode::Unauthorized,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::CreateAsset {
            symbol: "EURc".into(),
            name: "x".into(),
            decimals: 2,
        },
        ErrorCode::AlreadyExists,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::CreateAsset {
            symbol: "1x".into(),
            name: "x".into(),
            decimals: 2,
        },
        ErrorCode::InvalidArgument,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::CreateAsset {
            symbol: "TOOLONGSYMBOL1".into(),
            name: "x".into(),
            decimals: 2,
        },
        ErrorCode::InvalidArgument,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::CreateAsset {
            symbol: "GBP".into(),
            name: " ".into(),
            decimals: 2,
        },
        ErrorCode::InvalidArgument,
    );
    f(
        &mut chain,
        "treasury",
        AssetsCall::CreateAsset {
            symbol: "GBP".into(),
            name: "x".into(),
            decimals: 19,
        },
        ErrorCode::InvalidArgument,
    );

    // A new asset: the department that creates it issues it.
    chain.ok(
        &key("treasury"),
        call(AssetsCall::CreateAsset {
            symbol: "TRANSIT".into(),
            name: "Prepaid transit credit".into(),
            decimals: 0,
        }),
    );
    assert_eq!(
        chain.value(MODULE, &["asset", "TRANSIT"])["issuer"],
        json!(addr("treasury"))
    );
    let list = chain.list(MODULE, &["assets"], 10, None).expect("list");
    assert_eq!(list.items.len(), 2);
}

#[test]
fn holds_are_released_or_refunded_exactly_once() {
    let mut chain = city();
    // Alice pays 3,000 into a hold of the shop.
    let r = chain.ok(
        &key("alice"),
        shop(ShopCall::Pay {
            amount: 3_000,
            expires_ms: None,
        }),
    );
    let held = r
        .events
        .iter()
        .find(|e| e.kind == "held")
        .expect("held event");
    assert_eq!(held.attr("owner"), Some("shop"));
    let id = last_hold(&chain);
    assert_eq!(balance(&chain, "alice"), 7_000);
    assert_eq!(asset(&chain)["held"], 3_000);
    assert_eq!(
        chain.value(MODULE, &["hold", &id.to_string()])["amount"],
        3_000
    );

    // Another module cannot settle it; over-payouts are refused; nothing changes.
    chain.fails(
        &key("alice"),
        other(ShopCall::Cancel { hold: id }),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("alice"),
        shop(ShopCall::Deliver {
            hold: id,
            payouts: vec![(addr("bob"), 3_001)],
        }),
        ErrorCode::InsufficientBalance,
    );
    chain.fails(
        &key("alice"),
        shop(ShopCall::Deliver {
            hold: id,
            payouts: vec![],
        }),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("alice"),
        shop(ShopCall::Deliver {
            hold: id,
            payouts: vec![(addr("bob"), 0)],
        }),
        ErrorCode::InvalidArgument,
    );

    // Release split between bob and the treasury; the rest goes back to alice.
    let r = chain.ok(
        &key("bob"),
        shop(ShopCall::Deliver {
            hold: id,
            payouts: vec![(addr("bob"), 2_000), (addr("treasury"), 500)],
        }),
    );
    let kinds: Vec<&str> = r.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["released", "released", "refunded"]);
    assert_eq!(
        (
            balance(&chain, "alice"),
            balance(&chain, "bob"),
            balance(&chain, "treasury")
        ),
        (7_500, 2_000, 500)
    );
    assert_eq!(asset(&chain)["held"], 0);
    assert!(chain.value(MODULE, &["hold", &id.to_string()]).is_null());
    // Exactly once: a second release or a refund finds no open hold.
    chain.fails(
        &key("bob"),
        shop(ShopCall::Cancel { hold: id }),
        ErrorCode::NotFound,
    );
    chain.fails(
        &key("bob"),
        shop(ShopCall::Deliver {
            hold: id,
            payouts: vec![(addr("bob"), 1)],
        }),
        ErrorCode::NotFound,
    );

    // A refund gives everything back.
    chain.ok(
        &key("alice"),
        shop(ShopCall::Pay {
            amount: 1_000,
            expires_ms: None,
        }),
    );
    let id = last_hold(&chain);
    chain.ok(&key("alice"), shop(ShopCall::Cancel { hold: id }));
    assert_eq!(balance(&chain, "alice"), 7_500);

    // Holding more than one has fails the whole call, the shop's own write included.
    let before = last_hold(&chain);
    chain.fails(
        &key("bob"),
        shop(ShopCall::Pay {
            amount: 2_001,
            expires_ms: None,
        }),
        ErrorCode::InsufficientBalance,
    );
    assert_eq!(last_hold(&chain), before);
}

#[test]
fn a_hold_expires_through_the_scheduler() {
    let mut chain = city();
    let now = chain.next_env().timestamp_ms;
    chain.fails(
        &key("alice"),
        shop(ShopCall::Pay {
            amount: 1,
            expires_ms: Some(now - 1),
        }),
        ErrorCode::InvalidArgument,
    );
    let now = chain.next_env().timestamp_ms;
    chain.ok(
        &key("alice"),
        shop(ShopCall::Pay {
            amount: 1_000,
            expires_ms: Some(now + 2_500),
        }),
    );
    let id = last_hold(&chain);
    // Two empty blocks: not yet.
    chain.block(&[]);
    chain.block(&[]);
    assert_eq!(balance(&chain, "alice"), 9_000);
    // The third block reaches the expiry: refunded by itself.
    chain.block(&[]);
    assert_eq!(balance(&chain, "alice"), 10_000);
    assert!(chain.value(MODULE, &["hold", &id.to_string()]).is_null());
    assert_eq!(asset(&chain)["held"], 0);
    chain.fails(
        &key("alice"),
        shop(ShopCall::Cancel { hold: id }),
        ErrorCode::NotFound,
    );

    // Released before its expiry: the expiry then does nothing.
    let now = chain.next_env().timestamp_ms;
    chain.ok(
        &key("alice"),
        shop(ShopCall::Pay {
            amount: 100,
            expires_ms: Some(now + 1_500),
        }),
    );
    let id = last_hold(&chain);
    chain.ok(
        &key("alice"),
        shop(ShopCall::Deliver {
            hold: id,
            payouts: vec![(addr("bob"), 100)],
        }),
    );
    chain.block(&[]);
    chain.block(&[]);
    assert_eq!(
        (balance(&chain, "alice"), balance(&chain, "bob")),
        (9_900, 100)
    );
}

#[test]
fn escrow_payments_are_claimed_cancelled_or_expire_exactly_once() {
    let mut chain = city();
    let escrow = |to: &str, amount: u64, expires_ms: Option<u64>| {
        chain_call(
            json!({"call": "escrow", "symbol": "EURc", "to": addr(to), "amount": amount, "expires_ms": expires_ms}),
        )
    };
    let hold_of = |r: &urbis_core::Receipt| -> Hash {
        r.events
            .iter()
            .find(|e| e.kind == "escrowed")
            .and_then(|e| e.attr("hold"))
            .unwrap()
            .parse()
            .unwrap()
    };
    // Claimed by the payee.
    let r = chain.ok(&key("alice"), escrow("bob", 300, None));
    let h1 = hold_of(&r);
    assert_eq!(balance(&chain, "alice"), 9_700);
    assert_eq!(asset(&chain)["held"], 300);
    chain.fails(&key("alice"), claim(h1), ErrorCode::Unauthorized);
    chain.fails(&key("bob"), cancel(h1), ErrorCode::Unauthorized);
    chain.ok(&key("bob"), claim(h1));
    assert_eq!(balance(&chain, "bob"), 300);
    chain.fails(&key("bob"), claim(h1), ErrorCode::NotFound);
    chain.fails(&key("alice"), cancel(h1), ErrorCode::NotFound);

    // Cancelled by the payer.
    let h2 = hold_of(&chain.ok(&key("alice"), escrow("bob", 200, None)));
    chain.ok(&key("alice"), cancel(h2));
    assert_eq!(balance(&chain, "alice"), 9_700);
    chain.fails(&key("bob"), claim(h2), ErrorCode::NotFound);

    // Expired through the scheduler: back to the payer, the payee record gone.
    let due = chain.next_env().timestamp_ms + 2_000;
    let h3 = hold_of(&chain.ok(&key("alice"), escrow("bob", 100, Some(due))));
    for _ in 0..3 {
        chain.block(&[]);
    }
    assert_eq!(balance(&chain, "alice"), 9_700);
    assert_eq!(asset(&chain)["held"], 0);
    chain.fails(&key("bob"), claim(h3), ErrorCode::NotFound);
    assert!(chain.view().get(&crate::keys::hold(&h3)).unwrap().is_none());

    // Bad input changes nothing.
    chain.fails(
        &key("alice"),
        escrow("alice", 1, None),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("alice"),
        escrow("bob", 1_000_000, None),
        ErrorCode::InsufficientBalance,
    );
    chain.fails(
        &key("alice"),
        escrow("bob", 0, None),
        ErrorCode::InvalidArgument,
    );
}

fn chain_call(json: serde_json::Value) -> urbis_core::Call {
    urbis_core::Call {
        module: MODULE.into(),
        data: urbis_runtime::kit::call_from_json::<AssetsCall>(MODULE, &json).unwrap(),
    }
}

fn claim(hold: Hash) -> urbis_core::Call {
    call(AssetsCall::Claim { hold })
}

fn cancel(hold: Hash) -> urbis_core::Call {
    call(AssetsCall::Cancel { hold })
}
