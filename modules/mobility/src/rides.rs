//! Ride-sharing: licensed drivers, offers, rides with the fare in escrow, timeouts, disputes
//! and ratings.

use urbis_core::{Address, ErrorCode, Event, Hash, PublicKey, Signature, UrbisError};
use urbis_identity::{Accreditation, StatusListMeta};
use urbis_runtime::Ctx;

use crate::fleet::{config, require_authority};
use crate::types::*;
use crate::{
    JOB_ACCEPT_TIMEOUT, JOB_PICKUP_TIMEOUT, MAX_OFFER_AHEAD_MS, MAX_OFFER_WINDOW_MS, MAX_SEATS,
    MODULE, MobilityCall, PICKUP_TAG, err, invalid, job, keys, pickup_message,
};

pub(crate) fn execute(ctx: &mut Ctx<'_>, call: MobilityCall) -> Result<(), UrbisError> {
    match call {
        MobilityCall::RegisterDriver {
            driver,
            issuer,
            status_list,
            status_idx,
            valid_until_ms,
        } => register_driver(ctx, driver, issuer, status_list, status_idx, valid_until_ms),
        MobilityCall::Offer {
            zone,
            depart_from_ms,
            depart_until_ms,
            seats,
            fare,
        } => offer(ctx, zone, depart_from_ms, depart_until_ms, seats, fare),
        MobilityCall::WithdrawOffer { offer } => withdraw(ctx, offer),
        MobilityCall::Request {
            offer,
            pickup_key,
            pickup_commitment,
        } => request(ctx, offer, pickup_key, pickup_commitment),
        MobilityCall::Accept { ride } => accept(ctx, ride),
        MobilityCall::Pickup { ride, code } => pickup(ctx, ride, code),
        MobilityCall::Complete { ride } => complete(ctx, ride),
        MobilityCall::Cancel { ride } => cancel(ctx, ride),
        MobilityCall::Dispute { ride, reason_hash } => dispute(ctx, ride, reason_hash),
        MobilityCall::Resolve {
            ride,
            to_driver,
            reason_hash,
        } => resolve(ctx, ride, to_driver, reason_hash),
        MobilityCall::Rate { ride, stars } => rate(ctx, ride, stars),
        _ => Err(err(ErrorCode::Internal, "not a ride call")),
    }
}

fn rules(ctx: &Ctx<'_>) -> Result<RideRules, UrbisError> {
    config(ctx)?.map(|c| c.rides).ok_or_else(|| {
        err(
            ErrorCode::InvalidState,
            "ride-sharing is not configured (mobility configure)",
        )
    })
}

/// The licence's status entry: 0 is valid.
fn licence_status(ctx: &Ctx<'_>, list: u64, idx: u64, issuer: &str) -> Result<u8, UrbisError> {
    let meta: StatusListMeta = ctx
        .get(&urbis_identity::keys::list(list))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no status list {list}")))?;
    if meta.issuer != issuer || idx >= meta.size {
        return Err(invalid(format!(
            "entry {idx} of status list {list} is not one of {issuer}'s credentials"
        )));
    }
    let (n, _) = urbis_identity::status_position(meta.bits, idx);
    let chunk = ctx.get_raw(&urbis_identity::keys::chunk(list, n))?;
    urbis_identity::status_in_chunk(meta.bits, idx, chunk.as_deref())
}

fn accredited(ctx: &Ctx<'_>, vct: &str, issuer: &str) -> Result<bool, UrbisError> {
    let now = ctx.timestamp_ms();
    Ok(ctx
        .get::<Accreditation>(&urbis_identity::keys::accreditation(vct, issuer))?
        .is_some_and(|a| a.from_ms <= now && now < a.until_ms))
}

