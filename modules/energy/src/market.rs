//! The calls, the clearing job and the settlement.

use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, PublicKey, Signature, UrbisError};
use urbis_runtime::Ctx;

use crate::clearing::{self, Binding, Limit, Side};
use crate::types::*;
use crate::{
    DEFAULT_SETTLE_DELAY_MS, EnergyCall, INTERVAL_MS, JOB_CLEAR, JOB_SETTLE, MAX_AHEAD,
    MAX_FEEDERS, MAX_ORDERS_PER_INTERVAL, MAX_ORDERS_PER_METER, MAX_PRICE, MAX_VALUES, MODULE,
    READING_TAG, err, invalid, keys, reading_message,
};

pub(crate) fn execute(ctx: &mut Ctx<'_>, call: EnergyCall) -> Result<(), UrbisError> {
    match call {
        EnergyCall::Configure {
            asset,
            gate_closure_ms,
            settle_delay_ms,
            imbalance_price,
            feed_in_price,
            tariff_price,
            reward,
        } => configure(
            ctx,
            Config {
                asset,
                gate_closure_ms,
                settle_delay_ms,
                imbalance_price,
                feed_in_price,
                tariff_price,
                reward,
            },
        ),
        EnergyCall::SetFeeder {
            feeder,
            name,
            max_export_wh,
            max_import_wh,
        } => set_feeder(
            ctx,
            Feeder {
                id: feeder,
                name,
                max_export_wh,
                max_import_wh,
            },
        ),
        EnergyCall::RegisterMeter {
            meter,
            key,
            account,
            feeder,
            max_import_w,
            max_export_w,
            owner_commitment,
        } => register_meter(
            ctx,
            Meter {
                id: meter,
                key,
                account,
                feeder,
                max_import_w,
                max_export_w,
                owner_commitment,
                first_interval: 0,
                registered_ms: 0,
                revoked: None,
            },
        ),
        EnergyCall::RevokeMeter { meter, reason_hash } => revoke_meter(ctx, meter, reason_hash),
        EnergyCall::Readings {
            meter,
            first_interval,
            values,
            signature,
        } => readings(ctx, meter, first_interval, values, signature),
        EnergyCall::Correct {
            meter,
            interval,
            value,
            reason_hash,
        } => correct(ctx, meter, interval, value, reason_hash),
        EnergyCall::Order {
            meter,
            interval,
            side,
            qty_wh,
            price,
        } => order(ctx, meter, interval, side, qty_wh, price),
        EnergyCall::Cancel { interval, order } => cancel(ctx, interval, order),
        EnergyCall::Settle { interval } => settle_interval(ctx, interval, true),
        EnergyCall::Fund { amount } => fund(ctx, amount),
        EnergyCall::Withdraw { amount } => withdraw(ctx, amount),
        EnergyCall::Schedule {
            meter,
            first_interval,
            side,
            quantities,
            price,
        } => {
            if quantities.is_empty()
                || quantities.len() > MAX_VALUES
                || quantities.iter().all(|q| *q == 0)
            {
                return Err(invalid(format!(
                    "1 to {MAX_VALUES} quantities, at least one positive"
                )));
            }
            for (k, qty) in quantities.into_iter().enumerate() {
                if qty > 0 {
                    order(ctx, meter, first_interval + k as u64, side, qty, price)?;
                }
            }
            Ok(())
        }
    }
}

/// The chain's interval length (ms).
pub(crate) fn interval_len(ctx: &Ctx<'_>) -> Result<u64, UrbisError> {
    Ok(ctx.get(&keys::interval_ms())?.unwrap_or(INTERVAL_MS))
}

fn require_operator(ctx: &Ctx<'_>) -> Result<(), UrbisError> {
    if has_role(ctx, &ctx.sender(), Role::GridOperator)? {
        Ok(())
    } else {
        Err(err(
            ErrorCode::Unauthorized,
            "this requires the grid_operator role",
        ))
    }
}

fn config(ctx: &Ctx<'_>) -> Result<Config, UrbisError> {
    ctx.get(&keys::config())?.ok_or_else(|| {
        err(
            ErrorCode::InvalidState,
            "the energy market is not configured",
        )
    })
}

