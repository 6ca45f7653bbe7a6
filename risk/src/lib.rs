//! Pre-trade risk for OPTIX core: [`StandardRisk`], the limit checks behind
//! the engine's [`PreTradeCheck`] trait.
//!
//! The dependency points one way: `risk` depends on `engine`, and the engine
//! is generic over the check (`Engine<R: PreTradeCheck>`), so risk runs
//! inline with static dispatch.
//!
//! # What it checks
//!
//! The engine works out the account's state *as if the order were accepted*
//! and hands it over in an [`OrderCheck`]; `StandardRisk` compares those
//! numbers with the account's [`RiskLimits`] and keeps no copy of engine
//! state. The rules, in this order, each with its own [`RejectReason`]:
//!
//! | rule | rejected when | reason |
//! |---|---|---|
//! | restricted symbol (every account) | the symbol is restricted | `RestrictedSymbol` |
//! | `max_qty` | `qty` (lots; a replace's new leaves) `> max_qty` | `MaxQty` |
//! | `max_notional` | `notional` (money) `> max_notional` | `MaxNotional` |
//! | `collar_bps` | both `ref_price` and `price` are set and `abs(price - ref) > abs(ref) * collar_bps / 10_000` (ticks, rounded down) | `PriceCollar` |
//! | `max_open_orders` | `open_orders > max_open_orders` | `MaxOpenOrders` |
//! | `max_long` / `max_short` | a buy with `worst_long > max_long`, a sell with `worst_short > max_short` (lots) | `PositionLimit` |
//! | `buying_power` | `bp_used > 0` and `bp_used > buying_power` (money) | `BuyingPower` |
//! | `rate_per_sec` | the account's token bucket holds less than one order | `Throttled` |
//!
//! **Boundary rule:** a value exactly at its limit is accepted; one unit
//! over it (a lot, a tick, a millionth, an order) is rejected.
//!
//! An account with no limits configured has every limit off; a restricted
//! symbol is restricted for every account. `None` switches one limit off.
//! The throttle (see [`TokenBucket`]) counts new orders and replaces
//! ([`CheckKind::New`], [`CheckKind::Replace`]), never triggered stops
//! ([`CheckKind::Triggered`]); cancels never reach the check. It runs last
//! and spends a token only when every rule passes (the engine accepts every
//! order that passes), so **a rejected order changes no risk state**.
//!
//! # Units
//!
//! Quantities and positions in lots, prices in ticks, money in millionths
//! ([`Money`]), the collar in basis points of the reference price, time in
//! engine nanoseconds ([`Nanos`]), the throttle in orders per second with a
//! burst of the same size. Integers only; products that can overflow `i64`
//! use `i128`.
//!
//! # State, complexity, limits
//!
//! Plain data a snapshot can hold: a `Vec` of [`AccountRisk`] (limits and
//! token bucket) indexed by [`AccountId`], growing on [`StandardRisk::configure`],
//! and a bitset of restricted symbols (`Vec<u64>` indexed by [`SymbolId`],
//! trailing zero words trimmed so equal sets compare equal).
//! [`PreTradeCheck::check_new`] and [`PreTradeCheck::check_replace`] are O(1),
//! allocation-free and deterministic; [`PreTradeCheck::state_hash`] is an
//! FNV-1a hash over the whole state, O(accounts + symbols / 64).
//! Configuration grows the state up to [`MAX_ACCOUNTS`] accounts and
//! [`MAX_SYMBOLS`] symbols and rejects negative limits.
//!
//! ```
//! use optix_engine::{AccountId, Money, Nanos, Price, Qty, Side, SymbolId};
//! use optix_risk::{OrderCheck, PreTradeCheck, RejectReason, RiskConfig, RiskLimits, StandardRisk};
//!
//! let mut risk = StandardRisk::new();
//! let limits = RiskLimits { max_qty: Some(100), ..RiskLimits::default() };
//! risk.configure(&RiskConfig::Limits(AccountId(0), limits)).unwrap();
//! let at = |lots| OrderCheck::bare(AccountId(0), SymbolId(0), Side::Buy, Price::from_ticks(10), Qty::from_lots(lots));
//! assert_eq!(risk.check_new(Nanos(0), &at(100)), Ok(()));
//! assert_eq!(risk.check_new(Nanos(0), &at(101)), Err(RejectReason::MaxQty));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bucket;
mod fnv;

pub use bucket::{TokenBucket, ORDER_COST};
pub use optix_engine::{CheckKind, OrderCheck, Permissive, PreTradeCheck, RejectReason, RiskConfig, RiskLimits};

