//! The scenario script language: a deterministic what-if runner's input,
//! parsed line by line into [`Step`]s, and the JSON-lines rendering of
//! engine events.
//!
//! One command per line, `#` starts a comment. Names (accounts, symbols,
//! client order ids) are resolved here, at the edge, to the engine's integer
//! ids; decimal prices and quantities are converted to ticks and lots here
//! too. A line that cannot be parsed is a [`ScriptError`] naming the line; an
//! order that parses but is wrong becomes an engine `rejected` event, or,
//! when its number cannot be represented at all (off-tick, off-lot, too many
//! decimals, too large, negative), an edge reject rendered the same way with
//! `"seq":0` (it never reached the engine).
//!
//! Commands: `instrument`, `account` (with `stp=`), `at`, `new` (limit,
//! market, stop, stop_limit; `tif=day|gtc|ioc|fok|gtd|opg|cls`,
//! `expire=HH:MM:SS`, `stop=`, `display=`, `post_only`), `cancel`, `replace`
//! (`px=`, `qty=`, `stop=`), `mass_cancel`, `book`, `halt`, `resume`,
//! `kill ACCT|all [reduce_only]`, `unkill ACCT|all`, `session_end`,
//! `auction SYM open|close`, `trade SYM PRICExQTY` (an external print),
//! `quote SYM BIDxQTY ASKxQTY` (the external best bid and ask, `-` for a
//! missing side), `position ACCT [SYM]`, `statement`, `limits ACCT ...`
//! and `restrict SYM [off]` (pre-trade risk). Accounts take `cash=`,
//! `leverage=`, `fee_per_share=`, `fee_bps=`; instruments `mode=paper`.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::account::FeeModel;
use crate::check::{PreTradeCheck, RiskConfig, RiskLimits};
use crate::engine::{AccountSpec, Engine};
use crate::event::*;
use crate::reason::RejectReason;
use crate::types::*;

/// Ids given to names used but never declared start here, so the engine
/// rejects them as unknown while the output still shows the name.
const UNDECLARED: u32 = 1 << 31;

/// A parse error: the line number (from 1) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ScriptError {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// One executable step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Declare an instrument (its id is the next symbol id).
    Instrument(Instrument),
    /// Declare an account (its id is the next account id).
    Account(AccountSpec),
    /// Feed an input to the engine at the current script time.
    Input(Input),
    /// Reject an order at the edge (its numbers cannot be represented).
    EdgeReject {
        /// The order.
        order: OrderRef,
        /// The command.
        cmd: CmdKind,
        /// Why.
        reason: RejectReason,
    },
    /// Print the book of a symbol, `depth` levels per side.
    Book {
        /// Instrument.
        sym: SymbolId,
        /// Levels per side.
        depth: usize,
    },
    /// Print an account's position in one symbol (or in every symbol it
    /// has traded or has orders in), then the account.
    Position {
        /// The account.
        acct: AccountId,
        /// One symbol, or all.
        sym: Option<SymbolId>,
    },
    /// Print every account with its positions.
    Statement,
    /// Configure the pre-trade check.
    Configure(RiskConfig),
}

/// A parsed step with the script time it runs at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedStep {
    /// Script time (the `at` in force).
    pub time: Nanos,
    /// The step.
    pub step: Step,
}

#[derive(Clone, Debug, Default)]
struct Names {
    names: Vec<String>,
    declared: u32,
    ids: HashMap<String, u32>,
    undeclared: Vec<String>,
}

impl Names {
    fn declare(&mut self, name: &str) -> Result<u32, String> {
        if self.ids.get(name).is_some_and(|&id| id < UNDECLARED) {
            return Err(format!("'{name}' is already declared"));
        }
        let id = self.declared;
        self.declared += 1;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        Ok(id)
    }
    fn resolve(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = UNDECLARED + self.undeclared.len() as u32;
        self.undeclared.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }
    fn known(&self, id: u32) -> bool {
        id < self.declared
    }
    fn name(&self, id: u32) -> &str {
        if id >= UNDECLARED {
            self.undeclared.get((id - UNDECLARED) as usize).map_or("?", String::as_str)
        } else {
            self.names.get(id as usize).map_or("?", String::as_str)
        }
    }
}

/// Parses scripts line by line and renders events with the script's names.
#[derive(Clone, Debug, Default)]
pub struct Parser {
    syms: Names,
    accts: Names,
    instruments: Vec<Instrument>,
    clids: Vec<String>,
    clid_ids: HashMap<String, u64>,
    /// Symbol of each client order id's last `new`, to convert replace prices.
    clid_sym: HashMap<(u32, u64), u32>,
    time: Nanos,
    line: usize,
}

fn parse_time(s: &str) -> Result<Nanos, String> {
    let bad = || format!("bad time '{s}' (want HH:MM:SS[.fff])");
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut v = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        v[i] = p.parse().map_err(|_| bad())?;
    }
    if v[0] > 23 || v[1] > 59 || v[2] > 59 {
        return Err(bad());
    }
    let mut ns = 0u64;
    for i in 0..9 {
        ns = ns * 10 + frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
    }
    Ok(Nanos((v[0] * 3600 + v[1] * 60 + v[2]) * 1_000_000_000 + ns))
}

/// `key=value` options of a line, each used at most once.
struct Opts<'a> {
    kv: Vec<(&'a str, &'a str)>,
    flags: Vec<&'a str>,
}

