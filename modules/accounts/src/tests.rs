//! End-to-end tests of the accounts module through the runtime.

use serde_json::json;
use urbis_core::{Call, ErrorCode, SignedTx};

use crate::testkit::{TestChain, addr, key};
use crate::{AccountsCall, MODULE, Role, keys, module, roles_of};

fn call(c: AccountsCall) -> Call {
    Call::new(MODULE, &c)
}

fn grant(who: &str, role: Role) -> Call {
    call(AccountsCall::GrantRole {
        account: addr(who),
        role,
    })
}

fn revoke(who: &str, role: Role) -> Call {
    call(AccountsCall::RevokeRole {
        account: addr(who),
        role,
    })
}

fn label(text: &str) -> Call {
    call(AccountsCall::SetLabel {
        label: text.to_string(),
    })
}

/// A city with an admin (labelled "City"), a department and a credential issuer.
fn city() -> TestChain {
    let config = json!({ "accounts": [
        { "address": addr("admin"), "roles": ["city_admin"], "label": "City" },
        { "address": addr("dept"), "roles": ["department"] },
        { "address": addr("issuer"), "roles": ["credential_issuer"] },
    ]});
    TestChain::new(vec![module()], &[(MODULE, config)])
}

fn roles(chain: &TestChain, who: &str) -> Vec<Role> {
    roles_of(chain.view(), &addr(who)).expect("roles read")
}

#[test]
fn genesis_creates_accounts() {
    let chain = city();
    assert_eq!(roles(&chain, "admin"), vec![Role::CityAdmin]);
    let answer = chain
        .query(MODULE, &["account", &addr("admin").to_string()])
        .expect("query");
    assert_eq!(answer.key, keys::account(&addr("admin")));
    assert_eq!(
        answer.value,
        json!({ "address": addr("admin"), "roles": ["city_admin"], "label": "City" })
    );
}

#[test]
fn null_genesis_creates_nothing() {
    let chain = TestChain::new(vec![module()], &[]);
    assert!(chain.snapshot().is_empty());
}

#[test]
fn bad_genesis_is_rejected() {
    let bad = [
        json!({ "accounts": [
            { "address": addr("a"), "roles": ["citizen"] },
            { "address": addr("a"), "roles": ["merchant"] },
        ]}),
        json!({ "accounts": [{ "address": addr("a"), "roles": ["citizen", "citizen"] }] }),
        json!({ "accounts": [{ "address": addr("a"), "label": "x".repeat(65) }] }),
        json!({ "accounts": [{ "address": "urbis1nope", "roles": [] }] }),
        json!({ "accounts": [{ "address": addr("a"), "roles": ["mayor"] }] }),
        json!({ "accounts": [], "extra": 1 }),
    ];
    for config in bad {
        let err = TestChain::try_new(vec![module()], &[(MODULE, config.clone())])
            .err()
            .unwrap_or_else(|| panic!("accepted {config}"));
        assert_eq!(err.code, ErrorCode::InvalidArgument, "{config}: {err}");
    }
}

#[test]
fn admin_and_delegates_grant_and_revoke() {
    let mut chain = city();
    let receipt = chain.ok(&key("admin"), grant("ops", Role::ValidatorOperator));
    let event = &receipt.events[0];
    assert_eq!(
        (event.module.as_str(), event.kind.as_str()),
        (MODULE, "role_granted")
    );
    assert_eq!(
        event.attr("account"),
        Some(addr("ops").to_string().as_str())
    );
    assert_eq!(event.attr("role"), Some("validator_operator"));
    assert_eq!(event.attr("by"), Some(addr("admin").to_string().as_str()));

    chain.ok(&key("dept"), grant("alice", Role::Citizen));
    chain.ok(&key("dept"), grant("shop", Role::Merchant));
    chain.ok(&key("dept"), grant("bin", Role::CertifiedDevice));
    chain.ok(&key("issuer"), grant("bob", Role::Citizen));
    chain.ok(&key("dept"), grant("alice", Role::Merchant));
    assert_eq!(roles(&chain, "alice"), vec![Role::Merchant, Role::Citizen]);

    let receipt = chain.ok(&key("issuer"), revoke("bob", Role::Citizen));
    assert_eq!(receipt.events[0].kind, "role_revoked");
    assert_eq!(roles(&chain, "bob"), vec![]);
    // Nothing left to store: the record is gone, and the query says null.
    assert_eq!(
        chain.value(MODULE, &["account", &addr("bob").to_string()]),
        json!(null)
    );
    assert!(!chain.snapshot().contains_key(&keys::account(&addr("bob"))));
}

