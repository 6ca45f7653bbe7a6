//! The 23 message types of NASDAQ TotalView-ITCH 5.0: one `Copy` struct per
//! type, the [`Message`] enum over all of them, their decoder and encoder,
//! and the [`Handler`] trait that receives decoded messages with their
//! concrete type.
//!
//! Layout: each struct lists its fields with their byte offsets from the
//! type byte, as in the specification's tables; bytes 0..11 are the common
//! [`Header`]. Integers are big-endian; prices are `u32` with 4 implied
//! decimals (`Price(4)`), except the MWCB decline levels which are `u64`
//! with 8 implied decimals (`Price(8)`); alpha codes are kept as raw bytes
//! (`u8`, `[u8; N]`, [`Stock`]) so that any byte round-trips and a new code
//! value in a future feed is never a decode error. Each type's `LAYOUT` is
//! checked at compile time to be contiguous and to end at its `LEN`.
//!
//! Invariants: decoding reads a message whose length has been checked
//! against its type once, by converting the slice to `&[u8; LEN]`; every
//! field is then read at a constant offset, so the compiler drops the bounds
//! checks, and no input can panic. Encoding writes exactly `LEN` bytes.
//!
//! Complexity: O(1) per message, no allocation, no copy beyond the fields
//! themselves (the decoded struct is built straight from the borrowed
//! bytes). Two ways out of the decoder: a [`Message`] value (one dispatch on
//! the type byte to build it, and one more in the consumer's `match`), or
//! a [`Handler`] called with the concrete struct from the arm of the type
//! dispatch (one dispatch in all: about twice as fast on a random mix, where
//! the indirect branch on the type is the main cost).
//!
//! Limits: timestamps are 48 bits; [`Message::encode`] rejects larger ones.

use super::error::{self, DecodeError, EncodeError};
use super::wire::{check_layout, FieldLayout, Header, Stock, Wire};