fn load_meter(ctx: &Ctx<'_>, id: &Hash) -> Result<Meter, UrbisError> {
    ctx.get(&keys::meter(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no meter {}", id.to_hex())))
}

fn not_revoked(m: &Meter) -> Result<(), UrbisError> {
    match m.revoked {
        Some(_) => Err(err(
            ErrorCode::Revoked,
            format!("meter {} is revoked", m.id.to_hex()),
        )),
        None => Ok(()),
    }
}

/// `⌈wh·price/1000⌉` or `⌊wh·price/1000⌋` in units, checked.
fn cost(wh: u64, price: u64, up: bool) -> Result<u64, UrbisError> {
    let p = u128::from(wh) * u128::from(price);
    let v = if up { p.div_ceil(1000) } else { p / 1000 };
    u64::try_from(v).map_err(|_| err(ErrorCode::Overflow, "the amount overflows"))
}

/// What a meter may move in one interval at `watts` (Wh).
fn quarter_hour(watts: u64) -> u64 {
    watts / 4
}

fn configure(ctx: &mut Ctx<'_>, c: Config) -> Result<(), UrbisError> {
    require_operator(ctx)?;
    let len = interval_len(ctx)?;
    let price_ok = |p: u64| (1..=MAX_PRICE).contains(&p);
    if c.gate_closure_ms > 86_400_000
        || !(len..=7 * 86_400_000).contains(&c.settle_delay_ms)
        || !price_ok(c.imbalance_price)
        || !price_ok(c.feed_in_price)
        || !price_ok(c.tariff_price)
    {
        return Err(invalid(format!(
            "gate closure at most a day, settlement delay an interval to 7 days, prices 1 to {MAX_PRICE}"
        )));
    }
    if let Some(r) = &c.reward
        && (r.per_kwh == 0
            || !(1..=12).contains(&r.periods)
            || !(1..=4 * crate::WEEK).contains(&r.lag_intervals))
    {
        return Err(invalid(
            "a reward pays a positive amount per kWh over a baseline of 1 to 12 periods of 1 to 2688 intervals",
        ));
    }
    if urbis_assets::validate_symbol(&c.asset).is_err()
        || ctx.get_raw(&urbis_assets::keys::asset(&c.asset))?.is_none()
    {
        return Err(err(
            ErrorCode::NotFound,
            format!("no asset {:.16?}", c.asset),
        ));
    }
    ctx.emit(Event::new(MODULE, "configured").with("asset", &c.asset));
    ctx.put(keys::config(), &c);
    Ok(())
}

fn set_feeder(ctx: &mut Ctx<'_>, f: Feeder) -> Result<(), UrbisError> {
    require_operator(ctx)?;
    if f.name.is_empty() || f.name.len() > 64 {
        return Err(invalid("a feeder's name is 1 to 64 bytes"));
    }
    if ctx.get_raw(&keys::feeder(f.id))?.is_none()
        && ctx.scan(&keys::feeders(), None, MAX_FEEDERS)?.len() >= MAX_FEEDERS
    {
        return Err(invalid(format!("at most {MAX_FEEDERS} feeders")));
    }
    ctx.emit(Event::new(MODULE, "feeder_set").with("feeder", f.id));
    ctx.put(keys::feeder(f.id), &f);
    Ok(())
}

fn register_meter(ctx: &mut Ctx<'_>, mut m: Meter) -> Result<(), UrbisError> {
    require_operator(ctx)?;
    if m.max_import_w < 4
        || m.max_export_w > 10_000_000_000
        || m.max_import_w > 10_000_000_000
        || m.key.check_account_key().is_err()
    {
        return Err(invalid(
            "a meter needs a valid device key and an import power of 4 W to 10 GW (export up to 10 GW)",
        ));
    }
    if ctx.get_raw(&keys::feeder(m.feeder))?.is_none() {
        return Err(err(ErrorCode::NotFound, format!("no feeder {}", m.feeder)));
    }
    if ctx.get_raw(&keys::meter(&m.id))?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            format!("meter {} exists", m.id.to_hex()),
        ));
    }
    if ctx.get_raw(&keys::device(&m.key))?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            "that device key belongs to another meter",
        ));
    }
    m.registered_ms = ctx.timestamp_ms();
    m.first_interval = crate::interval_of(m.registered_ms, interval_len(ctx)?);
    ctx.put(keys::device(&m.key), &m.id);
    ctx.put(keys::account(&m.account, &m.id), &());
    ctx.emit(
        Event::new(MODULE, "meter_registered")
            .with("meter", m.id)
            .with("feeder", m.feeder),
    );
    ctx.put(keys::meter(&m.id), &m);
    Ok(())
}

