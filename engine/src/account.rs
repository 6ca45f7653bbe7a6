//! Accounts, positions and P&L: the money side of the engine.
//!
//! Units: prices in instrument ticks, quantities in lots, money in
//! millionths, held as `i128` inside (a price of 2^48 ticks times 2^40
//! lots cannot overflow it) and given out as [`Money`] (`i64`, saturating). A fill's notional is worked out once, exactly
//! when the instrument's unit (one tick times one lot, in millionths) is a
//! whole number, else rounded half-even; cash, cost basis and realized P&L
//! all move by that same number, so the books balance to the millionth:
//!
//! `cash + sum(cost) = starting cash + realized - fees` at every step, and
//! with `unrealized = mark value - cost`,
//! `cash + sum(mark value) = starting cash + realized + unrealized - fees`.
//!
//! A position keeps its signed quantity, its cost basis (what was paid for
//! a long, minus what was received for a short), realized P&L, the working
//! orders on each side (lots and notional at their limit), and two cached
//! figures its account sums: its mark value and its open-order exposure.
//! Changing any of these updates the account's sums by the difference, so
//! buying power is O(1):
//!
//! `buying power = equity * leverage - gross position value - open-order exposure`
//!
//! where equity = cash + the positions' mark values, gross = the sum of
//! their absolute values, and a side's open orders count as exposure only
//! for the lots beyond what would close the position (valued pro rata).
//!
//! Marks come from the external quote (the mid of bid and ask, or the one
//! side there is); a position in a symbol with no quote yet is valued at
//! its cost (no unrealized P&L).
//!
//! Fees: per account, `per_share` millionths per share (a lot is
//! `lot_size` shares) plus `bps` hundredths of a basis point of the
//! notional, rounded half-even per fill to the millionth.

use crate::types::*;

/// Commission model of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FeeModel {
    /// Fee per share traded (0.0035 is 3,500 millionths).
    pub per_share: Money,
    /// Fee in hundredths of a basis point of the notional (1.5 bps is 150).
    pub centi_bps: i64,
}

/// `a * b / c` truncated toward zero (`c != 0`), in `i64` when the
/// product fits (the common case: a 128-bit division is a library call),
/// and without overflow for any `a` when `|b| <= |c|` (pro rata shares).
#[inline]
pub(crate) fn mul_div(a: i128, b: i64, c: i64) -> i128 {
    let a64 = a as i64;
    if i128::from(a64) == a {
        if let Some(p) = a64.checked_mul(b) {
            return i128::from(p / c);
        }
    }
    mul_div_wide(a, b, c)
}

/// [`mul_div`] when `a * b` does not fit an `i64`.
#[cold]
#[inline(never)]
fn mul_div_wide(a: i128, b: i64, c: i64) -> i128 {
    if let Ok(a) = i64::try_from(a) {
        // a = q*c + r with |r| < |c|; q*b + r*b/c truncates the same way
        // (both terms have the sign of a*b/c).
        let (q, r) = (a / c, a % c);
        if let Some(rb) = r.checked_mul(b) {
            return i128::from(q) * i128::from(b) + i128::from(rb / c);
        }
    }
    // The same split in 128 bits: no intermediate exceeds |a| * max(1, |b/c|) + |b|.
    let (c, b) = (i128::from(c), i128::from(b));
    let (q, r) = (a / c, a % c);
    q * b + r * b / c
}

/// Rounds `n / d` (`d != 0`) half to even.
#[inline]
pub fn div_half_even(n: i128, d: i128) -> i128 {
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        core::cmp::Ordering::Less => q,
        core::cmp::Ordering::Greater => q + 1,
        core::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// [`div_half_even`] in `i64` (`d > 0`).
#[inline]
fn div_half_even_64(n: i64, d: i64) -> i64 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        core::cmp::Ordering::Less => q,
        core::cmp::Ordering::Greater => q + 1,
        core::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// Saturates an `i128` amount of money into `i64` millionths.
#[inline]
pub fn sat(v: i128) -> i64 {
    let t = v as i64;
    if i128::from(t) == v {
        t
    } else if v < 0 {
        i64::MIN
    } else {
        i64::MAX
    }
}

/// Money per tick and lot of an instrument: `num / den` millionths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Millionths per (tick * lot) when that is whole, else 0.
    pub whole: i64,
    pub num: i128,
    pub den: i128,
    /// Shares per lot.
    pub lot_size: i64,
}

