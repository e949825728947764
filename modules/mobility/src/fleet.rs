//! Settings, vehicles and telemetry anchors.

use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, PublicKey, UrbisError};
use urbis_credentials::jose::PublicJwk;
use urbis_identity::Subject;
use urbis_runtime::Ctx;

use crate::types::*;
use crate::{
    Config, MAX_ANCHOR_SPAN_MS, MAX_ANCHOR_VEHICLES, MobilityCall, err, invalid, keys,
    telemetry::vehicles_hash,
};

pub(crate) fn execute(ctx: &mut Ctx<'_>, call: MobilityCall) -> Result<(), UrbisError> {
    match call {
        MobilityCall::Configure {
            rides,
            gap_tolerance_ms,
        } => configure(ctx, rides, gap_tolerance_ms),
        MobilityCall::RegisterVehicle {
            vehicle,
            operator,
            class,
            unit_did,
            unit_key,
        } => register(ctx, vehicle, operator, class, unit_did, unit_key),
        MobilityCall::RetireVehicle { vehicle } => retire(ctx, vehicle),
        MobilityCall::Anchor {
            root,
            batches,
            from_ms,
            to_ms,
            vehicles,
        } => anchor(ctx, root, batches, from_ms, to_ms, vehicles),
        _ => Err(err(ErrorCode::Internal, "not a fleet call")),
    }
}

pub(crate) fn is_authority(ctx: &Ctx<'_>) -> Result<bool, UrbisError> {
    has_role(ctx, &ctx.sender(), Role::MobilityAuthority)
}

pub(crate) fn require_authority(ctx: &Ctx<'_>) -> Result<(), UrbisError> {
    if is_authority(ctx)? {
        Ok(())
    } else {
        Err(err(
            ErrorCode::Unauthorized,
            "this requires the mobility_authority role",
        ))
    }
}

pub(crate) fn check_asset(ctx: &Ctx<'_>, asset: &str) -> Result<(), UrbisError> {
    if urbis_assets::validate_symbol(asset).is_err()
        || ctx.get_raw(&urbis_assets::keys::asset(asset))?.is_none()
    {
        return Err(err(ErrorCode::NotFound, format!("no asset {asset:?}")));
    }
    Ok(())
}

fn configure(ctx: &mut Ctx<'_>, rides: RideRules, gap_tolerance_ms: u64) -> Result<(), UrbisError> {
    require_authority(ctx)?;
    const WEEK: u64 = 7 * 86_400_000;
    if rides.cancel_fee_bps > 10_000
        || [
            rides.accept_timeout_ms,
            rides.pickup_timeout_ms,
            rides.completion_timeout_ms,
        ]
        .iter()
        .any(|t| *t == 0 || *t > WEEK)
        || rides.free_cancel_ms > WEEK
        || gap_tolerance_ms == 0
        || gap_tolerance_ms > MAX_ANCHOR_SPAN_MS
        || rides.licence_vct.is_empty()
        || rides.licence_vct.len() > 128
    {
        return Err(invalid(
            "timeouts are 1 ms to a week, the cancellation fee at most 10000 bps, the gap tolerance 1 ms to a day, the licence type 1 to 128 bytes",
        ));
    }
    check_asset(ctx, &rides.asset)?;
    ctx.put(
        keys::config(),
        &Config {
            rides,
            gap_tolerance_ms,
        },
    );
    ctx.emit(Event::new(crate::MODULE, "configured"));
    Ok(())
}

pub(crate) fn config(ctx: &Ctx<'_>) -> Result<Option<Config>, UrbisError> {
    ctx.get(&keys::config())
}

/// Whether `key` is an Ed25519 verification method of a live device DID.
fn check_unit(ctx: &Ctx<'_>, did: &str, key: &PublicKey) -> Result<(), UrbisError> {
    let rec = urbis_identity::load(ctx, did)?;
    if rec.deactivated || rec.subject != Subject::Device {
        return Err(invalid(format!("{did} is not a live device DID")));
    }
    let found = rec
        .document
        .methods
        .iter()
        .any(|m| matches!(m.jwk.key(), Ok(PublicJwk::Ed25519(b)) if b[..] == *key.raw()));
    if !found {
        return Err(invalid(format!(
            "the unit key is not an Ed25519 verification method of {did}"
        )));
    }
    Ok(())
}

fn register(
    ctx: &mut Ctx<'_>,
    id: Hash,
    operator: Address,
    class: VehicleClass,
    unit_did: String,
    unit_key: PublicKey,
) -> Result<(), UrbisError> {
    let sender = ctx.sender();
    if !(is_authority(ctx)?
        || (operator == sender && has_role(ctx, &sender, Role::TransportOperator)?))
    {
        return Err(err(
            ErrorCode::Unauthorized,
            "vehicles are registered by the mobility authority or by their own transport operator",
        ));
    }
    if !has_role(ctx, &operator, Role::TransportOperator)? {
        return Err(invalid(format!("{operator} is not a transport operator")));
    }
    urbis_identity::parse_did(&unit_did)?;
    check_unit(ctx, &unit_did, &unit_key)?;
    if ctx.get_raw(&keys::vehicle(&id))?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            format!("vehicle {} is registered", id.to_hex()),
        ));
    }
    if ctx.get_raw(&keys::unit(&unit_key))?.is_some() {
        return Err(err(
            ErrorCode::AlreadyExists,
            "that unit key is another vehicle's",
        ));
    }
    let number: u32 = ctx.get(&keys::next_number())?.unwrap_or(1);
    ctx.put(keys::next_number(), &(number + 1));
    ctx.put(keys::number(number), &id);
    ctx.put(keys::unit(&unit_key), &id);
    let v = Vehicle {
        id,
        number,
        operator,
        class,
        unit_did,
        unit_key,
        registered_ms: ctx.timestamp_ms(),
        anchored_until_ms: 0,
        gaps: 0,
        retired_ms: None,
    };
    ctx.put(keys::vehicle(&id), &v);
    ctx.emit(
        Event::new(crate::MODULE, "vehicle_registered")
            .with("vehicle", id.to_hex())
            .with("operator", operator.to_string())
            .with("number", number),
    );
    Ok(())
}