/// The driver's licence, checked now: registered, not expired, its issuer accredited, its
/// credential's status valid.
fn licensed(ctx: &Ctx<'_>, rules: &RideRules, driver: &Address) -> Result<Driver, UrbisError> {
    let d: Driver = ctx.get(&keys::driver(driver))?.ok_or_else(|| {
        err(
            ErrorCode::Unauthorized,
            format!("{driver} holds no registered driving licence"),
        )
    })?;
    if ctx.timestamp_ms() >= d.valid_until_ms {
        return Err(err(ErrorCode::Expired, "the driving licence has expired"));
    }
    if !accredited(ctx, &rules.licence_vct, &d.issuer)? {
        return Err(err(
            ErrorCode::Revoked,
            format!(
                "{} is no longer accredited for {}",
                d.issuer, rules.licence_vct
            ),
        ));
    }
    if licence_status(ctx, d.status_list, d.status_idx, &d.issuer)? != 0 {
        return Err(err(
            ErrorCode::Revoked,
            "the driving licence credential is revoked or suspended",
        ));
    }
    Ok(d)
}

fn register_driver(
    ctx: &mut Ctx<'_>,
    driver: Address,
    issuer: String,
    status_list: u64,
    status_idx: u64,
    valid_until_ms: u64,
) -> Result<(), UrbisError> {
    require_authority(ctx)?;
    let r = rules(ctx)?;
    urbis_identity::parse_did(&issuer)?;
    if valid_until_ms <= ctx.timestamp_ms() {
        return Err(invalid("the licence's validity ends in the past"));
    }
    let status = licence_status(ctx, status_list, status_idx, &issuer)?;
    if !accredited(ctx, &r.licence_vct, &issuer)? {
        return Err(err(
            ErrorCode::Unauthorized,
            format!("{issuer} is not accredited for {}", r.licence_vct),
        ));
    }
    if status != 0 {
        return Err(err(
            ErrorCode::Revoked,
            "the licence credential is revoked or suspended",
        ));
    }
    let d = Driver {
        account: driver,
        issuer,
        status_list,
        status_idx,
        valid_until_ms,
        registered_ms: ctx.timestamp_ms(),
    };
    ctx.put(keys::driver(&driver), &d);
    ctx.emit(Event::new(MODULE, "driver_registered").with("driver", driver.to_string()));
    Ok(())
}

fn offer(
    ctx: &mut Ctx<'_>,
    zone: String,
    depart_from_ms: u64,
    depart_until_ms: u64,
    seats: u8,
    fare: u64,
) -> Result<(), UrbisError> {
    let r = rules(ctx)?;
    let driver = ctx.sender();
    licensed(ctx, &r, &driver)?;
    let now = ctx.timestamp_ms();
    if zone.is_empty()
        || zone.len() > 32
        || !zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "a zone is a district code: 1 to 32 letters, digits, '-' or '_'",
        ));
    }
    if seats == 0 || seats > MAX_SEATS || fare == 0 || fare > 1_000_000_000 {
        return Err(invalid(format!(
            "1 to {MAX_SEATS} seats and a fare of 1 to 10^9 units"
        )));
    }
    if depart_until_ms < depart_from_ms
        || depart_until_ms <= now
        || depart_from_ms > now + MAX_OFFER_AHEAD_MS
        || depart_until_ms - depart_from_ms > MAX_OFFER_WINDOW_MS
    {
        return Err(invalid(
            "the departure window ends in the future, starts within a week, lasts at most a day",
        ));
    }
    let id: u64 = ctx.get(&keys::next_offer())?.unwrap_or(1);
    ctx.put(keys::next_offer(), &(id + 1));
    ctx.put(
        keys::offer(id),
        &Offer {
            id,
            driver,
            zone: zone.clone(),
            depart_from_ms,
            depart_until_ms,
            seats,
            seats_taken: 0,
            fare,
            withdrawn: false,
        },
    );
    ctx.emit(
        Event::new(MODULE, "offered")
            .with("offer", id)
            .with("driver", driver.to_string())
            .with("zone", zone),
    );
    Ok(())
}

