//! Clearing one interval: a uniform-price double auction with per-feeder limits, in integer
//! arithmetic.
//!
//! # The problem
//!
//! Feeders hang off one substation (a star). Each order is a bid (buy) or an ask (sell) of up
//! to `qty` Wh at a limit `price` (settlement units per kWh), located on a feeder. Each feeder
//! `f` may send at most `max_export_wh` into the substation and take at most `max_import_wh`
//! from it over the interval; the substation itself balances (what the feeders export, the
//! others import). Orders are divisible (any integer Wh up to `qty`). The clearing chooses fills
//! that **maximise the traded surplus** `Σ bid price × bought − Σ ask price × sold` subject to
//! those limits; this is a linear programme (a min-cost flow: asks → feeder → substation →
//! feeder → bids), so it has an optimum in integers.
//!
//! # The algorithm (market splitting around a hub)
//!
//! For a feeder and a price `p`, the asks priced below `p` must sell, those at `p` may; the bids
//! priced above `p` must buy, those at `p` may. So the feeder's net export at `p` may be any
//! integer of `[lo(p), hi(p)]` with `lo(p) = S(<p) − D(≥p)` and `hi(p) = S(≤p) − D(>p)`
//! (`S`, `D`: ask and bid quantity by price). Both ends grow with `p`, and `lo(p+1) = hi(p)`.
//! Clamped to the feeder's limits `[−max_import, max_export]`, they sum over feeders to the
//! substation's balance.
//!
//! 1. **Hub price.** The prices at which the clamped intervals can sum to zero form an integer
//!    range `[pa, pb]`: `pa` is the least price with `Σ clamp(hi) ≥ 0`, `pb` the greatest with
//!    `Σ clamp(lo) ≤ 0`, both found by binary search over `[1, highest order price]`. The hub
//!    price is the midpoint `pa + (pb − pa) / 2` (rounded down): with no limits this is the
//!    textbook uniform price (the middle of the range where supply meets demand).
//! 2. **Feeder positions.** Every feeder starts at its most-traded position `S(≤p) − D(≥p)`
//!    (all it may sell, all it may buy), clamped to its limits; the substation's imbalance is
//!    then taken back in feeder-id order, each feeder moving at most to its clamped `lo` (or
//!    `hi`). Without limits this trades the textbook volume `min(S(≤p), D(≥p))`.
//! 3. **Zone prices.** A feeder whose position lies in its unclamped `[lo, hi]` at the hub price
//!    trades at the hub price. Otherwise its limit binds (position = `max_export`, or
//!    `−max_import`) and it becomes its own zone, priced at the midpoint of the prices at which
//!    that position lies in its `[lo, hi]` (an exporting zone is cheaper than the hub, an
//!    importing one dearer).
//! 4. **Fills.** In each feeder at its zone price `q` with position `e`: asks below `q` and bids
//!    above `q` fill entirely; the feeder sells `S = min(S(≤q), D(≥q) + e)` and buys `S − e`;
//!    the orders priced exactly at `q` share the rest in order of their ids (price, then time
//!    priority).
//!
//! The prices and positions satisfy the optimality conditions of the linear programme (every
//! order's fill is the best for it at its zone's price, and a zone's price differs from the
//! hub's only when its limit is full in the direction that price difference rewards), so the
//! surplus is the optimum: the tests compare it with an exhaustive search on random small
//! instances, and with the textbook clearing when no limit binds. Everything is integer
//! (`i128` for sums); ties are broken by feeder id and order id, so every node computes the same
//! result. Cost: sorting the orders, then `O(F · log n · log P)` for the prices.

/// Which side an order is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// A bid: buys.
    Buy,
    /// An ask: sells.
    Sell,
}

/// An order as the clearing sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    /// Unique; lower ids were placed earlier (time priority among equal prices).
    pub id: u64,
    pub feeder: u32,
    pub side: Side,
    /// Wh, positive.
    pub qty: u64,
    /// Units per kWh, positive.
    pub price: u64,
}

/// A feeder's limits on its net flow through the substation over the interval (Wh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub feeder: u32,
    pub max_export_wh: u64,
    pub max_import_wh: u64,
}

/// Which of a feeder's limits binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Export,
    Import,
}

/// A feeder's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub feeder: u32,
    /// The price its trades clear at (the hub's unless a limit binds).
    pub price: u64,
    /// Wh bought and sold by its orders.
    pub bought_wh: u64,
    pub sold_wh: u64,
    /// Net flow into the substation (sold − bought).
    pub net_export_wh: i64,
    pub binding: Option<Binding>,
}