fn load_vehicle(ctx: &Ctx<'_>, id: &Hash) -> Result<Vehicle, UrbisError> {
    ctx.get(&keys::vehicle(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no vehicle {}", id.to_hex())))
}

fn retire(ctx: &mut Ctx<'_>, id: Hash) -> Result<(), UrbisError> {
    let mut v = load_vehicle(ctx, &id)?;
    if v.operator != ctx.sender() && !is_authority(ctx)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "only the vehicle's operator or the mobility authority retires it",
        ));
    }
    if v.retired_ms.is_some() {
        return Err(err(ErrorCode::InvalidState, "the vehicle is retired"));
    }
    v.retired_ms = Some(ctx.timestamp_ms());
    ctx.put(keys::vehicle(&id), &v);
    ctx.emit(Event::new(crate::MODULE, "vehicle_retired").with("vehicle", id.to_hex()));
    Ok(())
}

fn anchor(
    ctx: &mut Ctx<'_>,
    root: Hash,
    batches: u32,
    from_ms: u64,
    to_ms: u64,
    numbers: Vec<u32>,
) -> Result<(), UrbisError> {
    let operator = ctx.sender();
    if !has_role(ctx, &operator, Role::TransportOperator)? {
        return Err(err(
            ErrorCode::Unauthorized,
            "anchors are sent by transport operators",
        ));
    }
    if numbers.is_empty()
        || numbers.len() > MAX_ANCHOR_VEHICLES
        || numbers.windows(2).any(|w| w[1] <= w[0])
    {
        return Err(invalid(format!(
            "an anchor lists 1 to {MAX_ANCHOR_VEHICLES} vehicle numbers in ascending order"
        )));
    }
    if to_ms <= from_ms || to_ms - from_ms > MAX_ANCHOR_SPAN_MS {
        return Err(invalid("an anchor spans more than 0 ms and at most a day"));
    }
    if (batches as usize) < numbers.len() || root == Hash::ZERO {
        return Err(invalid(
            "an anchor has a root and at least one batch per vehicle",
        ));
    }
    if to_ms > ctx.timestamp_ms() {
        return Err(err(
            ErrorCode::NotYetValid,
            "an anchor covers telemetry up to block time, not beyond",
        ));
    }
    let tolerance = config(ctx)?.map_or(crate::DEFAULT_GAP_TOLERANCE_MS, |c| c.gap_tolerance_ms);
    let seq: u64 = ctx.get(&keys::next_anchor(&operator))?.unwrap_or(1);
    // Check every vehicle before writing anything.
    let mut vehicles = Vec::with_capacity(numbers.len());
    for n in &numbers {
        let id: Hash = ctx
            .get(&keys::number(*n))?
            .ok_or_else(|| err(ErrorCode::NotFound, format!("no vehicle number {n}")))?;
        let v = load_vehicle(ctx, &id)?;
        if v.operator != operator {
            return Err(err(
                ErrorCode::Unauthorized,
                format!("vehicle {n} is another operator's"),
            ));
        }
        if v.retired_ms.is_some() {
            return Err(err(
                ErrorCode::InvalidState,
                format!("vehicle {n} is retired"),
            ));
        }
        vehicles.push(v);
    }
    for mut v in vehicles {
        if v.anchored_until_ms > 0 && from_ms > v.anchored_until_ms.saturating_add(tolerance) {
            let gap = Gap {
                vehicle: v.id,
                from_ms: v.anchored_until_ms,
                to_ms: from_ms,
                operator,
                seq,
            };
            ctx.put(keys::gap(&v.id, v.anchored_until_ms), &gap);
            ctx.emit(
                Event::new(crate::MODULE, "gap")
                    .with("vehicle", v.id.to_hex())
                    .with("from_ms", gap.from_ms)
                    .with("to_ms", gap.to_ms),
            );
            v.gaps += 1;
        }
        v.anchored_until_ms = v.anchored_until_ms.max(to_ms);
        ctx.put(keys::vehicle(&v.id), &v);
    }
    ctx.put(keys::next_anchor(&operator), &(seq + 1));
    let a = Anchor {
        operator,
        seq,
        root,
        batches,
        from_ms,
        to_ms,
        vehicles: numbers.len() as u32,
        vehicles_hash: vehicles_hash(&numbers),
        height: ctx.height(),
        anchored_ms: ctx.timestamp_ms(),
    };
    ctx.put(keys::anchor(&operator, seq), &a);
    ctx.emit(
        Event::new(crate::MODULE, "anchored")
            .with("operator", operator.to_string())
            .with("seq", seq)
            .with("root", root.to_hex())
            .with("from_ms", from_ms)
            .with("to_ms", to_ms)
            .with("vehicles", numbers.len() as u64),
    );
    Ok(())
}
