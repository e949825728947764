//! Pages of the city's services: reward programs, the government's ledger (budget versus
//! spending, decisions, tenders, the council, workflows) and participation (elections,
//! petitions, polls, notices). Each reads its module's list queries; a module the chain does
//! not run shows as absent.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::{PageResult, Reader, finish, html_page, layout, short, utc, verify};
use crate::api::ApiState;

pub(super) fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

pub(super) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A horizontal bar chart as inline SVG: one row per item, the full bar `total`, the filled
/// part `part` (e.g. a budget line and what is spent of it). Accessible: a title, and each
/// row's figures as text.
pub(super) fn bars(id: &str, title: &str, rows: &[(String, u64, u64)]) -> Markup {
    const ROW: u64 = 28;
    const LABEL: u64 = 220;
    const WIDTH: u64 = 460;
    let max = rows.iter().map(|r| r.1.max(r.2)).max().unwrap_or(0).max(1);
    let height = ROW * rows.len() as u64 + 8;
    let scale = |x: u64| x.saturating_mul(WIDTH) / max;
    html! {
        figure class="chart" {
            svg role="img" aria-labelledby=(id) width=(LABEL + WIDTH + 140)
                height=(height) viewBox={"0 0 " (LABEL + WIDTH + 140) " " (height)} {
                title id=(id) { (title) }
                @for (i, (label, total, part)) in rows.iter().enumerate() {
                    @let y = i as u64 * ROW + 4;
                    text x="0" y=(y + 17) class="label" { (label) }
                    rect x=(LABEL) y=(y) width=(scale(*total)) height="20" class="total" {}
                    rect x=(LABEL) y=(y + 4) width=(scale(*part).max(u64::from(*part > 0))) height="12" class="part" {}
                    text x=(LABEL + scale((*total).max(*part)) + 6) y=(y + 15) class="figure" {
                        (part) " / " (total)
                    }
                }
            }
            figcaption { (title) }
        }
    }
}

pub(super) async fn rewards(State(s): State<ApiState>) -> Response {
    let r = rewards_page(&s);
    finish(&s, r)
}

