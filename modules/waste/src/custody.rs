//! The calls: registration, deposits, collection, handovers, splits, merges, fates, flags.

use urbis_accounts::{Role, has_role};
use urbis_core::{Address, ErrorCode, Event, Hash, PublicKey, Signature, UrbisError};
use urbis_runtime::Ctx;
use urbis_runtime::kit::{job_payload, month_of_day};

use crate::types::*;
use crate::{
    DEFAULT_TOLERANCE, DEPOSIT_TAG, HANDOVER_TAG, JOB_DUE, MAX_BINS, MAX_PARTS, MODULE, RewardRule,
    WEIGHING_TAG, WasteCall, batch_subject, citizen_subject, deposit_message, err, fill_subject,
    handover_message, invalid, keys, weighing_message,
};

const DAY_MS: u64 = 86_400_000;
/// Most mass in one weighing: 100 t.
const MAX_GRAMS: u64 = 100_000_000;

pub(crate) fn execute(ctx: &mut Ctx<'_>, call: WasteCall) -> Result<(), UrbisError> {
    match call {
        WasteCall::SetTolerance { stream, tolerance } => set_tolerance(ctx, stream, tolerance),
        WasteCall::SetReward {
            program,
            grams_per_token,
        } => {
            require_department(ctx)?;
            if grams_per_token == 0 {
                return Err(invalid("grams_per_token is positive"));
            }
            ctx.put(
                keys::reward(),
                &RewardRule {
                    program,
                    grams_per_token,
                },
            );
            Ok(())
        }
        WasteCall::RegisterActor {
            account,
            kind,
            name,
            licences,
        } => register_actor(ctx, account, kind, name, licences),
        WasteCall::RegisterDevice {
            key,
            kind,
            operator,
            district,
            stream,
        } => register_device(ctx, key, kind, operator, district, stream),
        WasteCall::RevokeDevice { key } => revoke_device(ctx, key),
        WasteCall::Deposit {
            citizen,
            weighing,
            citizen_signature,
        } => deposit(ctx, citizen, weighing, citizen_signature),
        WasteCall::Collect {
            weighings,
            manifest,
        } => collect(ctx, weighings, manifest),
        WasteCall::Handover {
            batch,
            giver_key,
            giver_signature,
            weighing,
        } => handover(ctx, batch, giver_key, giver_signature, weighing),
        WasteCall::Split { batch, parts } => split(ctx, batch, parts),
        WasteCall::Merge { batches } => merge(ctx, batches),
        WasteCall::Fate {
            batch,
            kind,
            material,
            output_grams,
        } => fate(ctx, batch, kind, material, output_grams),
    }
}

fn require_department(ctx: &Ctx<'_>) -> Result<(), UrbisError> {
    if has_role(ctx, &ctx.sender(), Role::Department)? {
        Ok(())
    } else {
        Err(err(
            ErrorCode::Unauthorized,
            "this requires the department role (the waste office)",
        ))
    }
}

fn month(ctx: &Ctx<'_>) -> u32 {
    month_of_day(ctx.timestamp_ms() / DAY_MS)
}

fn tolerance(ctx: &Ctx<'_>, s: Stream) -> Result<Tolerance, UrbisError> {
    Ok(ctx.get(&keys::tolerance(s))?.unwrap_or(DEFAULT_TOLERANCE))
}

/// `x · (10 000 + bps) / 10 000`, and its lower counterpart.
fn plus(x: u64, bps: u32) -> u64 {
    (u128::from(x) * (10_000 + u128::from(bps)) / 10_000) as u64
}

fn minus(x: u64, bps: u32) -> u64 {
    (u128::from(x) * u128::from(10_000u32.saturating_sub(bps)) / 10_000) as u64
}

fn set_tolerance(ctx: &mut Ctx<'_>, s: Stream, t: Tolerance) -> Result<(), UrbisError> {
    require_department(ctx)?;
    if t.soft_bps > t.hard_bps
        || t.hard_bps > 5_000
        || t.moisture_bps > 5_000
        || !(60_000..=90 * DAY_MS).contains(&t.hop_deadline_ms)
    {
        return Err(invalid(
            "soft ≤ hard ≤ 5000 bps, moisture ≤ 5000 bps, a hop deadline of 1 minute to 90 days",
        ));
    }
    ctx.put(keys::tolerance(s), &t);
    ctx.emit(Event::new(MODULE, "tolerance_set").with("stream", s.as_str()));
    Ok(())
}

