//! Public transport: fares, zones, station validators, cards, taps, the day's clearing.

use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, PublicKey, Signature, UrbisError};
use urbis_runtime::Ctx;

use crate::fares::{self, capped, day_end_utc, local_day, local_hour, month_of, zones_between};
use crate::fleet::{check_asset, is_authority, require_authority};
use crate::types::*;
use crate::{
    CLEARING_CHUNK, CLEARING_MARGIN_MS, JOB_CLEAR_DAY, LINK_TAG, MODULE, MobilityCall, TAP_SKEW_MS,
    TAP_TAG, account, err, invalid, job, keys, link_message, tap_message,
};

pub(crate) fn execute(ctx: &mut Ctx<'_>, call: MobilityCall) -> Result<(), UrbisError> {
    match call {
        MobilityCall::SetFares { fares } => set_fares(ctx, fares),
        MobilityCall::SetZone {
            zone,
            name,
            operator,
        } => set_zone(ctx, zone, name, operator),
        MobilityCall::RegisterValidator {
            device,
            stop,
            line,
            zone,
        } => register_validator(ctx, device, stop, line, zone),
        MobilityCall::RevokeValidator { device } => revoke_validator(ctx, device),
        MobilityCall::TopUp { card, amount } => top_up(ctx, card, amount),
        MobilityCall::LinkRewards {
            card,
            to,
            signature,
        } => link_rewards(ctx, card, to, signature),
        MobilityCall::Tap {
            card,
            kind,
            t_ms,
            signature,
        } => tap(ctx, card, kind, t_ms, signature),
        _ => Err(err(ErrorCode::Internal, "not a transit call")),
    }
}

const MAX_FARE: u64 = 1_000_000_000;

fn load_fares(ctx: &Ctx<'_>) -> Result<Fares, UrbisError> {
    ctx.get(&keys::fares())?.ok_or_else(|| {
        err(
            ErrorCode::InvalidState,
            "no transit fares are set (mobility transit fares)",
        )
    })
}

fn set_fares(ctx: &mut Ctx<'_>, f: Fares) -> Result<(), UrbisError> {
    require_authority(ctx)?;
    let bands_ok = f.bands.len() <= 24
        && f.bands
            .iter()
            .all(|b| b.from_min < b.to_min && b.to_min <= 1_440 && b.percent <= 1_000);
    let reward_ok = f
        .reward
        .as_ref()
        .is_none_or(|r| r.journeys > 0 && r.tokens > 0);
    if f.zone_fares.is_empty()
        || f.zone_fares.len() > 32
        || f.zone_fares.iter().any(|x| *x > MAX_FARE)
        || !bands_ok
        || !(-840..=840).contains(&f.utc_offset_min)
        || f.daily_cap == 0
        || f.monthly_cap < f.daily_cap
        || f.missing_tap_out_fare > MAX_FARE
        || !(60_000..=86_400_000).contains(&f.max_journey_ms)
        || !(1_000..=86_400_000).contains(&f.max_tap_delay_ms)
        || !reward_ok
    {
        return Err(invalid(
            "1 to 32 zone fares and a missing tap-out fare of at most 10^9; at most 24 bands within a day at most 1000%; an offset within ±14 h; caps positive, the monthly at least the daily; journeys 1 min to 1 day; tap delay 1 s to 1 day; a reward of positive journeys and tokens",
        ));
    }
    check_asset(ctx, &f.asset)?;
    if let Some(old) = ctx.get::<Fares>(&keys::fares())?
        && (old.asset != f.asset || old.utc_offset_min != f.utc_offset_min)
    {
        return Err(err(
            ErrorCode::InvalidState,
            "the fares' asset and time zone are fixed once set (cards hold that asset, days are counted in that zone)",
        ));
    }
    ctx.put(keys::fares(), &f);
    ctx.emit(Event::new(MODULE, "fares_set"));
    Ok(())
}

fn set_zone(
    ctx: &mut Ctx<'_>,
    zone: u16,
    name: String,
    operator: Address,
) -> Result<(), UrbisError> {
    require_authority(ctx)?;
    if name.is_empty() || name.len() > 64 {
        return Err(invalid("a zone's name is 1 to 64 bytes"));
    }
    if !has_role(ctx, &operator, Role::TransportOperator)? {
        return Err(invalid(format!("{operator} is not a transport operator")));
    }
    ctx.put(
        keys::zone(zone),
        &Zone {
            id: zone,
            name,
            operator,
        },
    );
    ctx.emit(
        Event::new(MODULE, "zone_set")
            .with("zone", zone)
            .with("operator", operator.to_string()),
    );
    Ok(())
}