fn rewards_page(s: &ApiState) -> PageResult {
    let rd = Reader::new(s)?;
    let programs = rd.list("rewards", &["programs"])?;
    let supply = rd.value("rewards", &["supply"])?;
    let rows: Vec<(String, u64, u64)> = programs
        .iter()
        .map(|p| {
            (
                text(&p["name"]).to_string(),
                n(&p["budget"]),
                n(&p["minted"]),
            )
        })
        .collect();
    let body = html! {
        p { "Tokens the city awards residents for what helps it (recycling, saving energy, "
            "taking part), each from a program with a budget and a cap per period." }
        @if !supply.is_null() {
            dl class="facts" {
                dt { "Tokens in circulation" } dd { (n(&supply["minted"]).saturating_sub(n(&supply["burned"]))) }
                dt { "Minted" } dd { (supply["minted"]) }
                dt { "Redeemed (burned)" } dd { (supply["burned"]) }
            }
        }
        h2 { "Programs" }
        @if programs.is_empty() { p { "No reward program yet." } } @else {
            (bars("chart-programs", "Tokens awarded of each program's budget", &rows))
            table {
                thead { tr { th scope="col" { "Program" } th scope="col" { "Category" }
                    th scope="col" { "Budget" } th scope="col" { "Awarded" }
                    th scope="col" { "Cap per period" } th scope="col" { "Status" } th scope="col" { "Proof" } } }
                tbody {
                    @for p in &programs {
                        tr {
                            td { (text(&p["name"])) }
                            td { (text(&p["category"])) }
                            td class="num" { (n(&p["budget"])) }
                            td class="num" { (n(&p["minted"])) }
                            td class="num" { (n(&p["cap_per_period"])) }
                            td { @if p["active"] == Value::Bool(true) { "active" } @else { "paused" } }
                            td { (verify("rewards", &["program", &n(&p["id"]).to_string()])) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(StatusCode::OK, layout(s, "Rewards", body)))
}

#[derive(Deserialize)]
pub(super) struct YearParam {
    year: Option<u16>,
}

pub(super) async fn governance(State(s): State<ApiState>, Query(q): Query<YearParam>) -> Response {
    let r = governance_page(&s, q.year);
    finish(&s, r)
}

fn governance_page(s: &ApiState, year: Option<u16>) -> PageResult {
    let rd = Reader::new(s)?;
    let now = s
        .shared
        .chain
        .block(s.shared.executed_height())?
        .map_or(0, |b| b.header.timestamp_ms);
    let year = year.unwrap_or_else(|| urbis_runtime::kit::civil_date(now / 86_400_000).0 as u16);
    let y = year.to_string();
    let lines = rd.list("governance", &["budget", &y])?;
    let mut decisions = rd.list("governance", &["decisions"])?;
    decisions.sort_by_key(|d| std::cmp::Reverse(n(&d["recorded_ms"])));
    decisions.truncate(20);
    let open: Vec<Value> = rd
        .list("governance", &["open-tenders"])?
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .map(|id| rd.value("governance", &["tender", &id]))
        .collect::<Result<_, _>>()?;
    let council = rd.value("governance", &["council"])?;
    let workflows = rd.list("governance", &["workflows"])?;
    let mut processing = Vec::new();
    for w in &workflows {
        let name = text(&w["name"]);
        processing.push((
            name.to_string(),
            rd.value("governance", &["processing", name])?,
        ));
    }
    let rows: Vec<(String, u64, u64)> = lines
        .iter()
        .map(|l| {
            (
                format!("{} · {}", text(&l["department"]), text(&l["category"])),
                n(&l["amount"]),
                n(&l["spent"]),
            )
        })
        .collect();
    let body = html! {
        nav class="pager" aria-label="Fiscal years" {
            a href={"/governance?year=" (year - 1)} { "← " (year - 1) }
            a href={"/governance?year=" (year + 1)} { (year + 1) " →" }
        }
        h2 { "Budget " (year) ": appropriations and spending" }
        @if lines.is_empty() { p { "No budget line for " (year) "." } } @else {
            (bars("chart-budget", &format!("Spent of each budget line, {year}"), &rows))
            table {
                thead { tr { th scope="col" { "Department" } th scope="col" { "Category" }
                    th scope="col" { "Budget" } th scope="col" { "Spent" } th scope="col" { "Remaining" }
                    th scope="col" { "Proof" } } }
                tbody {
                    @for l in &lines {
                        tr {
                            td { (text(&l["department"])) }
                            td { (text(&l["category"])) }
                            td class="num" { (n(&l["amount"])) }
                            td class="num" { (n(&l["spent"])) }
                            td class="num" { (n(&l["remaining"])) }
                            td { (verify("governance", &["appropriation", &y, text(&l["department"]), text(&l["category"])])) }
                        }
                    }
                }
            }
        }
        h2 { "Latest decisions" }
        @if decisions.is_empty() { p { "No decision recorded yet." } } @else {
            table {
                thead { tr { th scope="col" { "Date" } th scope="col" { "Kind" } th scope="col" { "Department" }
                    th scope="col" { "Category" } th scope="col" { "Title" } th scope="col" { "Document (SHA-256)" }
                    th scope="col" { "Proof" } } }
                tbody {
                    @for d in &decisions {
                        tr {
                            td { (text(&d["date"])) }
                            td { (text(&d["kind"])) }
                            td { (text(&d["department"])) }
                            td { (text(&d["category"])) }
                            td { (text(&d["title"])) }
                            td { code { (short(text(&d["document_hash"]))) } }
                            td { (verify("governance", &["decision", text(&d["id"])])) }
                        }
                    }
                }
            }
        }
        h2 { "Open tenders" }
        @if open.is_empty() { p { "No open tender." } } @else {
            table {
                thead { tr { th scope="col" { "Title" } th scope="col" { "Department" } th scope="col" { "Ceiling" }
                    th scope="col" { "Bids close" } th scope="col" { "Reveals close" } th scope="col" { "Bidders" } } }
                tbody {
                    @for t in &open {
                        tr {
                            td { (text(&t["title"])) }
                            td { (text(&t["department"])) }
                            td class="num" { (n(&t["max_amount"])) }
                            td { (utc(n(&t["bids_close_ms"]))) }
                            td { (utc(n(&t["reveals_close_ms"]))) }
                            td class="num" { (t["bidders"].as_array().map_or(0, Vec::len)) }
                        }
                    }
                }
            }
        }
        h2 { "Council" }
        @if council.is_null() { p { "No council is seated." } } @else {
            p { (council["members"].as_array().map_or(0, Vec::len)) " members; "
                (n(&council["threshold"])) " must approve a proposal, which runs "
                (n(&council["timelock_ms"]) / 1_000) " s after the last approval." }
        }
        h2 { "Administrative processes" }
        @if processing.is_empty() { p { "No workflow is defined." } } @else {
            table {
                thead { tr { th scope="col" { "Workflow" } th scope="col" { "Finished" }
                    th scope="col" { "Average time" } th scope="col" { "Longest" } th scope="col" { "Outcomes" } } }
                tbody {
                    @for (name, p) in &processing {
                        tr {
                            td { (name) }
                            td class="num" { (n(&p["finished"])) }
                            td class="num" { (duration(n(&p["average_ms"]))) }
                            td class="num" { (duration(n(&p["max_ms"]))) }
                            td { @if let Some(by) = p["by_state"].as_object() {
                                @for (state, count) in by { span class="attr" { (state) ": " (count) } " " }
                            } }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(s, "Government ledger", body),
    ))
}

/// A duration in days, hours, minutes or seconds.
fn duration(ms: u64) -> String {
    match ms / 1_000 {
        s if s >= 86_400 => format!("{:.1} days", s as f64 / 86_400.0),
        s if s >= 3_600 => format!("{:.1} h", s as f64 / 3_600.0),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

pub(super) async fn participation(State(s): State<ApiState>) -> Response {
    let r = participation_page(&s);
    finish(&s, r)
}

fn participation_page(s: &ApiState) -> PageResult {
    let rd = Reader::new(s)?;
    let elections = rd.list("voting", &["elections"])?;
    let mut turnout = Vec::new();
    for e in &elections {
        let id = text(&e["id"]);
        let board = rd.value("voting", &["board", id])?;
        turnout.push(n(&board["counted"]));
    }
    let petitions = rd.list("petitions", &["petitions"])?;
    let polls = rd.list("polls", &["polls"])?;
    let mut notices = rd.list("notices", &["notices"])?;
    notices.sort_by_key(|x| std::cmp::Reverse(n(&x["posted_ms"])));
    notices.truncate(20);
    let body = html! {
        h2 { "Elections" }
        @if elections.is_empty() { p { "No election." } } @else {
            table {
                thead { tr { th scope="col" { "Election" } th scope="col" { "Phase" } th scope="col" { "Opens" }
                    th scope="col" { "Closes" } th scope="col" { "Voters listed" } th scope="col" { "Ballots counted" } } }
                tbody {
                    @for (e, counted) in elections.iter().zip(&turnout) {
                        tr {
                            td { a href={"/participation/elections/" (text(&e["id"]))} { (text(&e["name"])) } }
                            td { (text(&e["phase"])) }
                            td { (utc(n(&e["opens_ms"]))) }
                            td { (utc(n(&e["closes_ms"]))) }
                            td class="num" { (n(&e["credentials"])) }
                            td class="num" { (counted) }
                        }
                    }
                }
            }
        }
        h2 { "Petitions" }
        @if petitions.is_empty() { p { "No petition." } } @else {
            table {
                thead { tr { th scope="col" { "Petition" } th scope="col" { "Signatures" }
                    th scope="col" { "Threshold" } th scope="col" { "Status" } th scope="col" { "Closes" }
                    th scope="col" { "Proof" } } }
                tbody {
                    @for p in &petitions {
                        tr {
                            td { (text(&p["title"])) }
                            td class="num" { (n(&p["signatures"])) }
                            td class="num" { (n(&p["threshold"])) }
                            td { (text(&p["status"])) }
                            td { (utc(n(&p["closes_ms"]))) }
                            td { (verify("petitions", &["petition", text(&p["id"])])) }
                        }
                    }
                }
            }
        }
        h2 { "Consultations" }
        @if polls.is_empty() { p { "No consultation." } }
        @for (i, p) in polls.iter().enumerate() {
            @let counts: Vec<u64> = p["counts"].as_array().map(|c| c.iter().map(n).collect()).unwrap_or_default();
            @let total = counts.iter().sum::<u64>();
            @let rows: Vec<(String, u64, u64)> = p["options"].as_array().map(|o| o.iter().zip(&counts)
                .map(|(opt, c)| (text(opt).to_string(), total, *c)).collect()).unwrap_or_default();
            section {
                h3 { (text(&p["question"])) }
                (bars(&format!("chart-poll-{i}"), &format!("Responses: {total}"), &rows))
            }
        }
        h2 { "Notices" }
        @if notices.is_empty() { p { "No notice." } } @else {
            table {
                thead { tr { th scope="col" { "Posted" } th scope="col" { "Notice" } th scope="col" { "Category" } th scope="col" { "District" } } }
                tbody {
                    @for x in &notices {
                        tr {
                            td { (utc(n(&x["posted_ms"]))) }
                            td { (text(&x["title"])) }
                            td { (text(&x["category"])) }
                            td { (text(&x["district"])) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(StatusCode::OK, layout(s, "Taking part", body)))
}

pub(super) async fn election(
    State(s): State<ApiState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let r = election_page(&s, &id);
    finish(&s, r)
}

/// An election: its schedule and trustees, the board (entries, counted voters, head), and the
/// result once k trustees' shares are in; how to export and verify the record.
fn election_page(s: &ApiState, id: &str) -> PageResult {
    let rd = Reader::new(s)?;
    let e = rd.value("voting", &["election", id])?;
    if e.is_null() {
        return Err(super::not_found(format!("no election {id:.80}")));
    }
    let board = rd.value("voting", &["board", id])?;
    let manifest = rd.value("voting", &["manifest", id])?;
    let result = rd.value("voting", &["result", id])?;
    let listed = n(&e["credentials"]);
    let counted = n(&board["counted"]);
    let contests = manifest["contests"].as_array().cloned().unwrap_or_default();
    let body = html! {
        dl class="facts" {
            dt { "Phase" } dd { (text(&e["phase"])) }
            dt { "Eligible" } dd { (text(&e["eligibility"])) }
            dt { "Opens" } dd { (utc(n(&e["opens_ms"]))) }
            dt { "Closes" } dd { (utc(n(&e["closes_ms"]))) }
            dt { "Trustees" } dd { (e["trustees"].as_array().map_or(0, Vec::len)) ", " (n(&e["threshold"])) " needed to decrypt" }
            @if e["disqualified"].as_array().is_some_and(|d| !d.is_empty()) {
                dt { "Disqualified in the key ceremony" } dd { (e["disqualified"]) }
            }
            dt { "Voting credentials listed" } dd { (listed) }
            dt { "Voters whose ballot counts" } dd { (counted)
                @if listed > 0 { " (" (counted * 100 / listed) " %)" } }
            dt { "Ballots on the board" } dd { (n(&board["entries"])) " (re-votes and spoiled ballots included)" }
            dt { "Board head" } dd { code { (text(&board["head"])) } " " (verify("voting", &["board", id])) }
        }
        h2 { "Result" }
        @if !result.is_null() { p { (verify("voting", &["result", id])) } }
        @if result.is_null() { p { "Not yet: the result is fixed once enough trustees' decryption shares are in." } }
        @else {
            @for (i, r) in result.as_array().cloned().unwrap_or_default().iter().enumerate() {
                @let contest = contests.iter().find(|c| c["id"] == r["contest_id"]);
                @let names: Vec<String> = contest.and_then(|c| c["selections"].as_array())
                    .map(|sel| sel.iter().map(|x| text(&x["name"]).to_string()).collect())
                    .unwrap_or_default();
                @let counts: Vec<u64> = r["counts"].as_array().map(|c| c.iter().map(n).collect()).unwrap_or_default();
                @let total = counts.iter().sum::<u64>();
                @let rows: Vec<(String, u64, u64)> = counts.iter().enumerate()
                    .map(|(k, c)| (names.get(k).cloned().unwrap_or_else(|| format!("option {}", k + 1)), total, *c))
                    .collect();
                section {
                    h3 { (contest.map_or_else(|| text(&r["contest_id"]).to_string(), |c| text(&c["name"]).to_string())) }
                    (bars(&format!("chart-contest-{i}"), &format!("Votes: {total}"), &rows))
                }
            }
        }
        h2 { "Check it yourself" }
        p { "The record (manifest, key ceremony, credentials, every ballot with its proofs, the "
            "trustees' shares) comes from the chain's state with the chain's proof of the board: "
            code { "urbis election export " (id) " --out record.json" } " then "
            code { "urbis election verify record.json --genesis genesis.json" } "." }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(s, &format!("Election: {}", text(&e["name"])), body),
    ))
}

pub(super) async fn identity(State(s): State<ApiState>) -> Response {
    let r = identity_page(&s);
    finish(&s, r)
}

/// The issuer trust list: for each credential type this build knows, the issuers the city
/// accredited for it and when.
fn identity_page(s: &ApiState) -> PageResult {
    let rd = Reader::new(s)?;
    let mut types = Vec::new();
    for t in urbis_credentials::types::TYPES {
        types.push((t, rd.list("identity", &["accreditations", t.vct])?));
    }
    let body = html! {
        p { "Credentials are verified against this list: an issuer's credential of a type counts "
            "only while the issuer is accredited for that type. Resolve any DID at "
            code { "/1.0/identifiers/{did}" } "." }
        @for (t, issuers) in &types {
            section {
                h2 { code { (t.vct) } }
                p { (t.description) }
                @if issuers.is_empty() { p { "No accredited issuer." } } @else {
                    table {
                        thead { tr { th scope="col" { "Issuer" } th scope="col" { "From" }
                            th scope="col" { "Until" } th scope="col" { "Accredited by" } } }
                        tbody {
                            @for a in issuers {
                                tr {
                                    td { a href={"/dids/" (text(&a["issuer"]))} { code { (text(&a["issuer"])) } } }
                                    td { (utc(n(&a["from_ms"]))) }
                                    td { @if n(&a["until_ms"]) == u64::MAX { "no end" } @else { (utc(n(&a["until_ms"]))) } }
                                    td { @if let Ok(by) = text(&a["by"]).parse() { (super::address_link(&by)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(s, "Issuer trust list", body),
    ))
}