impl Unit {
    pub(crate) fn of(i: &Instrument) -> Unit {
        let num = i128::from(i.tick_units) * i128::from(i.lot_size) * i128::from(MONEY_SCALE);
        let den = 10i128.pow(u32::from(i.decimals));
        let whole = if num % den == 0 { i64::try_from(num / den).unwrap_or(0) } else { 0 };
        Unit { whole, num, den, lot_size: i.lot_size }
    }

    /// Value of `lots` (signed) at `ticks`, in millionths, rounded half-even.
    #[inline]
    pub(crate) fn value(&self, ticks: i64, lots: i64) -> i128 {
        // The common case in 64 bits: the product fits, and one widening
        // multiply by the whole unit gives the money.
        if self.whole != 0 {
            if let Some(p) = ticks.checked_mul(lots) {
                return i128::from(p) * i128::from(self.whole);
            }
        }
        self.money(i128::from(ticks) * i128::from(lots))
    }

    /// Money of `p` tick-lots, in millionths, rounded half-even.
    #[inline(always)]
    pub(crate) fn money(&self, p: i128) -> i128 {
        // (An i64 by i64 product always fits an i128: one widening multiply.)
        let p64 = p as i64;
        if self.whole != 0 && i128::from(p64) == p {
            return i128::from(p64) * i128::from(self.whole);
        }
        self.money_slow(p)
    }

    /// [`Unit::money`] off its fast path: a unit that is not a whole number
    /// of millionths, or more than `i64` tick-lots.
    #[cold]
    #[inline(never)]
    fn money_slow(&self, p: i128) -> i128 {
        // Saturating: only instruments with absurd tick and lot sizes get
        // near the limit, and they must not panic.
        match self.whole {
            0 => div_half_even(p.saturating_mul(self.num), self.den),
            w => p.saturating_mul(i128::from(w)),
        }
    }

    /// Value of `lots` at `half_ticks / 2` (a mid price), rounded half-even.
    #[inline]
    pub(crate) fn value_half(&self, half_ticks: i64, lots: i64) -> i128 {
        if self.whole != 0 && self.den <= i128::from(i64::MAX) {
            // The common case in 64 bits (then `p * num` cannot saturate:
            // an i64 times an i64 `den` fits an i128).
            if let Some(v) = half_ticks.checked_mul(lots).and_then(|p| p.checked_mul(self.whole)) {
                let q = v >> 1;
                return i128::from(if v & 1 == 0 { q } else { q + (q & 1) });
            }
        }
        let p = i128::from(half_ticks) * i128::from(lots);
        if self.whole != 0 {
            // `num / den` is the whole `whole`: the same rational as
            // `p * whole / 2`, rounded half-even with a shift instead of
            // two 128-bit divisions (unless `p * num` would saturate).
            if let Some(v) = p.checked_mul(i128::from(self.whole)).filter(|v| v.checked_mul(self.den).is_some()) {
                let q = v >> 1;
                return if v & 1 == 0 { q } else { q + (q & 1) };
            }
        }
        div_half_even(p.saturating_mul(self.num), self.den * 2)
    }

    /// Commission of a fill of `lots` with notional `notional` (>= 0).
    #[inline]
    pub(crate) fn fee(&self, f: &FeeModel, lots: i64, notional: i128) -> i128 {
        let mut fee = 0i128;
        if f.per_share.micros() != 0 {
            let shares = i128::from(lots) * i128::from(self.lot_size);
            fee += i128::from(f.per_share.micros()).saturating_mul(shares);
        }
        if f.centi_bps != 0 {
            let n = notional.saturating_mul(i128::from(f.centi_bps));
            fee += match i64::try_from(n) {
                Ok(n) => i128::from(div_half_even_64(n, 1_000_000)),
                Err(_) => div_half_even(n, 1_000_000),
            };
        }
        fee
    }
}

/// A position of one account in one symbol: two cache lines, aligned, so
/// that touching one never touches a third.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C, align(64))]
pub(crate) struct Position {
    pub acct: u32,
    pub sym: u32,
    /// Signed lots (buys minus sells).
    pub qty: i64,
    /// Working orders per side: lots, and the sum of price times lots in
    /// tick-lots at their limit (stop price for a stop order), kept exact
    /// and turned into money when the exposure is worked out.
    pub open: [i64; 2],
    pub open_value: [i128; 2],
    /// Cached open-order exposure and mark value (the account sums these).
    pub expo: i128,
    pub mv: i128,
    /// Cost basis of `qty`, millionths (negative for a short).
    pub cost: i128,
    /// Realized P&L, millionths.
    pub realized: i128,
}