use optix_engine::{AccountId, Money, Nanos, Side, SymbolId};

/// Most accounts [`StandardRisk`] takes limits for (ids `0..MAX_ACCOUNTS`).
pub const MAX_ACCOUNTS: u32 = 1 << 20;
/// Most symbols [`StandardRisk`] can restrict (ids `0..MAX_SYMBOLS`; a 2 MiB bitset).
pub const MAX_SYMBOLS: u32 = 1 << 24;

/// Basis points per whole (the collar's denominator).
const BPS: i128 = 10_000;

/// Risk state of one account: its limits and its throttle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountRisk {
    /// The limits, in the form the check reads.
    bounds: Bounds,
    /// The account's token bucket (meaningful while `limits().rate_per_sec`
    /// is set; zero otherwise).
    pub bucket: TokenBucket,
}

impl AccountRisk {
    /// The account's limits (all off by default).
    pub fn limits(&self) -> RiskLimits {
        self.bounds.limits()
    }
}

/// An account's [`RiskLimits`] in the form the check reads, and the only
/// copy kept: each limit a plain integer, `-1` when it is off (valid limits
/// are never negative, see [`validate_limits`], so nothing is lost).
/// Compared as unsigned, an off limit (`u64::MAX`) is never exceeded, so an
/// order that passes every rule (almost every order) costs one test of all
/// of them together, with no `Option` to look into; an order that fails
/// one (or has a negative quantity or amount, which unsigned reads as huge)
/// goes rule by rule, to find the first reason in the documented order.
/// The worst-case positions, which may be negative, compare signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bounds {
    max_qty: i64,
    max_notional: i64,
    max_long: i64,
    max_short: i64,
    collar_bps: i64,
    max_open: i64,
    buying_power: bool,
    rate_per_sec: Option<u32>,
}

/// `Some(v)` as `v`, `None` as `-1`.
fn off_as_minus_one(v: Option<i64>) -> i64 {
    v.unwrap_or(-1)
}

/// The inverse of [`off_as_minus_one`].
fn minus_one_as_off(v: i64) -> Option<i64> {
    (v >= 0).then_some(v)
}

/// `v > max` with both read as unsigned: `max == -1` (off) is never exceeded.
#[inline(always)]
fn over(v: i64, max: i64) -> bool {
    (v as u64) > (max as u64)
}

impl Bounds {
    const OFF: Bounds = Bounds {
        max_qty: -1,
        max_notional: -1,
        max_long: -1,
        max_short: -1,
        collar_bps: -1,
        max_open: -1,
        buying_power: false,
        rate_per_sec: None,
    };

    /// The bounds of valid limits (see [`validate_limits`]: none negative).
    fn of(l: &RiskLimits) -> Bounds {
        Bounds {
            max_qty: off_as_minus_one(l.max_qty),
            max_notional: off_as_minus_one(l.max_notional.map(Money::micros)),
            max_long: off_as_minus_one(l.max_long),
            max_short: off_as_minus_one(l.max_short),
            collar_bps: off_as_minus_one(l.collar_bps),
            max_open: off_as_minus_one(l.max_open_orders.map(i64::from)),
            buying_power: l.buying_power,
            rate_per_sec: l.rate_per_sec,
        }
    }

    /// The limits these bounds were made of.
    fn limits(&self) -> RiskLimits {
        RiskLimits {
            max_qty: minus_one_as_off(self.max_qty),
            max_notional: minus_one_as_off(self.max_notional).map(Money::from_micros),
            collar_bps: minus_one_as_off(self.collar_bps),
            max_open_orders: minus_one_as_off(self.max_open).and_then(|v| u32::try_from(v).ok()),
            max_long: minus_one_as_off(self.max_long),
            max_short: minus_one_as_off(self.max_short),
            buying_power: self.buying_power,
            rate_per_sec: self.rate_per_sec,
        }
    }

