//! Pre-trade risk for OPTIX core.
//!
//! This crate will hold `StandardRisk`, the limit checks behind the
//! engine's `PreTradeCheck` trait (order size, notional, price collar, open
//! orders, position, buying power, throttle, restricted symbols), with
//! plain-data state a snapshot can hold. Until it lands, the engine runs
//! with `optix_engine::Permissive`, and scripts that set `limits` stop with
//! "not supported yet".
//!
//! The dependency points one way: `risk` depends on `engine`, and the
//! engine is generic over the check, so risk runs inline with static
//! dispatch.
#![deny(missing_docs)]

pub use optix_engine::{OrderCheck, Permissive, PreTradeCheck, RejectReason};