impl<'a> Opts<'a> {
    fn new(tokens: &[&'a str], allowed: &[&str], allowed_flags: &[&str]) -> Result<Self, String> {
        let mut o = Opts { kv: Vec::new(), flags: Vec::new() };
        for t in tokens {
            match t.split_once('=') {
                Some((k, v)) => {
                    if !allowed.contains(&k) {
                        return Err(format!("unknown option '{k}'"));
                    }
                    if o.kv.iter().any(|(kk, _)| *kk == k) {
                        return Err(format!("option '{k}' given twice"));
                    }
                    if v.is_empty() {
                        return Err(format!("option '{k}' has no value"));
                    }
                    o.kv.push((k, v));
                }
                None => {
                    if !allowed_flags.contains(t) {
                        return Err(format!("unexpected '{t}'"));
                    }
                    o.flags.push(t);
                }
            }
        }
        Ok(o)
    }
    fn get(&self, k: &str) -> Option<&'a str> {
        self.kv.iter().find(|(kk, _)| *kk == k).map(|(_, v)| *v)
    }
    fn flag(&self, f: &str) -> bool {
        self.flags.contains(&f)
    }
}

fn price_reason(e: DecimalError) -> Result<RejectReason, String> {
    match e {
        DecimalError::Syntax => Err("price is not a number".into()),
        DecimalError::TooManyDecimals | DecimalError::OffTick => Ok(RejectReason::OffTick),
        DecimalError::Negative => Ok(RejectReason::InvalidPrice),
        DecimalError::Overflow => Ok(RejectReason::PriceTooLarge),
        DecimalError::OffLot => Ok(RejectReason::OffLot),
    }
}

fn qty_reason(e: DecimalError) -> Result<RejectReason, String> {
    match e {
        DecimalError::Syntax => Err("quantity is not a number".into()),
        DecimalError::TooManyDecimals | DecimalError::OffLot | DecimalError::OffTick => Ok(RejectReason::OffLot),
        DecimalError::Negative => Ok(RejectReason::InvalidQty),
        DecimalError::Overflow => Ok(RejectReason::QtyTooLarge),
    }
}

/// A replace's price at the edge: the value, or the reject it earns (zero
/// is a reject here, since a replace that keeps the price names none);
/// `Err` for text that is not a number.
fn edge_price(ins: &Instrument, text: &str) -> Result<Result<Price, RejectReason>, String> {
    match ins.parse_price(text) {
        Ok(v) if v.is_none() => Ok(Err(RejectReason::InvalidPrice)),
        Ok(v) => Ok(Ok(v)),
        Err(e) => price_reason(e).map(Err),
    }
}

/// A replace's quantity at the edge, as [`edge_price`].
fn edge_qty(ins: &Instrument, text: &str) -> Result<Result<Qty, RejectReason>, String> {
    match ins.parse_qty(text) {
        Ok(v) if v.is_zero() => Ok(Err(RejectReason::InvalidQty)),
        Ok(v) => Ok(Ok(v)),
        Err(e) => qty_reason(e).map(Err),
    }
}

impl Parser {
    /// A parser with nothing declared.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a whole script into steps (stops at the first bad line).
    pub fn parse_all(&mut self, text: &str) -> Result<Vec<TimedStep>, ScriptError> {
        let mut steps = Vec::new();
        for line in text.lines() {
            if let Some(s) = self.parse_line(line)? {
                steps.push(s);
            }
        }
        Ok(steps)
    }

    /// Parses the next line; `Ok(None)` for blank lines, comments and `at`.
    pub fn parse_line(&mut self, raw: &str) -> Result<Option<TimedStep>, ScriptError> {
        self.line += 1;
        let line = self.line;
        let text = raw.split('#').next().unwrap_or("");
        let tokens: Vec<&str> = text.split_whitespace().collect();
        if tokens.is_empty() {
            return Ok(None);
        }
        match self.parse_tokens(&tokens) {
            Ok(step) => Ok(step.map(|step| TimedStep { time: self.time, step })),
            Err(msg) => Err(ScriptError { line, msg }),
        }
    }

    fn clid(&mut self, token: &str) -> ClientOrderId {
        if let Some(&id) = self.clid_ids.get(token) {
            return ClientOrderId(id);
        }
        let id = self.clids.len() as u64 + 1;
        self.clids.push(token.to_string());
        self.clid_ids.insert(token.to_string(), id);
        ClientOrderId(id)
    }