    /// Whether `o` passes every stateless rule. `false` when one fails, and
    /// also when a quantity or amount is negative or the collar's band
    /// would not fit 64 bits (then the rule by rule check decides).
    #[inline(always)]
    fn pass(&self, o: &OrderCheck) -> bool {
        let (worst, max) = match o.side {
            Side::Buy => (o.worst_long, self.max_long),
            Side::Sell => (o.worst_short, self.max_short),
        };
        // `|`, not `||`: every comparison runs, and one branch tests them all.
        let fail = over(o.qty.lots(), self.max_qty)
            | over(o.notional.micros(), self.max_notional)
            | over(i64::from(o.open_orders), self.max_open)
            // (A worst case may be negative, a short with no buys: signed.)
            | ((max >= 0) & (worst > max))
            | (self.buying_power & (o.bp_used > Money::ZERO) & (o.bp_used > o.buying_power));
        if fail {
            return false;
        }
        if self.collar_bps < 0 || o.ref_price.is_none() || o.price.is_none() {
            return true;
        }
        let reference = o.ref_price.ticks();
        match reference.unsigned_abs().checked_mul(self.collar_bps.unsigned_abs()) {
            Some(p) if p <= i64::MAX as u64 => o.price.ticks().abs_diff(reference) <= p / BPS as u64,
            _ => false,
        }
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds::OFF
    }
}

/// The standard pre-trade check: per-account limits, a per-account throttle
/// and restricted symbols. See the [crate docs](crate) for the rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StandardRisk {
    /// Indexed by `AccountId`; accounts past the end have every limit off.
    accounts: Vec<AccountRisk>,
    /// Bit `s % 64` of word `s / 64` set: symbol `s` is restricted. No
    /// trailing zero words.
    restricted: Vec<u64>,
}

impl StandardRisk {
    /// A check with no limits and no restricted symbols (accepts everything).
    pub const fn new() -> Self {
        StandardRisk { accounts: Vec::new(), restricted: Vec::new() }
    }

    /// The risk state of `acct`, `None` when it has never been configured.
    pub fn account(&self, acct: AccountId) -> Option<&AccountRisk> {
        self.accounts.get(acct.0 as usize)
    }

    /// Whether `sym` is restricted.
    #[inline]
    pub fn is_restricted(&self, sym: SymbolId) -> bool {
        let (word, bit) = (sym.0 as usize / 64, sym.0 % 64);
        self.restricted.get(word).is_some_and(|w| w >> bit & 1 == 1)
    }

    /// Sets the limits of an account, replacing the previous ones.
    ///
    /// The bucket starts full when the throttle is switched on, keeps its
    /// tokens (capped to the new burst) when only the rate changes, and is
    /// cleared when the throttle is switched off.
    pub fn set_limits(&mut self, acct: AccountId, limits: RiskLimits) -> Result<(), &'static str> {
        validate_limits(&limits)?;
        if acct.0 >= MAX_ACCOUNTS {
            return Err("risk: account id beyond the risk check's capacity (MAX_ACCOUNTS)");
        }
        let i = acct.0 as usize;
        if i >= self.accounts.len() {
            self.accounts.resize(i + 1, AccountRisk::default());
        }
        let account = &mut self.accounts[i];
        account.bucket = match (account.bounds.rate_per_sec, limits.rate_per_sec) {
            (_, None) => TokenBucket::default(),
            (None, Some(rate)) => TokenBucket { last_ns: account.bucket.last_ns, ..TokenBucket::full(rate) },
            (Some(_), Some(rate)) => TokenBucket {
                tokens: account.bucket.tokens.min(TokenBucket::capacity(rate)),
                last_ns: account.bucket.last_ns,
            },
        };
        account.bounds = Bounds::of(&limits);
        Ok(())
    }

    /// Restricts (`true`) or allows again (`false`) a symbol for every account.
    pub fn set_restricted(&mut self, sym: SymbolId, restricted: bool) -> Result<(), &'static str> {
        if sym.0 >= MAX_SYMBOLS {
            return Err("risk: symbol id beyond the risk check's capacity (MAX_SYMBOLS)");
        }
        let (word, bit) = (sym.0 as usize / 64, sym.0 % 64);
        if restricted {
            if word >= self.restricted.len() {
                self.restricted.resize(word + 1, 0);
            }
            self.restricted[word] |= 1 << bit;
        } else if let Some(w) = self.restricted.get_mut(word) {
            *w &= !(1 << bit);
            while self.restricted.last() == Some(&0) {
                self.restricted.pop();
            }
        }
        Ok(())
    }

    /// The shared body of `check_new` and `check_replace`.
    #[inline(always)]
    fn check(&mut self, now: Nanos, order: &OrderCheck) -> Result<(), RejectReason> {
        if self.is_restricted(order.sym) {
            return Err(RejectReason::RestrictedSymbol);
        }
        let Some(account) = self.accounts.get_mut(order.acct.0 as usize) else {
            return Ok(());
        };
        if !account.bounds.pass(order) {
            check_rule_by_rule(&account.bounds, order)?;
        }
        if order.kind != CheckKind::Triggered {
            if let Some(rate) = account.bounds.rate_per_sec {
                if !account.bucket.try_take(rate, now.0) {
                    return Err(RejectReason::Throttled);
                }
            }
        }
        Ok(())
    }
}