fn register_validator(
    ctx: &mut Ctx<'_>,
    device: Address,
    stop: u32,
    line: u32,
    zone: u16,
) -> Result<(), UrbisError> {
    let operator = ctx.sender();
    if !has_role(ctx, &operator, Role::TransportOperator)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "station validators are registered by their transport operator",
        ));
    }
    if device == operator {
        return Err(invalid("a validator has a key of its own"));
    }
    if ctx.get_raw(&keys::zone(zone))?.is_none() {
        return Err(err(ErrorCode::NotFound, format!("no fare zone {zone}")));
    }
    if ctx.get_raw(&keys::validator(&device))?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            format!("{device} is a registered validator"),
        ));
    }
    ctx.put(
        keys::validator(&device),
        &Validator {
            device,
            operator,
            stop,
            line,
            zone,
            registered_ms: ctx.timestamp_ms(),
            revoked_ms: None,
        },
    );
    ctx.emit(
        Event::new(MODULE, "validator_registered")
            .with("device", device.to_string())
            .with("operator", operator.to_string())
            .with("stop", stop)
            .with("zone", zone),
    );
    Ok(())
}

fn revoke_validator(ctx: &mut Ctx<'_>, device: Address) -> Result<(), UrbisError> {
    let mut v: Validator = ctx
        .get(&keys::validator(&device))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no validator {device}")))?;
    if v.operator != ctx.sender() && !is_authority(ctx)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the validator's operator or the mobility authority revokes it",
        ));
    }
    if v.revoked_ms.is_some() {
        return Err(err(ErrorCode::Revoked, "the validator is revoked"));
    }
    v.revoked_ms = Some(ctx.timestamp_ms());
    ctx.put(keys::validator(&device), &v);
    ctx.emit(Event::new(MODULE, "validator_revoked").with("device", device.to_string()));
    Ok(())
}

fn top_up(ctx: &mut Ctx<'_>, card: PublicKey, amount: u64) -> Result<(), UrbisError> {
    let f = load_fares(ctx)?;
    if amount == 0 || amount > MAX_FARE {
        return Err(invalid("a top-up is 1 to 10^9 units"));
    }
    let mut c = ctx.get::<Card>(&keys::card(&card))?.unwrap_or(Card {
        key: card,
        balance: 0,
        created_ms: ctx.timestamp_ms(),
        day: 0,
        day_spent: 0,
        month: 0,
        month_spent: 0,
        month_journeys: 0,
        journeys: 0,
        reward_to: None,
    });
    c.balance = c
        .balance
        .checked_add(amount)
        .ok_or_else(|| err(ErrorCode::Overflow, "the card's balance would overflow"))?;
    let hold = urbis_assets::hold(ctx, &f.asset, amount, None)?;
    urbis_assets::release(ctx, hold, vec![(account(), amount)])?;
    ctx.put(keys::card(&card), &c);
    ctx.emit(
        Event::new(MODULE, "topped_up")
            .with("card", keys::card_hex(&card))
            .with("amount", amount),
    );
    Ok(())
}

fn load_card(ctx: &Ctx<'_>, card: &PublicKey) -> Result<Card, UrbisError> {
    ctx.get(&keys::card(card))?.ok_or_else(|| {
        err(
            ErrorCode::NotFound,
            format!("no card {} (top it up first)", keys::card_hex(card)),
        )
    })
}

fn link_rewards(
    ctx: &mut Ctx<'_>,
    card: PublicKey,
    to: Address,
    signature: Signature,
) -> Result<(), UrbisError> {
    let mut c = load_card(ctx, &card)?;
    ctx.charge(urbis_runtime::weight::SIGNATURE)?;
    card.verify(LINK_TAG, &link_message(&card, &to), &signature)
        .map_err(|_| err(ErrorCode::BadSignature, "the card did not sign this link"))?;
    c.reward_to = Some(to);
    ctx.put(keys::card(&card), &c);
    ctx.emit(Event::new(MODULE, "rewards_linked").with("card", keys::card_hex(&card)));
    Ok(())
}