const _: () = assert!(core::mem::size_of::<Position>() == 128);

impl Position {
    /// Open-order exposure for given open quantities and notionals.
    #[inline]
    pub(crate) fn exposure(qty: i64, open: [i64; 2], ticklots: [i128; 2], unit: &Unit) -> i128 {
        Self::side_exposure(open[0], ticklots[0], -qty, unit) + Self::side_exposure(open[1], ticklots[1], qty, unit)
    }

    /// One side's exposure: `lots` working at `tl` tick-lots, of which
    /// `closes` would close the position.
    #[inline(always)]
    fn side_exposure(lots: i64, tl: i128, closes: i64, unit: &Unit) -> i128 {
        if lots <= 0 || lots <= closes {
            0
        } else if closes <= 0 {
            unit.money(tl)
        } else {
            // The share of the side beyond what closes, pro rata in tick-lots.
            unit.money(mul_div(tl, lots - closes, lots))
        }
    }
}

/// Money state of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Funds {
    pub start_cash: i128,
    pub cash: i128,
    pub fees: i128,
    pub realized: i128,
    /// Sums over the account's positions.
    pub mv: i128,
    pub gross: i128,
    pub expo: i128,
    /// Leverage in hundredths (100 = 1x).
    pub leverage: i64,
}

impl Funds {
    /// Equity: cash plus the positions' mark values.
    #[inline]
    pub(crate) fn equity(&self) -> i128 {
        self.cash + self.mv
    }

    /// Buying power (see the module documentation).
    #[inline]
    pub(crate) fn buying_power(&self) -> i128 {
        let e = self.equity();
        let levered = if self.leverage == 100 { e } else { mul_div(e, self.leverage, 100) };
        levered - self.gross - self.expo
    }
}

/// The external market of a symbol (paper mode, marks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct External {
    /// Best bid and ask in ticks (0: none) and lots.
    pub px: [i64; 2],
    pub qty: [i64; 2],
    /// Lots client orders took from the current quote, per side of the quote.
    pub taken: [i64; 2],
    /// Twice the mark price in ticks (0: no mark).
    pub mark2: i64,
}