#[test]
fn unauthorized_grants_and_revokes_name_the_missing_role() {
    let mut chain = city();
    chain.ok(&key("dept"), grant("alice", Role::Citizen));
    let cases = [
        (
            "alice",
            grant("bob", Role::Citizen),
            "city_admin or department or credential_issuer",
        ),
        // A sender holding no role is refused by the runtime's gate, before this module runs.
        ("nobody", grant("nobody", Role::Citizen), "holds no role"),
        ("dept", grant("bob", Role::Department), "city_admin role"),
        (
            "dept",
            grant("bob", Role::CredentialIssuer),
            "city_admin role",
        ),
        (
            "issuer",
            grant("bob", Role::Merchant),
            "city_admin or department role",
        ),
        (
            "issuer",
            revoke("dept", Role::Department),
            "city_admin role",
        ),
        ("dept", revoke("admin", Role::CityAdmin), "city_admin role"),
    ];
    for (signer, c, needed) in cases {
        let message = chain.fails(&key(signer), c, ErrorCode::Unauthorized);
        assert!(
            message.contains(needed),
            "{message:?} should name {needed:?}"
        );
    }
}

#[test]
fn duplicate_grant_and_missing_revoke() {
    let mut chain = city();
    chain.ok(&key("dept"), grant("alice", Role::Citizen));
    chain.fails(
        &key("issuer"),
        grant("alice", Role::Citizen),
        ErrorCode::AlreadyExists,
    );
    chain.fails(
        &key("dept"),
        revoke("alice", Role::Merchant),
        ErrorCode::NotFound,
    );
    chain.fails(
        &key("admin"),
        revoke("stranger", Role::Citizen),
        ErrorCode::NotFound,
    );
}

#[test]
fn admin_cannot_revoke_own_admin_role_but_another_admin_can() {
    let mut chain = city();
    chain.fails(
        &key("admin"),
        revoke("admin", Role::CityAdmin),
        ErrorCode::InvalidState,
    );
    chain.ok(&key("admin"), grant("admin2", Role::CityAdmin));
    chain.ok(&key("admin2"), revoke("admin", Role::CityAdmin));
    // The record survives because it still has a label.
    assert_eq!(
        chain.value(MODULE, &["account", &addr("admin").to_string()]),
        json!({ "address": addr("admin"), "roles": [], "label": "City" })
    );
}

#[test]
fn labels() {
    let mut chain = city();
    // Without a role, even labelling oneself is refused, and nothing (not even a nonce) is
    // written: throwaway keys cannot grow the state.
    let before = chain.snapshot();
    let receipt = chain.send(&key("alice"), label("Alice"));
    assert_eq!(receipt.error.map(|e| e.code), Some(ErrorCode::Unauthorized));
    assert!(!receipt.nonce_used);
    assert_eq!(chain.snapshot(), before);

    chain.ok(&key("dept"), grant("alice", Role::Citizen));
    let receipt = chain.ok(&key("alice"), label("Alice ✓"));
    assert_eq!(receipt.events[0].kind, "label_set");
    assert_eq!(receipt.events[0].attr("label"), Some("Alice ✓"));
    assert_eq!(
        chain.value(MODULE, &["account", &addr("alice").to_string()]),
        json!({ "address": addr("alice"), "roles": ["citizen"], "label": "Alice ✓" })
    );
    chain.fails(
        &key("alice"),
        label(&"x".repeat(65)),
        ErrorCode::InvalidArgument,
    );
    chain.fails(
        &key("alice"),
        label("tab\there"),
        ErrorCode::InvalidArgument,
    );
    chain.ok(&key("alice"), label(""));
    assert_eq!(
        chain.value(MODULE, &["account", &addr("alice").to_string()]),
        json!({ "address": addr("alice"), "roles": ["citizen"], "label": "" })
    );
    // With its last role revoked and no label, the account has no record at all.
    chain.ok(&key("dept"), revoke("alice", Role::Citizen));
    assert_eq!(
        chain.value(MODULE, &["account", &addr("alice").to_string()]),
        json!(null)
    );
}

