//! The ITCH book builder against a deliberately naive reference: a plain
//! map of live orders whose levels are recomputed from scratch after every
//! message. A handmade day checks every message type the builder handles;
//! proptests run random valid sequences (our own, and the crate's
//! generator) through both.

use std::collections::{BTreeMap, HashMap};

use optix_engine::{Nanos, Side, SymbolId};
use optix_feed::book::{BookConfig, ItchBookBuilder, Top};
use optix_feed::itch::gen::{generate_vec_with, GenConfig};
use optix_feed::itch::*;

mod common;
use common::{action, directory, hdr};
use optix_feed::market::{MarketEvent, Quote, Trade as Print};
use proptest::prelude::*;

/// The reference: live orders in a map, everything else recomputed.
#[derive(Default)]
struct Naive {
    /// order ref -> (locate, side, price, shares left)
    orders: HashMap<u64, (u16, Side, i64, i64)>,
    /// Stock locates in directory order (index = SymbolId).
    syms: Vec<u16>,
}

fn side(b: u8) -> Side {
    if b == b'B' {
        Side::Buy
    } else {
        Side::Sell
    }
}

impl Naive {
    fn sym(&self, locate: u16) -> SymbolId {
        SymbolId(self.syms.iter().position(|&l| l == locate).unwrap() as u32)
    }

    /// Levels of one side, best first.
    fn levels(&self, locate: u16, s: Side) -> Vec<(i64, i64)> {
        let mut agg: BTreeMap<i64, i64> = BTreeMap::new();
        for &(l, os, p, q) in self.orders.values() {
            if l == locate && os == s && q > 0 {
                *agg.entry(p).or_default() += q;
            }
        }
        let v: Vec<_> = agg.into_iter().collect();
        if s == Side::Buy {
            v.into_iter().rev().collect()
        } else {
            v
        }
    }

    fn top(&self, locate: u16) -> Top {
        (self.levels(locate, Side::Buy).first().copied(), self.levels(locate, Side::Sell).first().copied())
    }

    /// Applies a message; returns the prints it should produce as
    /// `(sym, price, qty, aggressor)`.
    fn apply(&mut self, m: &Message) -> Vec<(SymbolId, i64, i64, Option<Side>)> {
        let mut prints = Vec::new();
        let take = |orders: &mut HashMap<u64, (u16, Side, i64, i64)>, r: u64, n: i64| {
            let o = orders.get_mut(&r).unwrap();
            o.3 -= n;
            assert!(o.3 >= 0);
            let o = *o;
            if o.3 == 0 {
                orders.remove(&r);
            }
            o
        };
        match *m {
            Message::StockDirectory(d) => self.syms.push(d.header.stock_locate),
            Message::AddOrder(a) => {
                self.orders.insert(a.order_ref, (a.header.stock_locate, side(a.side), a.price.into(), a.shares.into()));
            }
            Message::AddOrderMpid(a) => {
                self.orders.insert(a.order_ref, (a.header.stock_locate, side(a.side), a.price.into(), a.shares.into()));
            }
            Message::OrderExecuted(e) if self.orders.contains_key(&e.order_ref) => {
                let o = take(&mut self.orders, e.order_ref, e.executed_shares.into());
                prints.push((self.sym(o.0), o.2, e.executed_shares.into(), Some(o.1.opposite())));
            }
            Message::OrderExecutedWithPrice(e) if self.orders.contains_key(&e.order_ref) => {
                let o = take(&mut self.orders, e.order_ref, e.executed_shares.into());
                if e.printable == b'Y' {
                    let (shares, price) = (e.executed_shares.into(), e.execution_price.into());
                    prints.push((self.sym(o.0), price, shares, Some(o.1.opposite())));
                }
            }
            Message::OrderCancel(x) => {
                take(&mut self.orders, x.order_ref, x.cancelled_shares.into());
            }
            Message::OrderDelete(d) => {
                self.orders.remove(&d.order_ref).unwrap();
            }
            Message::OrderReplace(u) => {
                let (l, s, _, _) = self.orders.remove(&u.original_order_ref).unwrap();
                self.orders.insert(u.new_order_ref, (l, s, u.price.into(), u.shares.into()));
            }
            Message::Trade(p) => prints.push((
                self.sym(p.header.stock_locate),
                p.price.into(),
                p.shares.into(),
                Some(side(p.side).opposite()),
            )),
            Message::CrossTrade(q) if q.shares > 0 => {
                prints.push((self.sym(q.header.stock_locate), q.cross_price.into(), q.shares as i64, None))
            }
            _ => {}
        }
        prints
    }
}