/// The result of a clearing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The hub's price; `None` when nothing trades.
    pub hub_price: Option<u64>,
    /// One per feeder that has orders or a limit, by feeder id.
    pub zones: Vec<Zone>,
    /// `(order id, filled Wh)` for every order, by id.
    pub fills: Vec<(u64, u64)>,
    /// Total Wh traded.
    pub volume_wh: u64,
}

/// One feeder's book: distinct prices with cumulative quantities.
struct Book {
    feeder: u32,
    /// Ask price levels ascending, with the cumulative quantity up to and including each.
    ask_prices: Vec<u64>,
    ask_cum: Vec<i128>,
    /// Bid price levels ascending, with the quantity at that price *and above*.
    bid_prices: Vec<u64>,
    bid_cum_ge: Vec<i128>,
    max_export: i128,
    max_import: i128,
}

impl Book {
    /// Σ ask qty with price ≤ p.
    fn s_le(&self, p: u64) -> i128 {
        let n = self.ask_prices.partition_point(|&x| x <= p);
        if n == 0 { 0 } else { self.ask_cum[n - 1] }
    }
    /// Σ ask qty with price < p.
    fn s_lt(&self, p: u64) -> i128 {
        if p == 0 { 0 } else { self.s_le(p - 1) }
    }
    /// Σ bid qty with price ≥ p.
    fn d_ge(&self, p: u64) -> i128 {
        let n = self.bid_prices.partition_point(|&x| x < p);
        self.bid_cum_ge.get(n).copied().unwrap_or(0)
    }
    /// Σ bid qty with price > p.
    fn d_gt(&self, p: u64) -> i128 {
        self.d_ge(p.saturating_add(1))
    }
    fn lo(&self, p: u64) -> i128 {
        self.s_lt(p) - self.d_ge(p)
    }
    fn hi(&self, p: u64) -> i128 {
        self.s_le(p) - self.d_gt(p)
    }
    fn clamp(&self, x: i128) -> i128 {
        x.clamp(-self.max_import, self.max_export)
    }
}

/// The least `p` in `[a, b]` with `pred(p)` (pred monotone false → true); `b` if none before.
fn least(mut a: u64, mut b: u64, pred: impl Fn(u64) -> bool) -> u64 {
    while a < b {
        let m = a + (b - a) / 2;
        if pred(m) { b = m } else { a = m + 1 }
    }
    a
}

/// The greatest `p` in `[a, b]` with `pred(p)` (pred monotone true → false); `a` if none after.
fn greatest(mut a: u64, mut b: u64, pred: impl Fn(u64) -> bool) -> u64 {
    while a < b {
        let m = a + (b - a).div_ceil(2);
        if pred(m) { a = m } else { b = m - 1 }
    }
    a
}

