//! Pages of the city's infrastructure: the energy market (clearing prices and volumes per
//! interval), public transport and ride-sharing, waste flows per district and stream, and land
//! parcels with their history.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::Value;

use super::services::{bars, n, text};
use super::{
    PageResult, Reader, address_link, finish, html_page, layout, not_found, short, utc, verify,
};
use crate::api::ApiState;

/// Intervals of the market on its page.
const INTERVALS: usize = 48;
/// Days of transit on its page.
const DAYS: usize = 31;
/// Latest waste batches on its page.
const BATCHES: u64 = 10;

pub(super) async fn energy(State(s): State<ApiState>) -> Response {
    let r = energy_page(&s);
    finish(&s, r)
}

fn energy_page(s: &ApiState) -> PageResult {
    let rd = Reader::new(s)?;
    let mut clearings = rd.list("energy", &["clearings"])?;
    clearings.sort_by_key(|c| std::cmp::Reverse(n(&c["interval"])));
    clearings.truncate(INTERVALS);
    let rows: Vec<(String, u64, u64)> = clearings
        .iter()
        .rev()
        .map(|c| {
            let price = c["price"]
                .as_u64()
                .map_or("no trade".to_string(), |p| format!("{p}/kWh"));
            let v = n(&c["volume_wh"]);
            (format!("interval {} · {price}", n(&c["interval"])), v, v)
        })
        .collect();
    let feeders = rd.list("energy", &["feeders"])?;
    let meters = rd.list("energy", &["meters"])?;
    let body = html! {
        p { "Neighbours trade energy for each interval in a uniform-price auction that keeps "
            "within each feeder's limit; readings signed by certified meters settle it." }
        dl class="facts" {
            dt { "Feeders" } dd { (feeders.len()) }
            dt { "Certified meters" } dd { (meters.len()) }
        }
        h2 { "Clearing per interval" }
        @if clearings.is_empty() { p { "No interval has cleared yet." } } @else {
            (bars("chart-energy", "Energy traded per interval (Wh), with its clearing price", &rows))
            table {
                thead { tr { th scope="col" { "Interval" } th scope="col" { "Price" }
                    th scope="col" { "Traded (Wh)" } th scope="col" { "Orders" }
                    th scope="col" { "Participants" } th scope="col" { "Zones" } th scope="col" { "Cleared" }
                    th scope="col" { "Proof" } } }
                tbody {
                    @for c in &clearings {
                        tr {
                            td class="num" { (n(&c["interval"])) }
                            td class="num" { @if let Some(p) = c["price"].as_u64() { (p) } @else { "—" } }
                            td class="num" { (n(&c["volume_wh"])) }
                            td class="num" { (n(&c["orders"])) }
                            td class="num" { (n(&c["participants"])) }
                            td class="num" { (c["zones"].as_array().map_or(0, Vec::len)) }
                            td { (utc(n(&c["at_ms"]))) }
                            td { (verify("energy", &["clearing", &n(&c["interval"]).to_string()])) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(StatusCode::OK, layout(s, "Energy market", body)))
}

pub(super) async fn mobility(State(s): State<ApiState>) -> Response {
    let r = mobility_page(&s);
    finish(&s, r)
}

fn mobility_page(s: &ApiState) -> PageResult {
    let rd = Reader::new(s)?;
    let mut days = rd.list("mobility", &["days"])?;
    days.sort_by_key(|d| std::cmp::Reverse(n(&d["day"])));
    days.truncate(DAYS);
    let rows: Vec<(String, u64, u64)> = days
        .iter()
        .rev()
        .map(|d| {
            let (y, m, dd) = urbis_runtime::kit::civil_date(n(&d["day"]));
            let j = n(&d["journeys"]);
            (format!("{y:04}-{m:02}-{dd:02}"), j, j)
        })
        .collect();
    let rides = rd.list("mobility", &["rides"])?;
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    for r in &rides {
        *by_status.entry(text(&r["status"]).to_string()).or_default() += 1;
    }
    let vehicles = rd.list("mobility", &["vehicles"])?;
    let body = html! {
        h2 { "Public transport" }
        @if days.is_empty() { p { "No journey yet." } } @else {
            (bars("chart-journeys", "Journeys per day", &rows))
            table {
                thead { tr { th scope="col" { "Day (UTC)" } th scope="col" { "Journeys" }
                    th scope="col" { "Missing tap-outs" } th scope="col" { "Fares" } th scope="col" { "Cleared" }
                    th scope="col" { "Proof" } } }
                tbody {
                    @for (d, (label, _, _)) in days.iter().zip(rows.iter().rev()) {
                        tr {
                            td { (label) }
                            td class="num" { (n(&d["journeys"])) }
                            td class="num" { (n(&d["missing_tap_outs"])) }
                            td class="num" { (n(&d["revenue"])) }
                            td { @if let Some(ms) = d["cleared_ms"].as_u64() { (utc(ms)) } @else { "not yet" } }
                            td { (verify("mobility", &["day", &n(&d["day"]).to_string()])) }
                        }
                    }
                }
            }
        }
        h2 { "Ride-sharing" }
        @if rides.is_empty() { p { "No ride yet." } } @else {
            dl class="facts" {
                @for (status, count) in &by_status { dt { (status) } dd { (count) } }
            }
        }
        h2 { "Vehicles" }
        p { (vehicles.len()) " vehicles anchor their telemetry on the chain." }
    };
    Ok(html_page(StatusCode::OK, layout(s, "Mobility", body)))
}

pub(super) async fn waste(State(s): State<ApiState>) -> Response {
    let r = waste_page(&s);
    finish(&s, r)
}

fn waste_page(s: &ApiState) -> PageResult {
    let rd = Reader::new(s)?;
    let mut rates = rd.list("waste", &["rates"])?;
    rates.sort_by(|a, b| {
        (text(&b["month"]), text(&a["district"]), text(&a["stream"])).cmp(&(
            text(&a["month"]),
            text(&b["district"]),
            text(&b["stream"]),
        ))
    });
    let rows: Vec<(String, u64, u64)> = rates
        .iter()
        .map(|r| {
            (
                format!(
                    "{} · {} · {}",
                    text(&r["district"]),
                    text(&r["stream"]),
                    text(&r["month"])
                ),
                n(&r["collected_grams"]),
                n(&r["recycled_grams"]),
            )
        })
        .collect();
    let actors = rd.list("waste", &["actors"])?;
    let batches = latest_batches(&rd, BATCHES)?;
    let body = html! {
        p { "Every bag is followed from the bin to its fate: weighed by certified scales at each "
            "hop, with the mass that enters and leaves each facility reconciled." }
        h2 { "Recycled of collected, per district, stream and month" }
        @if rates.is_empty() { p { "Nothing collected yet." } } @else {
            (bars("chart-waste", "Recycled of collected (grams)", &rows))
            table {
                thead { tr { th scope="col" { "District" } th scope="col" { "Stream" } th scope="col" { "Month" }
                    th scope="col" { "Collected (g)" } th scope="col" { "Recycled (g)" }
                    th scope="col" { "Energy recovery (g)" } th scope="col" { "Landfill (g)" } th scope="col" { "Recycling rate" } } }
                tbody {
                    @for r in &rates {
                        tr {
                            td { (text(&r["district"])) }
                            td { (text(&r["stream"])) }
                            td { (text(&r["month"])) }
                            td class="num" { (n(&r["collected_grams"])) }
                            td class="num" { (n(&r["recycled_grams"])) }
                            td class="num" { (n(&r["energy_recovery_grams"])) }
                            td class="num" { (n(&r["landfill_grams"])) }
                            td class="num" { @if let Some(bps) = r["recycling_rate_bps"].as_u64() {
                                (bps / 100) "." (format!("{:02}", bps % 100)) " %" } @else { "—" } }
                        }
                    }
                }
            }
        }
        h2 { "Latest batches" }
        @if batches.is_empty() { p { "No batch yet." } } @else {
            table {
                thead { tr { th scope="col" { "Batch" } th scope="col" { "Stream" } th scope="col" { "Mass (g)" }
                    th scope="col" { "State" } th scope="col" { "Hops" } th scope="col" { "Created" } } }
                tbody {
                    @for (id, b) in &batches {
                        tr {
                            td { a href={"/waste/batches/" (id)} { "batch " (id) } }
                            td { (text(&b["stream"])) }
                            td class="num" { (n(&b["grams"])) }
                            td { (text(&b["state"])) }
                            td class="num" { (b["hops"].as_array().map_or(0, Vec::len)) }
                            td { (utc(n(&b["created_ms"]))) }
                        }
                    }
                }
            }
        }
        h2 { "Licensed actors" }
        @if actors.is_empty() { p { "None registered." } } @else {
            table {
                thead { tr { th scope="col" { "Actor" } th scope="col" { "Kind" } th scope="col" { "Account" } } }
                tbody {
                    @for a in &actors {
                        tr {
                            td { (text(&a["name"])) }
                            td { (text(&a["kind"])) }
                            td { @if let Ok(addr) = text(&a["account"]).parse() { (address_link(&addr)) } }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(StatusCode::OK, layout(s, "Waste", body)))
}

pub(super) async fn parcel(State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    let r = parcel_page(&s, &id);
    finish(&s, r)
}

fn parcel_page(s: &ApiState, id: &str) -> PageResult {
    let rd = Reader::new(s)?;
    let p = rd.value("land", &["parcel", id])?;
    if p.is_null() {
        return Err(not_found(format!("no parcel {id:.80}")));
    }
    let whole = n(&p["whole"]).max(1);
    let history = rd.list("land", &["history", id])?;
    let owners = |shares: &Value| {
        html! {
            @for sh in shares.as_array().cloned().unwrap_or_default() {
                span class="attr" {
                    @if let Ok(a) = text(&sh["owner"]).parse() { (address_link(&a)) }
                    " " (n(&sh["parts"])) "/" (whole)
                }
            }
        }
    };
    let body = html! {
        dl class="facts" {
            dt { "Parcel" } dd { code { (text(&p["id"])) } }
            dt { "Area" } dd { (n(&p["area_m2"])) " m² " (verify("land", &["parcel", text(&p["id"])])) }
            dt { "Owners" } dd { (owners(&p["owners"])) }
            dt { "Geometry (SHA-256)" } dd { code { (short(text(&p["geometry_hash"]))) } }
            dt { "Registered" } dd { (utc(n(&p["registered_ms"]))) }
            dt { "Transfer under way" } dd { @if p["transfer"].is_null() { "no" } @else { "yes, number " (p["transfer"]) } }
        }
        h2 { "History" }
        table {
            thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "What" }
                th scope="col" { "Owners after" } th scope="col" { "Transaction" } } }
            tbody {
                @for h in &history {
                    tr {
                        td class="num" { (n(&h["seq"])) }
                        td { a href={"/blocks/" (n(&h["height"]))} { (utc(n(&h["at_ms"]))) } }
                        td { (text(&h["what"])) }
                        td { (owners(&h["owners"])) }
                        td { @if let Some(t) = h["tx"].as_str() { a href={"/txs/" (t)} { code { (short(t)) } } } @else { "by the scheduler" } }
                    }
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(s, &format!("Parcel {id}"), body),
    ))
}

/// The newest `count` batches, newest first. Batch numbers run from 1 without gaps and
/// batches are never deleted, so the newest is found by doubling then bisecting (a few dozen
/// reads whatever the number of batches).
fn latest_batches(rd: &Reader<'_>, count: u64) -> Result<Vec<(u64, Value)>, super::PageError> {
    let exists = |id: u64| -> Result<bool, super::PageError> {
        Ok(!rd.value("waste", &["batch", &id.to_string()])?.is_null())
    };
    if !exists(1)? {
        return Ok(Vec::new());
    }
    // `lo` exists, `hi` does not.
    let (mut lo, mut hi) = (1u64, 2u64);
    while exists(hi)? {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exists(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut out = Vec::new();
    for id in (lo.saturating_sub(count - 1).max(1)..=lo).rev() {
        out.push((id, rd.value("waste", &["batch", &id.to_string()])?));
    }
    Ok(out)
}

pub(super) async fn batch(State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    let r = batch_page(&s, &id);
    finish(&s, r)
}

/// A waste batch: where it came from, each hop with the weights sent and received, its fate,
/// and the batches it was split into or merged from.
fn batch_page(s: &ApiState, id: &str) -> PageResult {
    let rd = Reader::new(s)?;
    let number: u64 = id
        .parse()
        .map_err(|_| super::bad_request(format!("{id:.40} is not a batch number")))?;
    let b = rd.value("waste", &["batch", &number.to_string()])?;
    if b.is_null() {
        return Err(not_found(format!("no batch {number}")));
    }
    let links = |v: &Value| {
        html! {
            @for x in v.as_array().cloned().unwrap_or_default() {
                a href={"/waste/batches/" (n(&x))} { "batch " (n(&x)) } " "
            }
        }
    };
    let fate = &b["fate"];
    let body = html! {
        dl class="facts" {
            dt { "Stream" } dd { (text(&b["stream"])) }
            dt { "Mass" } dd { (n(&b["grams"])) " g " (verify("waste", &["batch", &number.to_string()])) }
            dt { "State" } dd { (text(&b["state"])) }
            dt { "Held by" } dd { @if let Ok(a) = text(&b["holder"]).parse() { (address_link(&a)) } }
            dt { "Created" } dd { (utc(n(&b["created_ms"]))) }
            dt { "Origins" } dd {
                @for o in b["origins"].as_array().cloned().unwrap_or_default() {
                    span class="attr" { (text(&o[0])) ": " (n(&o[1])) " g" }
                }
            }
            @if b["parents"].as_array().is_some_and(|p| !p.is_empty()) { dt { "Made from" } dd { (links(&b["parents"])) } }
            @if b["children"].as_array().is_some_and(|c| !c.is_empty()) { dt { "Went into" } dd { (links(&b["children"])) } }
            @if !fate.is_null() {
                dt { "Fate" } dd {
                    (text(&fate["kind"]))
                    @if let Some(m) = fate["material"].as_str() { " into " (m) ", " (n(&fate["output_grams"])) " g" }
                    " on " (utc(n(&fate["at_ms"])))
                }
            }
        }
        h2 { "Custody" }
        @if b["hops"].as_array().is_none_or(Vec::is_empty) { p { "Not handed over yet." } } @else {
            table {
                thead { tr { th scope="col" { "When" } th scope="col" { "From" } th scope="col" { "To" }
                    th scope="col" { "Sent (g)" } th scope="col" { "Received (g)" } } }
                tbody {
                    @for h in b["hops"].as_array().cloned().unwrap_or_default() {
                        tr {
                            td { (utc(n(&h["at_ms"]))) }
                            td { @if let Ok(a) = text(&h["from"]).parse() { (address_link(&a)) } }
                            td { @if let Ok(a) = text(&h["to"]).parse() { (address_link(&a)) } }
                            td class="num" { (n(&h["sent_grams"])) }
                            td class="num" { (n(&h["received_grams"])) }
                        }
                    }
                }
            }
        }
        p { "The whole lineage with its proofs, checked offline: "
            code { "urbis waste trace " (number) " --out trace.json" } " then "
            code { "urbis waste verify-trace trace.json --genesis genesis.json" } "." }
    };
    Ok(html_page(
        StatusCode::OK,
        layout(s, &format!("Waste batch {number}"), body),
    ))
}
