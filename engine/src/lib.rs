//! The OPTIX engine: domain types, order books, matching, and the
//! deterministic `Engine<R: PreTradeCheck>` state machine.
//!
//! - [`types`]: fixed-point `Price` (ticks), `Qty` (lots), `Money` (six
//!   decimals), ids, sides, order types, instruments, decimal text at the edges.
//! - [`reason`]: `RejectReason` and `CancelReason`.
//! - [`event`]: inputs (commands) and events, and the `EventSink` trait.
//! - [`check`]: the `PreTradeCheck` trait and the `Permissive` check.
//! - [`engine`]: the state machine.
//! - [`scenario`]: the scenario script language (parsing and JSON output).
//! - [`market`]: normalized market data events and their conversion from
//!   feed units into engine inputs.
//! - [`runtime`]: the matcher thread: owns an engine, polls input rings,
//!   publishes events to an outbound ring.
#![deny(missing_docs)]

pub mod account;
mod book;
pub mod check;
pub mod engine;
pub mod event;
pub mod fill;
mod idmap;
pub mod market;
pub mod reason;
pub mod runtime;
pub mod scenario;
pub mod types;

pub use account::FeeModel;
pub use book::MAX_SYMBOLS;
pub use check::{CheckKind, OrderCheck, Permissive, PreTradeCheck, RiskConfig, RiskLimits};
pub use engine::{AccountReport, AccountSpec, Engine, EngineConfig, PositionReport, MAX_RESERVE_PARTS, PREFETCH_NEAR};
pub use event::*;
pub use fill::{FillModel, QuoteFill, Reach};
pub use reason::{CancelReason, RejectReason};
pub use types::*;