/// The market state as rebuilt from the builder's events alone.
#[derive(Default)]
struct FromEvents {
    levels: BTreeMap<(u32, u8, i64), i64>,
    quotes: HashMap<u32, Quote>,
    halted: HashMap<u32, bool>,
}

impl FromEvents {
    /// Applies one message's events; returns its prints.
    fn apply(&mut self, events: &[MarketEvent]) -> Vec<(SymbolId, i64, i64, Option<Side>)> {
        let mut prints = Vec::new();
        for e in events {
            match *e {
                MarketEvent::Level(l) => {
                    let k = (l.sym.0, l.side as u8, l.price);
                    if l.qty == 0 {
                        assert!(self.levels.remove(&k).is_some(), "removed a level that was not there: {l:?}");
                    } else {
                        assert_ne!(self.levels.insert(k, l.qty), Some(l.qty), "a level event that changes nothing");
                    }
                }
                MarketEvent::Quote(q) => {
                    let before = self.quotes.insert(q.sym.0, q);
                    assert!(
                        before.is_none_or(|b| (b.bid(), b.ask()) != (q.bid(), q.ask())),
                        "a quote that changes nothing: {q:?}"
                    );
                }
                MarketEvent::Trade(Print { sym, price, qty, aggressor, .. }) => {
                    prints.push((sym, price, qty, aggressor))
                }
                MarketEvent::Status(s) => {
                    self.halted.insert(s.sym.0, s.halted);
                }
            }
        }
        // A quote comes after the levels of its message.
        if let Some(pos) = events.iter().position(|e| matches!(e, MarketEvent::Quote(_))) {
            assert_eq!(pos, events.len() - 1, "the quote is the last event of its message");
        }
        prints
    }

    fn levels(&self, sym: SymbolId, s: Side) -> Vec<(i64, i64)> {
        let v: Vec<_> =
            self.levels.iter().filter(|(k, _)| k.0 == sym.0 && k.1 == s as u8).map(|(k, &q)| (k.2, q)).collect();
        if s == Side::Buy {
            v.into_iter().rev().collect()
        } else {
            v
        }
    }

    fn top(&self, sym: SymbolId) -> Top {
        self.quotes.get(&sym.0).map_or((None, None), |q| (q.bid(), q.ask()))
    }
}

/// Feeds `messages` through the builder and the reference, comparing book,
/// events and prints after every message (every message when `each`, else
/// only at the end). Returns the builder.
fn run_both(messages: &[Message], each: bool) -> ItchBookBuilder {
    // Small on purpose: `validate` walks the whole table after every
    // message, and the random sequences grow the table and the levels.
    let mut book = ItchBookBuilder::new(BookConfig { max_orders: 32, max_symbols: 2, levels_per_side: 4 });
    let mut naive = Naive::default();
    let mut rebuilt = FromEvents::default();
    let mut events = Vec::new();
    let mut all_prints = (Vec::new(), Vec::new());
    for (i, m) in messages.iter().enumerate() {
        events.clear();
        book.handle(m, &mut |e| events.push(e));
        for e in &events {
            assert_eq!(e.ts(), Nanos(m.header().timestamp_ns), "events carry the message timestamp");
        }
        let want = naive.apply(m);
        let got = rebuilt.apply(&events);
        assert_eq!(got, want, "prints of message {i}: {m:?}");
        all_prints.0.extend(got);
        all_prints.1.extend(want);
        if each || i + 1 == messages.len() {
            compare(&book, &naive, &rebuilt, i, m);
        }
    }
    assert_eq!(all_prints.0, all_prints.1);
    assert_eq!(book.counters().trades, all_prints.0.len() as u64);
    book
}

