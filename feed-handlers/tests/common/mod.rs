//! ITCH message builders shared by the feed tests.
#![allow(dead_code, reason = "each test file uses a different subset")]

use optix_feed::itch::*;

pub fn hdr(locate: u16, ts: u64) -> Header {
    Header { stock_locate: locate, tracking_number: 0, timestamp_ns: ts }
}

pub fn directory(locate: u16, ts: u64, name: &str) -> Message {
    StockDirectory {
        header: hdr(locate, ts),
        stock: Stock::new(name).unwrap(),
        market_category: b'Q',
        financial_status: b'N',
        round_lot_size: 100,
        round_lots_only: b'N',
        issue_classification: b'C',
        issue_sub_type: *b"Z ",
        authenticity: b'P',
        short_sale_threshold: b'N',
        ipo_flag: b'N',
        luld_reference_price_tier: b'1',
        etp_flag: b'N',
        etp_leverage_factor: 0,
        inverse_indicator: b'N',
    }
    .into()
}

pub fn action(locate: u16, ts: u64, name: &str, state: u8) -> Message {
    StockTradingAction {
        header: hdr(locate, ts),
        stock: Stock::new(name).unwrap(),
        trading_state: state,
        reserved: b' ',
        reason: *b"    ",
    }
    .into()
}
