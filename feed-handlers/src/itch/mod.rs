//! NASDAQ TotalView-ITCH 5.0: a zero-copy decoder and an encoder for all 23
//! message types, readers for framed files (plain or gzip), and a seeded
//! generator of realistic trading days.
//!
//! Layout:
//! - [`wire`]: big-endian fields, [`Stock`], the 11-byte [`Header`].
//! - [`message`]: one `Copy` struct per message type, [`Message`],
//!   [`MessageKind`], decode ([`Message::decode`]) and encode
//!   ([`Message::encode`], [`Message::encode_framed`]), the [`Handler`]
//!   trait for the fastest consumption.
//! - [`frame`]: the 2-byte length framing of distribution files:
//!   [`Frames`] over a buffer in memory, [`ItchReader`] streaming any
//!   [`std::io::Read`], gzip detected by magic bytes or a `.gz` name.
//!
//! ```
//! use optix_feed::itch::{gen, Frames, Handler, ItchMessage, Message};
//!
//! let (day, mix) = gen::generate_vec(1_000, 7);
//! // Simplest: an iterator of `Result<Message, DecodeError>`.
//! let adds = Frames::new(&day)
//!     .filter(|m| matches!(m, Ok(Message::AddOrder(_))))
//!     .count() as u64;
//! assert_eq!(adds, mix.count(optix_feed::itch::MessageKind::AddOrder));
//! // Fastest: a handler called with each message's concrete type.
//! struct Checksum(u64);
//! impl Handler for Checksum {
//!     fn on<M: ItchMessage>(&mut self, _offset: u64, m: M) {
//!         self.0 = self.0.wrapping_add(m.field_sum());
//!     }
//! }
//! let mut v = Checksum(0);
//! assert_eq!(Frames::new(&day).dispatch(&mut v).unwrap(), 1_000);
//! ```
//! - [`mix`]: message counts per type ([`Mix`]).
//! - [`gen`]: the generator ([`gen::generate`], [`gen::Generator`]).
//! - [`error`]: [`DecodeError`], [`EncodeError`].
//!
//! Invariants: no input makes the decoder panic; a decoded message borrows
//! nothing and allocates nothing; `decode(encode(m)) == m` for every message
//! whose timestamp fits 48 bits (proptest and fuzz tested).
//!
//! Complexity: O(1) per message; a whole file in O(file) time and, with
//! [`ItchReader`], O(1) memory.
//!
//! Limits: ITCH 5.0 only (the 4.x layouts differ); no MoldUDP64 or
//! SoupBinTCP session layer, only the file framing.

pub mod error;
pub mod frame;
pub mod gen;
pub mod message;
pub mod mix;
pub mod wire;

pub use error::{DecodeError, EncodeError};
pub use frame::{AutoSource, Frames, ItchReader, FRAME_PREFIX_LEN};
pub use message::*;
pub use mix::Mix;
pub use wire::{FieldLayout, Header, Stock, Wire, HEADER_LEN};
