//! Domain types: fixed-point prices, quantities and money, ids, sides,
//! order types, time in force, and instruments.
//!
//! Layout and units:
//! - [`Price`]: `i64` ticks of the instrument (`price = ticks * tick_size`).
//! - [`Qty`]: `i64` lots of the instrument (`units = lots * lot_size`).
//! - [`Money`]: `i64` millionths of the currency unit (six decimal places),
//!   so a fee of 0.0035 per share is exact.
//! - [`Nanos`]: engine time, nanoseconds since the start of the trading day.
//!
//! Decimal text is converted to fixed point only at the edges
//! ([`Instrument::parse_price`], [`Instrument::parse_qty`], [`Money::parse`]),
//! with errors for too many decimals, off-tick or off-lot values, negative
//! values and overflow. Nothing on the hot path uses floats.

use core::fmt;

/// A price in ticks of its instrument.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(i64);

impl Price {
    /// No price (market orders, absent stop price).
    pub const NONE: Price = Price(0);
    /// A price of `ticks` ticks.
    #[inline]
    pub const fn from_ticks(ticks: i64) -> Self {
        Price(ticks)
    }
    /// The number of ticks.
    #[inline]
    pub const fn ticks(self) -> i64 {
        self.0
    }
    /// Whether this is [`Price::NONE`].
    #[inline]
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }
}

/// A quantity in lots of its instrument.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(i64);

impl Qty {
    /// Zero lots.
    pub const ZERO: Qty = Qty(0);
    /// A quantity of `lots` lots.
    #[inline]
    pub const fn from_lots(lots: i64) -> Self {
        Qty(lots)
    }
    /// The number of lots.
    #[inline]
    pub const fn lots(self) -> i64 {
        self.0
    }
    /// `self - other`, or `None` below zero.
    #[inline]
    pub fn checked_sub(self, other: Qty) -> Option<Qty> {
        match self.0.checked_sub(other.0) {
            Some(v) if v >= 0 => Some(Qty(v)),
            _ => None,
        }
    }
    /// The smaller of two quantities.
    #[inline]
    pub fn min(self, other: Qty) -> Qty {
        Qty(self.0.min(other.0))
    }
    /// Whether this is zero.
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::Add for Qty {
    type Output = Qty;
    #[inline]
    fn add(self, o: Qty) -> Qty {
        Qty(self.0 + o.0)
    }
}
impl core::ops::Sub for Qty {
    type Output = Qty;
    #[inline]
    fn sub(self, o: Qty) -> Qty {
        Qty(self.0 - o.0)
    }
}
impl core::ops::AddAssign for Qty {
    #[inline]
    fn add_assign(&mut self, o: Qty) {
        self.0 += o.0;
    }
}
impl core::ops::SubAssign for Qty {
    #[inline]
    fn sub_assign(&mut self, o: Qty) {
        self.0 -= o.0;
    }
}

/// Money in millionths of the currency unit (six decimal places).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Millionths per currency unit.
pub const MONEY_SCALE: i64 = 1_000_000;

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);
    /// `micros` millionths of the currency unit.
    #[inline]
    pub const fn from_micros(micros: i64) -> Self {
        Money(micros)
    }
    /// The amount in millionths.
    #[inline]
    pub const fn micros(self) -> i64 {
        self.0
    }
    /// Parses a decimal amount with at most six decimals (may be negative).
    pub fn parse(text: &str) -> Result<Money, DecimalError> {
        let (neg, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let v = parse_unsigned_scaled(body, 6)?;
        let v = i64::try_from(v).map_err(|_| DecimalError::Overflow)?;
        Ok(Money(if neg { -v } else { v }))
    }
}

impl fmt::Display for Money {
    /// At least two decimals, trailing zeros beyond them trimmed: `12.50`, `0.0035`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = i128::from(self.0);
        let sign = if v < 0 { "-" } else { "" };
        let a = v.unsigned_abs();
        let int = a / 1_000_000;
        let mut frac = a % 1_000_000;
        let mut digits = 6;
        while digits > 2 && frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, "{sign}{int}.{frac:0digits$}")
    }
}

