//! End-to-end tests of the rewards module through the runtime, next to the accounts module.

use serde_json::{Value, json};
use urbis_accounts::testkit::{TestChain, addr, key};
use urbis_core::{Address, Call, ErrorCode, SignedTx};

use crate::{Holdings, MODULE, RewardsCall, holdings_of, keys, program_of, supply_of};

/// Program 1 of the test city: non-transferable recycling rewards.
const BOTTLES: u64 = 1;
/// Program 2 of the test city: transferable transport rewards.
const BUS: u64 = 2;
/// Award period of both programs: one hour (3600 test blocks).
const HOUR_MS: u64 = 3_600_000;

fn city_config() -> (Value, Value) {
    let accounts = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"] },
        { "address": addr("dept"), "roles": ["department"] },
        { "address": addr("shop"), "roles": ["merchant"] },
        { "address": addr("alice"), "roles": ["citizen"] },
        { "address": addr("bob"), "roles": ["citizen"] },
    ]});
    let rewards = json!({ "programs": [
        { "name": "Bottle return", "category": "recycling", "budget": 1000,
          "cap_per_period": 100, "period_ms": HOUR_MS, "transferable": false },
        { "name": "Bus rides", "category": "public_transport", "budget": 500,
          "cap_per_period": 50, "period_ms": HOUR_MS, "transferable": true },
    ]});
    (accounts, rewards)
}

fn chain_with(rewards: Value) -> Result<TestChain, urbis_core::UrbisError> {
    let (accounts, _) = city_config();
    TestChain::try_new(
        vec![urbis_accounts::module(), crate::module()],
        &[(urbis_accounts::MODULE, accounts), (MODULE, rewards)],
    )
}

fn city() -> TestChain {
    chain_with(city_config().1).expect("genesis succeeds")
}

fn call(c: RewardsCall) -> Call {
    Call::new(MODULE, &c)
}

fn award(program: u64, to: &str, amount: u64) -> Call {
    award_for(program, to, amount, "returned bottles")
}

fn award_for(program: u64, to: &str, amount: u64, reason: &str) -> Call {
    call(RewardsCall::Award {
        program,
        to: addr(to),
        amount,
        reason: reason.into(),
    })
}

fn transfer(to: &str, program: u64, amount: u64) -> Call {
    call(RewardsCall::Transfer {
        to: addr(to),
        program,
        amount,
    })
}

fn redeem(merchant: &str, program: u64, amount: u64, item: &str) -> Call {
    call(RewardsCall::Redeem {
        merchant: addr(merchant),
        program,
        amount,
        item: item.into(),
    })
}

fn create(name: &str, budget: u64, cap_per_period: u64, period_ms: u64) -> Call {
    call(RewardsCall::CreateProgram {
        name: name.into(),
        category: crate::Category::EnergySaving,
        budget,
        cap_per_period,
        period_ms,
        transferable: true,
    })
}

fn set_active(program: u64, active: bool) -> Call {
    call(RewardsCall::SetProgramActive { program, active })
}

fn holdings(chain: &TestChain, who: &str) -> Holdings {
    holdings_of(chain.view(), &addr(who)).expect("holdings read")
}

fn balance(chain: &TestChain, who: &str, program: u64) -> u64 {
    holdings(chain, who).balance(program)
}

fn text(a: Address) -> String {
    a.to_string()
}

#[test]
fn genesis_programs() {
    let chain = city();
    let answer = chain.query(MODULE, &["program", "1"]).expect("query");
    assert_eq!(answer.key, keys::program(1));
    assert_eq!(
        answer.value,
        json!({
            "id": 1, "name": "Bottle return", "category": "recycling", "budget": 1000,
            "minted": 0, "burned": 0, "cap_per_period": 100, "period_ms": HOUR_MS,
            "transferable": false, "active": true, "created_by": Address::default(),
            "created_height": 0,
        })
    );
    assert!(program_of(chain.view(), BUS).expect("read").is_some());
    assert_eq!(chain.value(MODULE, &["program", "3"]), Value::Null);
}