/// The rules one by one, for an order the one-test pass turned away.
#[cold]
#[inline(never)]
fn check_rule_by_rule(b: &Bounds, o: &OrderCheck) -> Result<(), RejectReason> {
    check_limits(&b.limits(), o)
}

/// Checks limits for the errors `configure` reports: no negative limit.
pub fn validate_limits(limits: &RiskLimits) -> Result<(), &'static str> {
    let negative = |v: Option<i64>| v.is_some_and(|v| v < 0);
    if negative(limits.max_qty) {
        return Err("risk: max_qty must not be negative");
    }
    if negative(limits.max_notional.map(Money::micros)) {
        return Err("risk: max_notional must not be negative");
    }
    if negative(limits.collar_bps) {
        return Err("risk: price_collar (basis points) must not be negative");
    }
    if negative(limits.max_long) {
        return Err("risk: position_limit (long) must not be negative");
    }
    if negative(limits.max_short) {
        return Err("risk: position_limit (short) must not be negative");
    }
    Ok(())
}

/// The stateless rules after the restricted-symbol one, in order.
#[inline]
fn check_limits(l: &RiskLimits, o: &OrderCheck) -> Result<(), RejectReason> {
    if l.max_qty.is_some_and(|max| o.qty.lots() > max) {
        return Err(RejectReason::MaxQty);
    }
    if l.max_notional.is_some_and(|max| o.notional > max) {
        return Err(RejectReason::MaxNotional);
    }
    if let Some(bps) = l.collar_bps {
        if !o.ref_price.is_none() && !o.price.is_none() {
            let reference = o.ref_price.ticks();
            // In i64 when it fits (a 128-bit division is a library call).
            let band = match reference.unsigned_abs().checked_mul(bps.unsigned_abs()) {
                Some(p) if p <= i64::MAX as u64 => i128::from(p as i64 / BPS as i64),
                _ => i128::from(reference).abs() * i128::from(bps) / BPS,
            };
            if (i128::from(o.price.ticks()) - i128::from(reference)).abs() > band {
                return Err(RejectReason::PriceCollar);
            }
        }
    }
    if l.max_open_orders.is_some_and(|max| o.open_orders > max) {
        return Err(RejectReason::MaxOpenOrders);
    }
    let (worst, max) = match o.side {
        Side::Buy => (o.worst_long, l.max_long),
        Side::Sell => (o.worst_short, l.max_short),
    };
    if max.is_some_and(|max| worst > max) {
        return Err(RejectReason::PositionLimit);
    }
    if l.buying_power && o.bp_used > Money::ZERO && o.bp_used > o.buying_power {
        return Err(RejectReason::BuyingPower);
    }
    Ok(())
}

impl PreTradeCheck for StandardRisk {
    #[inline]
    fn prefetch(&self, acct: AccountId) {
        if let Some(a) = self.accounts.get(acct.0 as usize) {
            optix_ring::prefetch_lines(a);
        }
    }

    #[inline(always)]
    fn check_new(&mut self, now: Nanos, order: &OrderCheck) -> Result<(), RejectReason> {
        self.check(now, order)
    }

    #[inline(always)]
    fn check_replace(&mut self, now: Nanos, order: &OrderCheck) -> Result<(), RejectReason> {
        self.check(now, order)
    }

