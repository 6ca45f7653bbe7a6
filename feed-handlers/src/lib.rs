//! `optix-feed`: market data decoders of OPTIX core.
//!
//! - [`itch`]: NASDAQ TotalView-ITCH 5.0 codec (all 23 message types),
//!   framed file readers (plain and gzip, streaming or in memory) and a
//!   seeded generator of realistic, internally consistent trading days.
//! - [`market`]: the normalized [`market::MarketEvent`] (quote, level,
//!   trade, status) every source produces, and the [`market::MarketSink`]
//!   it goes into.
//! - [`book`]: [`book::ItchBookBuilder`], the order-by-order book of every
//!   stock built from ITCH, emitting `MarketEvent`s.
//! - [`synthetic`]: a seeded synthetic market of N symbols (random-walk
//!   quotes and trades at a configured rate).
//! - [`replay`]: an ITCH file through feed thread, ring, matcher thread
//!   (paper instruments) and outbound ring, with client orders from a
//!   script merged in by time.
//! - [`thread`]: pinned feed threads pushing `MarketEvent`s into an SPSC
//!   ring, paced as fast as possible, in real time or at xN.
//!
//! The decoders take untrusted bytes: they never panic, never allocate per
//! message, and report every malformed input as a [`itch::DecodeError`]
//! naming its byte offset. The codec depends on nothing of the engine, so
//! it can be reused and fuzzed on its own; `market` onward use the
//! engine's stable domain types (`Nanos`, `SymbolId`, `Side`) only.
#![deny(missing_docs)]

pub mod book;
pub mod itch;
pub mod market;
pub mod replay;
pub mod synthetic;
pub mod thread;