    fn parse_tokens(&mut self, t: &[&str]) -> Result<Option<Step>, String> {
        let need = |n: usize, usage: &str| -> Result<(), String> {
            if t.len() < n {
                Err(format!("usage: {usage}"))
            } else {
                Ok(())
            }
        };
        match t[0] {
            "instrument" => {
                need(2, "instrument SYM tick=P lot=N [mode=clob|paper] [ref=P]")?;
                let o = Opts::new(&t[2..], &["tick", "lot", "mode", "ref"], &[])?;
                let tick = o.get("tick").ok_or("instrument needs tick=")?;
                let lot = match o.get("lot") {
                    Some(l) => l.parse::<i64>().ok().filter(|&l| l > 0).ok_or(format!("bad lot '{l}'"))?,
                    None => 1,
                };
                let mode = match o.get("mode") {
                    None | Some("clob") => VenueMode::Clob,
                    Some("paper") => VenueMode::Paper,
                    Some(m) => return Err(format!("bad mode '{m}'")),
                };
                let mut ins = Instrument::new(tick, lot, mode).map_err(|e| format!("bad tick '{tick}': {e}"))?;
                if let Some(r) = o.get("ref") {
                    ins.ref_price = ins.parse_price(r).map_err(|e| format!("bad ref '{r}': {e}"))?;
                }
                if self.instruments.len() >= crate::MAX_SYMBOLS {
                    return Err(format!("too many instruments (at most {})", crate::MAX_SYMBOLS));
                }
                self.syms.declare(t[1])?;
                self.instruments.push(ins);
                Ok(Some(Step::Instrument(ins)))
            }
            "account" => {
                need(2, "account NAME cash=X [leverage=N] [stp=MODE] [fee_bps=X] [fee_per_share=X]")?;
                let o = Opts::new(&t[2..], &["cash", "leverage", "stp", "fee_bps", "fee_per_share"], &[])?;
                let cash = match o.get("cash") {
                    Some(c) => Money::parse(c).map_err(|e| format!("bad cash '{c}': {e}"))?,
                    None => Money::ZERO,
                };
                let leverage = match o.get("leverage") {
                    Some(l) => {
                        let m = Money::parse(l).map_err(|e| format!("bad leverage '{l}': {e}"))?;
                        if m.micros() <= 0 || m.micros() % 10_000 != 0 {
                            return Err(format!("bad leverage '{l}' (above 0, at most two decimals)"));
                        }
                        m.micros() / 10_000
                    }
                    None => 100,
                };
                let per_share = match o.get("fee_per_share") {
                    Some(f) => Money::parse(f)
                        .ok()
                        .filter(|m| m.micros() >= 0)
                        .ok_or(format!("bad fee_per_share '{f}' (at most six decimals, not negative)"))?,
                    None => Money::ZERO,
                };
                let centi_bps = match o.get("fee_bps") {
                    Some(f) => {
                        let m = Money::parse(f).map_err(|e| format!("bad fee_bps '{f}': {e}"))?;
                        if m.micros() < 0 || m.micros() % 10_000 != 0 {
                            return Err(format!("bad fee_bps '{f}' (not negative, at most two decimals)"));
                        }
                        m.micros() / 10_000
                    }
                    None => 0,
                };
                let stp = match o.get("stp") {
                    None | Some("none") => StpMode::None,
                    Some("cancel_newest") => StpMode::CancelNewest,
                    Some("cancel_oldest") => StpMode::CancelOldest,
                    Some("cancel_both") => StpMode::CancelBoth,
                    Some("decrement") => StpMode::Decrement,
                    Some(m) => return Err(format!("bad stp '{m}'")),
                };
                self.accts.declare(t[1])?;
                Ok(Some(Step::Account(AccountSpec { stp, cash, fees: FeeModel { per_share, centi_bps }, leverage })))
            }
            "at" => {
                need(2, "at HH:MM:SS[.fff]")?;
                let ns = parse_time(t[1])?;
                if ns < self.time {
                    return Err(format!("time {} is before the current time {}", t[1], self.time));
                }
                if t.len() > 2 {
                    return Err(format!("unexpected '{}'", t[2]));
                }
                self.time = ns;
                Ok(None)
            }
            "new" => self.parse_new(t).map(Some),
            "cancel" => {
                need(3, "cancel ACCT CLID")?;
                if t.len() > 3 {
                    return Err(format!("unexpected '{}'", t[3]));
                }
                let acct = AccountId(self.accts.resolve(t[1]));
                let clid = self.clid(t[2]);
                Ok(Some(Step::Input(Input::CancelOrder(CancelOrder { acct, clid }))))
            }
            "replace" => {
                need(3, "replace ACCT CLID [px=P] [qty=N] [stop=P]")?;
                let o = Opts::new(&t[3..], &["px", "qty", "stop"], &[])?;
                if o.get("px").is_none() && o.get("qty").is_none() && o.get("stop").is_none() {
                    return Err("replace needs px=, qty= or stop=".into());
                }
                let acct = AccountId(self.accts.resolve(t[1]));
                let clid = self.clid(t[2]);
                // A replace names no symbol: convert with the order's
                // instrument, found from the clid's last `new` line.
                let ins = self.order_instrument(acct, clid);
                let order = OrderRef { acct, clid, id: OrderId(0) };
                let mut price = Price::NONE;
                let mut qty = Qty::ZERO;
                let mut stop_price = Price::NONE;
                if let Some(ins) = ins {
                    let reject = |reason| Ok(Some(Step::EdgeReject { order, cmd: CmdKind::Replace, reason }));
                    if let Some(p) = o.get("stop") {
                        match edge_price(&ins, p)? {
                            Ok(v) => stop_price = v,
                            Err(r) => return reject(r),
                        }
                    }
                    if let Some(p) = o.get("px") {
                        match edge_price(&ins, p)? {
                            Ok(v) => price = v,
                            Err(r) => return reject(r),
                        }
                    }
                    if let Some(q) = o.get("qty") {
                        match edge_qty(&ins, q)? {
                            Ok(v) => qty = v,
                            Err(r) => return reject(r),
                        }
                    }
                }
                if o.get("stop").is_some() {
                    if ins.is_none() {
                        // Unknown order: the engine says so; any stop price will do.
                        stop_price = Price::from_ticks(1);
                    }
                    let r = ReplaceStop { acct, clid, stop_price, price, qty };
                    return Ok(Some(Step::Input(Input::ReplaceStop(r))));
                }
                Ok(Some(Step::Input(Input::ReplaceOrder(ReplaceOrder { acct, clid, price, qty }))))
            }
            "mass_cancel" => {
                need(2, "mass_cancel ACCT [SYM]")?;
                if t.len() > 3 {
                    return Err(format!("unexpected '{}'", t[3]));
                }
                let acct = AccountId(self.accts.resolve(t[1]));
                let sym = t.get(2).map(|s| SymbolId(self.syms.resolve(s)));
                Ok(Some(Step::Input(Input::MassCancel(MassCancel { acct, sym }))))
            }
            "book" => {
                need(2, "book SYM [depth=N]")?;
                let o = Opts::new(&t[2..], &["depth"], &[])?;
                let depth = match o.get("depth") {
                    Some(d) => d.parse::<usize>().map_err(|_| format!("bad depth '{d}'"))?,
                    None => usize::MAX,
                };
                let id = self.syms.resolve(t[1]);
                if !self.syms.known(id) {
                    return Err(format!("unknown symbol '{}'", t[1]));
                }
                Ok(Some(Step::Book { sym: SymbolId(id), depth }))
            }
            "halt" | "resume" => {
                need(2, &format!("{} SYM", t[0]))?;
                if t.len() > 2 {
                    return Err(format!("unexpected '{}'", t[2]));
                }
                let sym = self.known_sym(t[1])?;
                Ok(Some(Step::Input(if t[0] == "halt" { Input::Halt(sym) } else { Input::Resume(sym) })))
            }
            "kill" | "unkill" => {
                need(2, &format!("{} ACCT|all{}", t[0], if t[0] == "kill" { " [reduce_only]" } else { "" }))?;
                let flags: &[&str] = if t[0] == "kill" { &["reduce_only"] } else { &[] };
                let o = Opts::new(&t[2..], &[], flags)?;
                let acct = if t[1] == "all" { None } else { Some(AccountId(self.accts.resolve(t[1]))) };
                Ok(Some(Step::Input(if t[0] == "kill" {
                    Input::Kill(KillSwitch { acct, reduce_only: o.flag("reduce_only") })
                } else {
                    Input::Unkill(acct)
                })))
            }
            "session_end" => {
                if t.len() > 1 {
                    return Err(format!("unexpected '{}'", t[1]));
                }
                Ok(Some(Step::Input(Input::SessionEnd)))
            }
            "auction" => {
                need(3, "auction SYM open|close")?;
                if t.len() > 3 {
                    return Err(format!("unexpected '{}'", t[3]));
                }
                let sym = self.known_sym(t[1])?;
                let kind = match t[2] {
                    "open" => AuctionKind::Open,
                    "close" => AuctionKind::Close,
                    k => return Err(format!("bad auction '{k}' (open or close)")),
                };
                Ok(Some(Step::Input(Input::Auction(sym, kind))))
            }
            "trade" => {
                const USAGE: &str = "trade SYM PRICExQTY (or trade SYM px=P qty=N)";
                need(3, USAGE)?;
                let sym = self.known_sym(t[1])?;
                let (p, q) = if t.len() == 3 && !t[2].contains('=') {
                    t[2].split_once('x').ok_or(format!("usage: {USAGE}"))?
                } else {
                    let o = Opts::new(&t[2..], &["px", "qty"], &[])?;
                    (o.get("px").ok_or("trade needs px=")?, o.get("qty").ok_or("trade needs qty=")?)
                };
                let ins = self.instruments[sym.0 as usize];
                let price = ins.parse_price(p).map_err(|e| format!("bad trade price '{p}': {e}"))?;
                let qty = ins.parse_qty(q).map_err(|e| format!("bad trade quantity '{q}': {e}"))?;
                if price.is_none() || qty.is_zero() {
                    return Err("a trade print needs a price and a quantity above zero".into());
                }
                Ok(Some(Step::Input(Input::TradePrint(TradePrint { sym, price, qty }))))
            }
            "quote" => {
                const USAGE: &str = "quote SYM bid=PxQ ask=PxQ (either may be left out), or quote SYM BIDxQTY ASKxQTY (`-` for a missing side)";
                need(3, USAGE)?;
                let named = t[2..].iter().any(|w| w.contains('='));
                if !named && t.len() != 4 {
                    return Err(if t.len() > 4 { format!("unexpected '{}'", t[4]) } else { format!("usage: {USAGE}") });
                }
                let sym = self.known_sym(t[1])?;
                let ins = self.instruments[sym.0 as usize];
                let side = |text: &str| -> Result<(Price, Qty), String> {
                    if text == "-" {
                        return Ok((Price::NONE, Qty::ZERO));
                    }
                    let (p, q) = text.split_once('x').ok_or(format!("usage: {USAGE}"))?;
                    let price = ins.parse_price(p).map_err(|e| format!("bad quote price '{p}': {e}"))?;
                    let qty = ins.parse_qty(q).map_err(|e| format!("bad quote quantity '{q}': {e}"))?;
                    if price.is_none() || qty.is_zero() {
                        return Err("a quoted side needs a price and a quantity above zero (or `-`)".into());
                    }
                    Ok((price, qty))
                };
                let (bid_text, ask_text) = if named {
                    let o = Opts::new(&t[2..], &["bid", "ask"], &[])?;
                    (o.get("bid").unwrap_or("-"), o.get("ask").unwrap_or("-"))
                } else {
                    (t[2], t[3])
                };
                let (bid, bid_qty) = side(bid_text)?;
                let (ask, ask_qty) = side(ask_text)?;
                Ok(Some(Step::Input(Input::Quote(ExtQuote { sym, bid, bid_qty, ask, ask_qty }))))
            }
            "position" => {
                need(2, "position ACCT [SYM]")?;
                if t.len() > 3 {
                    return Err(format!("unexpected '{}'", t[3]));
                }
                let id = self.accts.resolve(t[1]);
                if !self.accts.known(id) {
                    return Err(format!("unknown account '{}'", t[1]));
                }
                let sym = match t.get(2) {
                    Some(s) => Some(self.known_sym(s)?),
                    None => None,
                };
                Ok(Some(Step::Position { acct: AccountId(id), sym }))
            }
            "statement" => {
                if t.len() > 1 {
                    return Err(format!("unexpected '{}'", t[1]));
                }
                Ok(Some(Step::Statement))
            }
            "limits" => {
                const KEYS: &[&str] = &[
                    "max_qty",
                    "max_notional",
                    "collar_bps",
                    "collar_pct",
                    "max_open",
                    "max_long",
                    "max_short",
                    "max_pos",
                    "max_position",
                    "rate",
                    "buying_power",
                ];
                need(3, "limits ACCT [max_qty=N] [max_notional=X] [collar_pct=P|collar_bps=N] [max_open=N] [max_long=N] [max_short=N] [max_position=N] [rate=N] [buying_power=on|off]")?;
                let id = self.accts.resolve(t[1]);
                if !self.accts.known(id) {
                    return Err(format!("unknown account '{}'", t[1]));
                }
                let o = Opts::new(&t[2..], KEYS, &[])?;
                let int = |k: &str| -> Result<Option<i64>, String> {
                    match o.get(k) {
                        None => Ok(None),
                        Some(v) => v.parse::<i64>().ok().filter(|&n| n >= 0).map(Some).ok_or(format!("bad {k} '{v}'")),
                    }
                };
                // Quantities are whole lots here (the limits are per account, not per instrument).
                if o.get("collar_pct").is_some() && o.get("collar_bps").is_some() {
                    return Err("give the collar as collar_pct or as collar_bps, not both".into());
                }
                if o.get("max_pos").is_some() && o.get("max_position").is_some() {
                    return Err("max_pos and max_position are one limit: give it once".into());
                }
                // A percentage with up to two decimals is a whole number of
                // basis points (10 -> 1,000 bps; 2.5 -> 250 bps).
                let collar_pct = match o.get("collar_pct") {
                    None => None,
                    Some(v) => Some(
                        Money::parse(v)
                            .ok()
                            .filter(|m| m.micros() >= 0 && m.micros() % 10_000 == 0)
                            .map(|m| m.micros() / 10_000)
                            .ok_or(format!("bad collar_pct '{v}' (a percentage with at most two decimals)"))?,
                    ),
                };
                let max_pos = int("max_pos")?.or(int("max_position")?);
                let mut l = RiskLimits {
                    max_qty: int("max_qty")?,
                    collar_bps: int("collar_bps")?.or(collar_pct),
                    max_open_orders: int("max_open")?.map(|n| n.min(i64::from(u32::MAX)) as u32),
                    max_long: int("max_long")?.or(max_pos),
                    max_short: int("max_short")?.or(max_pos),
                    rate_per_sec: int("rate")?.map(|n| n.min(i64::from(u32::MAX)) as u32),
                    ..RiskLimits::default()
                };
                if let Some(v) = o.get("max_notional") {
                    let m = Money::parse(v).ok().filter(|m| m.micros() >= 0);
                    l.max_notional = Some(m.ok_or(format!("bad max_notional '{v}'"))?);
                }
                l.buying_power = match o.get("buying_power") {
                    None | Some("off") => false,
                    Some("on") => true,
                    Some(v) => return Err(format!("bad buying_power '{v}' (on or off)")),
                };
                Ok(Some(Step::Configure(RiskConfig::Limits(AccountId(id), l))))
            }
            "restrict" => {
                need(2, "restrict SYM [off]")?;
                let on = match t.get(2) {
                    None => true,
                    Some(&"off") => false,
                    Some(v) => return Err(format!("unexpected '{v}'")),
                };
                let sym = self.known_sym(t[1])?;
                Ok(Some(Step::Configure(RiskConfig::Restrict(sym, on))))
            }
            other => Err(format!("unknown command '{other}'")),
        }
    }