impl External {
    /// Lots left at the quote on `side` (the side a taker trades against).
    #[inline]
    pub(crate) fn left(&self, side: Side) -> i64 {
        let s = side as usize;
        if self.px[s] == 0 {
            0
        } else {
            (self.qty[s] - self.taken[s]).max(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_even() {
        assert_eq!(div_half_even(5, 2), 2);
        assert_eq!(div_half_even(7, 2), 4);
        assert_eq!(div_half_even(-5, 2), -2);
        assert_eq!(div_half_even(-7, 2), -4);
        assert_eq!(div_half_even(6, 4), 2);
        assert_eq!(div_half_even(5, 4), 1);
        assert_eq!(div_half_even(3, 4), 1);
        assert_eq!(div_half_even(-3, 4), -1);
        assert_eq!(div_half_even(-5_250_000_000, -50), 105_000_000);
        assert_eq!(div_half_even(7, -2), -4);
        for n in -50..50 {
            assert_eq!(i128::from(div_half_even_64(n, 4)), div_half_even(i128::from(n), 4), "{n}");
            assert_eq!(mul_div(i128::from(n), 3, 7), i128::from(n) * 3 / 7);
        }
        assert_eq!(mul_div(i128::from(i64::MAX), 4, 8), i128::from(i64::MAX) * 4 / 8);
        assert_eq!(mul_div(-i128::from(i64::MAX), 5, 7), -i128::from(i64::MAX) * 5 / 7);
        assert_eq!(mul_div(i128::from(i64::MAX - 3), 3, 5), i128::from(i64::MAX - 3) * 3 / 5);
        let big = 1i128 << 120;
        assert_eq!(
            mul_div(big, 1 << 40, (1 << 40) + 1),
            big / ((1 << 40) + 1) * (1 << 40) + (big % ((1 << 40) + 1)) * (1 << 40) / ((1 << 40) + 1)
        );
        assert_eq!(mul_div(-big - 7, 3, 4), -((big + 7) / 4 * 3 + (big + 7) % 4 * 3 / 4));
    }

    #[test]
    fn units() {
        let i = Instrument::new("0.01", 100, VenueMode::Clob).unwrap();
        let u = Unit::of(&i);
        // One tick (0.01) of one lot (100 shares) is 1.00 = 1,000,000 millionths.
        assert_eq!(u.whole, 1_000_000);
        assert_eq!(u.value(1234, 2), 2_468_000_000);
        let i = Instrument::new("0.0000001", 1, VenueMode::Clob).unwrap();
        let u = Unit::of(&i);
        assert_eq!(u.whole, 0);
        // 15 ticks of 1e-7 = 1.5 millionths -> 2 (half to even); 25 -> 2.
        assert_eq!(u.value(15, 1), 2);
        assert_eq!(u.value(25, 1), 2);
        assert_eq!(u.value(35, 1), 4);
        let fee = FeeModel { per_share: Money::from_micros(3_500), centi_bps: 0 };
        let i = Instrument::new("0.01", 1, VenueMode::Clob).unwrap();
        assert_eq!(Unit::of(&i).fee(&fee, 100, 0), 350_000);
        // 1 bp of 12.345 = 0.0012345 -> 0.001234 (half to even on the 5).
        let fee = FeeModel { per_share: Money::ZERO, centi_bps: 100 };
        assert_eq!(Unit::of(&i).fee(&fee, 1, 12_345_000), 1_234);
        assert_eq!(Unit::of(&i).fee(&fee, 1, 12_355_000), 1_236);
    }

    #[test]
    fn a_whole_unit_marks_at_a_mid_as_the_general_division_does() {
        // Tick sizes whose money per tick and lot is whole (fast path) and
        // a mid price in half ticks, odd and even, either sign of position.
        for (tick, lot) in [("0.01", 1), ("0.01", 100), ("0.0001", 1), ("1", 10), ("0.000001", 3)] {
            let u = Unit::of(&Instrument::new(tick, lot, VenueMode::Clob).unwrap());
            assert_ne!(u.whole, 0, "{tick}");
            for half in [1, 2, 3, 199_999, 200_001, 1 << 40, (1 << 49) - 1] {
                for lots in [1, -1, 3, -3, 7, -1_000_001, 1 << 40, -(1 << 40)] {
                    let p = i128::from(half) * i128::from(lots);
                    let want = div_half_even(p.saturating_mul(u.num), u.den * 2);
                    assert_eq!(u.value_half(half, lots), want, "{tick} x{lot}: {half} half ticks, {lots} lots");
                }
            }
        }
    }

    #[test]
    fn value_in_64_bits_is_the_money_of_the_full_product() {
        // The 64-bit fast path and the general one, for whole and
        // fractional units, at products that fit an i64 and that do not.
        let big = [i64::MAX, i64::MIN + 1, 1 << 48, -(1 << 48), 1 << 40, 3_037_000_499, -3_037_000_500];
        let small = [0, 1, -1, 7, 100, -100, 999_999];
        for (tick, lot) in [("0.01", 1), ("0.01", 100), ("0.0001", 1), ("1", 10), ("0.000001", 3), ("0.0000001", 1)] {
            let u = Unit::of(&Instrument::new(tick, lot, VenueMode::Clob).unwrap());
            for &t in big.iter().chain(&small) {
                for &l in big.iter().chain(&small) {
                    let want = u.money(i128::from(t) * i128::from(l));
                    assert_eq!(u.value(t, l), want, "{tick} x{lot}: {t} ticks, {l} lots");
                }
            }
        }
    }

    #[test]
    fn exposure() {
        let u = Unit { whole: 1, num: 1, den: 1, lot_size: 1 };
        let exposure = |q, o, v| Position::exposure(q, o, v, &u);
        // Flat: both sides count in full.
        assert_eq!(exposure(0, [10, 5], [1000, 600]), 1600);
        // Long 10: sells up to 10 close, so nothing; buys count.
        assert_eq!(exposure(10, [10, 10], [1000, 600]), 1000);
        // Long 10, sell 15: 5 of 15 add exposure.
        assert_eq!(exposure(10, [0, 15], [0, 1500]), 500);
        // Short 4, buy 4: closes.
        assert_eq!(exposure(-4, [4, 0], [400, 0]), 0);
    }
}
