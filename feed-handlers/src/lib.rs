//! `optix-feed`: market data decoders of OPTIX core.
//!
//! - [`itch`]: NASDAQ TotalView-ITCH 5.0 codec (all 23 message types),
//!   framed file readers (plain and gzip, streaming or in memory) and a
//!   seeded generator of realistic, internally consistent trading days.
//!
//! The decoders take untrusted bytes: they never panic, never allocate per
//! message, and report every malformed input as a [`itch::DecodeError`]
//! naming its byte offset. They depend on nothing of the engine, so the
//! codec can be reused and fuzzed on its own.
#![deny(missing_docs)]

pub mod itch;
