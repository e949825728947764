use super::*;
use proptest::prelude::*;

fn bid(id: u64, feeder: u32, qty: u64, price: u64) -> Order {
    Order {
        id,
        feeder,
        side: Side::Buy,
        qty,
        price,
    }
}

fn ask(id: u64, feeder: u32, qty: u64, price: u64) -> Order {
    Order {
        id,
        feeder,
        side: Side::Sell,
        qty,
        price,
    }
}

fn fill(o: &Outcome, id: u64) -> u64 {
    o.fills.iter().find(|f| f.0 == id).map_or(0, |f| f.1)
}

/// Net export per feeder of some fills.
fn flows(orders: &[Order], fills: &[(u64, u64)]) -> Vec<(u32, i128)> {
    let mut out: Vec<(u32, i128)> = Vec::new();
    for o in orders {
        let f = fills.iter().find(|x| x.0 == o.id).map_or(0, |x| x.1);
        let signed = if o.side == Side::Sell {
            i128::from(f)
        } else {
            -i128::from(f)
        };
        match out.iter_mut().find(|x| x.0 == o.feeder) {
            Some(x) => x.1 += signed,
            None => out.push((o.feeder, signed)),
        }
    }
    out
}

fn feasible(orders: &[Order], limits: &[Limit], fills: &[(u64, u64)]) -> bool {
    let fl = flows(orders, fills);
    fl.iter().map(|x| x.1).sum::<i128>() == 0
        && fl.iter().all(|(f, e)| {
            limits.iter().find(|l| l.feeder == *f).is_none_or(|l| {
                *e <= i128::from(l.max_export_wh) && -*e <= i128::from(l.max_import_wh)
            })
        })
}

/// The best surplus over every integer fill vector (the LP has integral optima: it is a
/// min-cost flow with integer capacities).
fn exhaustive(orders: &[Order], limits: &[Limit]) -> i128 {
    let mut best = 0i128;
    let mut fills: Vec<(u64, u64)> = orders.iter().map(|o| (o.id, 0)).collect();
    fills.sort_unstable();
    let n = orders.len();
    loop {
        if feasible(orders, limits, &fills) {
            best = best.max(surplus(orders, &fills));
        }
        // Next vector, odometer style (fills are sorted by id like `orders` ids 0..n).
        let mut i = 0;
        loop {
            if i == n {
                return best;
            }
            let qty = orders.iter().find(|o| o.id == fills[i].0).unwrap().qty;
            if fills[i].1 < qty {
                fills[i].1 += 1;
                break;
            }
            fills[i].1 = 0;
            i += 1;
        }
    }
}

/// Checks that hold for every clearing.
fn check_properties(orders: &[Order], limits: &[Limit], out: &Outcome) {
    assert!(feasible(orders, limits, &out.fills), "{out:?}");
    for o in orders {
        let f = fill(out, o.id);
        assert!(f <= o.qty);
        let zone = out.zones.iter().find(|z| z.feeder == o.feeder).unwrap();
        // Every trade at its zone's price: an order that could trade better trades fully,
        // one that would lose does not trade.
        match o.side {
            Side::Buy if o.price > zone.price => assert_eq!(f, o.qty, "{o:?} {out:?}"),
            Side::Buy if o.price < zone.price => assert_eq!(f, 0, "{o:?} {out:?}"),
            Side::Sell if o.price < zone.price => assert_eq!(f, o.qty, "{o:?} {out:?}"),
            Side::Sell if o.price > zone.price => assert_eq!(f, 0, "{o:?} {out:?}"),
            _ => {}
        }
    }
    let hub = out.hub_price;
    for z in &out.zones {
        assert_eq!(
            z.net_export_wh as i128,
            i128::from(z.sold_wh) - i128::from(z.bought_wh)
        );
        if let (Some(hub), Some(b)) = (hub, z.binding) {
            let l = limits.iter().find(|l| l.feeder == z.feeder).unwrap();
            match b {
                Binding::Export => {
                    assert_eq!(z.net_export_wh, l.max_export_wh as i64);
                    assert!(z.price <= hub);
                }
                Binding::Import => {
                    assert_eq!(-z.net_export_wh, l.max_import_wh as i64);
                    assert!(z.price >= hub);
                }
            }
        } else if let Some(hub) = hub {
            assert_eq!(z.price, hub, "{z:?}");
        }
    }
}