/// Clear `orders` under `limits`. A feeder without a limit entry is unconstrained. Orders of
/// zero quantity or price are ignored (the module never admits them).
pub fn clear(orders: &[Order], limits: &[Limit]) -> Outcome {
    let mut sorted: Vec<Order> = orders
        .iter()
        .filter(|o| o.qty > 0 && o.price > 0)
        .copied()
        .collect();
    // By feeder, side, price, then id: each feeder's levels and each level's time order.
    sorted.sort_unstable_by_key(|o| (o.feeder, o.side, o.price, o.id));
    let mut feeders: Vec<u32> = sorted.iter().map(|o| o.feeder).collect();
    feeders.extend(limits.iter().map(|l| l.feeder));
    feeders.sort_unstable();
    feeders.dedup();
    let unlimited = i128::from(u64::MAX) * 4;
    let limit_of = |f: u32| {
        limits
            .iter()
            .find(|l| l.feeder == f)
            .map_or((unlimited, unlimited), |l| {
                (i128::from(l.max_export_wh), i128::from(l.max_import_wh))
            })
    };
    // Per-feeder slices of `sorted`.
    let mut books = Vec::with_capacity(feeders.len());
    let mut ranges = Vec::with_capacity(feeders.len());
    let mut at = 0usize;
    for &f in &feeders {
        let start = at;
        while at < sorted.len() && sorted[at].feeder == f {
            at += 1;
        }
        let slice = &sorted[start..at];
        let split = slice.partition_point(|o| o.side == Side::Buy);
        let (bids, asks) = slice.split_at(split);
        let mut book = Book {
            feeder: f,
            ask_prices: Vec::new(),
            ask_cum: Vec::new(),
            bid_prices: Vec::new(),
            bid_cum_ge: Vec::new(),
            max_export: limit_of(f).0,
            max_import: limit_of(f).1,
        };
        let mut cum = 0i128;
        for o in asks {
            cum += i128::from(o.qty);
            if book.ask_prices.last() == Some(&o.price) {
                *book.ask_cum.last_mut().expect("a level") = cum;
            } else {
                book.ask_prices.push(o.price);
                book.ask_cum.push(cum);
            }
        }
        for o in bids {
            if book.bid_prices.last() == Some(&o.price) {
                *book.bid_cum_ge.last_mut().expect("a level") += i128::from(o.qty);
            } else {
                book.bid_prices.push(o.price);
                book.bid_cum_ge.push(i128::from(o.qty));
            }
        }
        for i in (0..book.bid_cum_ge.len().saturating_sub(1)).rev() {
            book.bid_cum_ge[i] += book.bid_cum_ge[i + 1];
        }
        books.push(book);
        ranges.push((start, start + split, at));
    }
    let top = sorted.iter().map(|o| o.price).max().unwrap_or(1);
    let sum_hi = |p: u64| books.iter().map(|b| b.clamp(b.hi(p))).sum::<i128>();
    let sum_lo = |p: u64| books.iter().map(|b| b.clamp(b.lo(p))).sum::<i128>();
    let pa = least(1, top, |p| sum_hi(p) >= 0);
    let pb = greatest(1, top, |p| sum_lo(p) <= 0).max(pa);
    let hub = pa + (pb - pa) / 2;

    // Feeder positions: each feeder's most-traded position at the hub price (everything it
    // may sell, everything it may buy), within its limits; then the substation's imbalance
    // is taken back in feeder-id order, each feeder moving at most to its clamped bound.
    let mut pos: Vec<i128> = books
        .iter()
        .map(|b| b.clamp(b.s_le(hub) - b.d_ge(hub)))
        .collect();
    let mut excess: i128 = pos.iter().sum();
    for (b, e) in books.iter().zip(pos.iter_mut()) {
        if excess > 0 {
            let take = (*e - b.clamp(b.lo(hub))).min(excess).max(0);
            *e -= take;
            excess -= take;
        } else if excess < 0 {
            let take = (b.clamp(b.hi(hub)) - *e).min(-excess).max(0);
            *e += take;
            excess += take;
        }
    }
    debug_assert_eq!(excess, 0, "the hub price admits a balance");

    let mut zones = Vec::with_capacity(books.len());
    let mut fills = Vec::with_capacity(sorted.len());
    let mut volume = 0u64;
    for ((b, &e), &(start, split, end)) in books.iter().zip(&pos).zip(&ranges) {
        let (price, binding) = if b.lo(hub) <= e && e <= b.hi(hub) {
            (hub, None)
        } else if e < b.lo(hub) {
            // Exports capped: the zone's price is below the hub's.
            let qa = least(1, hub, |p| b.hi(p) >= e);
            let qb = greatest(1, hub, |p| b.lo(p) <= e).max(qa);
            (qa + (qb - qa) / 2, Some(Binding::Export))
        } else {
            let ceiling = top.max(hub);
            let qa = least(hub, ceiling, |p| b.hi(p) >= e);
            let qb = greatest(hub, ceiling, |p| b.lo(p) <= e).max(qa);
            (qa + (qb - qa) / 2, Some(Binding::Import))
        };
        let sold = b.s_le(price).min(b.d_ge(price) + e);
        let bought = sold - e;
        // Marginal quantities at exactly `price`, shared in id order.
        let mut ask_margin = sold - b.s_lt(price);
        let mut bid_margin = bought - b.d_gt(price);
        for o in &sorted[start..split] {
            let f = if o.price > price {
                i128::from(o.qty)
            } else if o.price == price {
                let f = bid_margin.min(i128::from(o.qty)).max(0);
                bid_margin -= f;
                f
            } else {
                0
            };
            fills.push((o.id, f as u64));
        }
        for o in &sorted[split..end] {
            let f = if o.price < price {
                i128::from(o.qty)
            } else if o.price == price {
                let f = ask_margin.min(i128::from(o.qty)).max(0);
                ask_margin -= f;
                f
            } else {
                0
            };
            fills.push((o.id, f as u64));
        }
        volume = volume.saturating_add(sold as u64);
        zones.push(Zone {
            feeder: b.feeder,
            price,
            bought_wh: bought as u64,
            sold_wh: sold as u64,
            net_export_wh: e as i64,
            binding,
        });
    }
    fills.sort_unstable();
    Outcome {
        hub_price: (volume > 0).then_some(hub),
        zones,
        fills,
        volume_wh: volume,
    }
}

/// The surplus of a set of fills: `Σ bid price × bought − Σ ask price × sold` (units × Wh).
pub fn surplus(orders: &[Order], fills: &[(u64, u64)]) -> i128 {
    orders
        .iter()
        .map(|o| {
            let f = fills
                .binary_search_by_key(&o.id, |x| x.0)
                .map_or(0, |i| fills[i].1);
            let v = i128::from(o.price) * i128::from(f);
            if o.side == Side::Buy { v } else { -v }
        })
        .sum()
}

#[cfg(test)]
mod tests;
