//! The rewards call enum and its execution.
//!
//! Each handler checks, in order: the sender's role, the arguments, then state; it writes
//! nothing before every check has passed (and the runtime discards a failed call's writes
//! anyway).

use borsh::{BorshDeserialize, BorshSerialize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use urbis_accounts::{Role, has_role, require_role};
use urbis_core::{Address, ErrorCode, Event, UrbisError};
use urbis_runtime::Ctx;

use crate::keys::{self, MODULE};
use crate::store;
use crate::types::{
    Category, Program, ProgramSpec, Redemption, checked_add, invalid, validate_text,
};

/// A call into the rewards module (borsh in transactions, JSON for display).
///
/// The borsh encoding is the variant index followed by the fields: never reorder, only append.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum RewardsCall {
    /// Open a new program (city admin).
    CreateProgram {
        name: String,
        category: Category,
        budget: u64,
        cap_per_period: u64,
        period_ms: u64,
        transferable: bool,
    },
    /// Pause or resume awards of a program (city admin).
    SetProgramActive { program: u64, active: bool },
    /// Mint `amount` tokens of `program` to the citizen `to` (department).
    Award {
        program: u64,
        to: Address,
        amount: u64,
        reason: String,
    },
    /// Move tokens of a transferable program to another account.
    Transfer {
        to: Address,
        program: u64,
        amount: u64,
    },
    /// Spend (burn) tokens at a merchant for `item`.
    Redeem {
        merchant: Address,
        program: u64,
        amount: u64,
        item: String,
    },
    /// Allow (or stop allowing) the module `module` to award tokens of `program` through the
    /// exported operation `award_from_program` (city admin), e.g. the waste service paying
    /// recycling rewards on a weighing.
    SetAwarder {
        program: u64,
        module: String,
        allowed: bool,
    },
}

/// The operations rewards exports to other modules (borsh; never reorder, only append).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum RewardsOp {
    /// Award `amount` tokens of `program` to the citizen `to`, under the program's budget and
    /// cap, on behalf of the calling module (which the city admin allowed with `SetAwarder`).
    AwardFromProgram {
        program: u64,
        to: Address,
        amount: u64,
        reason: String,
    },
}

/// From another module: award tokens of `program` to `to` (see [`RewardsOp::AwardFromProgram`]).
pub fn award_from_program(
    ctx: &mut Ctx<'_>,
    program: u64,
    to: Address,
    amount: u64,
    reason: &str,
) -> Result<(), UrbisError> {
    ctx.invoke(
        MODULE,
        &RewardsOp::AwardFromProgram {
            program,
            to,
            amount,
            reason: reason.to_string(),
        },
    )
}

/// How many tokens of `program` the calling module may award `to` right now: zero unless the
/// module is an awarder of an active program and `to` is a citizen; otherwise what is left of
/// the budget and of `to`'s cap this period. A module that awards automatically (an energy
/// saving found in a meter reading) awards at most this, so a spent budget never fails the
/// transaction that earned the award.
pub fn awardable(ctx: &Ctx<'_>, program: u64, to: &Address) -> Result<u64, UrbisError> {
    let caller = ctx.module();
    let Some(p) = ctx.get::<Program>(&keys::program(program))? else {
        return Ok(0);
    };
    if !p.active
        || ctx.get_raw(&keys::awarder(program, caller))?.is_none()
        || !has_role(ctx, to, Role::Citizen)?
    {
        return Ok(0);
    }
    let already = store::awarded(ctx, program, to, p.period_of(ctx.timestamp_ms()))?;
    Ok(p.budget
        .saturating_sub(p.minted)
        .min(p.cap_per_period.saturating_sub(already)))
}

/// Run an exported operation (the runtime calls this for [`Module::exported`]).
pub(crate) fn exported(ctx: &mut Ctx<'_>, op: &[u8]) -> Result<Vec<u8>, UrbisError> {
    let op: RewardsOp = borsh::from_slice(op).map_err(|_| {
        UrbisError::new(ErrorCode::UnknownCall, "rewards operation does not decode")
    })?;
    match op {
        RewardsOp::AwardFromProgram {
            program,
            to,
            amount,
            reason,
        } => {
            let caller = ctx.caller().unwrap_or_default();
            if ctx.get_raw(&keys::awarder(program, caller))?.is_none() {
                return Err(UrbisError::new(
                    ErrorCode::Unauthorized,
                    format!("module {caller:?} may not award from program {program}"),
                ));
            }
            let via = caller.to_string();
            mint_award(ctx, program, to, amount, reason, Some(&via))?;
        }
    }
    Ok(borsh::to_vec(&()).expect("borsh to vec never fails"))
}