/// Engine time: nanoseconds since the start of the trading day.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub u64);

impl fmt::Display for Nanos {
    /// `HH:MM:SS.mmm`, or `HH:MM:SS.nnnnnnnnn` when below a millisecond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        let secs = ns / 1_000_000_000;
        let sub = ns % 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if sub.is_multiple_of(1_000_000) {
            write!(f, "{h:02}:{m:02}:{s:02}.{:03}", sub / 1_000_000)
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}.{sub:09}")
        }
    }
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident($t:ty)) => {
        $(#[$m])*
        #[repr(transparent)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $t);
    };
}

id_type!(
    /// The engine's order id: unique, assigned in acceptance order from 1.
    OrderId(u64)
);
id_type!(
    /// The client's order id; unique per account per trading day.
    ClientOrderId(u64)
);
id_type!(
    /// An account (index into the engine's accounts).
    AccountId(u32)
);
id_type!(
    /// An instrument (index into the engine's instruments).
    SymbolId(u32)
);
id_type!(
    /// A client session of the gateway.
    SessionId(u32)
);
id_type!(
    /// The engine's input sequence number, from 1.
    Seq(u64)
);
id_type!(
    /// A trade (match number), from 1.
    TradeId(u64)
);

/// Buy or sell.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Bid side.
    Buy = 0,
    /// Ask side.
    Sell = 1,
}

impl Side {
    /// The other side.
    #[inline]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// `buy` / `sell`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Order type.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrdType {
    /// Limit order.
    Limit = 0,
    /// Market order: never rests.
    Market = 1,
    /// Stop: becomes a market order when triggered.
    Stop = 2,
    /// Stop-limit: becomes a limit order when triggered.
    StopLimit = 3,
}

impl OrdType {
    /// Script / JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrdType::Limit => "limit",
            OrdType::Market => "market",
            OrdType::Stop => "stop",
            OrdType::StopLimit => "stop_limit",
        }
    }
}

/// Time in force.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tif {
    /// Expires at the end of the trading day (the default).
    Day = 0,
    /// Good till cancelled.
    Gtc = 1,
    /// Immediate or cancel.
    Ioc = 2,
    /// Fill or kill.
    Fok = 3,
    /// Good till date (an engine time).
    Gtd = 4,
    /// Only in the opening auction.
    Opg = 5,
    /// Only in the closing auction.
    Cls = 6,
}

impl Tif {
    /// Script / JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tif::Day => "day",
            Tif::Gtc => "gtc",
            Tif::Ioc => "ioc",
            Tif::Fok => "fok",
            Tif::Gtd => "gtd",
            Tif::Opg => "opg",
            Tif::Cls => "cls",
        }
    }
}

/// Liquidity flag of a fill.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liquidity {
    /// The resting order.
    Maker = 0,
    /// The incoming order.
    Taker = 1,
    /// Filled in an auction uncross.
    Auction = 2,
}

impl Liquidity {
    /// JSON name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Liquidity::Maker => "maker",
            Liquidity::Taker => "taker",
            Liquidity::Auction => "auction",
        }
    }
}

/// Self-trade prevention mode of an account, applied by the aggressor.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StpMode {
    /// Orders of the same account may trade with each other.
    #[default]
    None = 0,
    /// Cancel the aggressor.
    CancelNewest = 1,
    /// Cancel the resting order.
    CancelOldest = 2,
    /// Cancel both.
    CancelBoth = 3,
    /// Reduce both by the smaller quantity, no trade.
    Decrement = 4,
}

/// How an instrument trades.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VenueMode {
    /// Client orders match each other in the engine's own book.
    #[default]
    Clob = 0,
    /// Client orders fill against the external market (paper trading).
    Paper = 1,
}

