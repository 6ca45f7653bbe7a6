//! Shared helpers of the feature tests (stp, reserve, stops, halt_kill,
//! expiry, auction): an engine with two symbols and accounts of chosen
//! self-trade prevention modes, one-line event text with every field, and
//! order builders. Each input is checked with `validate()` and the events'
//! seq and time.
#![allow(dead_code, reason = "each test file uses a different subset")]

use optix_engine::*;

pub const A: AccountId = AccountId(0);
pub const B: AccountId = AccountId(1);
pub const C: AccountId = AccountId(2);
pub const S: SymbolId = SymbolId(0);
pub const S1: SymbolId = SymbolId(1);

pub fn acct_name(a: AccountId) -> String {
    match a.0 {
        0 => "A".into(),
        1 => "B".into(),
        2 => "C".into(),
        n => format!("acct{n}"),
    }
}

pub fn oref(o: &OrderRef) -> String {
    format!("{}/{}#{}", acct_name(o.acct), o.clid.0, o.id.0)
}

/// One event as text with every field of its kind (optional fields only
/// when set).
pub fn show(ev: &Event) -> String {
    match ev.kind {
        EventKind::Accepted { order, sym, side, ord_type, tif, price, qty, stop, display } => {
            let mut s = format!(
                "accepted {} s{} {} {} {} px={} qty={}",
                oref(&order),
                sym.0,
                side.as_str(),
                ord_type.as_str(),
                tif.as_str(),
                price.ticks(),
                qty.lots()
            );
            if !stop.is_none() {
                s += &format!(" stop={}", stop.ticks());
            }
            if !display.is_zero() {
                s += &format!(" display={}", display.lots());
            }
            s
        }
        EventKind::Rejected { order, cmd, reason } => {
            format!("rejected {} {} {}", cmd.as_str(), oref(&order), reason.as_str())
        }
        EventKind::Traded { trade_id, price, qty, buy, sell, aggressor, .. } => format!(
            "trade t{} px={} qty={} buy={} sell={} agg={}",
            trade_id.0,
            price.ticks(),
            qty.lots(),
            oref(&buy),
            oref(&sell),
            aggressor.map_or("none", Side::as_str)
        ),
        EventKind::Filled { order, price, qty, leaves, liq, .. } => {
            format!(
                "fill {} px={} qty={} leaves={} {}",
                oref(&order),
                price.ticks(),
                qty.lots(),
                leaves.lots(),
                liq.as_str()
            )
        }
        EventKind::Cancelled { order, qty, reason, .. } => {
            format!("cancelled {} qty={} {}", oref(&order), qty.lots(), reason.as_str())
        }
        EventKind::Replaced { order, price, qty, leaves, stop, .. } => {
            let mut s =
                format!("replaced {} px={} qty={} leaves={}", oref(&order), price.ticks(), qty.lots(), leaves.lots());
            if !stop.is_none() {
                s += &format!(" stop={}", stop.ticks());
            }
            s
        }
        EventKind::Triggered { order, last, .. } => format!("triggered {} last={}", oref(&order), last.ticks()),
        EventKind::Expired { order, qty, .. } => format!("expired {} qty={}", oref(&order), qty.lots()),
        EventKind::TradingStatus { sym, halted } => {
            format!("status s{} {}", sym.0, if halted { "halted" } else { "trading" })
        }
        EventKind::LevelChanged { sym, side, price, qty } => {
            format!("level s{} {} px={} qty={}", sym.0, side.as_str(), price.ticks(), qty.lots())
        }
    }
}

/// An engine with two symbols (tick 0.01, lot 1; symbol 0 with a reference
/// price of `ref_px` ticks when not 0) and accounts with the given modes.
pub struct H<R: PreTradeCheck = Permissive> {
    pub e: Engine<R>,
    pub time: u64,
}

pub fn h() -> H {
    h_stp(&[StpMode::None, StpMode::None, StpMode::None])
}

pub fn h_stp(modes: &[StpMode]) -> H {
    h_full(Permissive, modes, 0)
}

pub fn h_full<R: PreTradeCheck>(check: R, modes: &[StpMode], ref_px: i64) -> H<R> {
    let mut e = Engine::new(EngineConfig::default(), check);
    for i in 0..2 {
        let mut ins = Instrument::new("0.01", 1, VenueMode::Clob).unwrap();
        if i == 0 {
            ins.ref_price = Price::from_ticks(ref_px);
        }
        e.add_instrument(ins);
    }
    for &stp in modes {
        e.add_account(AccountSpec { stp, ..AccountSpec::default() });
    }
    H { e, time: 34_200_000_000_000 }
}