fn revoke_meter(ctx: &mut Ctx<'_>, id: Hash, reason: Hash) -> Result<(), UrbisError> {
    require_operator(ctx)?;
    let mut m = load_meter(ctx, &id)?;
    not_revoked(&m)?;
    m.revoked = Some(reason);
    ctx.put(keys::meter(&id), &m);
    ctx.emit(Event::new(MODULE, "meter_revoked").with("meter", id));
    Ok(())
}

pub(crate) fn check_signature(
    m: &Meter,
    first_interval: u64,
    values: &[Value],
    sig: &Signature,
) -> Result<(), UrbisError> {
    PublicKey::verify(
        &m.key,
        READING_TAG,
        &reading_message(&m.id, first_interval, values),
        sig,
    )
    .map_err(|_| {
        err(
            ErrorCode::BadSignature,
            format!("the readings are not signed by meter {}", m.id.to_hex()),
        )
    })
}

/// Readings of `interval` are taken until this time.
/// (the rules of its market if it has one, else the current ones: `config`).
fn reading_deadline(
    ctx: &Ctx<'_>,
    interval: u64,
    len: u64,
    config: Option<&Config>,
) -> Result<u64, UrbisError> {
    let delay = match ctx.get::<Book>(&keys::book(interval))? {
        Some(b) => b.config.settle_delay_ms,
        None => config.map_or(DEFAULT_SETTLE_DELAY_MS, |c| c.settle_delay_ms),
    };
    Ok((interval + 1).saturating_mul(len).saturating_add(delay))
}

fn readings(
    ctx: &mut Ctx<'_>,
    id: Hash,
    first: u64,
    values: Vec<Value>,
    sig: Signature,
) -> Result<(), UrbisError> {
    let m = load_meter(ctx, &id)?;
    not_revoked(&m)?;
    if values.is_empty() || values.len() > MAX_VALUES {
        return Err(invalid(format!("1 to {MAX_VALUES} values per call")));
    }
    if first < m.first_interval {
        return Err(invalid(format!(
            "meter {} reports from interval {}",
            id.to_hex(),
            m.first_interval
        )));
    }
    let (max_in, max_out) = (quarter_hour(m.max_import_w), quarter_hour(m.max_export_w));
    if values
        .iter()
        .any(|v| v.import_wh > max_in || v.export_wh > max_out)
    {
        return Err(invalid(format!(
            "a value over the meter's capacity ({max_in} Wh in, {max_out} Wh out per interval)"
        )));
    }
    let last = first + values.len() as u64 - 1;
    let now = ctx.timestamp_ms();
    let len = interval_len(ctx)?;
    if (last + 1).saturating_mul(len) > now {
        return Err(err(
            ErrorCode::NotYetValid,
            format!("interval {last} is not over yet"),
        ));
    }
    check_signature(&m, first, &values, &sig)?;
    let config = ctx.get::<Config>(&keys::config())?;
    for i in first..=last {
        if now >= reading_deadline(ctx, i, len, config.as_ref())? {
            return Err(err(
                ErrorCode::Expired,
                format!("readings of interval {i} were due before its settlement"),
            ));
        }
        if ctx.get_raw(&keys::reading(&id, i))?.is_some() {
            return Err(err(
                ErrorCode::AlreadyExists,
                format!("meter {} already reported interval {i}", id.to_hex()),
            ));
        }
    }
    let reward = config.and_then(|c| c.reward);
    for (i, v) in (first..=last).zip(values.iter()) {
        ctx.put(
            keys::reading(&id, i),
            &Reading {
                value: *v,
                at_ms: now,
                correction: None,
            },
        );
        if let Some(rule) = &reward {
            saving_reward(ctx, &m, i, v, rule)?;
        }
    }
    ctx.emit(
        Event::new(MODULE, "readings")
            .with("meter", id)
            .with("first_interval", first)
            .with("count", values.len()),
    );
    Ok(())
}