fn load_offer(ctx: &Ctx<'_>, id: u64) -> Result<Offer, UrbisError> {
    ctx.get(&keys::offer(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no offer {id}")))
}

fn withdraw(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let mut o = load_offer(ctx, id)?;
    if o.driver != ctx.sender() {
        return Err(err(ErrorCode::Unauthorized, "only its driver withdraws it"));
    }
    if o.withdrawn {
        return Err(err(ErrorCode::InvalidState, "the offer is withdrawn"));
    }
    o.withdrawn = true;
    ctx.put(keys::offer(id), &o);
    ctx.emit(Event::new(MODULE, "offer_withdrawn").with("offer", id));
    Ok(())
}

fn request(
    ctx: &mut Ctx<'_>,
    offer: u64,
    pickup_key: PublicKey,
    pickup_commitment: Hash,
) -> Result<(), UrbisError> {
    let r = rules(ctx)?;
    let o = load_offer(ctx, offer)?;
    let passenger = ctx.sender();
    if o.driver == passenger {
        return Err(invalid("a driver does not ride in their own offer"));
    }
    let now = ctx.timestamp_ms();
    if o.withdrawn || o.seats_taken >= o.seats || now > o.depart_until_ms {
        return Err(err(
            ErrorCode::InvalidState,
            format!("offer {offer} is withdrawn, full or departed"),
        ));
    }
    let hold = urbis_assets::hold(ctx, &r.asset, o.fare, None)?;
    let id: u64 = ctx.get(&keys::next_ride())?.unwrap_or(1);
    ctx.put(keys::next_ride(), &(id + 1));
    let ride = Ride {
        id,
        offer,
        driver: o.driver,
        passenger,
        fare: o.fare,
        hold,
        pickup_key,
        pickup_commitment,
        state: RideState::Requested,
        requested_ms: now,
        accepted_ms: None,
        picked_up_ms: None,
        driver_completed: false,
        passenger_completed: false,
        ended_ms: None,
        paid_driver: 0,
        refunded: 0,
        driver_rated: None,
        passenger_rated: None,
        dispute_reason: None,
    };
    ctx.schedule_at(
        now.saturating_add(r.accept_timeout_ms),
        job(JOB_ACCEPT_TIMEOUT, id),
    );
    store(ctx, &ride);
    Ok(())
}

/// Write a ride and announce its state.
fn store(ctx: &mut Ctx<'_>, ride: &Ride) {
    ctx.put(keys::ride(ride.id), ride);
    ctx.emit(
        Event::new(MODULE, "ride")
            .with("ride", ride.id)
            .with("offer", ride.offer)
            .with("state", ride.state.as_str()),
    );
}

fn load_ride(ctx: &Ctx<'_>, id: u64) -> Result<Ride, UrbisError> {
    ctx.get(&keys::ride(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no ride {id}")))
}

fn wrong_state(ride: &Ride, what: &str) -> UrbisError {
    err(
        ErrorCode::InvalidState,
        format!("ride {} is {}: {what}", ride.id, ride.state.as_str()),
    )
}

fn driver_only(ctx: &Ctx<'_>, ride: &Ride) -> Result<(), UrbisError> {
    if ride.driver == ctx.sender() {
        Ok(())
    } else {
        Err(err(ErrorCode::Unauthorized, "only the ride's driver may"))
    }
}

/// `true` for the driver, `false` for the passenger; anyone else is refused.
fn party(ctx: &Ctx<'_>, ride: &Ride) -> Result<bool, UrbisError> {
    let s = ctx.sender();
    if s == ride.driver {
        Ok(true)
    } else if s == ride.passenger {
        Ok(false)
    } else {
        Err(err(
            ErrorCode::Unauthorized,
            "only the ride's driver or passenger may",
        ))
    }
}

fn accept(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let mut ride = load_ride(ctx, id)?;
    driver_only(ctx, &ride)?;
    if ride.state != RideState::Requested {
        return Err(wrong_state(&ride, "only a requested ride is accepted"));
    }
    let r = rules(ctx)?;
    licensed(ctx, &r, &ride.driver)?;
    let mut o = load_offer(ctx, ride.offer)?;
    if o.seats_taken >= o.seats || o.withdrawn {
        return Err(err(
            ErrorCode::InvalidState,
            "the offer is full or withdrawn",
        ));
    }
    o.seats_taken += 1;
    ctx.put(keys::offer(o.id), &o);
    let now = ctx.timestamp_ms();
    ride.state = RideState::Accepted;
    ride.accepted_ms = Some(now);
    ctx.schedule_at(
        o.depart_until_ms
            .max(now)
            .saturating_add(r.pickup_timeout_ms),
        job(JOB_PICKUP_TIMEOUT, id),
    );
    store(ctx, &ride);
    Ok(())
}

fn pickup(ctx: &mut Ctx<'_>, id: u64, code: Signature) -> Result<(), UrbisError> {
    let mut ride = load_ride(ctx, id)?;
    driver_only(ctx, &ride)?;
    if ride.state != RideState::Accepted {
        return Err(wrong_state(&ride, "only an accepted ride is picked up"));
    }
    ctx.charge(urbis_runtime::weight::SIGNATURE)?;
    ride.pickup_key
        .verify(PICKUP_TAG, &pickup_message(id, &ride.driver), &code)
        .map_err(|_| {
            err(
                ErrorCode::BadSignature,
                "the pickup code is not the passenger's signature for this ride",
            )
        })?;
    ride.state = RideState::PickedUp;
    ride.picked_up_ms = Some(ctx.timestamp_ms());
    store(ctx, &ride);
    Ok(())
}

fn bump(
    ctx: &mut Ctx<'_>,
    key: Vec<u8>,
    f: impl FnOnce(&mut Reputation),
) -> Result<(), UrbisError> {
    let mut r: Reputation = ctx.get(&key)?.unwrap_or_default();
    f(&mut r);
    ctx.put(key, &r);
    Ok(())
}

/// Pay `to_driver` of the escrow to the driver and the rest back to the passenger.
fn settle(ctx: &mut Ctx<'_>, ride: &mut Ride, to_driver: u64) -> Result<(), UrbisError> {
    if to_driver == 0 {
        urbis_assets::refund(ctx, ride.hold)?;
    } else {
        urbis_assets::release(ctx, ride.hold, vec![(ride.driver, to_driver)])?;
    }
    ride.paid_driver = to_driver;
    ride.refunded = ride.fare - to_driver;
    ride.ended_ms = Some(ctx.timestamp_ms());
    Ok(())
}

fn complete(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let mut ride = load_ride(ctx, id)?;
    let is_driver = party(ctx, &ride)?;
    if ride.state != RideState::PickedUp {
        return Err(wrong_state(&ride, "only a picked-up ride is completed"));
    }
    let already = if is_driver {
        ride.driver_completed
    } else {
        ride.passenger_completed
    };
    if already {
        return Err(err(
            ErrorCode::InvalidState,
            "you have already confirmed this ride",
        ));
    }
    let r = rules(ctx)?;
    let now = ctx.timestamp_ms();
    if is_driver {
        ride.driver_completed = true;
    } else {
        ride.passenger_completed = true;
    }
    let timed_out = ride
        .picked_up_ms
        .is_some_and(|p| now >= p.saturating_add(r.completion_timeout_ms));
    if ride.driver_completed && (ride.passenger_completed || timed_out) {
        let fare = ride.fare;
        settle(ctx, &mut ride, fare)?;
        ride.state = RideState::Completed;
        bump(ctx, keys::reputation(&ride.driver), |r| r.completed += 1)?;
        bump(ctx, keys::rider(&ride.passenger), |r| r.completed += 1)?;
    } else if is_driver && !timed_out {
        return Err(err(
            ErrorCode::NotYetValid,
            "the passenger has not confirmed yet; the driver completes alone only after the completion timeout",
        ));
    }
    store(ctx, &ride);
    Ok(())
}

fn cancel(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let mut ride = load_ride(ctx, id)?;
    let is_driver = party(ctx, &ride)?;
    let r = rules(ctx)?;
    match ride.state {
        RideState::Requested => settle(ctx, &mut ride, 0)?,
        RideState::Accepted => {
            let now = ctx.timestamp_ms();
            let late = ride
                .accepted_ms
                .is_some_and(|a| now > a.saturating_add(r.free_cancel_ms));
            let fee = if !is_driver && late {
                (u128::from(ride.fare) * u128::from(r.cancel_fee_bps) / 10_000) as u64
            } else {
                0
            };
            settle(ctx, &mut ride, fee)?;
            free_seat(ctx, ride.offer)?;
            let key = if is_driver {
                keys::reputation(&ride.driver)
            } else {
                keys::rider(&ride.passenger)
            };
            bump(ctx, key, |r| r.cancelled += 1)?;
        }
        _ => {
            return Err(wrong_state(
                &ride,
                "only a requested or accepted ride is cancelled (dispute a picked-up one)",
            ));
        }
    }
    ride.state = RideState::Cancelled;
    store(ctx, &ride);
    Ok(())
}

fn free_seat(ctx: &mut Ctx<'_>, offer: u64) -> Result<(), UrbisError> {
    let mut o = load_offer(ctx, offer)?;
    o.seats_taken = o.seats_taken.saturating_sub(1);
    ctx.put(keys::offer(offer), &o);
    Ok(())
}

fn dispute(ctx: &mut Ctx<'_>, id: u64, reason_hash: Hash) -> Result<(), UrbisError> {
    let mut ride = load_ride(ctx, id)?;
    party(ctx, &ride)?;
    if !matches!(ride.state, RideState::Accepted | RideState::PickedUp) {
        return Err(wrong_state(
            &ride,
            "only an accepted or picked-up ride is disputed",
        ));
    }
    ride.state = RideState::Disputed;
    ride.dispute_reason = Some(reason_hash);
    store(ctx, &ride);
    Ok(())
}

fn resolve(
    ctx: &mut Ctx<'_>,
    id: u64,
    to_driver: u64,
    reason_hash: Hash,
) -> Result<(), UrbisError> {
    require_authority(ctx)?;
    let mut ride = load_ride(ctx, id)?;
    if ride.state != RideState::Disputed {
        return Err(wrong_state(&ride, "only a disputed ride is resolved"));
    }
    if to_driver > ride.fare {
        return Err(invalid(format!(
            "the driver gets at most the fare ({})",
            ride.fare
        )));
    }
    settle(ctx, &mut ride, to_driver)?;
    ride.state = RideState::Resolved;
    ride.dispute_reason = Some(reason_hash);
    // The party the decision went against has a dispute on their record.
    let loser = if to_driver * 2 >= ride.fare {
        keys::rider(&ride.passenger)
    } else {
        keys::reputation(&ride.driver)
    };
    bump(ctx, loser, |r| r.disputes += 1)?;
    store(ctx, &ride);
    Ok(())
}

fn rate(ctx: &mut Ctx<'_>, id: u64, stars: u8) -> Result<(), UrbisError> {
    if !(1..=5).contains(&stars) {
        return Err(invalid("a rating is 1 to 5 stars"));
    }
    let mut ride = load_ride(ctx, id)?;
    let is_driver = party(ctx, &ride)?;
    if ride.state != RideState::Completed {
        return Err(wrong_state(&ride, "only a completed ride is rated"));
    }
    let (slot, target) = if is_driver {
        (&mut ride.driver_rated, keys::rider(&ride.passenger))
    } else {
        (&mut ride.passenger_rated, keys::reputation(&ride.driver))
    };
    if slot.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            "you have rated this ride already",
        ));
    }
    *slot = Some(stars);
    bump(ctx, target, |r| {
        r.ratings += 1;
        r.rating_sum += u64::from(stars);
    })?;
    ctx.put(keys::ride(id), &ride);
    let by = if is_driver { "driver" } else { "passenger" };
    ctx.emit(
        Event::new(MODULE, "rated")
            .with("ride", id)
            .with("by", by)
            .with("stars", stars),
    );
    Ok(())
}

/// A ride still in `expected` when its deadline comes is refunded in full.
pub(crate) fn timeout(ctx: &mut Ctx<'_>, id: u64, expected: RideState) -> Result<(), UrbisError> {
    let Some(mut ride) = ctx.get::<Ride>(&keys::ride(id))? else {
        return Ok(());
    };
    if ride.state != expected {
        return Ok(());
    }
    settle(ctx, &mut ride, 0)?;
    if expected == RideState::Accepted {
        free_seat(ctx, ride.offer)?;
        bump(ctx, keys::reputation(&ride.driver), |r| r.expired += 1)?;
    }
    ride.state = RideState::Expired;
    store(ctx, &ride);
    Ok(())
}