/// Error converting decimal text to fixed point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a decimal number.
    #[error("not a decimal number")]
    Syntax,
    /// More decimal places than the unit allows.
    #[error("too many decimal places")]
    TooManyDecimals,
    /// Not a multiple of the tick size.
    #[error("price is not a multiple of the tick size")]
    OffTick,
    /// Not a multiple of the lot size.
    #[error("quantity is not a multiple of the lot size")]
    OffLot,
    /// Negative where only positive values make sense.
    #[error("negative value")]
    Negative,
    /// Too large for the fixed-point representation.
    #[error("number too large")]
    Overflow,
}

/// Parses unsigned decimal text into an integer scaled by `10^scale`.
/// Trailing zeros beyond `scale` are accepted; other digits beyond it are
/// `TooManyDecimals`.
pub fn parse_unsigned_scaled(text: &str, scale: u32) -> Result<u128, DecimalError> {
    if text.starts_with('-') {
        return Err(DecimalError::Negative);
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(DecimalError::Syntax);
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::Syntax);
    }
    let mut v: u128 = 0;
    for b in int.bytes() {
        v = v.checked_mul(10).and_then(|v| v.checked_add(u128::from(b - b'0'))).ok_or(DecimalError::Overflow)?;
        if v > u128::from(u64::MAX) {
            return Err(DecimalError::Overflow);
        }
    }
    let fb = frac.as_bytes();
    for i in 0..scale as usize {
        let d = fb.get(i).map_or(0, |b| u128::from(b - b'0'));
        v = v.checked_mul(10).and_then(|v| v.checked_add(d)).ok_or(DecimalError::Overflow)?;
    }
    if fb.len() > scale as usize && fb[scale as usize..].iter().any(|&b| b != b'0') {
        return Err(DecimalError::TooManyDecimals);
    }
    Ok(v)
}

/// Largest price in ticks an order may carry: keeps `price * qty` far inside `i128`
/// and `price * tick` inside `i64`.
pub const MAX_PRICE_TICKS: i64 = 1 << 48;
/// Largest order quantity in lots.
pub const MAX_QTY_LOTS: i64 = 1 << 40;

/// An instrument: tick size, lot size and decimal places.
///
/// `tick_units` is the tick size in units of `10^-decimals` (0.05 with two
/// decimals is `decimals = 2, tick_units = 5`); `lot_size` is the number of
/// shares (contracts) per lot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Instrument {
    /// Decimal places of prices (at most 9).
    pub decimals: u8,
    /// Tick size in units of `10^-decimals`.
    pub tick_units: i64,
    /// Units per lot.
    pub lot_size: i64,
    /// How client orders trade.
    pub mode: VenueMode,
    /// Reference price (collars, auctions), `Price::NONE` when unknown.
    pub ref_price: Price,
}

impl Instrument {
    /// An instrument from decimal tick text (`0.01`), a lot size and a mode.
    pub fn new(tick: &str, lot_size: i64, mode: VenueMode) -> Result<Instrument, DecimalError> {
        let decimals = match tick.split_once('.') {
            Some((_, f)) => f.trim_end_matches('0').len(),
            None => 0,
        };
        if decimals > 9 {
            return Err(DecimalError::TooManyDecimals);
        }
        let decimals = decimals as u32;
        let units = parse_unsigned_scaled(tick, decimals)?;
        if units == 0 {
            return Err(DecimalError::Syntax);
        }
        let tick_units = i64::try_from(units).map_err(|_| DecimalError::Overflow)?;
        if lot_size <= 0 {
            return Err(DecimalError::Negative);
        }
        Ok(Instrument { decimals: decimals as u8, tick_units, lot_size, mode, ref_price: Price::NONE })
    }