/// Award the saving of interval `i` against the meter's baseline, if there is one.
fn saving_reward(
    ctx: &mut Ctx<'_>,
    m: &Meter,
    i: u64,
    v: &Value,
    rule: &RewardRule,
) -> Result<(), UrbisError> {
    let periods = u64::from(rule.periods);
    if i < periods * rule.lag_intervals {
        return Ok(());
    }
    let mut total = 0u64;
    for k in 1..=periods {
        match ctx.get::<Reading>(&keys::reading(&m.id, i - k * rule.lag_intervals))? {
            Some(r) => total = total.saturating_add(r.value.consumed()),
            None => return Ok(()),
        }
    }
    let baseline = total / periods;
    let saved = baseline.saturating_sub(v.consumed());
    let tokens = cost(saved, rule.per_kwh, false)?;
    if tokens == 0 {
        return Ok(());
    }
    let tokens = tokens.min(urbis_rewards::awardable(ctx, rule.program, &m.account)?);
    if tokens == 0 {
        return Ok(());
    }
    urbis_rewards::award_from_program(
        ctx,
        rule.program,
        m.account,
        tokens,
        &format!("energy saving, interval {i}"),
    )?;
    ctx.emit(
        Event::new(MODULE, "saving")
            .with("meter", m.id)
            .with("interval", i)
            .with("saved_wh", saved)
            .with("tokens", tokens),
    );
    Ok(())
}

fn correct(
    ctx: &mut Ctx<'_>,
    id: Hash,
    interval: u64,
    value: Value,
    reason_hash: Hash,
) -> Result<(), UrbisError> {
    require_operator(ctx)?;
    load_meter(ctx, &id)?;
    let mut r: Reading = ctx.get(&keys::reading(&id, interval))?.ok_or_else(|| {
        err(
            ErrorCode::NotFound,
            format!(
                "meter {} has no reading of interval {interval}",
                id.to_hex()
            ),
        )
    })?;
    let settled = ctx
        .get::<Book>(&keys::book(interval))?
        .is_some_and(|b| b.status == Status::Settled);
    let original = r.correction.as_ref().map_or(r.value, |c| c.original);
    r.correction = Some(Correction {
        original,
        reason_hash,
        by: ctx.sender(),
        at_ms: ctx.timestamp_ms(),
        after_settlement: settled,
    });
    r.value = value;
    ctx.put(keys::reading(&id, interval), &r);
    ctx.emit(
        Event::new(MODULE, "corrected")
            .with("meter", id)
            .with("interval", interval),
    );
    Ok(())
}

fn gate_of(interval: u64, len: u64, c: &Config) -> u64 {
    interval
        .saturating_mul(len)
        .saturating_sub(c.gate_closure_ms)
}