/// The textbook clearing of one market without limits: the prices where excess demand
/// changes sign, their midpoint, and the most volume at it.
fn textbook(orders: &[Order]) -> (u64, u64) {
    let top = orders.iter().map(|o| o.price).max().unwrap();
    let s = |pred: &dyn Fn(u64) -> bool| -> i128 {
        orders
            .iter()
            .filter(|o| o.side == Side::Sell && pred(o.price))
            .map(|o| i128::from(o.qty))
            .sum()
    };
    let d = |pred: &dyn Fn(u64) -> bool| -> i128 {
        orders
            .iter()
            .filter(|o| o.side == Side::Buy && pred(o.price))
            .map(|o| i128::from(o.qty))
            .sum()
    };
    let clears: Vec<u64> = (1..=top)
        .filter(|&p| s(&|x| x < p) <= d(&|x| x >= p) && d(&|x| x > p) <= s(&|x| x <= p))
        .collect();
    let (a, b) = (clears[0], *clears.last().unwrap());
    let p = a + (b - a) / 2;
    let vol = s(&|x| x <= p).min(d(&|x| x >= p));
    (p, vol as u64)
}

#[test]
fn a_crossing_book_clears_at_the_midpoint_with_time_priority_at_the_margin() {
    // Asks 10 @ 5, 10 @ 8; bids 15 @ 9, 10 @ 8 (two at the margin, id 4 before id 5).
    let orders = [
        ask(1, 0, 10, 5),
        ask(2, 0, 10, 8),
        bid(3, 0, 15, 9),
        bid(4, 0, 3, 8),
        bid(5, 0, 7, 8),
    ];
    let out = clear(&orders, &[]);
    assert_eq!(out.hub_price, Some(8));
    assert_eq!(out.volume_wh, 20);
    assert_eq!(fill(&out, 1), 10);
    assert_eq!(fill(&out, 2), 10);
    assert_eq!(fill(&out, 3), 15);
    assert_eq!(fill(&out, 4), 3);
    assert_eq!(fill(&out, 5), 2);
    check_properties(&orders, &[], &out);
    // A gap between the last matched ask and bid: the price is its midpoint.
    let orders = [ask(1, 0, 10, 4), bid(2, 0, 10, 12)];
    let out = clear(&orders, &[]);
    assert_eq!(out.hub_price, Some(8));
    assert_eq!(out.volume_wh, 10);
}

#[test]
fn nothing_trades_when_bids_are_below_asks() {
    let orders = [ask(1, 0, 10, 9), bid(2, 0, 10, 5)];
    let out = clear(&orders, &[]);
    assert_eq!(out.hub_price, None);
    assert_eq!(out.volume_wh, 0);
    assert!(out.fills.iter().all(|f| f.1 == 0));
    assert_eq!(clear(&[], &[]).hub_price, None);
}

#[test]
fn a_binding_export_limit_splits_the_feeder_into_a_cheaper_zone() {
    // Feeder 1 has cheap solar (100 Wh @ 10) but may export only 50; feeder 2 buys 100 @ 20
    // and has a dearer local ask (80 @ 15).
    let orders = [ask(1, 1, 100, 10), bid(2, 2, 100, 20), ask(3, 2, 80, 15)];
    let limits = [Limit {
        feeder: 1,
        max_export_wh: 50,
        max_import_wh: 1_000,
    }];
    let out = clear(&orders, &limits);
    check_properties(&orders, &limits, &out);
    assert_eq!(out.hub_price, Some(15));
    let z1 = &out.zones[0];
    assert_eq!(
        (z1.feeder, z1.binding, z1.net_export_wh),
        (1, Some(Binding::Export), 50)
    );
    assert_eq!(z1.price, 10);
    assert_eq!(fill(&out, 1), 50);
    assert_eq!(fill(&out, 2), 100);
    assert_eq!(fill(&out, 3), 50);
    assert_eq!(surplus(&orders, &out.fills), exhaustive(&orders, &limits));
    // Without the limit it is one zone at one price and the cheap ask sells everything.
    let free = clear(&orders, &[]);
    assert_eq!(fill(&free, 1), 100);
    assert!(free.zones.iter().all(|z| z.binding.is_none()));
}