macro_rules! itch_messages {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident($method:ident) = $tb:literal, $len:literal {
            $( $(#[doc = $fdoc:literal])* $field:ident : $fty:ty = $off:literal, )*
        }
    )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub struct $name {
                /// Stock locate, tracking number and timestamp.
                pub header: Header,
                $( $(#[doc = $fdoc])* pub $field: $fty, )*
            }

            impl $name {
                /// The message type byte.
                pub const TYPE: u8 = $tb;
                /// Length on the wire, type byte included, framing excluded.
                pub const LEN: usize = $len;
                /// The fields after the header: name, offset, width.
                pub const LAYOUT: &'static [FieldLayout] = &[
                    $( FieldLayout { name: stringify!($field), offset: $off, width: <$fty as Wire>::WIDTH }, )*
                ];

                /// Decodes the message from exactly [`Self::LEN`] bytes. The
                /// type byte is not checked (the dispatcher has read it).
                #[inline(always)]
                pub fn decode_array(b: &[u8; $len]) -> Self {
                    Self {
                        header: Header::get(b),
                        $( $field: <$fty as Wire>::get(b, $off), )*
                    }
                }

                /// Encodes the message into exactly [`Self::LEN`] bytes,
                /// type byte included. The timestamp must fit 48 bits (its
                /// low 48 bits are written); [`Message::encode`] checks it.
                #[inline]
                pub fn encode_array(&self, b: &mut [u8; $len]) {
                    b[0] = $tb;
                    self.header.put(b);
                    $( Wire::put(self.$field, b, $off); )*
                }

                /// Wrapping sum of every field (header included), each read
                /// as an unsigned integer (alpha fields big-endian).
                #[inline(always)]
                pub fn field_sum(&self) -> u64 {
                    self.header.field_sum()
                        $( .wrapping_add(Wire::to_u64(self.$field)) )*
                }
            }

            impl ItchMessage for $name {
                const KIND: MessageKind = MessageKind::$name;
                #[inline(always)]
                fn header(&self) -> &Header {
                    &self.header
                }
                #[inline(always)]
                fn field_sum(&self) -> u64 {
                    $name::field_sum(self)
                }
                #[inline(always)]
                fn into_message(self) -> Message {
                    Message::$name(self)
                }
                #[inline(always)]
                fn deliver<H: Handler>(self, offset: u64, h: &mut H) {
                    h.$method(offset, self);
                }
            }

            impl From<$name> for Message {
                #[inline]
                fn from(m: $name) -> Message {
                    Message::$name(m)
                }
            }

            const _: () = check_layout($name::LAYOUT, $len);
        )*

        /// The kind of an ITCH 5.0 message, without its fields.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MessageKind {
            $( $(#[doc = $doc])* $name, )*
        }

        impl MessageKind {
            /// Every kind, in specification order ([`MessageKind::index`]).
            pub const ALL: [MessageKind; MESSAGE_KINDS] = [ $( MessageKind::$name, )* ];

            /// The kind of a type byte, `None` if it is not ITCH 5.0.
            #[inline]
            pub const fn from_type(t: u8) -> Option<MessageKind> {
                match t {
                    $( $tb => Some(MessageKind::$name), )*
                    _ => None,
                }
            }

            /// The type byte on the wire.
            #[inline]
            pub const fn type_byte(self) -> u8 {
                match self { $( MessageKind::$name => $tb, )* }
            }

            /// Length on the wire, type byte included, framing excluded.
            #[inline]
            pub const fn encoded_len(self) -> usize {
                match self { $( MessageKind::$name => $len, )* }
            }

            /// The Rust name of the type, e.g. `"AddOrder"`.
            pub const fn name(self) -> &'static str {
                match self { $( MessageKind::$name => stringify!($name), )* }
            }

            /// The field layout after the header.
            pub const fn layout(self) -> &'static [FieldLayout] {
                match self { $( MessageKind::$name => $name::LAYOUT, )* }
            }

            /// Position in [`MessageKind::ALL`], for per-kind tables.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }
        }

        /// One decoded ITCH 5.0 message: a small `Copy` value built straight
        /// from the wire bytes, no allocation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Message {
            $( $(#[doc = $doc])* $name($name), )*
        }

        impl Message {
            /// The message's kind.
            #[inline]
            pub fn kind(&self) -> MessageKind {
                match self { $( Message::$name(_) => MessageKind::$name, )* }
            }

            /// The common header.
            #[inline]
            pub fn header(&self) -> &Header {
                match self { $( Message::$name(m) => &m.header, )* }
            }

            /// Hands the message to [`Handler::on`] with its concrete type.
            #[inline]
            pub fn visit<H: Handler>(self, offset: u64, h: &mut H) {
                match self { $( Message::$name(m) => h.on(offset, m), )* }
            }

            /// The common header, to change it.
            #[inline]
            pub fn header_mut(&mut self) -> &mut Header {
                match self { $( Message::$name(m) => &mut m.header, )* }
            }

            /// Wrapping sum of every field of the message, each read as an
            /// unsigned integer (alpha fields as big-endian integers): a
            /// checksum that touches every field.
            #[inline]
            pub fn field_sum(&self) -> u64 {
                match self { $( Message::$name(m) => m.field_sum(), )* }
            }

            /// Writes the message (type byte first, no framing) at the start
            /// of `out` and returns its length.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
                let ts = self.header().timestamp_ns;
                if ts > Header::TIMESTAMP_MAX {
                    return Err(EncodeError::TimestampOutOfRange { timestamp_ns: ts });
                }
                let got = out.len();
                match self {
                    $( Message::$name(m) => {
                        let dst = out.get_mut(..$len).and_then(|d| <&mut [u8; $len]>::try_from(d).ok());
                        match dst {
                            Some(d) => m.encode_array(d),
                            None => return Err(EncodeError::BufferTooSmall { needed: $len, got }),
                        }
                        Ok($len)
                    } )*
                }
            }
        }

        /// Receives decoded messages: the fastest way to consume a stream
        /// ([`crate::itch::Frames::dispatch`],
        /// [`crate::itch::ItchReader::dispatch`]).
        ///
        /// The decoder calls [`Handler::on`] with the concrete message type
        /// straight from its dispatch on the type byte, so the consumer's
        /// code for that type is inlined there and no generic [`Message`]
        /// is built and matched a second time. Override one level:
        /// - [`Handler::on`]: one generic method for every type (e.g. a
        ///   checksum over [`ItchMessage::field_sum`]);
        /// - the per-type methods (`on_add_order`, ...): by default `on`
        ///   forwards to them;
        /// - [`Handler::on_message`]: the simplest, one method taking the
        ///   [`Message`] enum; by default every per-type method forwards
        ///   to it.
        pub trait Handler {
            /// Called for every message, with its concrete type; `offset`
            /// is the stream offset of its frame. By default forwards to
            /// the method of the message's type.
            #[inline(always)]
            fn on<M: ItchMessage>(&mut self, offset: u64, message: M)
            where
                Self: Sized,
            {
                message.deliver(offset, self);
            }

            /// Called for every message whose type's method is not
            /// overridden. Does nothing by default.
            fn on_message(&mut self, offset: u64, message: Message) {
                let _ = (offset, message);
            }
            $(
                #[doc = concat!("Called for each [`", stringify!($name), "`]; by default forwards to [`Handler::on_message`].")]
                #[inline(always)]
                fn $method(&mut self, offset: u64, message: $name) {
                    self.on_message(offset, Message::$name(message));
                }
            )*
        }

        /// Decodes one framed message body and hands it to the handler
        /// with its concrete type; `false` (and nothing handed) if the body
        /// is not a valid message, which [`decode_body`] then explains.
        #[inline(always)]
        pub(crate) fn dispatch_body<H: Handler>(buf: &[u8], offset: u64, h: &mut H) -> bool {
            let Some(&t) = buf.first() else {
                return false;
            };
            match t {
                $( $tb => match <&[u8; $len]>::try_from(buf) {
                    Ok(b) => {
                        h.on(offset, $name::decode_array(b));
                        true
                    }
                    Err(_) => false,
                }, )*
                _ => false,
            }
        }

        /// Decodes one message body; `offset` and `framed` only shape the
        /// error.
        #[inline(always)]
        pub(crate) fn decode_body(buf: &[u8], offset: u64, framed: bool) -> Result<Message, DecodeError> {
            let Some(&t) = buf.first() else {
                return Err(error::empty_frame(offset));
            };
            match t {
                $( $tb => match <&[u8; $len]>::try_from(buf) {
                    Ok(b) => Ok(Message::$name($name::decode_array(b))),
                    Err(_) => Err(error::wrong_length(offset, t, buf.len(), $len, framed)),
                }, )*
                _ => Err(error::unknown_type(offset, t)),
            }
        }
    };
}