fn set_awarder(
    ctx: &mut Ctx<'_>,
    id: u64,
    module: String,
    allowed: bool,
) -> Result<(), UrbisError> {
    require_role(ctx, Role::CityAdmin)?;
    store::program(ctx, id)?;
    if module.is_empty() || module.len() > 32 || module.contains('/') {
        return Err(invalid(
            "module must be a module name (1 to 32 characters, no '/')",
        ));
    }
    let key = keys::awarder(id, &module);
    if allowed {
        ctx.put_raw(key, vec![1]);
    } else {
        ctx.delete(key);
    }
    ctx.emit(
        Event::new(MODULE, "awarder_set")
            .with("program", id)
            .with("module", &module)
            .with("allowed", allowed)
            .with("by", ctx.sender()),
    );
    Ok(())
}

impl RewardsCall {
    /// Decode a call from transaction data.
    pub fn decode(data: &[u8]) -> Result<Self, UrbisError> {
        urbis_runtime::kit::decode_call(data)
    }

    pub(crate) fn execute(self, ctx: &mut Ctx<'_>) -> Result<(), UrbisError> {
        match self {
            RewardsCall::CreateProgram {
                name,
                category,
                budget,
                cap_per_period,
                period_ms,
                transferable,
            } => {
                let spec = ProgramSpec {
                    name,
                    category,
                    budget,
                    cap_per_period,
                    period_ms,
                    transferable,
                };
                create(ctx, spec)
            }
            RewardsCall::SetProgramActive { program, active } => {
                set_program_active(ctx, program, active)
            }
            RewardsCall::Award {
                program,
                to,
                amount,
                reason,
            } => award(ctx, program, to, amount, reason),
            RewardsCall::Transfer {
                to,
                program,
                amount,
            } => transfer(ctx, to, program, amount),
            RewardsCall::Redeem {
                merchant,
                program,
                amount,
                item,
            } => redeem(ctx, merchant, program, amount, item),
            RewardsCall::SetAwarder {
                program,
                module,
                allowed,
            } => set_awarder(ctx, program, module, allowed),
        }
    }
}

fn create(ctx: &mut Ctx<'_>, spec: ProgramSpec) -> Result<(), UrbisError> {
    require_role(ctx, Role::CityAdmin)?;
    create_program(ctx, spec).map(|_| ())
}

/// Store a new active program created by the sender; also used by genesis. Returns its id.
pub(crate) fn create_program(ctx: &mut Ctx<'_>, spec: ProgramSpec) -> Result<u64, UrbisError> {
    spec.validate()?;
    let id = store::take_id(ctx, keys::next_program_id())?;
    let program = Program {
        id,
        name: spec.name,
        category: spec.category,
        budget: spec.budget,
        minted: 0,
        burned: 0,
        cap_per_period: spec.cap_per_period,
        period_ms: spec.period_ms,
        transferable: spec.transferable,
        active: true,
        created_by: ctx.sender(),
        created_height: ctx.height(),
    };
    store::put_program(ctx, &program);
    ctx.emit(
        Event::new(MODULE, "program_created")
            .with("program", id)
            .with("name", &program.name)
            .with("budget", program.budget),
    );
    Ok(id)
}

fn set_program_active(ctx: &mut Ctx<'_>, id: u64, active: bool) -> Result<(), UrbisError> {
    require_role(ctx, Role::CityAdmin)?;
    let mut program = store::program(ctx, id)?;
    if program.active == active {
        let state = if active { "active" } else { "inactive" };
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            format!("program {id} is already {state}"),
        ));
    }
    program.active = active;
    store::put_program(ctx, &program);
    ctx.emit(
        Event::new(MODULE, "program_status")
            .with("program", id)
            .with("active", active)
            .with("by", ctx.sender()),
    );
    Ok(())
}

fn award(
    ctx: &mut Ctx<'_>,
    id: u64,
    to: Address,
    amount: u64,
    reason: String,
) -> Result<(), UrbisError> {
    require_role(ctx, Role::Department)?;
    mint_award(ctx, id, to, amount, reason, None)
}

