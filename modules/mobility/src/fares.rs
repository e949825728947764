//! Fare arithmetic and the calendar, pure integer functions of the fare rules and block time.

use crate::types::Fares;

/// A day in ms.
pub const DAY_MS: u64 = 86_400_000;

/// Local time in ms (UTC + the rules' offset; never below zero).
pub fn local_ms(fares: &Fares, utc_ms: u64) -> u64 {
    let offset = i64::from(fares.utc_offset_min) * 60_000;
    if offset >= 0 {
        utc_ms.saturating_add(offset as u64)
    } else {
        utc_ms.saturating_sub(offset.unsigned_abs())
    }
}

/// The local day number (days since 1970-01-01 local).
pub fn local_day(fares: &Fares, utc_ms: u64) -> u64 {
    local_ms(fares, utc_ms) / DAY_MS
}

/// When local day `day` ends, in UTC ms.
pub fn day_end_utc(fares: &Fares, day: u64) -> u64 {
    let end_local = (day + 1) * DAY_MS;
    let offset = i64::from(fares.utc_offset_min) * 60_000;
    if offset >= 0 {
        end_local.saturating_sub(offset as u64)
    } else {
        end_local.saturating_add(offset.unsigned_abs())
    }
}

pub use urbis_runtime::kit::civil_date as civil;

/// The calendar month of a local day as `yyyymm`.
pub fn month_of(day: u64) -> u32 {
    urbis_runtime::kit::month_of_day(day)
}

/// The local hour (0–23) of a UTC time.
pub fn local_hour(fares: &Fares, utc_ms: u64) -> u8 {
    ((local_ms(fares, utc_ms) % DAY_MS) / 3_600_000) as u8
}

/// How many zones a journey from `a` to `b` passes through (zones are numbered outward, so a
/// journey crosses every zone between its ends).
pub fn zones_between(a: u16, b: u16) -> u16 {
    a.abs_diff(b) + 1
}

/// The full fare of a journey through `zones` zones starting at `in_ms` (before caps).
pub fn fare(fares: &Fares, zones: u16, in_ms: u64) -> u64 {
    let n = usize::from(zones.max(1)).min(fares.zone_fares.len());
    let base = fares
        .zone_fares
        .get(n.wrapping_sub(1))
        .copied()
        .unwrap_or(0);
    let minute = ((local_ms(fares, in_ms) % DAY_MS) / 60_000) as u16;
    let percent = fares
        .bands
        .iter()
        .find(|b| b.from_min <= minute && minute < b.to_min)
        .map_or(100, |b| u64::from(b.percent));
    base.saturating_mul(percent) / 100
}

/// What is charged of `fare` given what the card already paid today and this month.
pub fn capped(fares: &Fares, fare: u64, day_spent: u64, month_spent: u64) -> u64 {
    fare.min(fares.daily_cap.saturating_sub(day_spent))
        .min(fares.monthly_cap.saturating_sub(month_spent))
}

/// Split `amount` over operators by zone counts: `(index, share)`, each share
/// `⌊amount·zones/total⌋`, the remainder to the first (the journey's entry zone's operator).
pub fn split(amount: u64, zones: &[u64]) -> Vec<u64> {
    let total: u64 = zones.iter().sum();
    if total == 0 {
        return vec![0; zones.len()];
    }
    let mut shares: Vec<u64> = zones
        .iter()
        .map(|z| (u128::from(amount) * u128::from(*z) / u128::from(total)) as u64)
        .collect();
    let rest = amount - shares.iter().sum::<u64>();
    if let Some(first) = shares.first_mut() {
        *first += rest;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Band;
    use proptest::prelude::*;

    fn rules() -> Fares {
        Fares {
            asset: "EURc".into(),
            zone_fares: vec![200, 280, 350],
            bands: vec![Band {
                from_min: 7 * 60,
                to_min: 9 * 60,
                percent: 150,
            }],
            utc_offset_min: 60,
            daily_cap: 700,
            monthly_cap: 6_000,
            missing_tap_out_fare: 350,
            max_journey_ms: 4 * 3_600_000,
            max_tap_delay_ms: 600_000,
            reward: None,
        }
    }

    #[test]
    fn the_calendar_matches_known_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(59), (1970, 3, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(20_424), (2025, 12, 2));
        assert_eq!(month_of(20_424), 202_512);
    }

    #[test]
    fn fares_follow_zones_time_of_day_and_caps() {
        let f = rules();
        // 06:30 UTC is 07:30 local: peak.
        let peak = 20_424 * DAY_MS + 6 * 3_600_000 + 30 * 60_000;
        assert_eq!(fare(&f, 1, peak), 300);
        assert_eq!(fare(&f, 2, peak + 2 * 3_600_000), 280);
        assert_eq!(fare(&f, 9, peak + 2 * 3_600_000), 350);
        assert_eq!(zones_between(3, 1), 3);
        assert_eq!(capped(&f, 350, 500, 0), 200);
        assert_eq!(capped(&f, 350, 0, 5_900), 100);
        assert_eq!(capped(&f, 350, 700, 0), 0);
        assert_eq!(local_day(&f, 20_424 * DAY_MS + 23 * 3_600_000), 20_425);
        assert_eq!(day_end_utc(&f, 20_424), 20_425 * DAY_MS - 3_600_000);
        assert_eq!(local_hour(&f, peak), 7);
    }

    proptest! {
        #[test]
        fn a_split_pays_out_exactly(amount in 0u64..1_000_000_000, zones in proptest::collection::vec(0u64..50, 1..6)) {
            let shares = split(amount, &zones);
            let total: u64 = zones.iter().sum();
            prop_assert_eq!(shares.iter().sum::<u64>(), if total == 0 { 0 } else { amount });
        }

        #[test]
        fn consecutive_days_never_go_back(d in 0u64..200_000) {
            let (y0, m0, d0) = civil(d);
            let (y1, m1, d1) = civil(d + 1);
            prop_assert!((y1, m1, d1) > (y0, m0, d0));
            prop_assert!((1..=12).contains(&m0) && (1..=31).contains(&d0));
        }
    }
}