/// What every message struct has in common, for code generic over the
/// message type (see [`Handler::on`]).
pub trait ItchMessage: Copy + Into<Message> {
    /// The message's kind.
    const KIND: MessageKind;
    /// The common header.
    fn header(&self) -> &Header;
    /// Wrapping sum of every field (header included), each read as an
    /// unsigned integer (alpha fields big-endian).
    fn field_sum(&self) -> u64;
    /// The message as the [`Message`] enum.
    fn into_message(self) -> Message;
    /// Calls the [`Handler`] method of this message's type.
    fn deliver<H: Handler>(self, offset: u64, h: &mut H);
}

/// Number of ITCH 5.0 message types.
pub const MESSAGE_KINDS: usize = 23;

/// The longest ITCH 5.0 message (Net Order Imbalance Indicator), in bytes.
pub const MAX_MESSAGE_LEN: usize = 50;

itch_messages! {
    /// System Event (`S`): start/end of messages, system hours, market hours.
    SystemEvent(on_system_event) = b'S', 12 {
        /// `O` start of messages, `S` start of system hours, `Q` start of
        /// market hours, `M` end of market hours, `E` end of system hours,
        /// `C` end of messages.
        event_code: u8 = 11,
    }
    /// Stock Directory (`R`): one per security at the start of the day.
    StockDirectory(on_stock_directory) = b'R', 39 {
        /// The security's symbol.
        stock: Stock = 11,
        /// Listing market: `Q`, `G`, `S`, `N`, `A`, `P`, `Z`, `V`, space.
        market_category: u8 = 19,
        /// Financial status indicator (`D`, `E`, `Q`, `S`, `G`, `H`, `J`,
        /// `K`, `C`, `N`, space).
        financial_status: u8 = 20,
        /// Round lot size in shares.
        round_lot_size: u32 = 21,
        /// `Y` if only round lots are accepted, else `N`.
        round_lots_only: u8 = 25,
        /// Issue classification code.
        issue_classification: u8 = 26,
        /// Issue sub-type code.
        issue_sub_type: [u8; 2] = 27,
        /// `P` live/production, `T` test.
        authenticity: u8 = 29,
        /// Short sale threshold indicator: `Y`, `N`, space.
        short_sale_threshold: u8 = 30,
        /// IPO flag: `Y`, `N`, space.
        ipo_flag: u8 = 31,
        /// LULD reference price tier: `1`, `2`, space.
        luld_reference_price_tier: u8 = 32,
        /// ETP flag: `Y`, `N`, space.
        etp_flag: u8 = 33,
        /// ETP leverage factor (integer).
        etp_leverage_factor: u32 = 34,
        /// Inverse ETP: `Y` or `N`.
        inverse_indicator: u8 = 38,
    }
    /// Stock Trading Action (`H`): halts, pauses, quotation-only, trading.
    StockTradingAction(on_stock_trading_action) = b'H', 25 {
        /// The security's symbol.
        stock: Stock = 11,
        /// `H` halted, `P` paused, `Q` quotation only, `T` trading.
        trading_state: u8 = 19,
        /// Reserved byte.
        reserved: u8 = 20,
        /// Reason code, space padded.
        reason: [u8; 4] = 21,
    }
    /// Reg SHO Short Sale Price Test Restricted Indicator (`Y`).
    RegShoRestriction(on_reg_sho_restriction) = b'Y', 20 {
        /// The security's symbol.
        stock: Stock = 11,
        /// `0` no test, `1` in effect (intra-day drop), `2` remains in effect.
        reg_sho_action: u8 = 19,
    }
    /// Market Participant Position (`L`).
    MarketParticipantPosition(on_market_participant_position) = b'L', 26 {
        /// The market participant's MPID.
        mpid: [u8; 4] = 11,
        /// The security's symbol.
        stock: Stock = 15,
        /// `Y` primary market maker, else `N`.
        primary_market_maker: u8 = 23,
        /// `N` normal, `P` passive, `S` syndicate, `R` pre-syndicate, `L` penalty.
        market_maker_mode: u8 = 24,
        /// `A` active, `E` excused, `W` withdrawn, `S` suspended, `D` deleted.
        market_participant_state: u8 = 25,
    }
    /// Market-Wide Circuit Breaker Decline Level (`V`).
    MwcbDeclineLevel(on_mwcb_decline_level) = b'V', 35 {
        /// Level 1 (`Price(8)`: 8 implied decimals).
        level1: u64 = 11,
        /// Level 2 (`Price(8)`).
        level2: u64 = 19,
        /// Level 3 (`Price(8)`).
        level3: u64 = 27,
    }
    /// Market-Wide Circuit Breaker Status (`W`).
    MwcbStatus(on_mwcb_status) = b'W', 12 {
        /// The level breached: `1`, `2` or `3`.
        breached_level: u8 = 11,
    }
    /// IPO Quoting Period Update (`K`).
    IpoQuotingPeriodUpdate(on_ipo_quoting_period_update) = b'K', 28 {
        /// The security's symbol.
        stock: Stock = 11,
        /// Quotation release time, seconds since midnight.
        release_time_s: u32 = 19,
        /// `A` anticipated release time, `C` IPO release cancelled/postponed.
        release_qualifier: u8 = 23,
        /// IPO price (`Price(4)`).
        ipo_price: u32 = 24,
    }
    /// Limit Up – Limit Down Auction Collar (`J`).
    LuldAuctionCollar(on_luld_auction_collar) = b'J', 35 {
        /// The security's symbol.
        stock: Stock = 11,
        /// Reference price of the collar (`Price(4)`).
        reference_price: u32 = 19,
        /// Upper auction collar price (`Price(4)`).
        upper_price: u32 = 23,
        /// Lower auction collar price (`Price(4)`).
        lower_price: u32 = 27,
        /// Number of extensions of the reopening auction.
        extension: u32 = 31,
    }
    /// Operational Halt (`h`).
    OperationalHalt(on_operational_halt) = b'h', 21 {
        /// The security's symbol.
        stock: Stock = 11,
        /// `Q` Nasdaq, `B` BX, `X` PSX.
        market_code: u8 = 19,
        /// `H` halted, `T` halt lifted.
        action: u8 = 20,
    }
    /// Add Order, no MPID attribution (`A`).
    AddOrder(on_add_order) = b'A', 36 {
        /// Order reference number, unique for the day.
        order_ref: u64 = 11,
        /// `B` buy, `S` sell.
        side: u8 = 19,
        /// Displayed shares.
        shares: u32 = 20,
        /// The security's symbol.
        stock: Stock = 24,
        /// Limit price (`Price(4)`).
        price: u32 = 32,
    }
    /// Add Order with MPID attribution (`F`).
    AddOrderMpid(on_add_order_mpid) = b'F', 40 {
        /// Order reference number, unique for the day.
        order_ref: u64 = 11,
        /// `B` buy, `S` sell.
        side: u8 = 19,
        /// Displayed shares.
        shares: u32 = 20,
        /// The security's symbol.
        stock: Stock = 24,
        /// Limit price (`Price(4)`).
        price: u32 = 32,
        /// The attributed market participant.
        attribution: [u8; 4] = 36,
    }
    /// Order Executed (`E`), at the order's own price.
    OrderExecuted(on_order_executed) = b'E', 31 {
        /// The executed order.
        order_ref: u64 = 11,
        /// Shares executed.
        executed_shares: u32 = 19,
        /// Match number of the execution.
        match_number: u64 = 23,
    }
    /// Order Executed With Price (`C`), at a price other than the order's.
    OrderExecutedWithPrice(on_order_executed_with_price) = b'C', 36 {
        /// The executed order.
        order_ref: u64 = 11,
        /// Shares executed.
        executed_shares: u32 = 19,
        /// Match number of the execution.
        match_number: u64 = 23,
        /// `Y` printable (counts in volume), `N` not.
        printable: u8 = 31,
        /// Execution price (`Price(4)`).
        execution_price: u32 = 32,
    }
    /// Order Cancel (`X`): part of an order's shares cancelled.
    OrderCancel(on_order_cancel) = b'X', 23 {
        /// The order reduced.
        order_ref: u64 = 11,
        /// Shares removed.
        cancelled_shares: u32 = 19,
    }
    /// Order Delete (`D`): the rest of an order removed.
    OrderDelete(on_order_delete) = b'D', 19 {
        /// The order removed.
        order_ref: u64 = 11,
    }
    /// Order Replace (`U`): cancel-replace onto a new reference number.
    OrderReplace(on_order_replace) = b'U', 35 {
        /// The order replaced.
        original_order_ref: u64 = 11,
        /// The replacing order's reference number.
        new_order_ref: u64 = 19,
        /// Displayed shares of the new order.
        shares: u32 = 27,
        /// Limit price of the new order (`Price(4)`).
        price: u32 = 31,
    }
    /// Trade, non-cross (`P`): an execution of a non-displayed order.
    Trade(on_trade) = b'P', 44 {
        /// The order reference number (0 for non-display orders).
        order_ref: u64 = 11,
        /// `B` buy, `S` sell (the non-display order's side).
        side: u8 = 19,
        /// Shares traded.
        shares: u32 = 20,
        /// The security's symbol.
        stock: Stock = 24,
        /// Trade price (`Price(4)`).
        price: u32 = 32,
        /// Match number of the trade.
        match_number: u64 = 36,
    }
    /// Cross Trade (`Q`): the bulk print of an opening, closing, IPO or
    /// halt cross.
    CrossTrade(on_cross_trade) = b'Q', 40 {
        /// Shares matched in the cross.
        shares: u64 = 11,
        /// The security's symbol.
        stock: Stock = 19,
        /// Cross price (`Price(4)`).
        cross_price: u32 = 27,
        /// Match number of the cross.
        match_number: u64 = 31,
        /// `O` opening, `C` closing, `H` IPO/halted, `I` intraday.
        cross_type: u8 = 39,
    }
    /// Broken Trade (`B`): an execution broken by Nasdaq.
    BrokenTrade(on_broken_trade) = b'B', 19 {
        /// Match number of the broken execution.
        match_number: u64 = 11,
    }
    /// Net Order Imbalance Indicator (`I`), before crosses.
    Noii(on_noii) = b'I', 50 {
        /// Shares paired at the current reference price.
        paired_shares: u64 = 11,
        /// Shares not paired.
        imbalance_shares: u64 = 19,
        /// `B` buy, `S` sell, `N` none, `O` insufficient orders.
        imbalance_direction: u8 = 27,
        /// The security's symbol.
        stock: Stock = 28,
        /// Far (hypothetical cross) price (`Price(4)`).
        far_price: u32 = 36,
        /// Near price (`Price(4)`).
        near_price: u32 = 40,
        /// Current reference price (`Price(4)`).
        current_reference_price: u32 = 44,
        /// `O` opening, `C` closing, `H` IPO/halted.
        cross_type: u8 = 48,
        /// Price variation indicator: `L`, `1`-`9`, `A`, `B`, `C`, space.
        price_variation_indicator: u8 = 49,
    }
    /// Retail Price Improvement Indicator (`N`).
    RetailInterest(on_retail_interest) = b'N', 20 {
        /// The security's symbol.
        stock: Stock = 11,
        /// `B` buy side, `S` sell side, `A` both, `N` none.
        interest_flag: u8 = 19,
    }
    /// Direct Listing with Capital Raise Price Discovery (`O`).
    DirectListingPriceDiscovery(on_direct_listing_price_discovery) = b'O', 48 {
        /// The security's symbol.
        stock: Stock = 11,
        /// `Y` eligible to open, `N` not.
        open_eligibility_status: u8 = 19,
        /// Minimum allowable price (`Price(4)`).
        min_allowable_price: u32 = 20,
        /// Maximum allowable price (`Price(4)`).
        max_allowable_price: u32 = 24,
        /// Near execution price (`Price(4)`).
        near_execution_price: u32 = 28,
        /// Time the near execution price was set (8-byte integer,
        /// nanoseconds since midnight).
        near_execution_time_ns: u64 = 32,
        /// Lower price range collar (`Price(4)`).
        lower_price_range_collar: u32 = 40,
        /// Upper price range collar (`Price(4)`).
        upper_price_range_collar: u32 = 44,
    }
}