/// Bring a card's day and month counters to `day`.
fn roll(c: &mut Card, day: u64) {
    if c.day != day {
        c.day = day;
        c.day_spent = 0;
    }
    let month = month_of(day);
    if c.month != month {
        c.month = month;
        c.month_spent = 0;
        c.month_journeys = 0;
    }
}

/// Charge `fare` of a journey begun on `day`, within the caps and the balance; the amount
/// taken.
fn charge(f: &Fares, c: &mut Card, day: u64, fare: u64) -> u64 {
    roll(c, day);
    let taken = capped(f, fare, c.day_spent, c.month_spent).min(c.balance);
    c.balance -= taken;
    c.day_spent += taken;
    c.month_spent += taken;
    c.journeys += 1;
    taken
}

/// A day's running record; the first touch schedules its clearing.
fn day_record(ctx: &mut Ctx<'_>, f: &Fares, day: u64) -> Result<Day, UrbisError> {
    if let Some(d) = ctx.get::<Day>(&keys::day(day))? {
        return Ok(d);
    }
    let due = day_end_utc(f, day)
        .saturating_add(f.max_tap_delay_ms)
        .saturating_add(CLEARING_MARGIN_MS);
    ctx.schedule_at(due, job(JOB_CLEAR_DAY, day));
    Ok(Day {
        day,
        ..Day::default()
    })
}

/// Add a journey's revenue to its day, split over the operators of the zones it crossed.
fn book(
    ctx: &Ctx<'_>,
    d: &mut Day,
    from_zone: u16,
    to_zone: u16,
    taken: u64,
) -> Result<(), UrbisError> {
    let entry = zone_operator(ctx, from_zone)?;
    let mut counts: Vec<(Address, u64)> = vec![(entry, 0)];
    for z in from_zone.min(to_zone)..=from_zone.max(to_zone) {
        let op = if z == from_zone {
            entry
        } else {
            zone_operator(ctx, z).unwrap_or(entry)
        };
        match counts.iter_mut().find(|(a, _)| *a == op) {
            Some((_, n)) => *n += 1,
            None => counts.push((op, 1)),
        }
    }
    let shares = fares::split(taken, &counts.iter().map(|(_, n)| *n).collect::<Vec<_>>());
    for ((op, zones), share) in counts.into_iter().zip(shares) {
        match d.shares.iter_mut().find(|s| s.operator == op) {
            Some(s) => {
                s.zones += zones;
                s.revenue += share;
            }
            None => d.shares.push(OperatorShare {
                operator: op,
                zones,
                revenue: share,
            }),
        }
    }
    d.journeys += 1;
    d.revenue += taken;
    Ok(())
}

fn zone_operator(ctx: &Ctx<'_>, zone: u16) -> Result<Address, UrbisError> {
    ctx.get::<Zone>(&keys::zone(zone))?
        .map(|z| z.operator)
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no fare zone {zone}")))
}

fn count(
    ctx: &mut Ctx<'_>,
    f: &Fares,
    v: &Validator,
    t_ms: u64,
    kind: TapKind,
) -> Result<(), UrbisError> {
    let day = local_day(f, t_ms);
    let hour = local_hour(f, t_ms);
    for key in [
        keys::stop_usage(v.stop, day, hour),
        keys::line_usage(v.line, day, hour),
    ] {
        let mut u: Usage = ctx.get(&key)?.unwrap_or_default();
        match kind {
            TapKind::In => u.tap_ins += 1,
            TapKind::Out => u.tap_outs += 1,
        }
        ctx.put(key, &u);
    }
    Ok(())
}

fn journey_event(card: &PublicKey, j: &Journey) -> Event {
    Event::new(MODULE, "journey")
        .with("card", keys::card_hex(card))
        .with("from_stop", j.from_stop)
        .with(
            "to_stop",
            j.to_stop
                .map_or_else(|| "none".to_string(), |s| s.to_string()),
        )
        .with("zones", j.zones)
        .with("fare", j.fare)
        .with("charged", j.charged)
}

