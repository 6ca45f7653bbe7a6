//! Halt / resume per symbol (a halted symbol accepts cancels only) and the
//! kill switch per account and for all accounts: it cancels working orders
//! (waiting stops and held orders too) and rejects new orders and replaces
//! until lifted; `reduce_only` still accepts orders that only reduce the
//! position.

mod common;
use common::*;
use optix_engine::*;

fn kill(acct: Option<AccountId>, reduce_only: bool) -> Input {
    Input::Kill(KillSwitch { acct, reduce_only })
}

#[test]
fn a_halted_symbol_accepts_cancels_only() {
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 5), buy(A, 2, 99, 5)]);
    assert_eq!(h.run(Input::Halt(S)), ["status s0 halted"]);
    // A second halt changes nothing and says so again.
    assert_eq!(h.run(Input::Halt(S)), ["status s0 halted"]);
    assert_eq!(h.run(sell(B, 3, 100, 1)), ["rejected new B/3#0 symbol_halted"]);
    assert_eq!(h.run(replace(A, 1, 101, 0)), ["rejected replace A/1#1 symbol_halted"]);
    assert_eq!(h.run(cancel(A, 2)), ["cancelled A/2#2 qty=5 requested", "level s0 buy px=99 qty=0"]);
    // Other symbols trade on.
    let other = NewOrder { sym: S1, ..lim(B, 4, Side::Sell, 100, 1) };
    assert_eq!(h.run(new(other))[0], "accepted B/4#3 s1 sell limit day px=100 qty=1");
    // A rejected order changes no state: its client order id may be sent again.
    assert_eq!(h.run(Input::Resume(S)), ["status s0 trading"]);
    let ev = h.run(sell(B, 3, 100, 1));
    assert_eq!(ev[1], "trade t1 px=100 qty=1 buy=A/1#1 sell=B/3#4 agg=sell");
    assert_eq!(h.run(sell(B, 3, 100, 1)), ["rejected new B/3#0 duplicate_client_order_id"]);
    assert_eq!(h.run(Input::Halt(SymbolId(9))), ["rejected admin A/0#0 unknown_symbol"]);
}

#[test]
fn stops_do_not_trigger_in_a_halted_symbol() {
    let mut h = h();
    h.setup(&[stop(A, 1, Side::Buy, 101, 0, 1), Input::Halt(S)]);
    assert_eq!(h.run(print(102, 1)), Vec::<String>::new());
    assert_eq!(h.e.stops(S, Side::Buy).count(), 1);
    h.setup(&[Input::Resume(S)]);
    assert_eq!(h.run(print(102, 1))[0], "triggered A/1#1 last=102");
}

#[test]
fn kill_cancels_every_working_order_of_the_account_oldest_first_and_rejects_new_ones() {
    let mut h = h();
    h.setup(&[
        buy(A, 1, 100, 5),
        stop(A, 2, Side::Sell, 90, 0, 1),
        new(NewOrder { tif: Tif::Opg, ..lim(A, 3, Side::Buy, 101, 1) }),
        buy(B, 4, 99, 1),
    ]);
    assert_eq!(
        h.run(kill(Some(A), false)),
        [
            "cancelled A/1#1 qty=5 kill_switch",
            "level s0 buy px=100 qty=0",
            "cancelled A/2#2 qty=1 kill_switch",
            "cancelled A/3#3 qty=1 kill_switch",
        ]
    );
    assert_eq!(h.e.open_orders(A), 0);
    assert_eq!(h.e.open_orders(B), 1);
    assert_eq!(h.run(buy(A, 5, 100, 1)), ["rejected new A/5#0 kill_switch"]);
    assert_eq!(h.run(buy(B, 6, 100, 1))[0], "accepted B/6#5 s0 buy limit day px=100 qty=1");
    h.setup(&[Input::Unkill(Some(A))]);
    assert_eq!(h.run(buy(A, 7, 100, 1))[0], "accepted A/7#6 s0 buy limit day px=100 qty=1");
    assert_eq!(h.run(kill(Some(AccountId(7)), false)), ["rejected admin acct7/0#0 unknown_account"]);
}