#[test]
fn query_errors() {
    let chain = city();
    let err = |path: &[&str]| chain.query(MODULE, path).expect_err("query fails").code;
    assert_eq!(err(&["account", "urbis1bad"]), ErrorCode::InvalidArgument);
    assert_eq!(err(&["account"]), ErrorCode::NotFound);
    assert_eq!(
        err(&["accounts", &addr("a").to_string()]),
        ErrorCode::NotFound
    );
    assert_eq!(err(&[]), ErrorCode::NotFound);
}

#[test]
fn describe_call_renders_json() {
    let chain = city();
    let c = grant("alice", Role::Citizen);
    let json = chain
        .runtime
        .describe_call(MODULE, &c.data)
        .expect("decodes");
    assert_eq!(
        json,
        json!({ "call": "grant_role", "account": addr("alice"), "role": "citizen" })
    );
    let err = chain
        .runtime
        .describe_call(MODULE, &[9, 9])
        .expect_err("garbage");
    assert_eq!(err.code, ErrorCode::UnknownCall);
}

#[test]
fn runtime_rejections() {
    let mut chain = city();
    let admin = key("admin");

    // Replay: the exact transaction again, after it was executed.
    let tx = chain.tx(&admin, grant("alice", Role::Citizen));
    assert!(chain.block(std::slice::from_ref(&tx))[0].success);
    let before = chain.snapshot();
    let receipt = chain.block(&[tx]).remove(0);
    assert_eq!(receipt.error.expect("fails").code, ErrorCode::NonceTooLow);
    assert_eq!(chain.snapshot(), before, "a replay writes nothing at all");

    // Gap: a nonce from the future.
    let gap = SignedTx::new(
        &crate::testkit::chain_ref(),
        &admin,
        chain.nonce(&admin) + 1,
        label("later"),
    );
    let receipt = chain.block(&[gap]).remove(0);
    assert_eq!(receipt.error.expect("fails").code, ErrorCode::NonceGap);
    assert_eq!(chain.snapshot(), before, "a gap writes nothing at all");

    // Valid nonce, bad call: only the nonce is consumed (see the runtime docs).
    let nowhere = Call {
        module: "nowhere".into(),
        data: vec![0],
    };
    chain.fails(&admin, nowhere, ErrorCode::UnknownModule);
    let garbage = Call {
        module: MODULE.into(),
        data: vec![42, 1, 2],
    };
    chain.fails(&admin, garbage, ErrorCode::UnknownCall);
    let trailing = Call {
        module: MODULE.into(),
        data: [label("x").data, vec![0]].concat(),
    };
    chain.fails(&admin, trailing, ErrorCode::UnknownCall);
}

#[test]
fn writes_within_a_block_are_seen_by_later_calls() {
    let mut chain = city();
    let admin = key("admin");
    let first = chain.tx(&admin, grant("d2", Role::Department));
    let second = SignedTx::new(
        &crate::testkit::chain_ref(),
        &key("d2"),
        0,
        grant("alice", Role::Citizen),
    );
    let receipts = chain.block(&[first, second]);
    assert!(receipts.iter().all(|r| r.success), "{receipts:?}");
    assert_eq!(roles(&chain, "alice"), vec![Role::Citizen]);
}