impl<R: PreTradeCheck> H<R> {
    /// Processes one input 1 ms after the previous one; checks invariants
    /// and that every event carries the input's seq and time.
    pub fn raw(&mut self, input: Input) -> Vec<Event> {
        self.time += 1_000_000;
        let mut out = Vec::new();
        self.e.process(Nanos(self.time), &input, &mut out);
        self.e.validate().unwrap();
        for ev in &out {
            assert_eq!(ev.seq, self.e.seq());
            assert_eq!(ev.time, Nanos(self.time));
        }
        out
    }

    pub fn run(&mut self, input: Input) -> Vec<String> {
        self.raw(input).iter().map(show).collect()
    }

    /// Runs inputs, asserting none was rejected.
    pub fn setup(&mut self, inputs: &[Input]) {
        for i in inputs {
            let evs = self.run(*i);
            assert!(!evs.iter().any(|e| e.starts_with("rejected")), "{i:?}: {evs:?}");
        }
    }

    pub fn depth(&self, sym: SymbolId, side: Side) -> Vec<(i64, i64)> {
        self.e.levels(sym, side).map(|(p, q)| (p.ticks(), q.lots())).collect()
    }

    pub fn bids(&self) -> Vec<(i64, i64)> {
        self.depth(S, Side::Buy)
    }

    pub fn asks(&self) -> Vec<(i64, i64)> {
        self.depth(S, Side::Sell)
    }
}

pub fn lim(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64) -> NewOrder {
    NewOrder {
        acct,
        clid: ClientOrderId(clid),
        sym: S,
        side,
        ord_type: OrdType::Limit,
        tif: Tif::Day,
        price: Price::from_ticks(px),
        stop_price: Price::NONE,
        qty: Qty::from_lots(qty),
        display: Qty::ZERO,
        expire: Nanos(0),
        post_only: false,
    }
}

pub fn mkt(acct: AccountId, clid: u64, side: Side, qty: i64) -> NewOrder {
    NewOrder { ord_type: OrdType::Market, price: Price::NONE, ..lim(acct, clid, side, 0, qty) }
}

pub fn buy(acct: AccountId, clid: u64, px: i64, qty: i64) -> Input {
    Input::NewOrder(lim(acct, clid, Side::Buy, px, qty))
}

pub fn sell(acct: AccountId, clid: u64, px: i64, qty: i64) -> Input {
    Input::NewOrder(lim(acct, clid, Side::Sell, px, qty))
}

/// A reserve order showing `display` of `qty`.
pub fn iceberg(acct: AccountId, clid: u64, side: Side, px: i64, qty: i64, display: i64) -> Input {
    Input::NewOrder(NewOrder { display: Qty::from_lots(display), ..lim(acct, clid, side, px, qty) })
}

/// A stop (`px` 0) or stop-limit order.
pub fn stop(acct: AccountId, clid: u64, side: Side, stop: i64, px: i64, qty: i64) -> Input {
    let ord_type = if px == 0 { OrdType::Stop } else { OrdType::StopLimit };
    Input::NewOrder(NewOrder { ord_type, stop_price: Price::from_ticks(stop), ..lim(acct, clid, side, px, qty) })
}

pub fn new(o: NewOrder) -> Input {
    Input::NewOrder(o)
}

pub fn cancel(acct: AccountId, clid: u64) -> Input {
    Input::CancelOrder(CancelOrder { acct, clid: ClientOrderId(clid) })
}

/// A replace; `px` 0 keeps the price, `qty` 0 keeps the quantity.
pub fn replace(acct: AccountId, clid: u64, px: i64, qty: i64) -> Input {
    Input::ReplaceOrder(ReplaceOrder {
        acct,
        clid: ClientOrderId(clid),
        price: Price::from_ticks(px),
        qty: Qty::from_lots(qty),
    })
}

/// An external trade print.
pub fn print(px: i64, qty: i64) -> Input {
    Input::TradePrint(TradePrint { sym: S, price: Price::from_ticks(px), qty: Qty::from_lots(qty) })
}
