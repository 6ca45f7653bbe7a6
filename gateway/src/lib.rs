//! The client gateway of OPTIX core.
//!
//! Planned (see `ARCHITECTURE.md`, "Gateway and protocol"): the binary
//! protocol codec and the sans-IO session logic (login with an API key,
//! sequence numbers, heartbeats, throttles, cancel-on-disconnect) in a
//! `gateway/proto` crate, and the QUIC (quinn, TLS 1.3) and WebSocket
//! transports, the dispatcher and the journal writer here. Nothing is
//! built yet: the crate only fixes its place in the dependency order
//! (it may depend on every crate but `bench` and `tools`).
#![deny(missing_docs)]

pub use optix_engine as engine;