    fn configure(&mut self, config: &RiskConfig) -> Result<(), &'static str> {
        match *config {
            RiskConfig::Limits(acct, limits) => self.set_limits(acct, limits),
            RiskConfig::Restrict(sym, restricted) => self.set_restricted(sym, restricted),
        }
    }

    fn state_hash(&self) -> u64 {
        let mut h = fnv::Fnv1a::new();
        h.bytes(b"optix-risk/1");
        h.u64(self.accounts.len() as u64);
        for a in &self.accounts {
            let l = &a.limits();
            h.opt_i64(l.max_qty);
            h.opt_i64(l.max_notional.map(Money::micros));
            h.opt_i64(l.collar_bps);
            h.opt_i64(l.max_open_orders.map(i64::from));
            h.opt_i64(l.max_long);
            h.opt_i64(l.max_short);
            h.u8(u8::from(l.buying_power));
            h.opt_i64(l.rate_per_sec.map(i64::from));
            h.u64(a.bucket.tokens);
            h.u64(a.bucket.last_ns);
        }
        h.u64(self.restricted.len() as u64);
        for &w in &self.restricted {
            h.u64(w);
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_limits_are_config_errors() {
        let mut r = StandardRisk::new();
        let bad = [
            RiskLimits { max_qty: Some(-1), ..RiskLimits::default() },
            RiskLimits { max_notional: Some(Money::from_micros(-1)), ..RiskLimits::default() },
            RiskLimits { collar_bps: Some(-1), ..RiskLimits::default() },
            RiskLimits { max_long: Some(-1), ..RiskLimits::default() },
            RiskLimits { max_short: Some(-1), ..RiskLimits::default() },
        ];
        for l in bad {
            let err = r.configure(&RiskConfig::Limits(AccountId(0), l)).unwrap_err();
            assert!(err.contains("must not be negative"), "{err}");
        }
        assert_eq!(r, StandardRisk::new(), "a rejected configuration changes nothing");
        let zero = RiskLimits { max_qty: Some(0), max_long: Some(0), ..RiskLimits::default() };
        assert_eq!(r.configure(&RiskConfig::Limits(AccountId(0), zero)), Ok(()));
    }

    #[test]
    fn ids_beyond_capacity_are_config_errors() {
        let mut r = StandardRisk::new();
        assert!(r.configure(&RiskConfig::Limits(AccountId(MAX_ACCOUNTS), RiskLimits::default())).is_err());
        assert!(r.configure(&RiskConfig::Restrict(SymbolId(MAX_SYMBOLS), true)).is_err());
        assert!(r.configure(&RiskConfig::Restrict(SymbolId(MAX_SYMBOLS - 1), true)).is_ok());
        assert!(r.is_restricted(SymbolId(MAX_SYMBOLS - 1)));
    }

    #[test]
    fn restricted_set_is_canonical() {
        let mut r = StandardRisk::new();
        r.configure(&RiskConfig::Restrict(SymbolId(200), true)).unwrap();
        r.configure(&RiskConfig::Restrict(SymbolId(3), true)).unwrap();
        assert!(r.is_restricted(SymbolId(200)) && r.is_restricted(SymbolId(3)));
        assert!(!r.is_restricted(SymbolId(4)) && !r.is_restricted(SymbolId(100_000)));
        r.configure(&RiskConfig::Restrict(SymbolId(200), false)).unwrap();
        r.configure(&RiskConfig::Restrict(SymbolId(9_999), false)).unwrap();
        let mut only3 = StandardRisk::new();
        only3.configure(&RiskConfig::Restrict(SymbolId(3), true)).unwrap();
        assert_eq!(r, only3);
        assert_eq!(r.state_hash(), only3.state_hash());
        r.configure(&RiskConfig::Restrict(SymbolId(3), false)).unwrap();
        assert_eq!(r, StandardRisk::new());
    }

    #[test]
    fn reconfiguring_the_rate_keeps_or_resets_the_bucket() {
        let mut r = StandardRisk::new();
        let rate = |n| RiskLimits { rate_per_sec: n, ..RiskLimits::default() };
        r.set_limits(AccountId(1), rate(Some(5))).unwrap();
        assert_eq!(r.account(AccountId(1)).unwrap().bucket, TokenBucket::full(5));
        assert_eq!(r.account(AccountId(0)), Some(&AccountRisk::default()));
        r.set_limits(AccountId(1), rate(Some(2))).unwrap();
        assert_eq!(r.account(AccountId(1)).unwrap().bucket.tokens, TokenBucket::capacity(2));
        r.set_limits(AccountId(1), rate(None)).unwrap();
        assert_eq!(r.account(AccountId(1)).unwrap().bucket, TokenBucket::default());
    }

    /// Values at and around every boundary the rules compare against.
    fn edge_i64() -> impl proptest::strategy::Strategy<Value = i64> {
        use proptest::prelude::*;
        prop_oneof![
            Just(i64::MIN),
            Just(-1i64),
            Just(0i64),
            Just(1i64),
            Just(i64::MAX),
            Just(i64::MAX / 10_000),
            Just(1i64 << 48),
            -3i64..=3,
            95i64..=105,
            9_990i64..=10_010,
            any::<i64>(),
        ]
    }

    proptest::proptest! {
        /// The one-test fast path over the precomputed bounds decides
        /// exactly as the rules one by one, for every limit switched on or
        /// off at any valid value and any order, the collar's overflow
        /// cases included.
        #[test]
        fn bounds_decide_as_the_rules_one_by_one(
            limits in (
                proptest::option::of(0i64..=i64::MAX),
                proptest::option::of(0i64..=i64::MAX),
                proptest::option::of(proptest::prop_oneof![0i64..=20_000, 0i64..=i64::MAX]),
                proptest::option::of(proptest::prelude::any::<u32>()),
                proptest::option::of(0i64..=i64::MAX),
                proptest::option::of(0i64..=i64::MAX),
                proptest::prelude::any::<bool>(),
            ),
            o in (
                proptest::prelude::any::<bool>(),
                edge_i64(), edge_i64(), edge_i64(), edge_i64(),
                proptest::prelude::any::<u32>(),
                edge_i64(), edge_i64(), edge_i64(), edge_i64(),
            ),
        ) {
            let l = RiskLimits {
                max_qty: limits.0,
                max_notional: limits.1.map(Money::from_micros),
                collar_bps: limits.2,
                max_open_orders: limits.3,
                max_long: limits.4,
                max_short: limits.5,
                buying_power: limits.6,
                rate_per_sec: None,
            };
            let side = if o.0 { Side::Buy } else { Side::Sell };
            let px = |t: i64| if t == 0 { optix_engine::Price::NONE } else { optix_engine::Price::from_ticks(t) };
            let mut c = OrderCheck::bare(AccountId(0), SymbolId(0), side, px(o.1), optix_engine::Qty::from_lots(o.2));
            c.ref_price = px(o.3);
            c.notional = Money::from_micros(o.4);
            c.open_orders = o.5;
            c.worst_long = o.6;
            c.worst_short = o.7;
            c.buying_power = Money::from_micros(o.8);
            c.bp_used = Money::from_micros(o.9);
            let b = Bounds::of(&l);
            proptest::prop_assert_eq!(b.limits(), l, "the bounds keep the limits whole");
            let rules = check_limits(&l, &c);
            if b.pass(&c) {
                proptest::prop_assert_eq!(rules, Ok(()));
            }
            let mut r = StandardRisk::new();
            r.set_limits(AccountId(0), l).unwrap();
            proptest::prop_assert_eq!(r.check_new(Nanos(0), &c), rules);
        }
    }

    #[test]
    fn the_bucket_takes_in_one_step_as_can_take_then_take() {
        for (tokens, last, rate, now) in [
            (0, 0, 1, 0),
            (0, 0, 1, 999_999_999),
            (0, 0, 1, 1_000_000_000),
            (5 * ORDER_COST, 10, 5, 10),
            (ORDER_COST - 1, 7, 3, 7),
            (ORDER_COST - 1, 7, 3, 8),
            (0, u64::MAX, u32::MAX, 0),
            (ORDER_COST, 100, 1, 50),
        ] {
            let start = TokenBucket { tokens, last_ns: last };
            let mut two = start;
            let ok = two.can_take(rate, now);
            if ok {
                two.take(rate, now);
            }
            let mut one = start;
            assert_eq!(one.try_take(rate, now), ok);
            assert_eq!(one, two);
        }
    }

    #[test]
    fn state_hash_sees_every_part_of_the_state() {
        let base = {
            let mut r = StandardRisk::new();
            r.set_limits(AccountId(0), RiskLimits { rate_per_sec: Some(3), ..RiskLimits::default() }).unwrap();
            r
        };
        let mut seen = std::collections::BTreeSet::new();
        seen.insert(StandardRisk::new().state_hash());
        seen.insert(base.state_hash());
        let mut limit = base.clone();
        limit
            .set_limits(AccountId(0), RiskLimits { max_qty: Some(0), rate_per_sec: Some(3), ..Default::default() })
            .unwrap();
        seen.insert(limit.state_hash());
        let mut spent = base.clone();
        let o = OrderCheck::bare(
            AccountId(0),
            SymbolId(0),
            Side::Buy,
            optix_engine::Price::from_ticks(1),
            optix_engine::Qty::from_lots(1),
        );
        spent.check_new(Nanos(0), &o).unwrap();
        seen.insert(spent.state_hash());
        let mut later = base.clone();
        later.check_new(Nanos(7), &o).unwrap();
        seen.insert(later.state_hash());
        let mut restricted = base.clone();
        restricted.set_restricted(SymbolId(1), true).unwrap();
        seen.insert(restricted.state_hash());
        assert_eq!(seen.len(), 6);
        assert_eq!(base.state_hash(), base.clone().state_hash());
    }
}