    /// A declared symbol, or an error naming it.
    fn known_sym(&mut self, name: &str) -> Result<SymbolId, String> {
        let id = self.syms.resolve(name);
        if !self.syms.known(id) {
            return Err(format!("unknown symbol '{name}'"));
        }
        Ok(SymbolId(id))
    }

    /// The instrument of the last `new` with this client order id, if any.
    fn order_instrument(&self, acct: AccountId, clid: ClientOrderId) -> Option<Instrument> {
        self.clid_sym.get(&(acct.0, clid.0)).and_then(|s| self.instruments.get(*s as usize)).copied()
    }

    fn parse_new(&mut self, t: &[&str]) -> Result<Step, String> {
        const USAGE: &str = "new ACCT CLID SYM buy|sell limit|market|stop|stop_limit qty=N [px=P] [stop=P] [tif=..] [expire=HH:MM:SS] [post_only] [display=N]";
        if t.len() < 6 {
            return Err(format!("usage: {USAGE}"));
        }
        let side = match t[4] {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            s => return Err(format!("bad side '{s}' (buy or sell)")),
        };
        let ord_type = match t[5] {
            "limit" => OrdType::Limit,
            "market" => OrdType::Market,
            "stop" => OrdType::Stop,
            "stop_limit" => OrdType::StopLimit,
            s => return Err(format!("bad order type '{s}'")),
        };
        let o = Opts::new(&t[6..], &["qty", "px", "stop", "tif", "expire", "display"], &["post_only"])?;
        let tif = match o.get("tif") {
            None | Some("day") => Tif::Day,
            Some("gtc") => Tif::Gtc,
            Some("ioc") => Tif::Ioc,
            Some("fok") => Tif::Fok,
            Some("gtd") => Tif::Gtd,
            Some("opg") => Tif::Opg,
            Some("cls") => Tif::Cls,
            Some(s) => return Err(format!("bad tif '{s}'")),
        };
        let expire = match o.get("expire") {
            Some(e) => parse_time(e)?,
            None => Nanos(0),
        };
        let qty_text = o.get("qty").ok_or("new needs qty=")?;
        let acct = AccountId(self.accts.resolve(t[1]));
        let clid = self.clid(t[2]);
        let sym_id = self.syms.resolve(t[3]);
        let sym = SymbolId(sym_id);
        let order = OrderRef { acct, clid, id: OrderId(0) };
        let mut new = NewOrder {
            acct,
            clid,
            sym,
            side,
            ord_type,
            tif,
            price: Price::NONE,
            stop_price: Price::NONE,
            qty: Qty::from_lots(1),
            display: Qty::ZERO,
            expire,
            post_only: o.flag("post_only"),
        };
        if matches!(ord_type, OrdType::Limit | OrdType::StopLimit) && o.get("px").is_none() {
            return Err(format!("a {} order needs px=", ord_type.as_str()));
        }
        if matches!(ord_type, OrdType::Stop | OrdType::StopLimit) && o.get("stop").is_none() {
            return Err(format!("a {} order needs stop=", ord_type.as_str()));
        }
        if self.syms.known(sym_id) && self.accts.known(acct.0) {
            let ins = self.instruments[sym_id as usize];
            if let Some(p) = o.get("px") {
                match ins.parse_price(p) {
                    Ok(v) => new.price = v,
                    Err(e) => return Ok(Step::EdgeReject { order, cmd: CmdKind::New, reason: price_reason(e)? }),
                }
            }
            if let Some(p) = o.get("stop") {
                match ins.parse_price(p) {
                    Ok(v) => new.stop_price = v,
                    Err(e) => return Ok(Step::EdgeReject { order, cmd: CmdKind::New, reason: price_reason(e)? }),
                }
            }
            match ins.parse_qty(qty_text) {
                Ok(v) => new.qty = v,
                Err(e) => return Ok(Step::EdgeReject { order, cmd: CmdKind::New, reason: qty_reason(e)? }),
            }
            if let Some(d) = o.get("display") {
                match ins.parse_qty(d) {
                    Ok(v) => new.display = v,
                    Err(e) => return Ok(Step::EdgeReject { order, cmd: CmdKind::New, reason: qty_reason(e)? }),
                }
            }
            // Remember the order's symbol to convert a later replace's price:
            // only for the first `new` of this clid that the engine will not
            // reject as invalid (the one the engine knows; later ones are
            // duplicates, and must not change how a replace is read).
            let invalid = new.qty.is_zero()
                || (matches!(ord_type, OrdType::Limit | OrdType::StopLimit) && new.price.is_none())
                || (matches!(ord_type, OrdType::Market | OrdType::Stop) && (!new.price.is_none() || new.post_only))
                || (new.post_only && matches!(tif, Tif::Ioc | Tif::Fok));
            if !invalid {
                self.clid_sym.entry((acct.0, clid.0)).or_insert(sym_id);
            }
        } else {
            // The engine rejects the unknown account or symbol; numbers
            // still have to be numbers.
            if let Some(p) = o.get("px") {
                if parse_unsigned_scaled(p, 9) == Err(DecimalError::Syntax) {
                    return Err("price is not a number".into());
                }
            }
            for p in [o.get("stop"), o.get("display")].into_iter().flatten() {
                if parse_unsigned_scaled(p, 9) == Err(DecimalError::Syntax) {
                    return Err(format!("'{p}' is not a number"));
                }
            }
            if parse_unsigned_scaled(qty_text, 9) == Err(DecimalError::Syntax) {
                return Err("quantity is not a number".into());
            }
        }
        Ok(Step::Input(Input::NewOrder(new)))
    }