fn compare(book: &ItchBookBuilder, naive: &Naive, rebuilt: &FromEvents, i: usize, m: &Message) {
    book.validate().unwrap_or_else(|e| panic!("after message {i} {m:?}: {e}"));
    assert_eq!(book.symbol_count(), naive.syms.len());
    assert_eq!(book.live_orders(), naive.orders.len(), "after message {i}");
    for (n, &locate) in naive.syms.iter().enumerate() {
        let sym = SymbolId(n as u32);
        assert_eq!(book.symbol_of_locate(locate), Some(sym));
        let top = naive.top(locate);
        assert_eq!(book.top(sym), top, "top of {sym:?} after message {i} {m:?}");
        assert_eq!(rebuilt.top(sym), top, "top of {sym:?} from the events after message {i} {m:?}");
        for s in [Side::Buy, Side::Sell] {
            let want = naive.levels(locate, s);
            assert_eq!(book.levels(sym, s).collect::<Vec<_>>(), want, "{sym:?} {s:?} after message {i} {m:?}");
            assert_eq!(rebuilt.levels(sym, s), want, "{sym:?} {s:?} from the events after message {i}");
        }
    }
}

// ---- message builders ----

#[allow(clippy::too_many_arguments, reason = "one argument per field")]
fn add(locate: u16, ts: u64, name: &str, order_ref: u64, s: u8, shares: u32, price: u32) -> Message {
    AddOrder { header: hdr(locate, ts), order_ref, side: s, shares, stock: Stock::new(name).unwrap(), price }.into()
}

fn exec(locate: u16, ts: u64, order_ref: u64, shares: u32) -> Message {
    OrderExecuted { header: hdr(locate, ts), order_ref, executed_shares: shares, match_number: ts }.into()
}

fn exec_px(locate: u16, ts: u64, order_ref: u64, shares: u32, printable: u8, price: u32) -> Message {
    OrderExecutedWithPrice {
        header: hdr(locate, ts),
        order_ref,
        executed_shares: shares,
        match_number: ts,
        printable,
        execution_price: price,
    }
    .into()
}

fn cancel(locate: u16, ts: u64, order_ref: u64, shares: u32) -> Message {
    OrderCancel { header: hdr(locate, ts), order_ref, cancelled_shares: shares }.into()
}

fn delete(locate: u16, ts: u64, order_ref: u64) -> Message {
    OrderDelete { header: hdr(locate, ts), order_ref }.into()
}

fn replace(locate: u16, ts: u64, old: u64, new: u64, shares: u32, price: u32) -> Message {
    OrderReplace { header: hdr(locate, ts), original_order_ref: old, new_order_ref: new, shares, price }.into()
}

fn print(locate: u16, ts: u64, name: &str, s: u8, shares: u32, price: u32) -> Message {
    Trade {
        header: hdr(locate, ts),
        order_ref: 0,
        side: s,
        shares,
        stock: Stock::new(name).unwrap(),
        price,
        match_number: ts,
    }
    .into()
}

fn cross(locate: u16, ts: u64, name: &str, shares: u64, price: u32) -> Message {
    CrossTrade {
        header: hdr(locate, ts),
        shares,
        stock: Stock::new(name).unwrap(),
        cross_price: price,
        match_number: ts,
        cross_type: b'O',
    }
    .into()
}

const AAPL: u16 = 5;
const MSFT: u16 = 9;