fn order(
    ctx: &mut Ctx<'_>,
    meter: Hash,
    interval: u64,
    side: OrderSide,
    qty_wh: u64,
    price: u64,
) -> Result<(), UrbisError> {
    let m = load_meter(ctx, &meter)?;
    if m.account != ctx.sender() {
        return Err(err(
            ErrorCode::Unauthorized,
            "orders for a meter come from its trading account",
        ));
    }
    not_revoked(&m)?;
    let book = ctx.get::<Book>(&keys::book(interval))?;
    let c = match &book {
        Some(b) => b.config.clone(),
        None => config(ctx)?,
    };
    if qty_wh == 0 || !(1..=MAX_PRICE).contains(&price) {
        return Err(invalid(format!(
            "a positive quantity and a price of 1 to {MAX_PRICE} per kWh"
        )));
    }
    let now = ctx.timestamp_ms();
    let len = interval_len(ctx)?;
    if interval > crate::interval_of(now, len).saturating_add(MAX_AHEAD) {
        return Err(invalid(format!(
            "orders are taken at most {MAX_AHEAD} intervals ahead"
        )));
    }
    let gate = gate_of(interval, len, &c);
    if now >= gate || book.as_ref().is_some_and(|b| b.status != Status::Open) {
        return Err(err(
            ErrorCode::GateClosed,
            format!("the gate of interval {interval} closed at {gate} ms"),
        ));
    }
    let mut offered = ctx
        .get::<Offered>(&keys::offered(interval, &meter))?
        .unwrap_or(Offered {
            side,
            total_wh: 0,
            orders: 0,
        });
    if offered.side != side {
        return Err(err(
            ErrorCode::InvalidState,
            "a meter buys or sells in an interval, not both",
        ));
    }
    let cap = match side {
        OrderSide::Buy => quarter_hour(m.max_import_w),
        OrderSide::Sell => quarter_hour(m.max_export_w),
    };
    let total = offered.total_wh.saturating_add(qty_wh);
    if total > cap {
        return Err(invalid(format!(
            "the meter's orders would {} {total} Wh of this interval; it can move {cap} Wh",
            if side == OrderSide::Buy {
                "buy"
            } else {
                "sell"
            }
        )));
    }
    if offered.orders >= MAX_ORDERS_PER_METER {
        return Err(invalid(format!(
            "at most {MAX_ORDERS_PER_METER} orders per meter and interval"
        )));
    }
    let mut book = book.unwrap_or(Book {
        interval,
        status: Status::Open,
        config: c.clone(),
        orders: 0,
        participants: 0,
    });
    if book.orders >= MAX_ORDERS_PER_INTERVAL {
        return Err(err(
            ErrorCode::QuotaExceeded,
            format!("interval {interval} holds {MAX_ORDERS_PER_INTERVAL} orders"),
        ));
    }
    let held = match side {
        OrderSide::Buy => cost(qty_wh, price, true)?,
        OrderSide::Sell => cost(qty_wh, c.imbalance_price, true)?,
    };
    let hold = urbis_assets::hold(ctx, &c.asset, held, None)?;
    let id: u64 = ctx.get(&keys::next_order())?.unwrap_or(1);
    ctx.put(keys::next_order(), &(id + 1));
    if book.orders == 0 && ctx.get_raw(&keys::book(interval))?.is_none() {
        ctx.schedule_at(gate, urbis_runtime::kit::job_payload(JOB_CLEAR, interval));
    }
    book.orders += 1;
    offered.side = side;
    offered.total_wh = total;
    offered.orders += 1;
    ctx.put(keys::book(interval), &book);
    ctx.put(keys::offered(interval, &meter), &offered);
    ctx.put(
        keys::order(interval, id),
        &Order {
            id,
            interval,
            meter,
            account: m.account,
            side,
            qty_wh,
            price,
            hold,
            held,
            filled_wh: None,
            clearing_price: None,
        },
    );
    ctx.emit(
        Event::new(MODULE, "ordered")
            .with("interval", interval)
            .with("order", id)
            .with("meter", meter)
            .with(
                "side",
                if side == OrderSide::Buy {
                    "buy"
                } else {
                    "sell"
                },
            ),
    );
    Ok(())
}

fn cancel(ctx: &mut Ctx<'_>, interval: u64, id: u64) -> Result<(), UrbisError> {
    let o: Order = ctx.get(&keys::order(interval, id))?.ok_or_else(|| {
        err(
            ErrorCode::NotFound,
            format!("no order {id} in interval {interval}"),
        )
    })?;
    if o.account != ctx.sender() {
        return Err(err(
            ErrorCode::Unauthorized,
            "an order is cancelled by its account",
        ));
    }
    let mut book: Book = ctx
        .get(&keys::book(interval))?
        .ok_or_else(|| err(ErrorCode::Internal, "an order without its book"))?;
    let gate = gate_of(interval, interval_len(ctx)?, &book.config);
    if ctx.timestamp_ms() >= gate || book.status != Status::Open {
        return Err(err(
            ErrorCode::GateClosed,
            format!("the gate of interval {interval} closed at {gate} ms"),
        ));
    }
    urbis_assets::refund(ctx, o.hold)?;
    book.orders -= 1;
    ctx.put(keys::book(interval), &book);
    let mut offered: Offered = ctx
        .get(&keys::offered(interval, &o.meter))?
        .ok_or_else(|| err(ErrorCode::Internal, "an order without its offer"))?;
    offered.orders -= 1;
    offered.total_wh -= o.qty_wh;
    if offered.orders == 0 {
        ctx.delete(keys::offered(interval, &o.meter));
    } else {
        ctx.put(keys::offered(interval, &o.meter), &offered);
    }
    ctx.delete(keys::order(interval, id));
    ctx.emit(
        Event::new(MODULE, "cancelled")
            .with("interval", interval)
            .with("order", id),
    );
    Ok(())
}