fn register_actor(
    ctx: &mut Ctx<'_>,
    account: Address,
    kind: ActorKind,
    name: String,
    licences: Vec<Licence>,
) -> Result<(), UrbisError> {
    require_department(ctx)?;
    let mut streams: Vec<Stream> = licences.iter().map(|l| l.stream).collect();
    streams.sort();
    streams.dedup();
    if name.is_empty() || name.len() > 128 || licences.is_empty() || streams.len() != licences.len()
    {
        return Err(invalid(
            "a name of 1 to 128 bytes and at least one licence, one per stream",
        ));
    }
    ctx.put(
        keys::actor(&account),
        &Actor {
            account,
            kind,
            name,
            licences,
        },
    );
    ctx.emit(
        Event::new(MODULE, "actor_registered")
            .with("actor", account.to_string())
            .with("kind", kind.as_str()),
    );
    Ok(())
}

fn load_actor(ctx: &Ctx<'_>, a: &Address) -> Result<Option<Actor>, UrbisError> {
    ctx.get(&keys::actor(a))
}

/// `a` as an actor licensed for `s` now.
fn licensed(ctx: &Ctx<'_>, a: &Address, s: Stream) -> Result<Actor, UrbisError> {
    let now = ctx.timestamp_ms();
    load_actor(ctx, a)?
        .filter(|act| {
            act.licences
                .iter()
                .any(|l| l.stream == s && now < l.until_ms)
        })
        .ok_or_else(|| {
            err(
                ErrorCode::Unauthorized,
                format!("{a} holds no valid licence for {}", s.as_str()),
            )
        })
}

fn register_device(
    ctx: &mut Ctx<'_>,
    key: PublicKey,
    kind: DeviceKind,
    operator: Address,
    district: String,
    stream: Stream,
) -> Result<(), UrbisError> {
    require_department(ctx)?;
    if district.is_empty()
        || district.len() > 32
        || !district
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "a district is a code of 1 to 32 letters, digits, '-' or '_'",
        ));
    }
    if load_actor(ctx, &operator)?.is_none() {
        return Err(err(
            ErrorCode::NotFound,
            format!("{operator} is not a registered actor"),
        ));
    }
    if ctx.get_raw(&keys::device(&key))?.is_some() {
        return Err(err(ErrorCode::AlreadyExists, "that device is registered"));
    }
    ctx.put(
        keys::device(&key),
        &Device {
            key,
            kind,
            operator,
            district,
            stream,
            seq: 0,
            fill_grams: 0,
            epoch: 0,
            revoked_ms: None,
        },
    );
    ctx.emit(
        Event::new(MODULE, "device_registered")
            .with("device", keys::hex(&key))
            .with("kind", kind.as_str()),
    );
    Ok(())
}

fn revoke_device(ctx: &mut Ctx<'_>, key: PublicKey) -> Result<(), UrbisError> {
    require_department(ctx)?;
    let mut d = load_device(ctx, &key)?;
    if d.revoked_ms.is_some() {
        return Err(err(ErrorCode::Revoked, "the device is revoked"));
    }
    d.revoked_ms = Some(ctx.timestamp_ms());
    ctx.put(keys::device(&key), &d);
    ctx.emit(Event::new(MODULE, "device_revoked").with("device", keys::hex(&key)));
    Ok(())
}

fn load_device(ctx: &Ctx<'_>, key: &PublicKey) -> Result<Device, UrbisError> {
    ctx.get(&keys::device(key))?.ok_or_else(|| {
        err(
            ErrorCode::NotFound,
            format!("{} is not a registered device", keys::hex(key)),
        )
    })
}