/// Award within the program's budget and cap; `via` names the module that asked (exported
/// operation), `None` for a department's own call.
fn mint_award(
    ctx: &mut Ctx<'_>,
    id: u64,
    to: Address,
    amount: u64,
    reason: String,
    via: Option<&str>,
) -> Result<(), UrbisError> {
    validate_text("reason", &reason)?;
    require_positive(amount)?;
    let mut program = store::program(ctx, id)?;
    if !program.active {
        return Err(UrbisError::new(
            ErrorCode::InvalidState,
            format!("program {id} is not active"),
        ));
    }
    if !has_role(ctx, &to, Role::Citizen)? {
        return Err(invalid("recipient is not a registered citizen"));
    }
    program.minted = within_limit(program.minted, amount, program.budget).ok_or_else(|| {
        UrbisError::new(
            ErrorCode::OverBudget,
            format!(
                "program {id} has {} of its budget {} left",
                program.budget.saturating_sub(program.minted),
                program.budget
            ),
        )
    })?;
    let period = program.period_of(ctx.timestamp_ms());
    let already = store::awarded(ctx, id, &to, period)?;
    let awarded = within_limit(already, amount, program.cap_per_period).ok_or_else(|| {
        UrbisError::new(
            ErrorCode::OverCap,
            format!(
                "{to} was already awarded {already} of the cap {} this period",
                program.cap_per_period
            ),
        )
    })?;
    let mut holdings = store::holdings(ctx, &to)?;
    holdings.credit(id, amount)?;
    let mut supply = store::supply(ctx)?;
    supply.minted = checked_add(supply.minted, amount)?;

    store::put_program(ctx, &program);
    store::put_awarded(ctx, id, &to, period, awarded);
    store::put_holdings(ctx, &to, &holdings);
    store::put_supply(ctx, &supply);
    let mut event = Event::new(MODULE, "awarded")
        .with("program", id)
        .with("to", to)
        .with("amount", amount)
        .with("reason", reason)
        .with("by", ctx.sender())
        .with("period", period);
    if let Some(module) = via {
        event = event.with("via", module);
    }
    ctx.emit(event);
    Ok(())
}

fn transfer(ctx: &mut Ctx<'_>, to: Address, id: u64, amount: u64) -> Result<(), UrbisError> {
    let from = ctx.sender();
    if to == from {
        return Err(invalid("cannot transfer to yourself"));
    }
    require_positive(amount)?;
    let program = store::program(ctx, id)?;
    if !program.transferable {
        return Err(UrbisError::new(
            ErrorCode::NonTransferable,
            format!("tokens of program {id} are not transferable"),
        ));
    }
    let mut sender = store::holdings(ctx, &from)?;
    sender.debit(id, amount)?;
    let mut recipient = store::holdings(ctx, &to)?;
    recipient.credit(id, amount)?;

    store::put_holdings(ctx, &from, &sender);
    store::put_holdings(ctx, &to, &recipient);
    ctx.emit(
        Event::new(MODULE, "transferred")
            .with("program", id)
            .with("from", from)
            .with("to", to)
            .with("amount", amount),
    );
    Ok(())
}

fn redeem(
    ctx: &mut Ctx<'_>,
    merchant: Address,
    id: u64,
    amount: u64,
    item: String,
) -> Result<(), UrbisError> {
    let citizen = ctx.sender();
    validate_text("item", &item)?;
    require_positive(amount)?;
    if merchant == citizen {
        return Err(invalid("cannot redeem at yourself"));
    }
    if !has_role(ctx, &merchant, Role::Merchant)? {
        return Err(invalid(format!("{merchant} is not a registered merchant")));
    }
    let mut program = store::program(ctx, id)?;
    let mut holdings = store::holdings(ctx, &citizen)?;
    holdings.debit(id, amount)?;
    program.burned = checked_add(program.burned, amount)?;
    let mut supply = store::supply(ctx)?;
    supply.burned = checked_add(supply.burned, amount)?;
    let redemption = Redemption {
        id: store::take_id(ctx, keys::next_redemption_id())?,
        citizen,
        merchant,
        program: id,
        amount,
        item,
        height: ctx.height(),
        timestamp_ms: ctx.timestamp_ms(),
    };

    store::put_program(ctx, &program);
    store::put_holdings(ctx, &citizen, &holdings);
    store::put_supply(ctx, &supply);
    store::put_redemption(ctx, &redemption);
    ctx.emit(
        Event::new(MODULE, "redeemed")
            .with("redemption", redemption.id)
            .with("citizen", citizen)
            .with("merchant", merchant)
            .with("program", id)
            .with("amount", amount)
            .with("item", &redemption.item),
    );
    Ok(())
}

fn require_positive(amount: u64) -> Result<(), UrbisError> {
    if amount == 0 {
        return Err(invalid("amount must be positive"));
    }
    Ok(())
}

/// `current + amount` if it stays within `limit` (an overflowing sum is over any limit).
fn within_limit(current: u64, amount: u64, limit: u64) -> Option<u64> {
    current.checked_add(amount).filter(|sum| *sum <= limit)
}