fn pool() -> Address {
    urbis_assets::module_account(MODULE)
}

fn add_balancing(ctx: &mut Ctx<'_>, asset: &str, delta: u64) -> Result<(), UrbisError> {
    let have: u64 = ctx.get(&keys::balancing(asset))?.unwrap_or(0);
    let now = have
        .checked_add(delta)
        .ok_or_else(|| err(ErrorCode::Overflow, "the balancing fund overflows"))?;
    ctx.put(keys::balancing(asset), &now);
    Ok(())
}

/// The clearing job at gate closure.
pub(crate) fn clear_interval(ctx: &mut Ctx<'_>, interval: u64) -> Result<(), UrbisError> {
    let Some(mut book) = ctx.get::<Book>(&keys::book(interval))? else {
        return Ok(());
    };
    if book.status != Status::Open {
        return Ok(());
    }
    let c = book.config.clone();
    let entries = ctx.scan(
        &keys::orders(interval),
        None,
        MAX_ORDERS_PER_INTERVAL as usize,
    )?;
    let mut orders: Vec<Order> = Vec::with_capacity(entries.len());
    for (k, v) in &entries {
        orders.push(urbis_runtime::decode_value(k, v)?);
    }
    let mut feeder_of = std::collections::BTreeMap::new();
    for o in &orders {
        if let std::collections::btree_map::Entry::Vacant(slot) = feeder_of.entry(o.meter) {
            slot.insert(load_meter(ctx, &o.meter)?.feeder);
        }
    }
    let mut limits = Vec::new();
    for (k, v) in ctx.scan(&keys::feeders(), None, MAX_FEEDERS)? {
        let f: Feeder = urbis_runtime::decode_value(&k, &v)?;
        limits.push(Limit {
            feeder: f.id,
            max_export_wh: f.max_export_wh,
            max_import_wh: f.max_import_wh,
        });
    }
    let input: Vec<clearing::Order> = orders
        .iter()
        .map(|o| clearing::Order {
            id: o.id,
            feeder: feeder_of[&o.meter],
            side: if o.side == OrderSide::Buy {
                Side::Buy
            } else {
                Side::Sell
            },
            qty: o.qty_wh,
            price: o.price,
        })
        .collect();
    let out = clearing::clear(&input, &limits);
    let zone_price: std::collections::BTreeMap<u32, u64> =
        out.zones.iter().map(|z| (z.feeder, z.price)).collect();
    let pool = pool();
    let mut positions: std::collections::BTreeMap<Hash, Position> = Default::default();
    let (mut paid, mut proceeds) = (0u64, 0u64);
    let (mut bid_wh, mut ask_wh) = (0u64, 0u64);
    // `out.fills` and `orders` are both in id order (keys are zero-padded ids).
    for (o, &(fid, filled)) in orders.iter_mut().zip(&out.fills) {
        debug_assert_eq!(o.id, fid);
        let price = zone_price[&feeder_of[&o.meter]];
        match o.side {
            OrderSide::Buy => bid_wh += o.qty_wh,
            OrderSide::Sell => ask_wh += o.qty_wh,
        }
        o.filled_wh = Some(filled);
        o.clearing_price = out.hub_price.map(|_| price);
        if filled == 0 {
            urbis_assets::refund(ctx, o.hold)?;
        } else {
            // A buyer pays for its fill (rounded up); a seller's collateral for its fill stays.
            let keep = match o.side {
                OrderSide::Buy => cost(filled, price, true)?,
                OrderSide::Sell => cost(filled, c.imbalance_price, true)?,
            };
            urbis_assets::release(ctx, o.hold, vec![(pool, keep)])?;
            let p = positions.entry(o.meter).or_insert(Position {
                meter: o.meter,
                account: o.account,
                side: o.side,
                traded_wh: 0,
                price,
                amount: 0,
                collateral: 0,
            });
            p.traded_wh += filled;
            match o.side {
                OrderSide::Buy => {
                    p.amount += keep;
                    paid += keep;
                }
                OrderSide::Sell => p.collateral += keep,
            }
        }
        ctx.put(keys::order(interval, o.id), &*o);
    }
    // A seller's proceeds, rounded down on its total (never above what buyers paid).
    for p in positions.values_mut() {
        if p.side == OrderSide::Sell {
            p.amount = cost(p.traded_wh, p.price, false)?;
            proceeds += p.amount;
        }
        ctx.put(keys::position(interval, &p.meter), &*p);
    }
    let rent = paid.saturating_sub(proceeds);
    if rent > 0 {
        add_balancing(ctx, &c.asset, rent)?;
    }
    book.status = if positions.is_empty() {
        Status::Settled
    } else {
        Status::Cleared
    };
    book.participants = positions.len() as u32;
    ctx.put(keys::book(interval), &book);
    if !positions.is_empty() {
        let len = interval_len(ctx)?;
        ctx.schedule_at(
            (interval + 1) * len + c.settle_delay_ms,
            urbis_runtime::kit::job_payload(JOB_SETTLE, interval),
        );
    }
    let clearing = Clearing {
        interval,
        price: out.hub_price,
        volume_wh: out.volume_wh,
        zones: out
            .zones
            .iter()
            .map(|z| ZoneResult {
                feeder: z.feeder,
                price: z.price,
                bought_wh: z.bought_wh,
                sold_wh: z.sold_wh,
                net_export_wh: z.net_export_wh,
                binding: z.binding.map(|b| {
                    match b {
                        Binding::Export => "export",
                        Binding::Import => "import",
                    }
                    .to_string()
                }),
            })
            .collect(),
        unmatched_bid_wh: bid_wh - out.volume_wh,
        unmatched_ask_wh: ask_wh - out.volume_wh,
        tariff_price: c.tariff_price,
        orders: orders.len() as u32,
        participants: book.participants,
        rent,
        at_ms: ctx.timestamp_ms(),
        height: ctx.height(),
    };
    ctx.put(keys::clearing(interval), &clearing);
    let mut ev = Event::new(MODULE, "cleared")
        .with("interval", interval)
        .with("volume_wh", out.volume_wh);
    if let Some(p) = out.hub_price {
        ev = ev.with("price", p);
    }
    ctx.emit(ev);
    Ok(())
}