    /// The name of an account id.
    pub fn account_name(&self, id: AccountId) -> &str {
        self.accts.name(id.0)
    }

    /// The name of a symbol id.
    pub fn symbol_name(&self, id: SymbolId) -> &str {
        self.syms.name(id.0)
    }

    /// The text of a client order id.
    pub fn clid_name(&self, id: ClientOrderId) -> &str {
        self.clids.get((id.0 as usize).wrapping_sub(1)).map_or("?", String::as_str)
    }

    fn instrument(&self, sym: SymbolId) -> Instrument {
        self.instruments.get(sym.0 as usize).copied().unwrap_or(Instrument {
            decimals: 0,
            tick_units: 1,
            lot_size: 1,
            mode: VenueMode::Clob,
            ref_price: Price::NONE,
        })
    }

    fn px(&self, sym: SymbolId, p: Price) -> String {
        self.instrument(sym).fmt_price(p)
    }

    fn qty(&self, sym: SymbolId, q: Qty) -> i128 {
        self.instrument(sym).qty_units(q)
    }

    fn order_fields(&self, o: &mut String, r: &OrderRef) {
        let _ = write!(o, ",\"acct\":");
        json_str(o, self.account_name(r.acct));
        if r.clid.0 == 0 {
            o.push_str(",\"clid\":null");
        } else {
            o.push_str(",\"clid\":");
            json_str(o, self.clid_name(r.clid));
        }
        if r.id.0 == 0 {
            o.push_str(",\"id\":null");
        } else {
            let _ = write!(o, ",\"id\":{}", r.id.0);
        }
    }