/// Close `open` as a journey without a tap-out: the missing tap-out fare, to the entry
/// zone's operator.
fn close_missing(
    ctx: &mut Ctx<'_>,
    f: &Fares,
    c: &mut Card,
    open: &OpenJourney,
    d: &mut Day,
) -> Result<(), UrbisError> {
    let taken = charge(f, c, open.day, f.missing_tap_out_fare);
    book(ctx, d, open.zone, open.zone, taken)?;
    d.missing_tap_outs += 1;
    let j = Journey {
        from_stop: open.stop,
        to_stop: None,
        zones: 1,
        in_ms: open.t_ms,
        out_ms: None,
        fare: f.missing_tap_out_fare,
        charged: taken,
    };
    ctx.emit(journey_event(&c.key, &j));
    ctx.put(keys::journey(&c.key), &j);
    ctx.delete(keys::open(&c.key));
    ctx.delete(keys::open_day(open.day, &c.key));
    Ok(())
}

fn tap(
    ctx: &mut Ctx<'_>,
    card: PublicKey,
    kind: TapKind,
    t_ms: u64,
    signature: Signature,
) -> Result<(), UrbisError> {
    let device = ctx.sender();
    let v: Validator = ctx.get(&keys::validator(&device))?.ok_or_else(|| {
        err(
            ErrorCode::Unauthorized,
            format!("{device} is not a certified station validator"),
        )
    })?;
    if v.revoked_ms.is_some() {
        return Err(err(ErrorCode::Revoked, "the validator is revoked"));
    }
    let f = load_fares(ctx)?;
    let now = ctx.timestamp_ms();
    if t_ms.saturating_add(f.max_tap_delay_ms) < now {
        return Err(err(
            ErrorCode::Expired,
            format!(
                "a tap reaches the chain within {} ms of happening",
                f.max_tap_delay_ms
            ),
        ));
    }
    if t_ms > now.saturating_add(TAP_SKEW_MS) {
        return Err(err(
            ErrorCode::NotYetValid,
            "the tap is timed in the future",
        ));
    }
    ctx.charge(urbis_runtime::weight::SIGNATURE)?;
    card.verify(
        TAP_TAG,
        &tap_message(&card, &device, kind, t_ms),
        &signature,
    )
    .map_err(|_| err(ErrorCode::BadSignature, "the card did not sign this tap"))?;
    let mut c = load_card(ctx, &card)?;
    let open: Option<OpenJourney> = ctx.get(&keys::open(&card))?;
    match kind {
        TapKind::In => tap_in(ctx, &f, &v, &mut c, open, t_ms)?,
        TapKind::Out => tap_out(ctx, &f, &v, &mut c, open, t_ms)?,
    }
    count(ctx, &f, &v, t_ms, kind)?;
    ctx.put(keys::card(&card), &c);
    ctx.emit(
        Event::new(MODULE, "tap")
            .with("card", keys::card_hex(&card))
            .with("kind", kind.as_str())
            .with("stop", v.stop)
            .with("line", v.line),
    );
    Ok(())
}

fn cleared(d: &Day) -> Result<(), UrbisError> {
    if d.cleared_ms.is_some() {
        return Err(err(
            ErrorCode::Expired,
            format!("day {} is cleared; its taps are closed", d.day),
        ));
    }
    Ok(())
}

fn tap_in(
    ctx: &mut Ctx<'_>,
    f: &Fares,
    v: &Validator,
    c: &mut Card,
    open: Option<OpenJourney>,
    t_ms: u64,
) -> Result<(), UrbisError> {
    if let Some(o) = &open
        && t_ms < o.t_ms.saturating_add(f.max_journey_ms)
    {
        return Err(err(
            ErrorCode::InvalidState,
            format!(
                "the card is already tapped in (stop {}); tap out first",
                o.stop
            ),
        ));
    }
    if c.balance < f.missing_tap_out_fare {
        return Err(err(
            ErrorCode::InsufficientBalance,
            format!(
                "a card needs at least {} to tap in; it holds {}",
                f.missing_tap_out_fare, c.balance
            ),
        ));
    }
    let day = local_day(f, t_ms);
    let mut d = day_record(ctx, f, day)?;
    cleared(&d)?;
    if let Some(o) = open {
        // An old journey never tapped out: charge it first, on its own day.
        if o.day == day {
            close_missing(ctx, f, c, &o, &mut d)?;
        } else {
            let mut od = day_record(ctx, f, o.day)?;
            cleared(&od)?;
            close_missing(ctx, f, c, &o, &mut od)?;
            ctx.put(keys::day(o.day), &od);
        }
    }
    let o = OpenJourney {
        card: c.key,
        device: v.device,
        stop: v.stop,
        line: v.line,
        zone: v.zone,
        t_ms,
        day,
    };
    ctx.put(keys::open(&c.key), &o);
    ctx.put(keys::open_day(day, &c.key), &());
    ctx.put(keys::day(day), &d);
    Ok(())
}