#[test]
fn null_genesis_and_bad_genesis() {
    let chain = chain_with(Value::Null).expect("null config");
    assert_eq!(chain.value(MODULE, &["program", "1"]), Value::Null);

    let spec = |patch: Value| {
        let mut p = json!({ "name": "P", "category": "other", "budget": 10,
                            "cap_per_period": 5, "period_ms": 1000, "transferable": true });
        for (k, v) in patch.as_object().expect("object") {
            p[k] = v.clone();
        }
        json!({ "programs": [p] })
    };
    chain_with(spec(json!({}))).expect("the base spec is valid");
    for bad in [
        spec(json!({ "name": "" })),
        spec(json!({ "period_ms": 0 })),
        spec(json!({ "budget": 0 })),
        spec(json!({ "category": "gardening" })),
        spec(json!({ "colour": "green" })),
        json!({ "programs": [], "extra": true }),
    ] {
        let err = chain_with(bad.clone()).err().expect("rejected");
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{bad}: {err}");
    }
}

#[test]
fn create_program_and_toggle_it() {
    let mut chain = city();
    let admin = key("admin");
    let receipt = chain.ok(&admin, create("Solar panels", 5000, 200, 86_400_000));
    let event = &receipt.events[0];
    assert_eq!(event.kind, "program_created");
    assert_eq!(event.attr("program"), Some("3"));
    assert_eq!(event.attr("name"), Some("Solar panels"));
    assert_eq!(event.attr("budget"), Some("5000"));
    let program = program_of(chain.view(), 3).expect("read").expect("exists");
    assert_eq!(program.created_by, admin.address());
    assert_eq!(program.created_height, 1);
    assert!(program.active);

    let receipt = chain.ok(&admin, set_active(3, false));
    assert_eq!(receipt.events[0].kind, "program_status");
    assert_eq!(receipt.events[0].attr("active"), Some("false"));
    assert!(
        !program_of(chain.view(), 3)
            .expect("read")
            .expect("exists")
            .active
    );
    chain.ok(&admin, set_active(3, true));
}

