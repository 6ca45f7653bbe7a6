//! Property tests: encoder -> decoder round trips for every ITCH 5.0 message
//! type with arbitrary field values, and the bytes -> message -> bytes
//! direction (every byte pattern of the right length is a valid message).

use optix_feed::itch::*;
use proptest::prelude::*;

fn header() -> impl Strategy<Value = Header> {
    (any::<u16>(), any::<u16>(), 0..=Header::TIMESTAMP_MAX).prop_map(|(stock_locate, tracking_number, timestamp_ns)| {
        Header { stock_locate, tracking_number, timestamp_ns }
    })
}

fn stock() -> impl Strategy<Value = Stock> {
    any::<[u8; 8]>().prop_map(Stock)
}

fn system_event() -> impl Strategy<Value = Message> {
    (header(), any::<u8>()).prop_map(|(header, event_code)| SystemEvent { header, event_code }.into())
}

fn stock_directory() -> impl Strategy<Value = Message> {
    (
        (header(), stock(), any::<u8>(), any::<u8>(), any::<u32>(), any::<u8>(), any::<u8>()),
        (any::<[u8; 2]>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u32>(), any::<u8>()),
    )
        .prop_map(|((header, stock, mc, fs, rls, rlo, ic), (ist, au, sst, ipo, luld, etp, lev, inv))| {
            StockDirectory {
                header,
                stock,
                market_category: mc,
                financial_status: fs,
                round_lot_size: rls,
                round_lots_only: rlo,
                issue_classification: ic,
                issue_sub_type: ist,
                authenticity: au,
                short_sale_threshold: sst,
                ipo_flag: ipo,
                luld_reference_price_tier: luld,
                etp_flag: etp,
                etp_leverage_factor: lev,
                inverse_indicator: inv,
            }
            .into()
        })
}

fn stock_trading_action() -> impl Strategy<Value = Message> {
    (header(), stock(), any::<u8>(), any::<u8>(), any::<[u8; 4]>()).prop_map(
        |(header, stock, trading_state, reserved, reason)| {
            StockTradingAction { header, stock, trading_state, reserved, reason }.into()
        },
    )
}

fn reg_sho() -> impl Strategy<Value = Message> {
    (header(), stock(), any::<u8>())
        .prop_map(|(header, stock, reg_sho_action)| RegShoRestriction { header, stock, reg_sho_action }.into())
}

fn market_participant_position() -> impl Strategy<Value = Message> {
    (header(), any::<[u8; 4]>(), stock(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(
        |(header, mpid, stock, primary_market_maker, market_maker_mode, market_participant_state)| {
            MarketParticipantPosition {
                header,
                mpid,
                stock,
                primary_market_maker,
                market_maker_mode,
                market_participant_state,
            }
            .into()
        },
    )
}

fn mwcb_decline() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u64>(), any::<u64>())
        .prop_map(|(header, level1, level2, level3)| MwcbDeclineLevel { header, level1, level2, level3 }.into())
}

fn mwcb_status() -> impl Strategy<Value = Message> {
    (header(), any::<u8>()).prop_map(|(header, breached_level)| MwcbStatus { header, breached_level }.into())
}

fn ipo_quoting() -> impl Strategy<Value = Message> {
    (header(), stock(), any::<u32>(), any::<u8>(), any::<u32>()).prop_map(
        |(header, stock, release_time_s, release_qualifier, ipo_price)| {
            IpoQuotingPeriodUpdate { header, stock, release_time_s, release_qualifier, ipo_price }.into()
        },
    )
}

fn luld_collar() -> impl Strategy<Value = Message> {
    (header(), stock(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(header, stock, reference_price, upper_price, lower_price, extension)| {
            LuldAuctionCollar { header, stock, reference_price, upper_price, lower_price, extension }.into()
        },
    )
}

fn operational_halt() -> impl Strategy<Value = Message> {
    (header(), stock(), any::<u8>(), any::<u8>())
        .prop_map(|(header, stock, market_code, action)| OperationalHalt { header, stock, market_code, action }.into())
}

fn add_order() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u8>(), any::<u32>(), stock(), any::<u32>()).prop_map(
        |(header, order_ref, side, shares, stock, price)| {
            AddOrder { header, order_ref, side, shares, stock, price }.into()
        },
    )
}