    fn order_tag(&self, r: &OrderRef) -> String {
        format!("{}/{}", self.account_name(r.acct), self.clid_name(r.clid))
    }

    /// Renders an event as one JSON object (no newline).
    pub fn render(&self, ev: &Event, o: &mut String) {
        let head = |o: &mut String, name: &str| {
            let _ = write!(o, "{{\"ev\":\"{name}\",\"seq\":{},\"time\":\"{}\"", ev.seq.0, ev.time);
        };
        match ev.kind {
            EventKind::Accepted { order, sym, side, ord_type, tif, price, qty, stop, display } => {
                head(o, "accepted");
                self.order_fields(o, &order);
                self.sym_field(o, sym);
                let _ = write!(
                    o,
                    ",\"side\":\"{}\",\"type\":\"{}\",\"tif\":\"{}\"",
                    side.as_str(),
                    ord_type.as_str(),
                    tif.as_str()
                );
                if price.is_none() {
                    o.push_str(",\"px\":null");
                } else {
                    let _ = write!(o, ",\"px\":\"{}\"", self.px(sym, price));
                }
                let _ = write!(o, ",\"qty\":{}", self.qty(sym, qty));
                if !stop.is_none() {
                    let _ = write!(o, ",\"stop\":\"{}\"", self.px(sym, stop));
                }
                if !display.is_zero() {
                    let _ = write!(o, ",\"display\":{}", self.qty(sym, display));
                }
            }
            EventKind::Rejected { order, cmd, reason } => {
                head(o, "rejected");
                self.order_fields(o, &order);
                let _ = write!(o, ",\"cmd\":\"{}\",\"reason\":\"{}\"", cmd.as_str(), reason.as_str());
            }
            EventKind::Traded { trade_id, sym, price, qty, buy, sell, aggressor } => {
                head(o, "trade");
                self.sym_field(o, sym);
                let _ = write!(
                    o,
                    ",\"px\":\"{}\",\"qty\":{},\"trade_id\":{}",
                    self.px(sym, price),
                    self.qty(sym, qty),
                    trade_id.0
                );
                let _ = write!(o, ",\"buy\":");
                json_str(o, &self.order_tag(&buy));
                let _ = write!(o, ",\"sell\":");
                json_str(o, &self.order_tag(&sell));
                if let Some(side) = aggressor {
                    let (maker, taker) = if side == Side::Buy { (sell, buy) } else { (buy, sell) };
                    let _ = write!(o, ",\"maker\":");
                    json_str(o, &self.order_tag(&maker));
                    let _ = write!(o, ",\"taker\":");
                    json_str(o, &self.order_tag(&taker));
                }
            }
            EventKind::Filled { order, sym, side, price, qty, leaves, liq, trade_id, fee } => {
                head(o, "fill");
                self.order_fields(o, &order);
                self.sym_field(o, sym);
                let _ = write!(
                    o,
                    ",\"side\":\"{}\",\"px\":\"{}\",\"qty\":{},\"leaves\":{},\"liq\":\"{}\",\"fee\":\"{}\",\"trade_id\":{}",
                    side.as_str(),
                    self.px(sym, price),
                    self.qty(sym, qty),
                    self.qty(sym, leaves),
                    liq.as_str(),
                    fee,
                    trade_id.0
                );
            }
            EventKind::Cancelled { order, sym, qty, reason } => {
                head(o, "cancelled");
                self.order_fields(o, &order);
                self.sym_field(o, sym);
                let _ = write!(o, ",\"qty\":{},\"reason\":\"{}\"", self.qty(sym, qty), reason.as_str());
            }
            EventKind::Replaced { order, sym, price, qty, leaves, stop } => {
                head(o, "replaced");
                self.order_fields(o, &order);
                self.sym_field(o, sym);
                if price.is_none() {
                    o.push_str(",\"px\":null");
                } else {
                    let _ = write!(o, ",\"px\":\"{}\"", self.px(sym, price));
                }
                let _ = write!(o, ",\"qty\":{},\"leaves\":{}", self.qty(sym, qty), self.qty(sym, leaves));
                if !stop.is_none() {
                    let _ = write!(o, ",\"stop\":\"{}\"", self.px(sym, stop));
                }
            }
            EventKind::Triggered { order, sym, last } => {
                head(o, "triggered");
                self.order_fields(o, &order);
                self.sym_field(o, sym);
                let _ = write!(o, ",\"last\":\"{}\"", self.px(sym, last));
            }
            EventKind::Expired { order, sym, qty } => {
                head(o, "expired");
                self.order_fields(o, &order);
                self.sym_field(o, sym);
                let _ = write!(o, ",\"qty\":{}", self.qty(sym, qty));
            }
            EventKind::TradingStatus { sym, halted } => {
                head(o, "status");
                self.sym_field(o, sym);
                let _ = write!(o, ",\"state\":\"{}\"", if halted { "halted" } else { "trading" });
            }
            EventKind::LevelChanged { sym, side, price, qty } => {
                head(o, "level");
                self.sym_field(o, sym);
                let _ = write!(
                    o,
                    ",\"side\":\"{}\",\"px\":\"{}\",\"qty\":{}",
                    side.as_str(),
                    self.px(sym, price),
                    self.qty(sym, qty)
                );
            }
        }
        o.push('}');
    }