/// Settle a cleared interval: by a call once every reading is in (`early`), or by the job at
/// the end of the reading window.
pub(crate) fn settle_interval(
    ctx: &mut Ctx<'_>,
    interval: u64,
    early: bool,
) -> Result<(), UrbisError> {
    let book = ctx.get::<Book>(&keys::book(interval))?;
    let Some(mut book) = book else {
        return if early {
            Err(err(
                ErrorCode::NotFound,
                format!("no market in interval {interval}"),
            ))
        } else {
            Ok(())
        };
    };
    if book.status != Status::Cleared {
        return if early {
            Err(err(
                ErrorCode::InvalidState,
                format!("interval {interval} is {:?}, not cleared", book.status),
            ))
        } else {
            Ok(())
        };
    }
    let c = book.config.clone();
    let mut positions = Vec::new();
    for (k, v) in ctx.scan(
        &keys::positions(interval),
        None,
        MAX_ORDERS_PER_INTERVAL as usize,
    )? {
        let p: Position = urbis_runtime::decode_value(&k, &v)?;
        let r = ctx.get::<Reading>(&keys::reading(&p.meter, interval))?;
        positions.push((p, r));
    }
    if early {
        let missing = positions.iter().filter(|(_, r)| r.is_none()).count();
        if missing > 0 {
            return Err(err(
                ErrorCode::InvalidState,
                format!("{missing} participants' readings of interval {interval} are missing"),
            ));
        }
    }
    let mut fund: u64 = ctx.get(&keys::balancing(&c.asset))?.unwrap_or(0);
    let now = ctx.timestamp_ms();
    for (p, r) in &positions {
        let value = r.as_ref().map(|r| r.value);
        let mut s = Statement {
            interval,
            meter: p.meter,
            account: p.account,
            side: p.side,
            traded_wh: p.traded_wh,
            price: p.price,
            reading: value,
            shortfall_wh: 0,
            surplus_wh: 0,
            market_amount: p.amount,
            imbalance_charge: 0,
            feed_in_credit: 0,
            feed_in_owed: 0,
            paid_out: 0,
            at_ms: now,
        };
        match p.side {
            OrderSide::Sell => {
                let delivered = value.map_or(0, |v| v.delivered());
                s.shortfall_wh = p.traded_wh.saturating_sub(delivered);
                s.imbalance_charge =
                    cost(s.shortfall_wh, c.imbalance_price, true)?.min(p.collateral);
                fund = fund.saturating_add(s.imbalance_charge);
                s.paid_out = p.amount + p.collateral - s.imbalance_charge;
            }
            OrderSide::Buy => {
                // Without a reading the buyer is taken to have used what it bought.
                let consumed = value.map_or(p.traded_wh, |v| v.consumed());
                s.surplus_wh = p.traded_wh.saturating_sub(consumed);
                s.feed_in_credit = cost(s.surplus_wh, c.feed_in_price, false)?;
                let paid = s.feed_in_credit.min(fund);
                fund -= paid;
                s.feed_in_owed = s.feed_in_credit - paid;
                s.paid_out = paid;
            }
        }
        if s.paid_out > 0 {
            urbis_assets::pay(ctx, &c.asset, p.account, s.paid_out)?;
        }
        ctx.put(keys::statement(interval, &p.meter), &s);
    }
    ctx.put(keys::balancing(&c.asset), &fund);
    book.status = Status::Settled;
    ctx.put(keys::book(interval), &book);
    ctx.emit(
        Event::new(MODULE, "settled")
            .with("interval", interval)
            .with("participants", positions.len()),
    );
    Ok(())
}