fn handmade_day() -> Vec<Message> {
    let mut t = 34_200_000_000_000u64;
    let mut next = || {
        t += 1_000;
        t
    };
    vec![
        directory(AAPL, next(), "AAPL"),
        directory(MSFT, next(), "MSFT"),
        action(AAPL, next(), "AAPL", b'T'),
        add(AAPL, next(), "AAPL", 1, b'B', 100, 1_500_000),
        add(AAPL, next(), "AAPL", 2, b'B', 200, 1_499_900),
        AddOrderMpid {
            header: hdr(AAPL, next()),
            order_ref: 3,
            side: b'B',
            shares: 50,
            stock: Stock::new("AAPL").unwrap(),
            price: 1_500_000,
            attribution: *b"GSCO",
        }
        .into(),
        add(AAPL, next(), "AAPL", 4, b'S', 300, 1_500_500),
        add(AAPL, next(), "AAPL", 5, b'S', 100, 1_500_300),
        add(AAPL, next(), "AAPL", 6, b'S', 100, 1_501_000),
        add(MSFT, next(), "MSFT", 7, b'B', 500, 3_000_000),
        add(MSFT, next(), "MSFT", 8, b'S', 500, 3_000_500),
        // Partial execute of the first bid: top size 150 -> 110.
        exec(AAPL, next(), 1, 40),
        // Partial cancel below the top.
        cancel(AAPL, next(), 2, 50),
        // Full execute of the best ask: it moves to 150.05.
        exec(AAPL, next(), 5, 100),
        // Printable execution at another price.
        exec_px(AAPL, next(), 4, 100, b'Y', 1_500_400),
        // Non-printable: the book changes, no print.
        exec_px(AAPL, next(), 4, 50, b'N', 1_500_400),
        // Replace onto a new reference at a better price: new best bid.
        replace(AAPL, next(), 3, 9, 80, 1_500_100),
        delete(AAPL, next(), 6),
        // A non-displayed trade; the book does not change.
        print(AAPL, next(), "AAPL", b'B', 25, 1_500_200),
        action(AAPL, next(), "AAPL", b'H'),
        // An order never added: counted, skipped.
        exec(AAPL, next(), 999, 10),
        cross(MSFT, next(), "MSFT", 1_000, 3_000_200),
        cross(MSFT, next(), "MSFT", 0, 3_000_200),
        delete(AAPL, next(), 1),
        // Cancel of every share left: the order is gone.
        cancel(AAPL, next(), 9, 80),
        exec(MSFT, next(), 8, 500),
        action(AAPL, next(), "AAPL", b'T'),
    ]
}

#[test]
fn handmade_day_matches_the_naive_book_after_every_message() {
    let day = handmade_day();
    let book = run_both(&day, true);
    let c = book.counters();
    assert_eq!(c.unknown_refs, 1);
    assert_eq!(c.non_printable, 1);
    assert_eq!((c.duplicate_refs, c.unknown_locates, c.oversized, c.bad_codes), (0, 0, 0, 0));
    assert_eq!(c.messages.total(), day.len() as u64);
    assert_eq!(c.messages.count(MessageKind::OrderExecuted), 4);
    assert_eq!(c.statuses, 3);
    assert_eq!(book.symbol_name(SymbolId(0)).unwrap().to_string(), "AAPL");
    assert_eq!(book.symbol_name(SymbolId(1)).unwrap().to_string(), "MSFT");
    assert_eq!(book.symbol_name(SymbolId(2)), None);
    assert!(!book.is_halted(SymbolId(0)));
    // The final book, written out by hand.
    assert_eq!(book.top(SymbolId(0)), (Some((1_499_900, 150)), Some((1_500_500, 150))));
    assert_eq!(book.top(SymbolId(1)), (Some((3_000_000, 500)), None));
    assert_eq!(book.levels(SymbolId(0), Side::Buy).collect::<Vec<_>>(), [(1_499_900, 150)]);
}