    fn sym_field(&self, o: &mut String, sym: SymbolId) {
        o.push_str(",\"sym\":");
        json_str(o, self.symbol_name(sym));
    }

    /// Renders a position: `{"ev":"position","acct":..,"sym":..,"qty":..,
    /// "avg_px":..,"realized":..,"unrealized":..}` (quantities in shares,
    /// `avg_px` the cost per share, `null` when flat).
    pub fn render_position<R: PreTradeCheck>(
        &self,
        engine: &Engine<R>,
        acct: AccountId,
        sym: SymbolId,
        o: &mut String,
    ) {
        let Some(p) = engine.position_report(acct, sym) else { return };
        o.push_str("{\"ev\":\"position\",\"acct\":");
        json_str(o, self.account_name(acct));
        self.sym_field(o, sym);
        let shares = self.qty(sym, p.qty);
        let _ = write!(o, ",\"qty\":{shares}");
        if shares == 0 {
            o.push_str(",\"avg_px\":null");
        } else {
            let avg = crate::account::div_half_even(i128::from(p.cost.micros()), shares);
            let avg = Money::from_micros(crate::account::sat(avg));
            let _ = write!(o, ",\"avg_px\":\"{avg}\"");
        }
        let _ = write!(
            o,
            ",\"realized\":\"{}\",\"unrealized\":\"{}\",\"value\":\"{}\",\"open_buy\":{},\"open_sell\":{}}}",
            p.realized,
            p.unrealized,
            p.value,
            self.qty(sym, p.open_buy),
            self.qty(sym, p.open_sell)
        );
    }

    /// Renders an account: `{"ev":"account","acct":..,"cash":..,"equity":..,
    /// "buying_power":..,"fees":..}` and its P&L.
    pub fn render_account<R: PreTradeCheck>(&self, engine: &Engine<R>, acct: AccountId, o: &mut String) {
        let Some(a) = engine.account_report(acct) else { return };
        o.push_str("{\"ev\":\"account\",\"acct\":");
        json_str(o, self.account_name(acct));
        let _ = write!(
            o,
            ",\"cash\":\"{}\",\"equity\":\"{}\",\"buying_power\":\"{}\",\"fees\":\"{}\",\"realized\":\"{}\",\"unrealized\":\"{}\",\"open_orders\":{}}}",
            a.cash, a.equity, a.buying_power, a.fees, a.realized, a.unrealized, a.open_orders
        );
    }