fn add_order_mpid() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u8>(), any::<u32>(), stock(), any::<u32>(), any::<[u8; 4]>()).prop_map(
        |(header, order_ref, side, shares, stock, price, attribution)| {
            AddOrderMpid { header, order_ref, side, shares, stock, price, attribution }.into()
        },
    )
}

fn order_executed() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
        |(header, order_ref, executed_shares, match_number)| {
            OrderExecuted { header, order_ref, executed_shares, match_number }.into()
        },
    )
}

fn order_executed_with_price() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u32>(), any::<u64>(), any::<u8>(), any::<u32>()).prop_map(
        |(header, order_ref, executed_shares, match_number, printable, execution_price)| {
            OrderExecutedWithPrice { header, order_ref, executed_shares, match_number, printable, execution_price }
                .into()
        },
    )
}

fn order_cancel() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u32>())
        .prop_map(|(header, order_ref, cancelled_shares)| OrderCancel { header, order_ref, cancelled_shares }.into())
}

fn order_delete() -> impl Strategy<Value = Message> {
    (header(), any::<u64>()).prop_map(|(header, order_ref)| OrderDelete { header, order_ref }.into())
}

fn order_replace() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
        |(header, original_order_ref, new_order_ref, shares, price)| {
            OrderReplace { header, original_order_ref, new_order_ref, shares, price }.into()
        },
    )
}

fn trade() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), any::<u8>(), any::<u32>(), stock(), any::<u32>(), any::<u64>()).prop_map(
        |(header, order_ref, side, shares, stock, price, match_number)| {
            Trade { header, order_ref, side, shares, stock, price, match_number }.into()
        },
    )
}

fn cross_trade() -> impl Strategy<Value = Message> {
    (header(), any::<u64>(), stock(), any::<u32>(), any::<u64>(), any::<u8>()).prop_map(
        |(header, shares, stock, cross_price, match_number, cross_type)| {
            CrossTrade { header, shares, stock, cross_price, match_number, cross_type }.into()
        },
    )
}

fn broken_trade() -> impl Strategy<Value = Message> {
    (header(), any::<u64>()).prop_map(|(header, match_number)| BrokenTrade { header, match_number }.into())
}

fn noii() -> impl Strategy<Value = Message> {
    (
        (header(), any::<u64>(), any::<u64>(), any::<u8>(), stock()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u8>(), any::<u8>()),
    )
        .prop_map(|((header, paired, imbalance, direction, stock), (far, near, reference, cross, variation))| {
            Noii {
                header,
                paired_shares: paired,
                imbalance_shares: imbalance,
                imbalance_direction: direction,
                stock,
                far_price: far,
                near_price: near,
                current_reference_price: reference,
                cross_type: cross,
                price_variation_indicator: variation,
            }
            .into()
        })
}

fn retail_interest() -> impl Strategy<Value = Message> {
    (header(), stock(), any::<u8>())
        .prop_map(|(header, stock, interest_flag)| RetailInterest { header, stock, interest_flag }.into())
}

fn direct_listing() -> impl Strategy<Value = Message> {
    (header(), stock(), any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>(), any::<u32>(), any::<u32>())
        .prop_map(|(header, stock, status, min, max, near, near_time, lower, upper)| {
            DirectListingPriceDiscovery {
                header,
                stock,
                open_eligibility_status: status,
                min_allowable_price: min,
                max_allowable_price: max,
                near_execution_price: near,
                near_execution_time_ns: near_time,
                lower_price_range_collar: lower,
                upper_price_range_collar: upper,
            }
            .into()
        })
}