    /// Decimal price text to ticks: rejects negative, too many decimals,
    /// off-tick and out-of-range values.
    pub fn parse_price(&self, text: &str) -> Result<Price, DecimalError> {
        let units = parse_unsigned_scaled(text, u32::from(self.decimals))?;
        let tick = self.tick_units as u128;
        if units % tick != 0 {
            return Err(DecimalError::OffTick);
        }
        let ticks = units / tick;
        if ticks > MAX_PRICE_TICKS as u128 {
            return Err(DecimalError::Overflow);
        }
        Ok(Price(ticks as i64))
    }

    /// Quantity text (whole units) to lots: rejects off-lot and out-of-range values.
    pub fn parse_qty(&self, text: &str) -> Result<Qty, DecimalError> {
        let units = parse_unsigned_scaled(text, 0)?;
        let lot = self.lot_size as u128;
        if units % lot != 0 {
            return Err(DecimalError::OffLot);
        }
        let lots = units / lot;
        if lots > MAX_QTY_LOTS as u128 {
            return Err(DecimalError::Overflow);
        }
        Ok(Qty(lots as i64))
    }

    /// Formats a price as decimal text with the instrument's decimals.
    pub fn fmt_price(&self, p: Price) -> String {
        let v = i128::from(p.0) * i128::from(self.tick_units);
        let d = u32::from(self.decimals);
        let sign = if v < 0 { "-" } else { "" };
        let a = v.unsigned_abs();
        if d == 0 {
            return format!("{sign}{a}");
        }
        let scale = 10u128.pow(d);
        format!("{sign}{}.{:0w$}", a / scale, a % scale, w = d as usize)
    }

    /// A quantity in units (shares, contracts).
    pub fn qty_units(&self, q: Qty) -> i128 {
        i128::from(q.0) * i128::from(self.lot_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_text_round_trip_and_errors() {
        let i = Instrument::new("0.01", 1, VenueMode::Clob).unwrap();
        assert_eq!(i.parse_price("100.25"), Ok(Price(10025)));
        assert_eq!(i.parse_price("100.2500"), Ok(Price(10025)));
        assert_eq!(i.parse_price("100"), Ok(Price(10000)));
        assert_eq!(i.fmt_price(Price(10025)), "100.25");
        assert_eq!(i.parse_price("100.255"), Err(DecimalError::TooManyDecimals));
        assert_eq!(i.parse_price("-1"), Err(DecimalError::Negative));
        assert_eq!(i.parse_price("1e5"), Err(DecimalError::Syntax));
        assert_eq!(i.parse_price(""), Err(DecimalError::Syntax));
        assert_eq!(i.parse_price("99999999999999999999999"), Err(DecimalError::Overflow));
        let n = Instrument::new("0.05", 100, VenueMode::Clob).unwrap();
        assert_eq!(n.parse_price("1.05"), Ok(Price(21)));
        assert_eq!(n.parse_price("1.07"), Err(DecimalError::OffTick));
        assert_eq!(n.fmt_price(Price(21)), "1.05");
        assert_eq!(n.parse_qty("300"), Ok(Qty(3)));
        assert_eq!(n.parse_qty("350"), Err(DecimalError::OffLot));
        assert_eq!(n.parse_qty("1.5"), Err(DecimalError::TooManyDecimals));
    }

    #[test]
    fn money_text() {
        assert_eq!(Money::parse("0.0035"), Ok(Money(3500)));
        assert_eq!(Money::parse("-12.5"), Ok(Money(-12_500_000)));
        assert_eq!(Money(3500).to_string(), "0.0035");
        assert_eq!(Money(-12_500_000).to_string(), "-12.50");
        assert_eq!(Money(0).to_string(), "0.00");
        assert_eq!(Money::parse("0.0000001"), Err(DecimalError::TooManyDecimals));
    }

    #[test]
    fn nanos_text() {
        assert_eq!(Nanos(34_200_000_000_000).to_string(), "09:30:00.000");
        assert_eq!(Nanos(34_200_000_000_001).to_string(), "09:30:00.000000001");
    }
}