/// Levels that empty below the top are kept (empty) for reuse, compacted
/// once they outnumber the live ones, and popped with the top: the book,
/// its levels and its quotes match the naive book after every message.
#[test]
fn deep_levels_empty_compact_and_come_back() {
    const L: u16 = 7;
    let mut ts = 0;
    let mut next = || {
        ts += 1;
        ts
    };
    let mut day = vec![directory(L, next(), "DEEP")];
    // 300 bid levels, 100.0000 .. 102.9900, one order each, and an ask.
    for i in 0..300u64 {
        day.push(add(L, next(), "DEEP", i + 1, b'B', 100, 1_000_000 + 100 * i as u32));
    }
    day.push(add(L, next(), "DEEP", 1000, b'S', 10, 1_100_000));
    // Empty every level but the top and the bottom: past 64 empties and
    // more than the live levels, the side compacts.
    for i in 1..299u64 {
        day.push(delete(L, next(), i + 1));
    }
    // New orders at prices that were levels, and between them.
    day.push(add(L, next(), "DEEP", 2000, b'B', 5, 1_000_100));
    day.push(add(L, next(), "DEEP", 2001, b'B', 7, 1_000_150));
    day.push(add(L, next(), "DEEP", 2002, b'B', 9, 1_020_000));
    // Empty a few levels below the top, then the top: the top goes with
    // the empty levels under it, down to the next live one.
    day.push(add(L, next(), "DEEP", 2003, b'B', 4, 1_025_000));
    day.push(add(L, next(), "DEEP", 2004, b'B', 4, 1_026_000));
    day.push(delete(L, next(), 2003));
    day.push(delete(L, next(), 2004));
    day.push(exec(L, next(), 300, 100));
    // An empty level below the top takes an order again.
    day.push(add(L, next(), "DEEP", 2005, b'B', 3, 1_000_150));
    day.push(delete(L, next(), 2001));
    day.push(replace(L, next(), 2005, 2006, 6, 1_000_100));
    let book = run_both(&day, true);
    let sym = SymbolId(0);
    assert_eq!(book.top(sym), (Some((1_020_000, 9)), Some((1_100_000, 10))));
    assert_eq!(book.levels(sym, Side::Buy).collect::<Vec<_>>(), [(1_020_000, 9), (1_000_100, 11), (1_000_000, 100)]);
    assert_eq!(book.counters().unknown_refs, 0);
}

/// A side full to its reserved capacity drops its empty levels to make
/// room for a new price instead of growing.
#[test]
fn empty_levels_make_room_before_a_side_grows() {
    const L: u16 = 9;
    let mut book = ItchBookBuilder::new(BookConfig { levels_per_side: 8, ..BookConfig::small() });
    let mut sink = |_e: MarketEvent| {};
    let mut ts = 0;
    let mut next = || {
        ts += 1;
        ts
    };
    book.handle(&directory(L, next(), "ROOM"), &mut sink);
    for i in 0..8u64 {
        book.handle(&add(L, next(), "ROOM", i + 1, b'B', 10, 1_000_000 + 100 * i as u32), &mut sink);
    }
    // Three levels below the top empty and stay; the side is at capacity.
    for r in [2u64, 4, 6] {
        book.handle(&delete(L, next(), r), &mut sink);
    }
    book.validate().unwrap();
    // New prices between the live ones: room comes from the empty levels.
    for (r, px) in [(20u64, 1_000_050u32), (21, 1_000_250), (22, 1_000_450)] {
        book.handle(&add(L, next(), "ROOM", r, b'B', 5, px), &mut sink);
        book.validate().unwrap();
    }
    assert_eq!(book.counters().grows, 0);
    let bids: Vec<_> = book.levels(SymbolId(0), Side::Buy).map(|(px, _)| px).collect();
    assert_eq!(bids, [1_000_700, 1_000_600, 1_000_450, 1_000_400, 1_000_250, 1_000_200, 1_000_050, 1_000_000]);
}

