//! Normalized market data: the [`MarketEvent`]s that feed threads push into
//! the matcher's ring, whatever the source (ITCH book builder, synthetic
//! feed, later replay), and the [`MarketSink`] a source writes them to.
//!
//! The event types and their conversion into engine inputs live in the
//! engine ([`optix_engine::market`], so the matcher thread can read them
//! without the engine depending on this crate); they are re-exported here
//! unchanged. See there for the layout (56 bytes, `Copy`), the units (feed
//! prices in 0.0001 ticks, [`PRICE_SCALE`] per currency unit; quantities in
//! shares) and the invariants.

pub use optix_engine::market::{Level, MarketEvent, Quote, Status, Trade, PRICE_SCALE};
use optix_engine::SymbolId;

use crate::itch::Stock;

/// Where a source puts the events it produces (a closure, a `Vec`, a ring
/// adapter). Called on the producing thread, once per event, in order.
pub trait MarketSink {
    /// Takes one event.
    fn emit(&mut self, event: MarketEvent);

    /// A source learnt of an instrument: `sym` is the id its events will
    /// carry, `name` its 8-byte symbol (space padded). Called once per
    /// instrument, before any of its events (the ITCH book builder calls it
    /// at the stock directory message). Ignored unless a sink needs it.
    #[inline]
    fn on_symbol(&mut self, sym: SymbolId, name: Stock) {
        let _ = (sym, name);
    }
}

impl<F: FnMut(MarketEvent)> MarketSink for F {
    #[inline(always)]
    fn emit(&mut self, event: MarketEvent) {
        self(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optix_engine::Nanos;

    #[test]
    fn closures_are_sinks() {
        let s = MarketEvent::Status(Status { ts: Nanos(9), sym: SymbolId(1), halted: true });
        let mut got = Vec::new();
        let mut sink = |e| got.push(e);
        sink.emit(s);
        assert_eq!(got, [s]);
    }
}
