//! The portal: pages for residents, served by the node itself at `/` (no separate web server,
//! no build step). Pages are rendered on the server from the node's own state (never through
//! its HTTP API), with [`maud`] templates; the style sheet is compiled into the binary.
//!
//! | page | what it shows |
//! |---|---|
//! | `/` | the chain's status, the latest blocks, the modules it runs |
//! | `/blocks/{height or hash}` | a block's header and its transactions with their results |
//! | `/txs/{hash}` | a transaction: its call decoded, its receipt and events |
//! | `/accounts/{address}` | an account's roles, nonce, balances and reward tokens |
//! | `/dids/{did}` | a DID's current document, controller and version |
//! | `/search?q=` | a height, block or transaction hash, address, DID, parcel or `batch N`, sent to its page |
//! | `/identity` | the issuer trust list: per credential type, the accredited issuers and their periods |
//! | `/rewards` | reward programs: budgets, tokens awarded (chart), supply |
//! | `/governance?year=` | budget versus spending per line (chart), decisions, open tenders, the council, processing times |
//! | `/participation` | elections with turnout, petitions, consultations (chart per poll), notices |
//! | `/participation/elections/{id}` | an election's schedule, trustees, turnout, board head and result (chart) |
//! | `/energy` | clearing price and volume per interval (chart), feeders, meters |
//! | `/mobility` | transit journeys per day (chart), fares, ride-sharing by status, vehicles |
//! | `/waste` | collected and recycled mass per district, stream and month (chart), actors |
//! | `/waste/batches/{id}` | a batch's origins, custody hops with weights, fate, lineage |
//! | `/land/{parcel}` | a parcel's title, owners and history |
//!
//! Pages share the API's limits (requests in flight, timeout). What a page cannot find is a
//! 404 page saying so; a malformed address or hash is a 400 page.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::Value;
use urbis_core::{Address, Hash, SignedTx, UrbisError};

use crate::api::ApiState;

mod city;
mod services;

/// The portal's style sheet.
const STYLE: &str = include_str!("style.css");
/// The portal's script: the *verify* controls.
const SCRIPT: &str = include_str!("portal.js");
/// The signed-in resident's page's script.
const ME_SCRIPT: &str = include_str!("me.js");
/// The JavaScript client's modules the portal's script imports, served at `/js/{name}` (the
/// same files as `clients/js/`, compiled into the binary: no build step, nothing to install).
const CLIENT_JS: &[(&str, &str)] = &[
    ("bytes.js", include_str!("../../../../clients/js/bytes.js")),
    ("borsh.js", include_str!("../../../../clients/js/borsh.js")),
    ("calls.js", include_str!("../../../../clients/js/calls.js")),
    ("tx.js", include_str!("../../../../clients/js/tx.js")),
    (
        "client.js",
        include_str!("../../../../clients/js/client.js"),
    ),
    (
        "verify.js",
        include_str!("../../../../clients/js/verify.js"),
    ),
];

/// Latest blocks on the home page.
const HOME_BLOCKS: u64 = 20;

/// The portal's routes (merged into the API router, under its limits).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(home))
        .route("/blocks/{id}", get(block))
        .route("/txs/{hash}", get(tx))
        .route("/accounts/{address}", get(account))
        .route("/dids/{did}", get(did))
        .route("/search", get(search))
        .route("/rewards", get(services::rewards))
        .route("/identity", get(services::identity))
        .route("/governance", get(services::governance))
        .route("/participation", get(services::participation))
        .route("/participation/elections/{id}", get(services::election))
        .route("/energy", get(city::energy))
        .route("/mobility", get(city::mobility))
        .route("/waste", get(city::waste))
        .route("/land/{parcel}", get(city::parcel))
        .route("/waste/batches/{id}", get(city::batch))
        .route("/portal/style.css", get(style))
        .route("/portal/portal.js", get(script))
        .route("/portal/me.js", get(|| async { javascript(ME_SCRIPT) }))
        .route("/me", get(me))
        .route("/js/{name}", get(client_js))
}

/// A page's failure: a status and what to tell the reader.
struct PageError {
    status: StatusCode,
    message: String,
}