#[test]
fn handmade_day_prints_exactly_the_printable_executions() {
    let mut book = ItchBookBuilder::new(BookConfig::small());
    let mut events = Vec::new();
    for m in handmade_day() {
        book.handle(&m, &mut |e| events.push(e));
    }
    let prints: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            MarketEvent::Trade(t) => Some((t.sym.0, t.price, t.qty, t.aggressor)),
            _ => None,
        })
        .collect();
    let sell = Some(Side::Sell);
    let buy = Some(Side::Buy);
    assert_eq!(
        prints,
        [
            (0, 1_500_000, 40, sell),
            (0, 1_500_300, 100, buy),
            (0, 1_500_400, 100, buy),
            (0, 1_500_200, 25, sell),
            (1, 3_000_200, 1_000, None),
            (1, 3_000_500, 500, buy),
        ]
    );
    let halts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            MarketEvent::Status(s) => Some((s.sym.0, s.halted)),
            _ => None,
        })
        .collect();
    assert_eq!(halts, [(0, false), (0, true), (0, false)]);
}

#[test]
fn bad_input_is_counted_never_a_panic() {
    let mut book = ItchBookBuilder::new(BookConfig { max_orders: 2, max_symbols: 1, levels_per_side: 1 });
    let mut n = 0;
    let mut sink = |_| n += 1;
    let msgs = [
        add(3, 1, "ZZZ", 1, b'B', 100, 100), // no directory yet
        directory(3, 2, "ZZZ"),
        directory(3, 3, "ZZZ"),              // repeated
        add(3, 4, "ZZZ", 1, b'X', 100, 100), // bad side
        add(3, 5, "ZZZ", 1, b'B', 100, 100),
        add(3, 6, "ZZZ", 1, b'S', 100, 200), // duplicate ref
        exec(3, 7, 1, 150),                  // oversized
        delete(3, 8, 1),                     // gone already
        cancel(3, 9, 77, 1),
        replace(3, 10, 78, 79, 1, 1),
        action(3, 11, "ZZZ", b'?'),
        add(3, 12, "ZZZ", u64::MAX, b'B', 1, 1), // the table's empty marker
    ];
    for m in &msgs {
        book.handle(m, &mut sink);
    }
    // Past the preallocation: grows, still correct.
    for r in 100..120 {
        book.handle(&add(3, 13, "ZZZ", r, if r % 2 == 0 { b'B' } else { b'S' }, 10, 100 + r as u32), &mut sink);
    }
    let c = *book.counters();
    assert_eq!(c.unknown_locates, 2);
    assert_eq!(c.bad_codes, 2);
    assert_eq!(c.duplicate_refs, 2);
    assert_eq!(c.oversized, 1);
    assert_eq!(c.unknown_refs, 3);
    assert!(c.grows > 0);
    assert_eq!(book.live_orders(), 20);
    book.validate().unwrap();
    assert!(n > 0);
}

// ---- random valid sequences ----

/// One raw choice, turned into a valid message by [`materialize`].
type Choice = (u8, u16, u16, u16);

