//! Golden test: the sample file shipped in `tests/data/sample.itch` (made by
//! `examples/make_sample.rs` with the encoder) decodes to known counts per
//! message type and known field sums, through every reader.

use std::collections::BTreeMap;
use std::path::PathBuf;

use optix_feed::itch::{AddOrder, Frames, Handler, ItchMessage, ItchReader, Message, MessageKind};

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.itch")
}

/// Everything the test pins about a decoded stream.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    counts: BTreeMap<char, u64>,
    messages: u64,
    add_shares: u64,
    add_prices: u64,
    executed_shares: u64,
    cancelled_shares: u64,
    timestamp_sum: u64,
    first_timestamp_ns: u64,
    last_timestamp_ns: u64,
    /// Wrapping sum of every field of every message.
    field_sum: u64,
}

impl Summary {
    fn add(&mut self, m: &Message) {
        *self.counts.entry(m.kind().type_char()).or_default() += 1;
        self.messages += 1;
        let ts = m.header().timestamp_ns;
        self.timestamp_sum = self.timestamp_sum.wrapping_add(ts);
        if self.messages == 1 {
            self.first_timestamp_ns = ts;
        }
        self.last_timestamp_ns = ts;
        self.field_sum = self.field_sum.wrapping_add(m.field_sum());
        match m {
            Message::AddOrder(a) => {
                self.add_shares += u64::from(a.shares);
                self.add_prices += u64::from(a.price);
            }
            Message::AddOrderMpid(f) => {
                self.add_shares += u64::from(f.shares);
                self.add_prices += u64::from(f.price);
            }
            Message::OrderExecuted(e) => self.executed_shares += u64::from(e.executed_shares),
            Message::OrderExecutedWithPrice(c) => self.executed_shares += u64::from(c.executed_shares),
            Message::OrderCancel(x) => self.cancelled_shares += u64::from(x.cancelled_shares),
            _ => {}
        }
    }
}

fn expected() -> Summary {
    let counts = [
        ('S', 6),
        ('R', 8),
        ('H', 10),
        ('Y', 9),
        ('L', 9),
        ('V', 1),
        ('W', 1),
        ('K', 1),
        ('J', 2),
        ('h', 2),
        ('A', 349),
        ('F', 20),
        ('E', 70),
        ('C', 1),
        ('X', 22),
        ('D', 331),
        ('U', 81),
        ('P', 13),
        ('Q', 17),
        ('B', 1),
        ('I', 39),
        ('N', 6),
        ('O', 1),
    ];
    Summary {
        counts: counts.into_iter().collect(),
        messages: 1_000,
        add_shares: 404_994,
        add_prices: 1_262_216_100,
        executed_shares: 54_105,
        cancelled_shares: 4_193,
        timestamp_sum: 44_551_052_510_867_822,
        first_timestamp_ns: 14_423_421_495_186,
        last_timestamp_ns: 71_902_939_483_468,
        field_sum: 3_349_216_176_403_489_215,
    }
}

const SAMPLE_BYTES: usize = 31_824;

#[test]
fn sample_decodes_to_known_counts_and_sums() {
    let bytes = std::fs::read(sample_path()).unwrap();
    assert_eq!(bytes.len(), SAMPLE_BYTES);
    // Read by hand: the first frame is a 12-byte System Event "start of
    // messages" at 04:00:23.421495186, the second a 39-byte Stock Directory.
    assert_eq!(&bytes[..3], &[0, 12, b'S']);
    assert_eq!(&bytes[7..13], &14_423_421_495_186u64.to_be_bytes()[2..]);
    assert_eq!(bytes[13], b'O');
    assert_eq!(&bytes[14..17], &[0, 39, b'R']);
    let mut got = Summary::default();
    for m in Frames::new(&bytes) {
        got.add(&m.unwrap());
    }
    assert_eq!(got, expected(), "if the sample was regenerated on purpose, these are the new values");
    // Every type is covered.
    assert_eq!(got.counts.len(), MessageKind::ALL.len());
}

#[test]
fn streaming_reader_matches_memory() {
    let bytes = std::fs::read(sample_path()).unwrap();
    let mut from_file = Summary::default();
    let mut reader = ItchReader::open(sample_path()).unwrap();
    assert!(!reader.get_ref().is_gzip());
    let n = reader.for_each_message(|_, m| from_file.add(&m)).unwrap();
    assert_eq!(n, 1_000);
    assert_eq!(reader.next_offset(), bytes.len() as u64);
    assert_eq!(from_file, expected());
    // A buffer smaller than most frames forces a refill at every message.
    let mut tiny = Summary::default();
    for m in ItchReader::with_capacity(&bytes[..], 1) {
        tiny.add(&m.unwrap());
    }
    assert_eq!(tiny, expected());
}

/// The generic handler method sees every message with its concrete type.
struct Generic {
    messages: u64,
    field_sum: u64,
    kinds: BTreeMap<char, u64>,
}

impl Handler for Generic {
    fn on<M: ItchMessage>(&mut self, _offset: u64, m: M) {
        self.messages += 1;
        self.field_sum = self.field_sum.wrapping_add(m.field_sum());
        assert_eq!(m.into_message().kind(), M::KIND);
        *self.kinds.entry(M::KIND.type_char()).or_default() += 1;
    }
}

/// A per-type method takes its messages away from `on_message`.
#[derive(Default)]
struct PerType {
    adds: u64,
    others: u64,
}

impl Handler for PerType {
    fn on_add_order(&mut self, _offset: u64, m: AddOrder) {
        assert!(m.shares > 0);
        self.adds += 1;
    }
    fn on_message(&mut self, _offset: u64, m: Message) {
        assert_ne!(m.kind(), MessageKind::AddOrder);
        self.others += 1;
    }
}

#[test]
fn dispatch_matches_the_iterator() {
    let bytes = std::fs::read(sample_path()).unwrap();
    let want = expected();
    let mut g = Generic { messages: 0, field_sum: 0, kinds: BTreeMap::new() };
    assert_eq!(Frames::new(&bytes).dispatch(&mut g).unwrap(), want.messages);
    assert_eq!((g.messages, g.field_sum, &g.kinds), (want.messages, want.field_sum, &want.counts));
    let mut g = Generic { messages: 0, field_sum: 0, kinds: BTreeMap::new() };
    assert_eq!(ItchReader::open(sample_path()).unwrap().dispatch(&mut g).unwrap(), want.messages);
    assert_eq!((g.messages, g.field_sum, &g.kinds), (want.messages, want.field_sum, &want.counts));
    let mut p = PerType::default();
    ItchReader::with_capacity(&bytes[..], 100).dispatch(&mut p).unwrap();
    assert_eq!((p.adds, p.others), (want.counts[&'A'], want.messages - want.counts[&'A']));
}