const _: () = assert!(MessageKind::ALL.len() == MESSAGE_KINDS);
const _: () = {
    let mut i = 0;
    let mut max = 0;
    while i < MESSAGE_KINDS {
        assert!(MessageKind::ALL[i].index() == i);
        if MessageKind::ALL[i].encoded_len() > max {
            max = MessageKind::ALL[i].encoded_len();
        }
        i += 1;
    }
    assert!(max == MAX_MESSAGE_LEN);
};
// The decoded value stays small enough to pass in registers/one cache line.
const _: () = assert!(std::mem::size_of::<Message>() <= 64);

impl Message {
    /// Decodes one bare message (type byte first, no length prefix) from
    /// exactly its bytes. A shorter buffer is [`DecodeError::Truncated`], a
    /// longer one [`DecodeError::LengthMismatch`]; offsets are 0.
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        decode_body(buf, 0, false)
    }

    /// Length on the wire, type byte included, framing excluded.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        self.kind().encoded_len()
    }

    /// Appends the message in the distribution framing: a 2-byte
    /// big-endian length, then the message.
    pub fn encode_framed(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.encoded_len();
        let start = out.len();
        // `len <= MAX_MESSAGE_LEN`, so the prefix always fits a u16.
        out.extend_from_slice(&[0u8; 2 + MAX_MESSAGE_LEN][..2 + len]);
        out[start..start + 2].copy_from_slice(&(len as u16).to_be_bytes());
        match self.encode(&mut out[start + 2..]) {
            Ok(_) => Ok(()),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }
}