/// Turns raw choices into a valid ITCH sequence over 3 stocks: every
/// execute, cancel, delete and replace names a live order and never takes
/// more than it has.
fn materialize(choices: &[Choice]) -> Vec<Message> {
    let names = ["AAA", "BBB", "CCC"];
    let mut out: Vec<Message> = (0..3).map(|i| directory(i + 1, 1, names[usize::from(i)])).collect();
    // (ref, locate, shares left)
    let mut live: Vec<(u64, u16, u32)> = Vec::new();
    let mut next_ref = 1u64;
    let mut ts = 10u64;
    for &(op, a, b, c) in choices {
        ts += 1 + u64::from(a % 3);
        let pick = |live: &Vec<(u64, u16, u32)>| usize::from(a) % live.len().max(1);
        match op % 12 {
            0..=3 => {
                let locate = 1 + a % 3;
                let s = if b % 2 == 0 { b'B' } else { b'S' };
                // Bids and asks overlap on purpose: crossed books are kept as they are.
                let price = 10_000 + u32::from(c % 16) * 100;
                let shares = 1 + u32::from(b % 7) * 50;
                live.push((next_ref, locate, shares));
                out.push(add(locate, ts, names[usize::from(locate - 1)], next_ref, s, shares, price));
                next_ref += 1;
            }
            4..=6 if !live.is_empty() => {
                let i = pick(&live);
                let (r, locate, left) = live[i];
                let n = if b % 3 == 0 || left <= 1 { left } else { 1 + u32::from(c) % (left - 1) };
                out.push(match op % 12 {
                    4 => exec(locate, ts, r, n),
                    5 => exec_px(locate, ts, r, n, b'Y', 10_050),
                    _ => exec_px(locate, ts, r, n, b'N', 10_050),
                });
                if n == left {
                    live.swap_remove(i);
                } else {
                    live[i].2 -= n;
                }
            }
            7 if !live.is_empty() => {
                let i = pick(&live);
                let (r, locate, left) = live[i];
                if left >= 2 {
                    let n = 1 + u32::from(c) % (left - 1);
                    out.push(cancel(locate, ts, r, n));
                    live[i].2 -= n;
                }
            }
            8 if !live.is_empty() => {
                let (r, locate, _) = live.swap_remove(pick(&live));
                out.push(delete(locate, ts, r));
            }
            9 if !live.is_empty() => {
                let i = pick(&live);
                let (r, locate, _) = live[i];
                let shares = 1 + u32::from(b % 9) * 30;
                let price = 10_000 + u32::from(c % 16) * 100;
                out.push(replace(locate, ts, r, next_ref, shares, price));
                live[i] = (next_ref, locate, shares);
                next_ref += 1;
            }
            10 => {
                let locate = 1 + a % 3;
                out.push(print(locate, ts, names[usize::from(locate - 1)], b'B', 1 + u32::from(b), 10_000));
            }
            11 => {
                let locate = 1 + a % 3;
                out.push(action(locate, ts, names[usize::from(locate - 1)], b"THPQ"[usize::from(b % 4)]));
            }
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Random valid sequences: the builder's book, its events and its
    /// prints equal the naive reference after every message.
    #[test]
    fn random_sequences_match_the_naive_book(choices in prop::collection::vec(any::<Choice>(), 0..200)) {
        let msgs = materialize(&choices);
        let book = run_both(&msgs, true);
        prop_assert_eq!(book.counters().unknown_refs, 0);
        prop_assert_eq!(book.counters().oversized, 0);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Generated trading days (every message type, thousands of orders):
    /// the same book as the reference at the end.
    #[test]
    fn generated_days_match_the_naive_book(seed in any::<u64>(), messages in 2_000u64..8_000, symbols in 1u16..12) {
        let cfg = GenConfig { messages, seed, symbols, max_live_orders: 2_000 };
        let (bytes, mix) = generate_vec_with(cfg);
        let msgs: Vec<Message> = Frames::new(&bytes).map(Result::unwrap).collect();
        prop_assert_eq!(msgs.len() as u64, mix.total());
        let book = run_both(&msgs, false);
        prop_assert_eq!(book.counters().unknown_refs, 0);
        prop_assert_eq!(book.counters().duplicate_refs, 0);
        prop_assert_eq!(book.counters().messages, mix);
    }
}

/// The handler path (`Frames::dispatch`) and the `Message` path give the
/// same events.
#[test]
fn dispatch_and_handle_agree() {
    let (bytes, _) = generate_vec_with(GenConfig { messages: 30_000, seed: 3, symbols: 20, max_live_orders: 5_000 });
    let mut a = ItchBookBuilder::new(BookConfig::small());
    let mut ea = Vec::new();
    a.process(&bytes, &mut |e| ea.push(e)).unwrap();
    let mut b = ItchBookBuilder::new(BookConfig::small());
    let mut eb = Vec::new();
    for m in Frames::new(&bytes) {
        b.handle(&m.unwrap(), &mut |e| eb.push(e));
    }
    assert_eq!(ea, eb);
    assert_eq!(a.counters(), b.counters());
    a.validate().unwrap();
}