#[test]
fn kill_all_and_unkill_all() {
    let mut h = h();
    h.setup(&[buy(A, 1, 100, 1), sell(B, 2, 101, 1)]);
    assert_eq!(
        h.run(kill(None, false)),
        [
            "cancelled A/1#1 qty=1 kill_switch",
            "level s0 buy px=100 qty=0",
            "cancelled B/2#2 qty=1 kill_switch",
            "level s0 sell px=101 qty=0",
        ]
    );
    assert_eq!(h.run(buy(C, 3, 100, 1)), ["rejected new C/3#0 kill_switch"]);
    // Lifting one account's switch leaves the switch for all on.
    h.setup(&[Input::Unkill(Some(C))]);
    assert_eq!(h.run(buy(C, 4, 100, 1)), ["rejected new C/4#0 kill_switch"]);
    h.setup(&[kill(Some(A), false), Input::Unkill(None)]);
    assert_eq!(h.run(buy(A, 5, 100, 1))[0], "accepted A/5#3 s0 buy limit day px=100 qty=1");
    assert_eq!(h.run(buy(C, 6, 100, 1))[0], "accepted C/6#4 s0 buy limit day px=100 qty=1");
}

#[test]
fn reduce_only_accepts_orders_that_reduce_the_position() {
    let mut h = h();
    // A buys 5: long 5.
    h.setup(&[sell(B, 1, 100, 5), buy(A, 2, 100, 5), buy(B, 3, 99, 10)]);
    assert_eq!(h.e.position(A, S), 5);
    assert_eq!(h.e.position(B, S), -5);
    h.setup(&[kill(Some(A), true)]);
    assert_eq!(h.run(buy(A, 4, 98, 1)), ["rejected new A/4#0 kill_switch"]);
    assert_eq!(h.run(sell(A, 5, 105, 6)), ["rejected new A/5#0 kill_switch"]);
    // Selling up to the position is accepted (and trades).
    let ev = h.run(sell(A, 6, 99, 3));
    assert_eq!(ev[0], "accepted A/6#4 s0 sell limit day px=99 qty=3");
    assert_eq!(h.e.position(A, S), 2);
    // A replace is checked the same way: resting sell of 2 at 105 may not grow.
    h.setup(&[sell(A, 7, 105, 2)]);
    assert_eq!(h.run(replace(A, 7, 0, 3)), ["rejected replace A/7#5 kill_switch"]);
    assert_eq!(h.run(replace(A, 7, 104, 0))[0], "replaced A/7#5 px=104 qty=2 leaves=2");
    // Other symbols: no position, nothing reduces.
    let other = NewOrder { sym: S1, ..lim(A, 8, Side::Sell, 100, 1) };
    assert_eq!(h.run(new(other)), ["rejected new A/8#0 kill_switch"]);
    // Reduce-only for all accounts.
    h.setup(&[Input::Unkill(Some(A)), kill(None, true)]);
    assert_eq!(h.run(sell(B, 9, 99, 1)), ["rejected new B/9#0 kill_switch"]);
    // B is short 2 (sold 5, bought 3 from A).
    assert_eq!(h.e.position(B, S), -2);
    assert_eq!(h.run(buy(B, 10, 105, 3)), ["rejected new B/10#0 kill_switch"]);
    assert_eq!(h.run(buy(B, 11, 105, 2))[0], "accepted B/11#6 s0 buy limit day px=105 qty=2");
}

#[test]
fn halt_and_kill_parse_in_scripts() {
    use optix_engine::scenario::{Parser, Step};
    let mut p = Parser::new();
    p.parse_all("instrument X tick=0.01\naccount a cash=1\n").unwrap();
    let input = |p: &mut Parser, l: &str| match p.parse_line(l).unwrap().unwrap().step {
        Step::Input(i) => i,
        s => panic!("{s:?}"),
    };
    assert_eq!(input(&mut p, "halt X"), Input::Halt(SymbolId(0)));
    assert_eq!(input(&mut p, "resume X"), Input::Resume(SymbolId(0)));
    assert_eq!(input(&mut p, "kill a"), kill(Some(AccountId(0)), false));
    assert_eq!(input(&mut p, "kill all reduce_only"), kill(None, true));
    assert_eq!(input(&mut p, "unkill a"), Input::Unkill(Some(AccountId(0))));
    assert_eq!(input(&mut p, "unkill all"), Input::Unkill(None));
}

#[test]
fn a_stop_accepted_as_reducing_is_checked_again_when_it_triggers() {
    let mut h = h();
    h.setup(&[sell(B, 1, 100, 5), buy(A, 2, 100, 5), kill(Some(A), true)]);
    assert_eq!(h.e.position(A, S), 5);
    h.setup(&[stop(A, 3, Side::Sell, 99, 0, 2), buy(B, 4, 100, 5), sell(A, 5, 100, 5)]);
    assert_eq!(h.e.position(A, S), 0);
    assert_eq!(h.run(print(99, 1)), ["triggered A/3#3 last=99", "rejected new A/3#3 kill_switch"]);
    assert_eq!(h.e.open_orders(A), 0);
}