impl MessageKind {
    /// The type byte as a character, e.g. `'A'`.
    pub const fn type_char(self) -> char {
        self.type_byte() as char
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr() -> Header {
        Header { stock_locate: 0x0102, tracking_number: 0x0304, timestamp_ns: 0x0506_0708_090A }
    }

    /// The Add Order layout byte by byte, written from the specification
    /// table, independent of the encoder.
    #[test]
    fn add_order_golden_bytes() {
        let mut wire = vec![b'A', 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A];
        wire.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        wire.push(b'B');
        wire.extend_from_slice(&100u32.to_be_bytes());
        wire.extend_from_slice(b"AAPL    ");
        wire.extend_from_slice(&1_502_500u32.to_be_bytes());
        assert_eq!(wire.len(), 36);
        let m = Message::decode(&wire).unwrap();
        let want = AddOrder {
            header: hdr(),
            order_ref: 0x1122_3344_5566_7788,
            side: b'B',
            shares: 100,
            stock: Stock::new("AAPL").unwrap(),
            price: 1_502_500,
        };
        assert_eq!(m, Message::AddOrder(want));
        let mut out = [0u8; 64];
        assert_eq!(m.encode(&mut out), Ok(36));
        assert_eq!(&out[..36], &wire[..]);
    }

    /// NOII, the longest message: every offset from the specification.
    #[test]
    fn noii_golden_bytes() {
        let mut wire = vec![b'I', 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A];
        wire.extend_from_slice(&1000u64.to_be_bytes()); // paired @11
        wire.extend_from_slice(&250u64.to_be_bytes()); // imbalance @19
        wire.push(b'S'); // direction @27
        wire.extend_from_slice(b"MSFT    "); // stock @28
        wire.extend_from_slice(&1u32.to_be_bytes()); // far @36
        wire.extend_from_slice(&2u32.to_be_bytes()); // near @40
        wire.extend_from_slice(&3u32.to_be_bytes()); // ref @44
        wire.push(b'C'); // cross type @48
        wire.push(b'L'); // variation @49
        assert_eq!(wire.len(), MAX_MESSAGE_LEN);
        let Message::Noii(n) = Message::decode(&wire).unwrap() else { panic!("not a NOII") };
        assert_eq!(
            (n.paired_shares, n.imbalance_shares, n.imbalance_direction, n.far_price, n.near_price),
            (1000, 250, b'S', 1, 2)
        );
        assert_eq!((n.current_reference_price, n.cross_type, n.price_variation_indicator), (3, b'C', b'L'));
        assert_eq!(n.stock.trimmed(), b"MSFT");
    }

    #[test]
    fn lengths_match_the_specification() {
        let want: [(u8, usize); MESSAGE_KINDS] = [
            (b'S', 12),
            (b'R', 39),
            (b'H', 25),
            (b'Y', 20),
            (b'L', 26),
            (b'V', 35),
            (b'W', 12),
            (b'K', 28),
            (b'J', 35),
            (b'h', 21),
            (b'A', 36),
            (b'F', 40),
            (b'E', 31),
            (b'C', 36),
            (b'X', 23),
            (b'D', 19),
            (b'U', 35),
            (b'P', 44),
            (b'Q', 40),
            (b'B', 19),
            (b'I', 50),
            (b'N', 20),
            (b'O', 48),
        ];
        for (kind, (t, len)) in MessageKind::ALL.iter().zip(want) {
            assert_eq!((kind.type_byte(), kind.encoded_len()), (t, len), "{}", kind.name());
            assert_eq!(MessageKind::from_type(t), Some(*kind));
        }
        let known: Vec<u8> = (0..=255u8).filter(|&t| MessageKind::from_type(t).is_some()).collect();
        assert_eq!(known.len(), MESSAGE_KINDS);
    }

    #[test]
    fn bare_decode_errors() {
        assert!(matches!(Message::decode(&[]), Err(DecodeError::EmptyFrame { offset: 0 })));
        assert!(matches!(Message::decode(b"Z"), Err(DecodeError::UnknownType { offset: 0, msg_type: b'Z' })));
        assert!(matches!(
            Message::decode(&[b'D'; 10]),
            Err(DecodeError::Truncated { offset: 0, expected: 19, got: 10 })
        ));
        assert!(matches!(
            Message::decode(&[b'D'; 20]),
            Err(DecodeError::LengthMismatch { offset: 0, msg_type: b'D', framed: 20, expected: 19 })
        ));
    }

    #[test]
    fn encode_errors() {
        let m = Message::OrderDelete(OrderDelete { header: hdr(), order_ref: 1 });
        let mut small = [0u8; 18];
        assert_eq!(m.encode(&mut small), Err(EncodeError::BufferTooSmall { needed: 19, got: 18 }));
        let mut h = hdr();
        h.timestamp_ns = 1 << 48;
        let bad = Message::OrderDelete(OrderDelete { header: h, order_ref: 1 });
        let mut v = vec![9u8];
        assert_eq!(bad.encode_framed(&mut v), Err(EncodeError::TimestampOutOfRange { timestamp_ns: 1 << 48 }));
        assert_eq!(v, vec![9u8], "a failed encode leaves the buffer as it was");
        m.encode_framed(&mut v).unwrap();
        assert_eq!(&v[1..3], &[0, 19]);
        assert_eq!(v[3], b'D');
        assert_eq!(v.len(), 1 + 2 + 19);
    }

    #[test]
    fn field_sum_reads_every_field() {
        let m = CrossTrade {
            header: Header { stock_locate: 1, tracking_number: 2, timestamp_ns: 3 },
            shares: 4,
            stock: Stock([0, 0, 0, 0, 0, 0, 0, 5]),
            cross_price: 6,
            match_number: 7,
            cross_type: 8,
        };
        assert_eq!(Message::from(m).field_sum(), 36);
    }
}