#[test]
fn create_and_toggle_errors() {
    let mut chain = city();
    let admin = key("admin");
    chain.fails(&key("dept"), create("X", 10, 1, 1), ErrorCode::Unauthorized);
    chain.fails(&admin, create("", 10, 1, 1), ErrorCode::InvalidArgument);
    chain.fails(
        &admin,
        create(&"x".repeat(65), 10, 1, 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(&admin, create("X", 10, 1, 0), ErrorCode::InvalidArgument);
    chain.fails(&admin, create("X", 0, 1, 1), ErrorCode::InvalidArgument);
    chain.fails(&admin, create("X", 10, 0, 1), ErrorCode::InvalidArgument);

    chain.fails(
        &key("dept"),
        set_active(BUS, false),
        ErrorCode::Unauthorized,
    );
    chain.fails(&admin, set_active(9, false), ErrorCode::NotFound);
    chain.fails(&admin, set_active(BUS, true), ErrorCode::InvalidState);
}

#[test]
fn award_mints_to_a_citizen() {
    let mut chain = city();
    let receipt = chain.ok(&key("dept"), award(BOTTLES, "alice", 30));
    let event = &receipt.events[0];
    assert_eq!(event.kind, "awarded");
    assert_eq!(event.attr("to"), Some(text(addr("alice")).as_str()));
    assert_eq!(event.attr("amount"), Some("30"));
    assert_eq!(event.attr("reason"), Some("returned bottles"));
    assert_eq!(event.attr("by"), Some(text(addr("dept")).as_str()));
    chain.ok(&key("dept"), award(BUS, "alice", 5));

    let answer = chain
        .query(MODULE, &["balance", &text(addr("alice"))])
        .expect("query");
    assert_eq!(answer.key, keys::holder(&addr("alice")));
    assert_eq!(
        answer.value,
        json!({ "address": addr("alice"), "total": 35, "by_program": { "1": 30, "2": 5 } })
    );
    assert_eq!(
        chain.value(MODULE, &["supply"]),
        json!({ "minted": 35, "burned": 0, "circulating": 35 })
    );
    let period = event.attr("period").expect("period attribute");
    let answer = chain
        .query(MODULE, &["awarded", "1", &text(addr("alice")), period])
        .expect("query");
    let period: u64 = period.parse().expect("number");
    assert_eq!(answer.key, keys::awarded(BOTTLES, &addr("alice"), period));
    assert_eq!(answer.value["amount"], json!(30));
    assert_eq!(
        program_of(chain.view(), BOTTLES)
            .expect("read")
            .expect("exists")
            .minted,
        30
    );
}

#[test]
fn award_errors() {
    let mut chain = city();
    let dept = key("dept");
    chain.fails(
        &key("admin"),
        award(BOTTLES, "alice", 1),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("alice"),
        award(BOTTLES, "alice", 1),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &dept,
        award(BOTTLES, "alice", 0),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &dept,
        award_for(BOTTLES, "alice", 1, ""),
        ErrorCode::InvalidArgument,
    );
    let long = "x".repeat(65);
    chain.fails(
        &dept,
        award_for(BOTTLES, "alice", 1, &long),
        ErrorCode::InvalidArgument,
    );
    chain.fails(&dept, award(7, "alice", 1), ErrorCode::NotFound);
    let message = chain.fails(
        &dept,
        award(BOTTLES, "carol", 1),
        ErrorCode::InvalidArgument,
    );
    assert_eq!(message, "recipient is not a registered citizen");
    chain.fails(&dept, award(BOTTLES, "shop", 1), ErrorCode::InvalidArgument);

    chain.ok(&key("admin"), set_active(BOTTLES, false));
    chain.fails(&dept, award(BOTTLES, "alice", 1), ErrorCode::InvalidState);
}

#[test]
fn budget_and_cap_are_enforced() {
    let mut chain = city();
    let dept = key("dept");
    // Cap: 100 per hour per account.
    chain.ok(&dept, award(BOTTLES, "alice", 60));
    chain.ok(&dept, award(BOTTLES, "alice", 40));
    chain.fails(&dept, award(BOTTLES, "alice", 1), ErrorCode::OverCap);
    chain.fails(
        &dept,
        award(BOTTLES, "alice", u64::MAX),
        ErrorCode::OverBudget,
    );
    chain.ok(&dept, award(BOTTLES, "bob", 100));
    // Next period: the cap starts over, the budget (1000) does not.
    for _ in 0..4 {
        chain.skip_blocks(HOUR_MS / urbis_accounts::testkit::BLOCK_MS);
        chain.ok(&dept, award(BOTTLES, "alice", 100));
        chain.ok(&dept, award(BOTTLES, "bob", 100));
    }
    assert_eq!(supply_of(chain.view()).expect("read").minted, 1000);
    chain.skip_blocks(HOUR_MS / urbis_accounts::testkit::BLOCK_MS);
    chain.fails(&dept, award(BOTTLES, "alice", 1), ErrorCode::OverBudget);
}

#[test]
fn supply_overflow_is_reported() {
    let mut chain = city();
    let admin = key("admin");
    chain.ok(&admin, create("Huge A", u64::MAX, u64::MAX, 1));
    chain.ok(&admin, create("Huge B", u64::MAX, u64::MAX, 1));
    chain.ok(&key("dept"), award(3, "alice", u64::MAX));
    chain.fails(&key("dept"), award(4, "bob", 1), ErrorCode::Overflow);
}

#[test]
fn transfers() {
    let mut chain = city();
    let alice = key("alice");
    chain.ok(&key("dept"), award(BUS, "alice", 50));
    chain.ok(&key("dept"), award(BOTTLES, "alice", 50));

    let receipt = chain.ok(&alice, transfer("carol", BUS, 20));
    let event = &receipt.events[0];
    assert_eq!(event.kind, "transferred");
    assert_eq!(event.attr("from"), Some(text(addr("alice")).as_str()));
    assert_eq!(event.attr("to"), Some(text(addr("carol")).as_str()));
    assert_eq!(
        (balance(&chain, "alice", BUS), balance(&chain, "carol", BUS)),
        (30, 20)
    );
    // Carol holds no role: the runtime refuses her calls (writing nothing) until she has one.
    let refused = chain.send(&key("carol"), transfer("alice", BUS, 20));
    assert_eq!(refused.error.map(|e| e.code), Some(ErrorCode::Unauthorized));
    assert!(!refused.nonce_used);
    chain.ok(
        &key("dept"),
        Call::new(
            urbis_accounts::MODULE,
            &urbis_accounts::AccountsCall::GrantRole {
                account: addr("carol"),
                role: urbis_accounts::Role::Citizen,
            },
        ),
    );
    chain.ok(&key("carol"), transfer("alice", BUS, 20));
    // Carol holds nothing any more: her record is gone.
    assert!(!chain.snapshot().contains_key(&keys::holder(&addr("carol"))));

    chain.fails(
        &alice,
        transfer("bob", BOTTLES, 1),
        ErrorCode::NonTransferable,
    );
    chain.fails(
        &alice,
        transfer("bob", BUS, 51),
        ErrorCode::InsufficientBalance,
    );
    chain.fails(
        &key("bob"),
        transfer("alice", BUS, 1),
        ErrorCode::InsufficientBalance,
    );
    chain.fails(
        &alice,
        transfer("alice", BUS, 1),
        ErrorCode::InvalidArgument,
    );
    chain.fails(&alice, transfer("bob", BUS, 0), ErrorCode::InvalidArgument);
    chain.fails(&alice, transfer("bob", 9, 1), ErrorCode::NotFound);

    // Deactivating stops awards only.
    chain.ok(&key("admin"), set_active(BUS, false));
    chain.ok(&alice, transfer("bob", BUS, 10));
}

#[test]
fn redemptions_burn_tokens() {
    let mut chain = city();
    let alice = key("alice");
    chain.ok(&key("dept"), award(BOTTLES, "alice", 80));
    let receipt = chain.ok(&alice, redeem("shop", BOTTLES, 30, "Coffee"));
    let event = &receipt.events[0];
    assert_eq!(event.kind, "redeemed");
    assert_eq!(event.attr("redemption"), Some("1"));
    assert_eq!(event.attr("citizen"), Some(text(addr("alice")).as_str()));
    assert_eq!(event.attr("merchant"), Some(text(addr("shop")).as_str()));
    assert_eq!(event.attr("item"), Some("Coffee"));
    let answer = chain.query(MODULE, &["redemption", "1"]).expect("query");
    assert_eq!(answer.key, keys::redemption(1));
    assert_eq!(
        answer.value,
        json!({ "id": 1, "citizen": addr("alice"), "merchant": addr("shop"), "program": 1,
                "amount": 30, "item": "Coffee", "height": 2,
                "timestamp_ms": chain.next_env().timestamp_ms - urbis_accounts::testkit::BLOCK_MS })
    );
    assert_eq!(
        chain.value(MODULE, &["supply"]),
        json!({ "minted": 80, "burned": 30, "circulating": 50 })
    );
    assert_eq!(
        program_of(chain.view(), BOTTLES)
            .expect("read")
            .expect("exists")
            .burned,
        30
    );

    // Inactive programs still redeem; ids keep counting.
    chain.ok(&key("admin"), set_active(BOTTLES, false));
    let receipt = chain.ok(&alice, redeem("shop", BOTTLES, 50, "Cinema ticket"));
    assert_eq!(receipt.events[0].attr("redemption"), Some("2"));
    assert!(holdings(&chain, "alice").is_empty());
    assert_eq!(chain.value(MODULE, &["redemption", "3"]), Value::Null);
}

#[test]
fn redeem_errors() {
    let mut chain = city();
    let alice = key("alice");
    chain.ok(&key("dept"), award(BOTTLES, "alice", 10));
    let message = chain.fails(
        &alice,
        redeem("bob", BOTTLES, 1, "Tea"),
        ErrorCode::InvalidArgument,
    );
    assert!(message.contains("not a registered merchant"), "{message}");
    chain.fails(
        &alice,
        redeem("shop", BOTTLES, 11, "Tea"),
        ErrorCode::InsufficientBalance,
    );
    chain.fails(
        &alice,
        redeem("shop", BUS, 1, "Tea"),
        ErrorCode::InsufficientBalance,
    );
    chain.fails(
        &alice,
        redeem("shop", BOTTLES, 0, "Tea"),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &alice,
        redeem("shop", BOTTLES, 1, ""),
        ErrorCode::InvalidArgument,
    );
    let long = "x".repeat(65);
    chain.fails(
        &alice,
        redeem("shop", BOTTLES, 1, &long),
        ErrorCode::InvalidArgument,
    );
    chain.fails(&alice, redeem("shop", 9, 1, "Tea"), ErrorCode::NotFound);
    chain.fails(
        &key("shop"),
        redeem("shop", BOTTLES, 1, "Tea"),
        ErrorCode::InvalidArgument,
    );
}

#[test]
fn query_paths() {
    let chain = city();
    let stranger = text(addr("stranger"));
    let answer = chain.query(MODULE, &["balance", &stranger]).expect("query");
    assert_eq!(answer.key, keys::holder(&addr("stranger")));
    assert_eq!(
        answer.value,
        json!({ "address": addr("stranger"), "total": 0, "by_program": {} })
    );
    assert_eq!(
        chain.query(MODULE, &["supply"]).expect("query").key,
        keys::supply()
    );
    assert_eq!(
        chain
            .query(MODULE, &["redemption", "5"])
            .expect("query")
            .key,
        keys::redemption(5)
    );

    let err = |path: &[&str]| chain.query(MODULE, path).expect_err("query fails").code;
    assert_eq!(err(&["balance", "urbis1bad"]), ErrorCode::InvalidArgument);
    assert_eq!(err(&["program", "one"]), ErrorCode::InvalidArgument);
    assert_eq!(err(&["program", "-1"]), ErrorCode::InvalidArgument);
    assert_eq!(
        err(&["awarded", "1", &stranger, "x"]),
        ErrorCode::InvalidArgument
    );
    assert_eq!(err(&["programs"]), ErrorCode::NotFound);
    assert_eq!(err(&["supply", "extra"]), ErrorCode::NotFound);
    assert_eq!(err(&[]), ErrorCode::NotFound);
}

#[test]
fn describe_call_renders_json() {
    let chain = city();
    let data = redeem("shop", 1, 5, "Tea").data;
    assert_eq!(
        chain.runtime.describe_call(MODULE, &data).expect("decodes"),
        json!({ "call": "redeem", "merchant": addr("shop"), "program": 1, "amount": 5,
                "item": "Tea" })
    );
    let data = create("X", 10, 1, 1).data;
    assert_eq!(
        chain.runtime.describe_call(MODULE, &data).expect("decodes")["category"],
        json!("energy_saving")
    );
    let err = chain
        .runtime
        .describe_call(MODULE, &[200])
        .expect_err("garbage");
    assert_eq!(err.code, ErrorCode::UnknownCall);
}

#[test]
fn runtime_rejections_leave_state_alone() {
    let mut chain = city();
    let dept = key("dept");
    let tx = chain.tx(&dept, award(BOTTLES, "alice", 10));
    assert!(chain.block(std::slice::from_ref(&tx))[0].success);

    let before = chain.snapshot();
    let replay = chain.block(&[tx]).remove(0);
    assert_eq!(replay.error.expect("fails").code, ErrorCode::NonceTooLow);
    let gap = SignedTx::new(
        &urbis_accounts::testkit::chain_ref(),
        &dept,
        chain.nonce(&dept) + 5,
        award(BOTTLES, "bob", 1),
    );
    let gap = chain.block(&[gap]).remove(0);
    assert_eq!(gap.error.expect("fails").code, ErrorCode::NonceGap);
    assert_eq!(chain.snapshot(), before);

    let unknown_module = Call {
        module: "parking".into(),
        data: award(BOTTLES, "bob", 1).data,
    };
    chain.fails(&dept, unknown_module, ErrorCode::UnknownModule);
    let garbage = Call {
        module: MODULE.into(),
        data: vec![3, 1],
    };
    chain.fails(&dept, garbage, ErrorCode::UnknownCall);
}

#[test]
fn a_failed_call_in_a_block_does_not_disturb_its_neighbours() {
    let mut chain = city();
    let (dept, alice) = (key("dept"), key("alice"));
    let receipts = chain.block_of(&[
        (&dept, award(BUS, "alice", 40)),
        (&alice, transfer("bob", BUS, 50)),
        (&alice, transfer("bob", BUS, 15)),
        (&dept, award(BUS, "alice", 11)),
    ]);
    let codes: Vec<Option<ErrorCode>> = receipts
        .iter()
        .map(|r| r.error.as_ref().map(|e| e.code))
        .collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some(ErrorCode::InsufficientBalance),
            None,
            Some(ErrorCode::OverCap)
        ]
    );
    assert_eq!(
        (balance(&chain, "alice", BUS), balance(&chain, "bob", BUS)),
        (25, 15)
    );
}