impl From<UrbisError> for PageError {
    fn from(e: UrbisError) -> Self {
        let status = match e.code {
            urbis_core::ErrorCode::NotFound => StatusCode::NOT_FOUND,
            urbis_core::ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        PageError {
            status,
            message: e.message,
        }
    }
}

fn not_found(message: impl Into<String>) -> PageError {
    PageError {
        status: StatusCode::NOT_FOUND,
        message: message.into(),
    }
}

fn bad_request(message: impl Into<String>) -> PageError {
    PageError {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

type PageResult = Result<Response, PageError>;

/// An HTML response.
fn html_page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// Render `body` in the portal's layout.
fn layout(s: &ApiState, title: &str, body: Markup) -> Markup {
    let chain_id = &s.shared.chain_id;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Urbis " (chain_id) }
                link rel="stylesheet" href="/portal/style.css";
                // No icon to fetch (a browser asks for /favicon.ico otherwise).
                link rel="icon" href="data:,";
                script type="module" src="/portal/portal.js" {}
            }
            body {
                header {
                    nav aria-label="Main" {
                        a class="brand" href="/" { "Urbis" }
                        span class="chain" { (chain_id) }
                        a href="/identity" { "Trust list" }
                        a href="/rewards" { "Rewards" }
                        a href="/governance" { "Government" }
                        a href="/participation" { "Taking part" }
                        a href="/energy" { "Energy" }
                        a href="/mobility" { "Mobility" }
                        a href="/waste" { "Waste" }
                        a href="/me" { "My city" }
                        form role="search" action="/search" method="get" {
                            label for="q" class="visually-hidden" { "Search" }
                            input id="q" name="q" type="search"
                                placeholder="Height, hash, address, DID, parcel, batch N";
                            button type="submit" { "Search" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
                footer {
                    p {
                        "Every value here comes from the chain's state at the node's latest "
                        "executed block. The node's API: " a href="/v1/openapi.json" { "/v1/openapi.json" }
                    }
                }
            }
        }
    }
}

impl PageError {
    fn render(self, s: &ApiState) -> Response {
        let title = if self.status == StatusCode::NOT_FOUND {
            "Not found"
        } else if self.status == StatusCode::BAD_REQUEST {
            "Not understood"
        } else {
            "Something went wrong"
        };
        html_page(
            self.status,
            layout(s, title, html! { p class="error" { (self.message) } }),
        )
    }
}

/// Run a page handler and turn its failure into an error page.
fn finish(s: &ApiState, r: PageResult) -> Response {
    r.unwrap_or_else(|e| e.render(s))
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a block timestamp.
fn utc(ms: u64) -> String {
    let days = ms / 86_400_000;
    let (y, m, d) = urbis_runtime::kit::civil_date(days);
    let secs = (ms / 1_000) % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The first and last characters of a long identifier.
fn short(text: &str) -> String {
    if text.len() <= 16 {
        return text.to_string();
    }
    format!("{}…{}", &text[..8], &text[text.len() - 6..])
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

async fn me(State(s): State<ApiState>) -> Response {
    let body = html! {
        p { "Sign in with your key to see your account, your DIDs, your credentials, the consent "
            "grants you gave and who used them, and to sign petitions. Your key stays in this "
            "browser (for this tab only): it is never sent to the node or anywhere else. This "
            "page needs JavaScript." }
        form id="me-form" {
            p {
                label for="me-seed" { "Your key (the 64 hex digits of your Ed25519 seed)" } br;
                input id="me-seed" type="password" autocomplete="off" spellcheck="false" size="66"
                    pattern="[0-9a-fA-F]{64}" required;
            }
            p {
                label for="me-wallet" { "Your wallet, optional (" code { "dids.json" } ", kept by the CLI next to its keystore)" } br;
                input id="me-wallet" type="file" accept=".json,application/json";
            }
            p {
                label for="me-credentials-files" { "Your credentials, optional (SD-JWT VC files)" } br;
                input id="me-credentials-files" type="file" multiple;
            }
            p { button type="submit" { "Sign in" } " " button id="me-signout" type="button" hidden { "Sign out" } }
        }
        p id="me-status" role="status" {}
        section id="me-account" hidden {}
        section id="me-dids" hidden {}
        section id="me-credentials" hidden {}
        section id="me-grants" hidden {}
        section id="me-petitions" hidden {}
        script type="module" src="/portal/me.js" {}
    };
    html_page(StatusCode::OK, layout(&s, "My city", body))
}

async fn script() -> Response {
    javascript(SCRIPT)
}

async fn client_js(State(s): State<ApiState>, Path(name): Path<String>) -> Response {
    match CLIENT_JS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => javascript(text),
        None => not_found(format!("no module {name}")).render(&s),
    }
}

fn javascript(text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        text,
    )
        .into_response()
}

/// A *verify* control for the value at `module`'s query `path`: the portal's script fetches
/// its proof and checks it in the page (hidden without scripts).
pub(super) fn verify(module: &str, path: &[&str]) -> Markup {
    html! {
        span class="verify" data-module=(module) data-path=(path.join("/")) {
            button type="button" hidden { "verify" }
            output aria-live="polite" {}
        }
    }
}

/// A *verify* control for a transaction's receipt.
fn verify_tx(hash: &Hash) -> Markup {
    html! {
        span class="verify" data-tx=(hash) {
            button type="button" hidden { "verify" }
            output aria-live="polite" {}
        }
    }
}

async fn home(State(s): State<ApiState>) -> Response {
    let r = home_page(&s);
    finish(&s, r)
}

fn home_page(s: &ApiState) -> PageResult {
    let sh = &s.shared;
    let height = sh.executed_height();
    let head = sh.chain.block(height)?;
    let root = sh.chain.state_root(height)?.unwrap_or(Hash::ZERO);
    let mut blocks = Vec::new();
    for h in (height.saturating_sub(HOME_BLOCKS - 1)..=height).rev() {
        if let Some(b) = sh.chain.block(h)? {
            blocks.push(b);
        }
    }
    let stats = sh.mempool.stats();
    let body = html! {
        section aria-labelledby="status" {
            h2 id="status" { "Chain status" }
            dl class="facts" {
                dt { "Height" } dd { a href={"/blocks/" (height)} { (height) } }
                @if let Some(b) = &head {
                    dt { "Latest block" } dd { (utc(b.header.timestamp_ms)) }
                }
                dt { "State root" } dd { code { (root) } }
                dt { "Validators" } dd { (sh.sets.current_set().keys.len()) }
                dt { "Pending transactions" } dd { (stats.txs) }
                dt { "Genesis" } dd { code { (sh.chain_ref.genesis_hash) } }
            }
        }
        section aria-labelledby="blocks" {
            h2 id="blocks" { "Latest blocks" }
            table {
                thead { tr { th scope="col" { "Height" } th scope="col" { "Time" } th scope="col" { "Transactions" } th scope="col" { "Hash" } } }
                tbody {
                    @for b in &blocks {
                        tr {
                            td { a href={"/blocks/" (b.header.height)} { (b.header.height) } }
                            td { (utc(b.header.timestamp_ms)) }
                            td class="num" { (b.header.tx_count) }
                            td { code { (short(&b.digest().to_string())) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="modules" {
            h2 id="modules" { "Services on this chain" }
            ul class="modules" {
                @for m in sh.runtime.module_names() {
                    li { code { (m) } }
                }
            }
        }
    };
    Ok(html_page(StatusCode::OK, layout(s, "City ledger", body)))
}

async fn block(State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    let r = block_page(&s, &id);
    finish(&s, r)
}

fn block_page(s: &ApiState, id: &str) -> PageResult {
    let chain = &s.shared.chain;
    let height = match id.parse::<u64>() {
        Ok(h) => h,
        Err(_) => {
            let hash: Hash = id.parse().map_err(|_| {
                bad_request(format!("{id:.80} is neither a height nor a block hash"))
            })?;
            chain
                .height_of(&hash)?
                .ok_or_else(|| not_found(format!("no block {hash}")))?
        }
    };
    let b = chain
        .block(height)?
        .ok_or_else(|| not_found(format!("no block at height {height}")))?;
    let receipts = chain.receipts(height)?.unwrap_or_default();
    let h = &b.header;
    let body = html! {
        dl class="facts" {
            dt { "Hash" } dd { code { (b.digest()) } }
            dt { "Time" } dd { (utc(h.timestamp_ms)) }
            dt { "Parent" } dd {
                @if height > 0 { a href={"/blocks/" (height - 1)} { code { (short(&h.parent.to_string())) } } }
                @else { "none (genesis)" }
            }
            dt { "Proposer" } dd { code { (short(&h.proposer.to_string())) } }
            dt { "State root (after height " (h.state_height) ")" } dd { code { (h.state_root) } }
            dt { "Transactions root" } dd { code { (h.txs_root) } }
            dt { "Finalized" } dd { @if chain.finalization(height)?.is_some() { "yes, certificate stored" } @else { "not yet" } }
        }
        h2 { (b.txs.len()) " transactions" }
        @if !b.txs.is_empty() {
            table {
                thead { tr { th scope="col" { "#" } th scope="col" { "Transaction" } th scope="col" { "Sender" } th scope="col" { "Call" } th scope="col" { "Result" } } }
                tbody {
                    @for (i, t) in b.txs.iter().enumerate() {
                        tr {
                            td class="num" { (i) }
                            td { a href={"/txs/" (t.hash())} { code { (short(&t.hash().to_string())) } } }
                            td { (address_link(&t.signer.address())) }
                            td { (t.call.module) " · " (call_name(s, t)) }
                            td { (result(receipts.get(i))) }
                        }
                    }
                }
            }
        }
        nav class="pager" aria-label="Blocks" {
            @if height > 0 { a href={"/blocks/" (height - 1)} { "← Height " (height - 1) } }
            @if height < s.shared.executed_height() { a href={"/blocks/" (height + 1)} { "Height " (height + 1) " →" } }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(s, &format!("Block {height}"), body),
    ))
}

fn address_link(a: &Address) -> Markup {
    let text = a.to_string();
    html! { a href={"/accounts/" (text)} { code { (short(&text)) } } }
}

/// The call's name (the `call` field of its decoded JSON), or `?` if it does not decode.
fn call_name(s: &ApiState, t: &SignedTx) -> String {
    s.shared
        .runtime
        .describe_call(&t.call.module, &t.call.data)
        .ok()
        .and_then(|v| v["call"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn result(r: Option<&urbis_core::Receipt>) -> Markup {
    match r {
        Some(r) if r.success => html! { span class="ok" { "ok" } },
        Some(r) => {
            let code = r
                .error
                .as_ref()
                .map(|e| e.code.to_string())
                .unwrap_or_default();
            html! { span class="failed" { "failed: " (code) } }
        }
        None => html! { "—" },
    }
}

async fn tx(State(s): State<ApiState>, Path(hash): Path<String>) -> Response {
    let r = tx_page(&s, &hash);
    finish(&s, r)
}

fn tx_page(s: &ApiState, text: &str) -> PageResult {
    let hash: Hash = text
        .parse()
        .map_err(|_| bad_request(format!("{text:.80} is not a transaction hash")))?;
    let chain = &s.shared.chain;
    let Some((height, index)) = chain.tx_location(&hash)? else {
        let pending = s.shared.mempool.contains(&hash);
        let body = html! {
            p { @if pending { "This transaction is waiting to be included in a block." }
                @else { "No transaction with this hash is pending or committed." } }
        };
        let status = if pending {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        return Ok(html_page(status, layout(s, "Transaction", body)));
    };
    let b = chain
        .block(height)?
        .ok_or_else(|| not_found(format!("no block at height {height}")))?;
    let t = b
        .txs
        .get(index as usize)
        .ok_or_else(|| not_found(format!("block {height} has no transaction {index}")))?;
    let receipt = chain.receipt(&hash)?;
    let call = s
        .shared
        .runtime
        .describe_call(&t.call.module, &t.call.data)
        .unwrap_or_else(|e| serde_json::json!({"undecodable": e.message}));
    let body = html! {
        dl class="facts" {
            dt { "Hash" } dd { code { (hash) } }
            dt { "Block" } dd { a href={"/blocks/" (height)} { (height) } " (transaction " (index) ")" }
            dt { "Time" } dd { (utc(b.header.timestamp_ms)) }
            dt { "Sender" } dd { (address_link(&t.signer.address())) }
            dt { "Nonce" } dd { (t.nonce) }
            dt { "Module" } dd { code { (t.call.module) } }
            dt { "Result" } dd { (result(receipt.as_ref())) " " (verify_tx(&hash)) }
            @if let Some(e) = receipt.as_ref().and_then(|r| r.error.as_ref()) {
                dt { "Error" } dd { code { (e.code) } " " (e.message) }
            }
        }
        h2 { "Call" }
        pre { (pretty(&call)) }
        @if let Some(r) = &receipt {
            h2 { "Events" }
            @if r.events.is_empty() { p { "None." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Module" } th scope="col" { "Event" } th scope="col" { "Attributes" } } }
                    tbody {
                        @for e in &r.events {
                            tr {
                                td { code { (e.module) } }
                                td { (e.kind) }
                                td { @for (k, v) in &e.attributes { span class="attr" { (k) "=" (v) } " " } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(StatusCode::OK, layout(s, "Transaction", body)))
}

async fn account(State(s): State<ApiState>, Path(address): Path<String>) -> Response {
    let r = account_page(&s, &address);
    finish(&s, r)
}

/// One page's reads, all from the same snapshot of the state (one read transaction).
struct Reader<'a> {
    s: &'a ApiState,
    view: urbis_state::StateSnapshot,
}

impl<'a> Reader<'a> {
    fn new(s: &'a ApiState) -> Result<Self, PageError> {
        Ok(Reader {
            s,
            view: s.shared.chain.state_view()?,
        })
    }

    /// A single-key query's value, `Value::Null` when the key is absent or the chain does not
    /// run `module`.
    fn value(&self, module: &str, path: &[&str]) -> Result<Value, PageError> {
        if !self.s.shared.runtime.has_module(module) {
            return Ok(Value::Null);
        }
        match self.s.shared.runtime.query(&self.view, module, path) {
            Ok(a) => Ok(a.value),
            Err(e) if e.code == urbis_core::ErrorCode::NotFound => Ok(Value::Null),
            Err(e) => Err(e.into()),
        }
    }

    /// The items of a list query (at most [`LIST`]); none when the chain does not run
    /// `module`.
    fn list(&self, module: &str, path: &[&str]) -> Result<Vec<Value>, PageError> {
        if !self.s.shared.runtime.has_module(module) {
            return Ok(Vec::new());
        }
        Ok(self
            .s
            .shared
            .runtime
            .query_list(&self.view, module, path, LIST, None)?
            .items)
    }
}

/// Most items a list on a page shows.
const LIST: usize = 200;

fn account_page(s: &ApiState, text: &str) -> PageResult {
    let rd = Reader::new(s)?;
    let address: Address = text
        .parse()
        .map_err(|_| bad_request(format!("{text:.80} is not an Urbis address")))?;
    let a = address.to_string();
    let nonce = urbis_runtime::read_nonce(&rd.view, &address)?;
    let record = rd.value("accounts", &["account", &a])?;
    let rewards = rd.value("rewards", &["balance", &a])?;
    let mut balances = Vec::new();
    for asset in rd.list("assets", &["assets"])? {
        let Some(symbol) = asset["symbol"].as_str() else {
            continue;
        };
        let b = rd.value("assets", &["balance", symbol, &a])?;
        if let Some(amount) = b["amount"].as_u64().filter(|n| *n > 0) {
            balances.push((symbol.to_string(), amount));
        }
    }
    if record.is_null() && nonce == 0 && balances.is_empty() {
        return Err(not_found(format!("the chain knows nothing of {a}")));
    }
    let roles: Vec<String> = record["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let body = html! {
        dl class="facts" {
            dt { "Address" } dd { code { (a) } }
            dt { "Roles" } dd { @if roles.is_empty() { "none" } @else { (roles.join(", ")) }
                " " (verify("accounts", &["account", &a])) }
            @if let Some(label) = record["label"].as_str() { dt { "Label" } dd { (label) } }
            dt { "Transactions sent" } dd { (nonce) }
        }
        h2 { "Balances" }
        @if balances.is_empty() { p { "No asset balance." } }
        @else {
            table {
                thead { tr { th scope="col" { "Asset" } th scope="col" { "Amount" } th scope="col" { "Proof" } } }
                tbody { @for (sym, amount) in &balances { tr { td { (sym) } td class="num" { (amount) }
                    td { (verify("assets", &["balance", sym, &a])) } } } }
            }
        }
        h2 { "Reward tokens" }
        @match rewards["by_program"].as_object() {
            Some(by) if !by.is_empty() => {
                p { (verify("rewards", &["balance", &a])) }
                table {
                    thead { tr { th scope="col" { "Program" } th scope="col" { "Tokens" } } }
                    tbody { @for (p, n) in by { tr { td { (p) } td class="num" { (n) } } } }
                }
            }
            _ => { p { "None." } }
        }
    };
    Ok(html_page(StatusCode::OK, layout(s, "Account", body)))
}

async fn did(State(s): State<ApiState>, Path(did): Path<String>) -> Response {
    let r = did_page(&s, &did);
    finish(&s, r)
}

fn did_page(s: &ApiState, did: &str) -> PageResult {
    let rd = Reader::new(s)?;
    let record = rd.value("identity", &["did", did])?;
    if record.is_null() {
        return Err(not_found(format!("no DID {did:.100}")));
    }
    let controller = record["controller"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = html! {
        dl class="facts" {
            dt { "DID" } dd { code { (did) } }
            dt { "Subject" } dd { (record["subject"].as_str().unwrap_or("")) }
            dt { "Controller" } dd {
                @if let Ok(a) = controller.parse::<Address>() { (address_link(&a)) } @else { (controller) }
            }
            dt { "Version" } dd { (record["version"]) " " (verify("identity", &["did", did])) }
            @if record["deactivated"] == Value::Bool(true) { dt { "Status" } dd { "deactivated" } }
        }
        h2 { "DID document" }
        pre { (pretty(&record["did_document"])) }
        p { "Resolve it with the W3C resolution interface: " a href={"/1.0/identifiers/" (did)} { "/1.0/identifiers/" (did) } }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(s, "Decentralized identifier", body),
    ))
}

#[derive(Deserialize)]
struct SearchParams {
    #[serde(default)]
    q: String,
}

async fn search(State(s): State<ApiState>, Query(p): Query<SearchParams>) -> Response {
    let r = search_page(&s, p.q.trim());
    finish(&s, r)
}

fn search_page(s: &ApiState, q: &str) -> PageResult {
    let rd = Reader::new(s)?;
    let found = |path: String| Ok(Redirect::to(&path).into_response());
    if q.is_empty() {
        return Err(bad_request(
            "type a height, a block or transaction hash, an address or a DID",
        ));
    }
    if q.bytes().all(|b| b.is_ascii_digit()) {
        return found(format!("/blocks/{q}"));
    }
    if q.starts_with("did:") {
        return found(format!("/dids/{q}"));
    }
    if let Ok(a) = q.parse::<Address>() {
        return found(format!("/accounts/{a}"));
    }
    if let Ok(h) = q.parse::<Hash>() {
        if s.shared.chain.tx_location(&h)?.is_some() || s.shared.mempool.contains(&h) {
            return found(format!("/txs/{h}"));
        }
        if s.shared.chain.height_of(&h)?.is_some() {
            return found(format!("/blocks/{h}"));
        }
        return Err(not_found(format!("no block or transaction {h}")));
    }
    if let Some(n) = q
        .strip_prefix("batch ")
        .and_then(|n| n.trim().parse::<u64>().ok())
    {
        return found(format!("/waste/batches/{n}"));
    }
    let parcel = rd.value("land", &["parcel", q]).is_ok_and(|p| !p.is_null());
    if parcel {
        return found(format!("/land/{q}"));
    }
    Err(not_found(format!("nothing on this chain matches {q:.100}")))
}