    /// Renders the lines a printing step asks for (`book`, `position`,
    /// `statement`), one JSON object per line; `false` for other steps.
    pub fn render_step<R: PreTradeCheck>(&self, engine: &Engine<R>, step: &Step, o: &mut String) -> bool {
        match *step {
            Step::Book { sym, depth } => {
                self.render_book(engine, sym, depth, o);
                o.push('\n');
            }
            Step::Position { acct, sym } => {
                let syms = match sym {
                    Some(s) => vec![s],
                    None => engine.position_symbols(acct),
                };
                for s in syms {
                    self.render_position(engine, acct, s, o);
                    o.push('\n');
                }
                self.render_account(engine, acct, o);
                o.push('\n');
            }
            Step::Statement => self.render_statement(engine, o),
            _ => return false,
        }
        true
    }

    /// The day's statement: every declared account, its positions, then the account line.
    pub fn render_statement<R: PreTradeCheck>(&self, engine: &Engine<R>, o: &mut String) {
        for a in 0..self.accts.declared {
            let acct = AccountId(a);
            for s in engine.position_symbols(acct) {
                self.render_position(engine, acct, s, o);
                o.push('\n');
            }
            self.render_account(engine, acct, o);
            o.push('\n');
        }
    }

    /// Renders the book of a symbol: `{"ev":"book","sym":..,"bids":[[px,qty],..],"asks":[..]}`.
    pub fn render_book<R: PreTradeCheck>(&self, engine: &Engine<R>, sym: SymbolId, depth: usize, o: &mut String) {
        o.push_str("{\"ev\":\"book\"");
        self.sym_field(o, sym);
        for (name, side) in [("bids", Side::Buy), ("asks", Side::Sell)] {
            let _ = write!(o, ",\"{name}\":[");
            for (i, (p, q)) in engine.levels(sym, side).take(depth).enumerate() {
                if i > 0 {
                    o.push(',');
                }
                let _ = write!(o, "[\"{}\",{}]", self.px(sym, p), self.qty(sym, q));
            }
            o.push(']');
        }
        o.push('}');
    }
}

/// Writes a JSON string literal.
pub fn json_str(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

/// Applies one step to an engine. Events go to `sink`; `Step::Book` calls
/// `on_book`. Returns `false` for steps that only print.
pub fn apply<R: PreTradeCheck>(engine: &mut Engine<R>, step: &TimedStep, sink: &mut impl EventSink) -> bool {
    match &step.step {
        Step::Instrument(i) => {
            engine.add_instrument(*i);
        }
        Step::Account(a) => {
            engine.add_account(*a);
        }
        Step::Input(input) => engine.process(step.time, input, sink),
        Step::EdgeReject { order, cmd, reason } => sink.emit(&Event {
            seq: Seq(0),
            time: engine.now().max(step.time),
            kind: EventKind::Rejected { order: *order, cmd: *cmd, reason: *reason },
        }),
        Step::Configure(c) => {
            if engine.check_mut().configure(c).is_err() {
                let order = OrderRef { acct: AccountId(0), clid: ClientOrderId(0), id: OrderId(0) };
                sink.emit(&Event {
                    seq: Seq(0),
                    time: engine.now().max(step.time),
                    kind: EventKind::Rejected { order, cmd: CmdKind::Admin, reason: RejectReason::NotSupported },
                });
            }
        }
        Step::Book { .. } | Step::Position { .. } | Step::Statement => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("09:30:00"), Ok(Nanos(34_200_000_000_000)));
        assert_eq!(parse_time("09:30:00.5"), Ok(Nanos(34_200_500_000_000)));
        assert!(parse_time("9:30:00").is_err());
        assert!(parse_time("24:00:00").is_err());
        assert!(parse_time("09:30:00.1234567890").is_err());
    }

    #[test]
    fn bad_lines_name_the_problem() {
        let mut p = Parser::new();
        p.parse_line("instrument X tick=0.01 lot=1").unwrap();
        p.parse_line("account A cash=1000").unwrap();
        let e = p.parse_line("new A 1 X buy limit px=1").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.msg.contains("qty="), "{e}");
        let e = p.parse_line("frobnicate").unwrap_err();
        assert!(e.msg.contains("unknown command"), "{e}");
        let e = p.parse_line("new A 1 X buy limit qty=abc px=1").unwrap_err();
        assert!(e.msg.contains("not a number"), "{e}");
        let e = p.parse_line("quote X bid=1 ask=2").unwrap_err();
        assert!(e.msg.contains("usage"), "{e}");
        let e = p.parse_line("new A 1 X buy stop qty=1").unwrap_err();
        assert!(e.msg.contains("stop="), "{e}");
        let e = p.parse_line("halt NOPE").unwrap_err();
        assert!(e.msg.contains("unknown symbol"), "{e}");
    }

    #[test]
    fn bad_numbers_are_edge_rejects() {
        let mut p = Parser::new();
        p.parse_all("instrument X tick=0.05 lot=10\naccount A cash=1\n").unwrap();
        let r = |p: &mut Parser, l: &str| match p.parse_line(l).unwrap().unwrap().step {
            Step::EdgeReject { reason, .. } => reason,
            s => panic!("{s:?}"),
        };
        assert_eq!(r(&mut p, "new A 1 X buy limit qty=10 px=1.07"), RejectReason::OffTick);
        assert_eq!(r(&mut p, "new A 2 X buy limit qty=10 px=1.051"), RejectReason::OffTick);
        assert_eq!(r(&mut p, "new A 3 X buy limit qty=15 px=1.05"), RejectReason::OffLot);
        assert_eq!(r(&mut p, "new A 4 X buy limit qty=-10 px=1.05"), RejectReason::InvalidQty);
        assert_eq!(r(&mut p, "new A 5 X buy limit qty=10 px=-1"), RejectReason::InvalidPrice);
        assert_eq!(r(&mut p, "new A 6 X buy limit qty=10 px=99999999999999999999999"), RejectReason::PriceTooLarge);
        assert_eq!(r(&mut p, "new A 7 X buy limit qty=99999999999999999999990 px=1"), RejectReason::QtyTooLarge);
    }
}