fn tap_out(
    ctx: &mut Ctx<'_>,
    f: &Fares,
    v: &Validator,
    c: &mut Card,
    open: Option<OpenJourney>,
    t_ms: u64,
) -> Result<(), UrbisError> {
    let o = open.ok_or_else(|| {
        err(
            ErrorCode::InvalidState,
            "the card has not tapped in: a tap-out needs a tap-in",
        )
    })?;
    if t_ms < o.t_ms {
        return Err(err(
            ErrorCode::InvalidState,
            "the tap-out is timed before the tap-in",
        ));
    }
    let mut d = day_record(ctx, f, o.day)?;
    cleared(&d)?;
    if t_ms >= o.t_ms.saturating_add(f.max_journey_ms) {
        // Too long to be one journey: the missing tap-out rule applies.
        close_missing(ctx, f, c, &o, &mut d)?;
        ctx.put(keys::day(o.day), &d);
        return Ok(());
    }
    let zones = zones_between(o.zone, v.zone);
    let fare = fares::fare(f, zones, o.t_ms);
    let taken = charge(f, c, o.day, fare);
    book(ctx, &mut d, o.zone, v.zone, taken)?;
    ctx.put(keys::day(o.day), &d);
    let j = Journey {
        from_stop: o.stop,
        to_stop: Some(v.stop),
        zones,
        in_ms: o.t_ms,
        out_ms: Some(t_ms),
        fare,
        charged: taken,
    };
    ctx.emit(journey_event(&c.key, &j));
    ctx.put(keys::journey(&c.key), &j);
    ctx.delete(keys::open(&c.key));
    ctx.delete(keys::open_day(o.day, &c.key));
    c.month_journeys += 1;
    if let (Some(rule), Some(to)) = (&f.reward, c.reward_to)
        && c.month_journeys.is_multiple_of(rule.journeys)
    {
        let tokens = rule
            .tokens
            .min(urbis_rewards::awardable(ctx, rule.program, &to)?);
        if tokens > 0 {
            urbis_rewards::award_from_program(
                ctx,
                rule.program,
                to,
                tokens,
                &format!("{} transit journeys in {}", c.month_journeys, c.month),
            )?;
            ctx.emit(
                Event::new(MODULE, "transit_reward")
                    .with("card", keys::card_hex(&c.key))
                    .with("tokens", tokens),
            );
        }
    }
    Ok(())
}

/// The day's clearing: charge its journeys never tapped out (a chunk per block), then pay
/// every operator its share from the module's account.
pub(crate) fn clear_day(ctx: &mut Ctx<'_>, day: u64) -> Result<(), UrbisError> {
    let f = load_fares(ctx)?;
    let Some(mut d) = ctx.get::<Day>(&keys::day(day))? else {
        return Ok(());
    };
    if d.cleared_ms.is_some() {
        return Ok(());
    }
    let open = ctx.scan(&keys::open_days(day), None, CLEARING_CHUNK)?;
    let more = open.len() == CLEARING_CHUNK;
    for (key, _) in open {
        let text = String::from_utf8_lossy(&key);
        let card = crate::parse_card(text.rsplit('/').next().unwrap_or_default())?;
        let Some(o) = ctx.get::<OpenJourney>(&keys::open(&card))? else {
            ctx.delete(key);
            continue;
        };
        let mut c = load_card(ctx, &card)?;
        close_missing(ctx, &f, &mut c, &o, &mut d)?;
        ctx.put(keys::card(&card), &c);
    }
    if more {
        ctx.put(keys::day(day), &d);
        ctx.schedule_at(
            ctx.timestamp_ms().saturating_add(1),
            job(JOB_CLEAR_DAY, day),
        );
        return Ok(());
    }
    for s in &d.shares {
        if s.revenue > 0 {
            urbis_assets::pay(ctx, &f.asset, s.operator, s.revenue)?;
        }
    }
    d.cleared_ms = Some(ctx.timestamp_ms());
    ctx.put(keys::day(day), &d);
    ctx.emit(
        Event::new(MODULE, "day_cleared")
            .with("day", day)
            .with("journeys", d.journeys)
            .with("revenue", d.revenue),
    );
    Ok(())
}