/// A weighing by a live device of one of `kinds`, signed over `subject`, with a new sequence
/// number; the device with its sequence advanced (not yet written).
fn weighed(
    ctx: &mut Ctx<'_>,
    w: &Weighing,
    kinds: &[DeviceKind],
    subject: impl FnOnce(&Device) -> Hash,
) -> Result<Device, UrbisError> {
    let mut d = load_device(ctx, &w.device)?;
    if d.revoked_ms.is_some() {
        return Err(err(ErrorCode::Revoked, "the device is revoked"));
    }
    if !kinds.contains(&d.kind) || w.grams == 0 || w.grams > MAX_GRAMS {
        return Err(invalid(format!(
            "a weighing here is by a {} of 1 g to 100 t",
            kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    ctx.charge(urbis_runtime::weight::SIGNATURE)?;
    w.device
        .verify(
            WEIGHING_TAG,
            &weighing_message(&w.device, w.seq, w.grams, &subject(&d)),
            &w.signature,
        )
        .map_err(|_| {
            err(
                ErrorCode::BadSignature,
                "the device did not sign this weighing",
            )
        })?;
    if w.seq <= d.seq {
        return Err(err(
            ErrorCode::AlreadyExists,
            format!("weighing {} of this device was already taken", w.seq),
        ));
    }
    d.seq = w.seq;
    Ok(d)
}

fn deposit(
    ctx: &mut Ctx<'_>,
    citizen_key: PublicKey,
    w: Weighing,
    citizen_signature: Signature,
) -> Result<(), UrbisError> {
    let citizen = citizen_key.address();
    let mut d = weighed(ctx, &w, &[DeviceKind::Bin, DeviceKind::Centre], |_| {
        citizen_subject(&citizen)
    })?;
    ctx.charge(urbis_runtime::weight::SIGNATURE)?;
    citizen_key
        .verify(
            DEPOSIT_TAG,
            &deposit_message(&w.device, w.seq, w.grams),
            &citizen_signature,
        )
        .map_err(|_| {
            err(
                ErrorCode::BadSignature,
                "the citizen did not sign this deposit",
            )
        })?;
    let now = ctx.timestamp_ms();
    d.fill_grams = d.fill_grams.saturating_add(w.grams);
    let reward: Option<RewardRule> = ctx.get(&keys::reward())?;
    let mut tokens = 0;
    if let Some(r) = reward {
        let earned = w.grams / r.grams_per_token;
        tokens = earned.min(urbis_rewards::awardable(ctx, r.program, &citizen)?);
        if tokens > 0 {
            urbis_rewards::award_from_program(
                ctx,
                r.program,
                citizen,
                tokens,
                &format!("recycling: {} g of {}", w.grams, d.stream.as_str()),
            )?;
        }
    }
    let n: u64 = ctx.get(&keys::deposits(&citizen))?.unwrap_or(0);
    ctx.put(keys::deposits(&citizen), &(n + 1));
    ctx.put(
        keys::deposit(&citizen, n),
        &Deposit {
            citizen,
            device: w.device,
            epoch: d.epoch,
            stream: d.stream,
            grams: w.grams,
            tokens,
            at_ms: now,
        },
    );
    ctx.put(keys::device(&w.device), &d);
    ctx.emit(
        Event::new(MODULE, "deposited")
            .with("citizen", citizen.to_string())
            .with("device", keys::hex(&w.device))
            .with("grams", w.grams)
            .with("tokens", tokens),
    );
    Ok(())
}

fn next_id(ctx: &mut Ctx<'_>) -> Result<u64, UrbisError> {
    let id: u64 = ctx.get(&keys::next_batch())?.unwrap_or(1);
    ctx.put(keys::next_batch(), &(id + 1));
    Ok(id)
}

/// Store a batch; an active one gets its deadline and the job that checks it.
fn store(ctx: &mut Ctx<'_>, b: &mut Batch) -> Result<(), UrbisError> {
    if b.state == BatchState::Active && b.fate.is_none() {
        let t = tolerance(ctx, b.stream)?;
        b.due_ms = ctx.timestamp_ms().saturating_add(t.hop_deadline_ms);
        ctx.schedule_at(b.due_ms, job_payload(JOB_DUE, b.id));
    }
    ctx.put(keys::batch(b.id), b);
    Ok(())
}

fn load_batch(ctx: &Ctx<'_>, id: u64) -> Result<Batch, UrbisError> {
    ctx.get(&keys::batch(id))?
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no batch {id}")))
}

fn flag(
    ctx: &mut Ctx<'_>,
    kind: FlagKind,
    actor: Address,
    batch: u64,
    grams: u64,
) -> Result<(), UrbisError> {
    let m = month(ctx);
    let n: u64 = ctx.get(&keys::flags(&actor, m))?.unwrap_or(0);
    ctx.put(keys::flags(&actor, m), &(n + 1));
    ctx.put(
        keys::flag(&actor, m, n),
        &Flag {
            kind,
            actor,
            batch,
            grams,
            at_ms: ctx.timestamp_ms(),
        },
    );
    ctx.emit(
        Event::new(MODULE, "flagged")
            .with("actor", actor.to_string())
            .with("kind", kind.as_str())
            .with("batch", batch)
            .with("grams", grams),
    );
    Ok(())
}

/// What a call moves through a facility's books.
#[derive(Default)]
struct Flow {
    received: u64,
    sent: u64,
    treated: u64,
    lost: u64,
}

/// Add to a facility's balance (all time and this month; a month opens with the stock held
/// when it starts). Outputs beyond inputs by more than the hard limit are refused; by more
/// than the soft band, flagged. Because the month opens with the stock carried over, the
/// all-time check is the per-period check: `sent + treated + lost + closing stock = opening
/// stock + received` in every month.
fn account(
    ctx: &mut Ctx<'_>,
    who: Address,
    stream: Stream,
    batch: u64,
    f: Flow,
) -> Result<(), UrbisError> {
    let t = tolerance(ctx, stream)?;
    let mut all: Balance = ctx.get(&keys::balance(&who))?.unwrap_or_default();
    let m = month(ctx);
    let mut mb: Balance = match ctx.get(&keys::month_balance(&who, m))? {
        Some(b) => b,
        None => Balance {
            opening_grams: all.stock(),
            ..Balance::default()
        },
    };
    for b in [&mut all, &mut mb] {
        b.received_grams += f.received;
        b.sent_grams += f.sent;
        b.treated_grams += f.treated;
        b.lost_grams += f.lost;
    }
    let out = all.sent_grams + all.treated_grams + all.lost_grams;
    if out > plus(all.received_grams, t.hard_bps) {
        return Err(err(
            ErrorCode::MassBalance,
            format!(
                "{who} would have sent or treated {out} g of the {} g it received",
                all.received_grams
            ),
        ));
    }
    if out > plus(all.received_grams, t.soft_bps) && f.received == 0 {
        flag(
            ctx,
            FlagKind::MassGain,
            who,
            batch,
            out - all.received_grams,
        )?;
    }
    ctx.put(keys::balance(&who), &all);
    ctx.put(keys::month_balance(&who, m), &mb);
    Ok(())
}

fn rate(
    ctx: &mut Ctx<'_>,
    origins: &[(String, u64)],
    stream: Stream,
    f: impl Fn(&mut Rate, u64),
) -> Result<(), UrbisError> {
    let m = month(ctx);
    for (district, grams) in origins {
        let key = keys::rate(district, stream, m);
        let mut r: Rate = ctx.get(&key)?.unwrap_or_default();
        f(&mut r, *grams);
        ctx.put(key, &r);
    }
    Ok(())
}

fn collect(
    ctx: &mut Ctx<'_>,
    weighings: Vec<Weighing>,
    manifest: Option<Hash>,
) -> Result<(), UrbisError> {
    let collector = ctx.sender();
    let actor = load_actor(ctx, &collector)?
        .filter(|a| a.kind == ActorKind::Collector)
        .ok_or_else(|| {
            err(
                ErrorCode::Unauthorized,
                "collections are made by collectors",
            )
        })?;
    if weighings.is_empty() || weighings.len() > MAX_BINS {
        return Err(invalid(format!(
            "a collection empties 1 to {MAX_BINS} bins"
        )));
    }
    let mut bins: Vec<Device> = Vec::with_capacity(weighings.len());
    for w in &weighings {
        let d = weighed(ctx, w, &[DeviceKind::Bin, DeviceKind::Centre], |d| {
            fill_subject(&d.key, d.epoch)
        })?;
        if d.operator != collector {
            return Err(invalid(format!(
                "{} is not one of this collector's bins",
                keys::hex(&d.key)
            )));
        }
        if bins.iter().any(|b| b.key == d.key) {
            return Err(invalid("a bin is emptied once per collection"));
        }
        bins.push(d);
    }
    let stream = bins[0].stream;
    if bins.iter().any(|b| b.stream != stream) {
        return Err(invalid("a batch holds one stream"));
    }
    licensed(ctx, &actor.account, stream)?;
    if stream == Stream::Hazardous && manifest.is_none() {
        return Err(invalid("hazardous waste travels with a manifest"));
    }
    let id = next_id(ctx)?;
    let mut origins: Vec<(String, u64)> = Vec::new();
    let mut sources = Vec::new();
    let mut total = 0u64;
    for (d, w) in bins.iter_mut().zip(&weighings) {
        total += w.grams;
        match origins.iter_mut().find(|(k, _)| *k == d.district) {
            Some((_, g)) => *g += w.grams,
            None => origins.push((d.district.clone(), w.grams)),
        }
        sources.push((d.key, d.epoch));
        ctx.put(keys::fill(&d.key, d.epoch), &id);
        d.epoch += 1;
        d.fill_grams = 0;
        ctx.put(keys::device(&d.key), d);
    }
    account(
        ctx,
        collector,
        stream,
        id,
        Flow {
            received: total,
            ..Flow::default()
        },
    )?;
    rate(ctx, &origins, stream, |r, g| r.collected_grams += g)?;
    let mut b = Batch {
        id,
        stream,
        grams: total,
        holder: collector,
        state: BatchState::Active,
        sources,
        parents: Vec::new(),
        children: Vec::new(),
        origins,
        manifest,
        hops: Vec::new(),
        created_ms: ctx.timestamp_ms(),
        due_ms: 0,
        fate: None,
    };
    store(ctx, &mut b)?;
    ctx.emit(
        Event::new(MODULE, "collected")
            .with("batch", id)
            .with("collector", collector.to_string())
            .with("grams", total),
    );
    Ok(())
}

fn active(b: &Batch) -> Result<(), UrbisError> {
    if b.state != BatchState::Active || b.fate.is_some() {
        return Err(err(
            ErrorCode::InvalidState,
            format!("batch {} is {}", b.id, b.state.as_str()),
        ));
    }
    Ok(())
}

fn handover(
    ctx: &mut Ctx<'_>,
    id: u64,
    giver_key: PublicKey,
    giver_signature: Signature,
    w: Weighing,
) -> Result<(), UrbisError> {
    let mut b = load_batch(ctx, id)?;
    active(&b)?;
    let to = ctx.sender();
    licensed(ctx, &to, b.stream)?;
    if to == b.holder {
        return Err(invalid("a batch is handed to someone else"));
    }
    let bridge = weighed(ctx, &w, &[DeviceKind::Weighbridge], |_| batch_subject(id))?;
    if bridge.operator != to {
        return Err(invalid(
            "the receipt is weighed on the receiver's own weighbridge",
        ));
    }
    // The giver's consent to this handover, of this mass, to this receiver.
    let giver = b.holder;
    if giver_key.address() != giver {
        return Err(err(
            ErrorCode::BadSignature,
            "the handover is signed by a key that is not the holder's",
        ));
    }
    ctx.charge(urbis_runtime::weight::SIGNATURE)?;
    giver_key
        .verify(
            HANDOVER_TAG,
            &handover_message(id, &to, b.grams),
            &giver_signature,
        )
        .map_err(|_| {
            err(
                ErrorCode::BadSignature,
                "the holder did not sign this handover",
            )
        })?;
    let t = tolerance(ctx, b.stream)?;
    let sent = b.grams;
    if w.grams > plus(sent, t.hard_bps) {
        return Err(err(
            ErrorCode::MassBalance,
            format!(
                "{} g received of {sent} g sent is beyond the {} bps limit",
                w.grams, t.hard_bps
            ),
        ));
    }
    ctx.put(keys::device(&w.device), &bridge);
    account(
        ctx,
        giver,
        b.stream,
        id,
        Flow {
            sent,
            ..Flow::default()
        },
    )?;
    account(
        ctx,
        to,
        b.stream,
        id,
        Flow {
            received: w.grams,
            ..Flow::default()
        },
    )?;
    if w.grams > plus(sent, t.soft_bps) {
        flag(ctx, FlagKind::MassGain, to, id, w.grams - sent)?;
    } else if w.grams < minus(sent, t.soft_bps + t.moisture_bps) {
        flag(ctx, FlagKind::WeightJump, giver, id, sent - w.grams)?;
    }
    scale(&mut b.origins, w.grams, sent);
    b.hops.push(Hop {
        from: giver,
        to,
        sent_grams: sent,
        received_grams: w.grams,
        weighbridge: w.device,
        at_ms: ctx.timestamp_ms(),
    });
    b.grams = w.grams;
    b.holder = to;
    store(ctx, &mut b)?;
    ctx.emit(
        Event::new(MODULE, "handed_over")
            .with("batch", id)
            .with("from", giver.to_string())
            .with("to", to.to_string())
            .with("grams", w.grams),
    );
    Ok(())
}

/// Rescale origins from `from` grams to `to` grams (the last district takes the rounding).
fn scale(origins: &mut [(String, u64)], to: u64, from: u64) {
    if from == 0 || origins.is_empty() {
        return;
    }
    let mut left = to;
    let n = origins.len();
    for (i, (_, g)) in origins.iter_mut().enumerate() {
        if i + 1 == n {
            *g = left;
        } else {
            let share = (u128::from(*g) * u128::from(to) / u128::from(from)) as u64;
            *g = share.min(left);
            left -= *g;
        }
    }
}

fn held_by_station(ctx: &Ctx<'_>, b: &Batch) -> Result<(), UrbisError> {
    if b.holder != ctx.sender() {
        return Err(err(ErrorCode::Unauthorized, "only the batch's holder may"));
    }
    match load_actor(ctx, &b.holder)? {
        Some(a) if a.kind == ActorKind::TransferStation => Ok(()),
        _ => Err(err(
            ErrorCode::Unauthorized,
            "batches are split and merged at transfer stations",
        )),
    }
}

fn split(ctx: &mut Ctx<'_>, id: u64, parts: Vec<u64>) -> Result<(), UrbisError> {
    let mut b = load_batch(ctx, id)?;
    held_by_station(ctx, &b)?;
    active(&b)?;
    let sum: u64 = parts
        .iter()
        .try_fold(0u64, |s, p| s.checked_add(*p))
        .unwrap_or(u64::MAX);
    if parts.len() < 2 || parts.len() > MAX_PARTS || parts.contains(&0) {
        return Err(invalid(format!("2 to {MAX_PARTS} parts, each positive")));
    }
    if sum > b.grams {
        return Err(invalid(format!(
            "the parts ({sum} g) exceed the whole ({} g)",
            b.grams
        )));
    }
    let t = tolerance(ctx, b.stream)?;
    if sum < b.grams {
        account(
            ctx,
            b.holder,
            b.stream,
            id,
            Flow {
                lost: b.grams - sum,
                ..Flow::default()
            },
        )?;
    }
    if sum < minus(b.grams, t.soft_bps + t.moisture_bps) {
        flag(ctx, FlagKind::ProcessLoss, b.holder, id, b.grams - sum)?;
    }
    for p in &parts {
        let cid = next_id(ctx)?;
        let mut origins = b.origins.clone();
        scale(&mut origins, *p, b.grams);
        let mut c = Batch {
            id: cid,
            stream: b.stream,
            grams: *p,
            holder: b.holder,
            state: BatchState::Active,
            sources: Vec::new(),
            parents: vec![id],
            children: Vec::new(),
            origins,
            manifest: b.manifest,
            hops: Vec::new(),
            created_ms: ctx.timestamp_ms(),
            due_ms: 0,
            fate: None,
        };
        store(ctx, &mut c)?;
        b.children.push(cid);
    }
    b.state = BatchState::Split;
    ctx.put(keys::batch(id), &b);
    ctx.emit(
        Event::new(MODULE, "split")
            .with("batch", id)
            .with("parts", parts.len() as u64),
    );
    Ok(())
}

fn merge(ctx: &mut Ctx<'_>, ids: Vec<u64>) -> Result<(), UrbisError> {
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if ids.len() < 2 || ids.len() > MAX_PARTS || sorted.len() != ids.len() {
        return Err(invalid(format!("2 to {MAX_PARTS} different batches")));
    }
    let mut batches = Vec::with_capacity(ids.len());
    for id in &ids {
        let b = load_batch(ctx, *id)?;
        held_by_station(ctx, &b)?;
        active(&b)?;
        batches.push(b);
    }
    let stream = batches[0].stream;
    if batches.iter().any(|b| b.stream != stream) {
        return Err(invalid("merged batches are of one stream"));
    }
    let id = next_id(ctx)?;
    let mut origins: Vec<(String, u64)> = Vec::new();
    for b in &batches {
        for (d, g) in &b.origins {
            match origins.iter_mut().find(|(k, _)| k == d) {
                Some((_, x)) => *x += g,
                None => origins.push((d.clone(), *g)),
            }
        }
    }
    let mut m = Batch {
        id,
        stream,
        grams: batches.iter().map(|b| b.grams).sum(),
        holder: ctx.sender(),
        state: BatchState::Active,
        sources: Vec::new(),
        parents: ids.clone(),
        children: Vec::new(),
        origins,
        manifest: batches.iter().find_map(|b| b.manifest),
        hops: Vec::new(),
        created_ms: ctx.timestamp_ms(),
        due_ms: 0,
        fate: None,
    };
    store(ctx, &mut m)?;
    for mut b in batches {
        b.state = BatchState::Merged;
        b.children.push(id);
        ctx.put(keys::batch(b.id), &b);
    }
    ctx.emit(
        Event::new(MODULE, "merged")
            .with("batch", id)
            .with("from", format!("{ids:?}")),
    );
    Ok(())
}

fn fate(
    ctx: &mut Ctx<'_>,
    id: u64,
    kind: FateKind,
    material: Option<String>,
    output_grams: u64,
) -> Result<(), UrbisError> {
    let mut b = load_batch(ctx, id)?;
    if b.holder != ctx.sender() {
        return Err(err(ErrorCode::Unauthorized, "only the batch's holder may"));
    }
    let facility = licensed(ctx, &b.holder, b.stream)?;
    let fits = matches!(
        (kind, facility.kind),
        (FateKind::Recycled, ActorKind::Recycler)
            | (FateKind::EnergyRecovery, ActorKind::Incinerator)
            | (FateKind::Landfill, ActorKind::Landfill)
    );
    if !fits {
        return Err(err(
            ErrorCode::Unauthorized,
            format!(
                "a {} does not record the fate {}",
                facility.kind.as_str(),
                kind.as_str()
            ),
        ));
    }
    if b.fate.is_some() {
        return Err(err(
            ErrorCode::InvalidState,
            format!("batch {id} already has its fate"),
        ));
    }
    active(&b)?;
    let recycled = kind == FateKind::Recycled;
    if recycled
        != material
            .as_ref()
            .is_some_and(|m| !m.is_empty() && m.len() <= 64)
    {
        return Err(invalid(
            "a recycled batch names its output material (1 to 64 bytes); other fates none",
        ));
    }
    let t = tolerance(ctx, b.stream)?;
    if output_grams > plus(b.grams, t.hard_bps) {
        return Err(err(
            ErrorCode::MassBalance,
            format!(
                "{output_grams} g out of {} g in is beyond the limit",
                b.grams
            ),
        ));
    }
    account(
        ctx,
        b.holder,
        b.stream,
        id,
        Flow {
            treated: b.grams,
            ..Flow::default()
        },
    )?;
    if output_grams > plus(b.grams, t.soft_bps) {
        flag(
            ctx,
            FlagKind::MassGain,
            b.holder,
            id,
            output_grams - b.grams,
        )?;
    }
    rate(ctx, &b.origins, b.stream, |r, g| match kind {
        FateKind::Recycled => r.recycled_grams += g,
        FateKind::EnergyRecovery => r.energy_recovery_grams += g,
        FateKind::Landfill => r.landfill_grams += g,
    })?;
    b.fate = Some(Fate {
        kind,
        material,
        output_grams,
        facility: b.holder,
        at_ms: ctx.timestamp_ms(),
    });
    b.state = BatchState::Final;
    ctx.put(keys::batch(id), &b);
    ctx.emit(
        Event::new(MODULE, "fate")
            .with("batch", id)
            .with("fate", kind.as_str())
            .with("grams", b.grams),
    );
    Ok(())
}

/// A batch's deadline: if it has not moved on since, it is flagged against its holder.
pub(crate) fn due(ctx: &mut Ctx<'_>, id: u64) -> Result<(), UrbisError> {
    let Some(b) = ctx.get::<Batch>(&keys::batch(id))? else {
        return Ok(());
    };
    if b.state == BatchState::Active && b.fate.is_none() && b.due_ms <= ctx.timestamp_ms() {
        flag(ctx, FlagKind::MissingHop, b.holder, id, b.grams)?;
    }
    Ok(())
}