/// Any message of any type, every field arbitrary.
fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        system_event(),
        stock_directory(),
        stock_trading_action(),
        reg_sho(),
        market_participant_position(),
        mwcb_decline(),
        mwcb_status(),
        ipo_quoting(),
        luld_collar(),
        operational_halt(),
        add_order(),
        add_order_mpid(),
        order_executed(),
        order_executed_with_price(),
        order_cancel(),
        order_delete(),
        order_replace(),
        trade(),
        cross_trade(),
        broken_trade(),
        noii(),
        retail_interest(),
        direct_listing(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn encode_then_decode_is_identity(m in message()) {
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let n = m.encode(&mut buf).unwrap();
        prop_assert_eq!(n, m.kind().encoded_len());
        prop_assert_eq!(buf[0], m.kind().type_byte());
        prop_assert_eq!(Message::decode(&buf[..n]).unwrap(), m);
        // Framed, through both readers.
        let mut framed = Vec::new();
        m.encode_framed(&mut framed).unwrap();
        prop_assert_eq!(framed.len(), 2 + n);
        prop_assert_eq!(&framed[2..], &buf[..n]);
        let all: Vec<Message> = Frames::new(&framed).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(all, vec![m]);
        let all: Vec<Message> = ItchReader::new(&framed[..]).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(all, vec![m]);
    }

    #[test]
    fn out_of_range_timestamps_are_rejected(m in message(), ts in (Header::TIMESTAMP_MAX + 1)..) {
        let mut m = m;
        m.header_mut().timestamp_ns = ts;
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        prop_assert_eq!(m.encode(&mut buf), Err(EncodeError::TimestampOutOfRange { timestamp_ns: ts }));
    }

    /// Every byte pattern of the right length decodes, and encodes back to
    /// the same bytes: the codec is a bijection per type.
    #[test]
    fn decode_then_encode_is_identity(kind in prop::sample::select(MessageKind::ALL.to_vec()), body in prop::collection::vec(any::<u8>(), MAX_MESSAGE_LEN)) {
        let mut wire = body;
        wire.truncate(kind.encoded_len());
        wire[0] = kind.type_byte();
        let m = Message::decode(&wire).unwrap();
        prop_assert_eq!(m.kind(), kind);
        let mut out = [0u8; MAX_MESSAGE_LEN];
        prop_assert_eq!(m.encode(&mut out), Ok(kind.encoded_len()));
        prop_assert_eq!(&out[..kind.encoded_len()], &wire[..]);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A stream of arbitrary messages reads back in order, whatever the
    /// streaming reader's buffer size.
    #[test]
    fn streams_round_trip(msgs in prop::collection::vec(message(), 0..64), capacity in 1usize..300) {
        let mut framed = Vec::new();
        for m in &msgs {
            m.encode_framed(&mut framed).unwrap();
        }
        let mem: Vec<Message> = Frames::new(&framed).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&mem, &msgs);
        let mut offsets = Vec::new();
        let mut streamed = Vec::new();
        let mut r = ItchReader::with_capacity(&framed[..], capacity);
        while let Some((off, m)) = r.next_with_offset().unwrap() {
            offsets.push(off);
            streamed.push(m);
        }
        prop_assert_eq!(&streamed, &msgs);
        let mut at = 0u64;
        for (off, m) in offsets.iter().zip(&msgs) {
            prop_assert_eq!(*off, at);
            at += 2 + m.encoded_len() as u64;
        }
        prop_assert_eq!(r.next_offset(), framed.len() as u64);
    }
}

/// Each field's bytes sit at the offset the layout table gives: writing a
/// marker into every field in turn through decode shows the fields are
/// read from exactly those bytes.
#[test]
fn layout_tables_match_the_decoder() {
    for kind in MessageKind::ALL {
        let zero = {
            let mut w = vec![0u8; kind.encoded_len()];
            w[0] = kind.type_byte();
            Message::decode(&w).unwrap()
        };
        for field in kind.layout() {
            let mut w = vec![0u8; kind.encoded_len()];
            w[0] = kind.type_byte();
            w[field.offset + field.width - 1] = 1;
            let m = Message::decode(&w).unwrap();
            assert_ne!(m, zero, "{}.{}", kind.name(), field.name);
            assert_eq!(m.field_sum(), 1, "{}.{} is read as one big-endian integer", kind.name(), field.name);
            assert_eq!(*m.header(), Header::default());
        }
        let covered: usize = kind.layout().iter().map(|f| f.width).sum::<usize>() + HEADER_LEN;
        assert_eq!(covered, kind.encoded_len());
    }
}