#[test]
fn a_binding_import_limit_makes_the_importing_feeder_dearer() {
    let orders = [ask(1, 1, 100, 10), bid(2, 2, 100, 30), ask(3, 2, 100, 25)];
    let limits = [Limit {
        feeder: 2,
        max_export_wh: 0,
        max_import_wh: 40,
    }];
    let out = clear(&orders, &limits);
    check_properties(&orders, &limits, &out);
    let z2 = out.zones.iter().find(|z| z.feeder == 2).unwrap();
    assert_eq!((z2.binding, z2.net_export_wh), (Some(Binding::Import), -40));
    assert_eq!(z2.price, 25);
    assert_eq!(fill(&out, 1), 40);
    assert_eq!(fill(&out, 3), 60);
    assert_eq!(surplus(&orders, &out.fills), exhaustive(&orders, &limits));
}

fn instance() -> impl Strategy<Value = (Vec<Order>, Vec<Limit>)> {
    let order = (0u32..3, any::<bool>(), 1u64..4, 1u64..8);
    (
        prop::collection::vec(order, 1..6),
        prop::collection::vec((0u32..3, 0u64..5, 0u64..5), 0..3),
    )
        .prop_map(|(os, ls)| {
            let orders = os
                .into_iter()
                .enumerate()
                .map(|(i, (feeder, buy, qty, price))| Order {
                    id: i as u64,
                    feeder,
                    side: if buy { Side::Buy } else { Side::Sell },
                    qty,
                    price,
                })
                .collect();
            let mut limits: Vec<Limit> = Vec::new();
            for (feeder, x, m) in ls {
                if !limits.iter().any(|l| l.feeder == feeder) {
                    limits.push(Limit {
                        feeder,
                        max_export_wh: x,
                        max_import_wh: m,
                    });
                }
            }
            (orders, limits)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// On random small instances the clearing reaches the exhaustive optimum, respects every
    /// limit and prices every trade at its zone's price.
    #[test]
    fn the_clearing_surplus_is_the_optimum((orders, limits) in instance()) {
        let out = clear(&orders, &limits);
        check_properties(&orders, &limits, &out);
        prop_assert_eq!(surplus(&orders, &out.fills), exhaustive(&orders, &limits));
    }

    /// Without limits, the price and volume are the textbook uniform-price result.
    #[test]
    fn without_limits_it_is_the_textbook_auction((orders, _) in instance()) {
        let out = clear(&orders, &[]);
        check_properties(&orders, &[], &out);
        let (price, volume) = textbook(&orders);
        prop_assert_eq!(out.volume_wh, volume);
        if volume > 0 {
            prop_assert_eq!(out.hub_price, Some(price));
        }
        // The feeders are irrelevant without limits: one merged book clears the same way.
        let merged: Vec<Order> = orders.iter().map(|o| Order { feeder: 0, ..*o }).collect();
        let one = clear(&merged, &[]);
        prop_assert_eq!(one.volume_wh, out.volume_wh);
        prop_assert_eq!(one.hub_price, out.hub_price);
    }

    /// The result depends on the orders, not on the order they are given in.
    #[test]
    fn the_clearing_is_deterministic((orders, limits) in instance()) {
        let mut reversed = orders.clone();
        reversed.reverse();
        prop_assert_eq!(clear(&orders, &limits), clear(&reversed, &limits));
    }
}