#[test]
fn lists_come_in_pages() {
    let mut chain = city();
    for i in 0..5 {
        chain.ok(
            &key("admin"),
            call(RewardsCall::CreateProgram {
                name: format!("extra {i}"),
                category: crate::Category::Other,
                budget: 10,
                cap_per_period: 1,
                period_ms: HOUR_MS,
                transferable: true,
            }),
        );
    }
    // Seven programs (two from genesis), two at a time, in key order.
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = chain
            .list(MODULE, &["programs"], 2, cursor.as_deref())
            .expect("page");
        assert!(page.items.len() <= 2);
        names.extend(
            page.items
                .iter()
                .map(|p| p["name"].as_str().expect("name").to_string()),
        );
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(names.len(), 7);
    let all = chain.list(MODULE, &["programs"], 1000, None).expect("all");
    assert_eq!(all.items.len(), 7);
    assert!(all.next_cursor.is_none());
    // Bad pages: stable codes.
    let code =
        |r: Result<urbis_runtime::ListPage, urbis_core::UrbisError>| r.expect_err("bad").code;
    assert_eq!(
        code(chain.list(MODULE, &["programs"], 0, None)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(chain.list(MODULE, &["programs"], 1001, None)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(chain.list(MODULE, &["programs"], 2, Some("zz"))),
        ErrorCode::InvalidArgument
    );
    // A cursor of another list is garbage here.
    let other: String = b"accounts/account/x"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        code(chain.list(MODULE, &["programs"], 2, Some(&other))),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(chain.list(MODULE, &["supply"], 2, None)),
        ErrorCode::InvalidArgument
    );
    assert!(
        chain
            .list(MODULE, &["redemptions"], 10, None)
            .expect("empty")
            .items
            .is_empty()
    );
}

/// A test service ("recycler") that pays recycling rewards through rewards' exported
/// operation: `Weighed { to, amount }` awards `amount` from program 1.
mod recycler {
    use borsh::{BorshDeserialize, BorshSerialize};
    use urbis_core::{Address, ErrorCode, UrbisError};
    use urbis_runtime::{Ctx, Module};

    #[derive(BorshSerialize, BorshDeserialize)]
    pub struct Weighed {
        pub to: Address,
        pub amount: u64,
    }

    pub struct Recycler(pub &'static str);

    impl Module for Recycler {
        fn name(&self) -> &'static str {
            self.0
        }
        fn genesis(&self, _: &mut Ctx<'_>, _: &serde_json::Value) -> Result<(), UrbisError> {
            Ok(())
        }
        fn execute(&self, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<(), UrbisError> {
            let w: Weighed = borsh::from_slice(data)
                .map_err(|_| UrbisError::new(ErrorCode::UnknownCall, "bad call"))?;
            ctx.put(format!("{}/weighings", self.0).into_bytes(), &w.amount);
            crate::award_from_program(ctx, super::BOTTLES, w.to, w.amount, "weighed bottles")
        }
        fn query_key(&self, _: &[&str]) -> Result<Vec<u8>, UrbisError> {
            Ok(format!("{}/weighings", self.0).into_bytes())
        }
        fn render(&self, _: &[&str], _: Option<&[u8]>) -> Result<serde_json::Value, UrbisError> {
            Ok(serde_json::Value::Null)
        }
        fn describe_call(&self, _: &[u8]) -> Result<serde_json::Value, UrbisError> {
            Ok(serde_json::Value::Null)
        }
    }
}

#[test]
fn another_module_awards_from_a_program_only_once_allowed_and_within_the_cap() {
    use recycler::{Recycler, Weighed};
    use std::sync::Arc;
    let (accounts, rewards) = city_config();
    let mut chain = TestChain::new(
        vec![
            urbis_accounts::module(),
            crate::module(),
            Arc::new(Recycler("recycler")),
            Arc::new(Recycler("rogue")),
        ],
        &[(urbis_accounts::MODULE, accounts), (MODULE, rewards)],
    );
    let weigh = |module: &str, to: &str, amount: u64| {
        Call::new(
            module,
            &Weighed {
                to: addr(to),
                amount,
            },
        )
    };
    let allow = |module: &str, allowed: bool| {
        call(RewardsCall::SetAwarder {
            program: BOTTLES,
            module: module.into(),
            allowed,
        })
    };
    // Not allowed yet: the whole call fails, the recycler's own write too.
    chain.fails(
        &key("dept"),
        weigh("recycler", "alice", 10),
        ErrorCode::Unauthorized,
    );
    // Only a city admin allows a module.
    chain.fails(
        &key("dept"),
        allow("recycler", true),
        ErrorCode::Unauthorized,
    );
    chain.fails(
        &key("admin"),
        call(RewardsCall::SetAwarder {
            program: 99,
            module: "recycler".into(),
            allowed: true,
        }),
        ErrorCode::NotFound,
    );
    let r = chain.ok(&key("admin"), allow("recycler", true));
    assert_eq!(r.events[0].kind, "awarder_set");

    let r = chain.ok(&key("dept"), weigh("recycler", "alice", 30));
    let awarded = r
        .events
        .iter()
        .find(|e| e.kind == "awarded")
        .expect("awarded");
    assert_eq!(awarded.attr("via"), Some("recycler"));
    assert_eq!(awarded.attr("reason"), Some("weighed bottles"));
    assert_eq!(balance(&chain, "alice", BOTTLES), 30);
    // The program's rules hold for modules too: cap (100 per hour), citizens only.
    chain.fails(
        &key("dept"),
        weigh("recycler", "alice", 71),
        ErrorCode::OverCap,
    );
    chain.fails(
        &key("dept"),
        weigh("recycler", "shop", 1),
        ErrorCode::InvalidArgument,
    );
    // Another module is not allowed by the recycler's permission.
    chain.fails(
        &key("dept"),
        weigh("rogue", "alice", 1),
        ErrorCode::Unauthorized,
    );
    // Withdrawn: refused again.
    chain.ok(&key("admin"), allow("recycler", false));
    chain.fails(
        &key("dept"),
        weigh("recycler", "alice", 1),
        ErrorCode::Unauthorized,
    );
    assert_eq!(balance(&chain, "alice", BOTTLES), 30);
}