/// The checks `fund` and `withdraw` share: the operator, a positive amount, a configured
/// market (whose asset the fund is in).
fn fund_checks(ctx: &Ctx<'_>, amount: u64) -> Result<Config, UrbisError> {
    require_operator(ctx)?;
    if amount == 0 {
        return Err(invalid("a positive amount"));
    }
    config(ctx)
}

fn fund(ctx: &mut Ctx<'_>, amount: u64) -> Result<(), UrbisError> {
    let c = fund_checks(ctx, amount)?;
    let hold = urbis_assets::hold(ctx, &c.asset, amount, None)?;
    urbis_assets::release(ctx, hold, vec![(pool(), amount)])?;
    add_balancing(ctx, &c.asset, amount)?;
    ctx.emit(
        Event::new(MODULE, "funded")
            .with("asset", &c.asset)
            .with("amount", amount),
    );
    Ok(())
}

fn withdraw(ctx: &mut Ctx<'_>, amount: u64) -> Result<(), UrbisError> {
    let c = fund_checks(ctx, amount)?;
    let have: u64 = ctx.get(&keys::balancing(&c.asset))?.unwrap_or(0);
    if amount > have {
        return Err(err(
            ErrorCode::InsufficientBalance,
            format!("the balancing fund holds {have} {}", c.asset),
        ));
    }
    ctx.put(keys::balancing(&c.asset), &(have - amount));
    urbis_assets::pay(ctx, &c.asset, ctx.sender(), amount)?;
    ctx.emit(
        Event::new(MODULE, "withdrawn")
            .with("asset", &c.asset)
            .with("amount", amount),
    );
    Ok(())
}
