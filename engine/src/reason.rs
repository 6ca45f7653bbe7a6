//! Reason codes: why an order or request was rejected, and why an order was
//! cancelled. Small `Copy` enums; every reject and cancel carries one.

macro_rules! reason_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[repr(u8)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v,)* }
        impl $name {
            /// The snake_case name used in JSON and the protocol documentation.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
        }
    };
}

reason_enum!(
    /// Why a command was rejected. Engine checks (ids, state, validation) and
    /// risk limits share this one enum.
    RejectReason {
        /// The account does not exist.
        UnknownAccount = "unknown_account",
        /// The symbol does not exist.
        UnknownSymbol = "unknown_symbol",
        /// Zero or negative quantity.
        InvalidQty = "invalid_qty",
        /// Quantity beyond the representable range.
        QtyTooLarge = "qty_too_large",
        /// A limit price that is missing, zero or negative.
        InvalidPrice = "invalid_price",
        /// A price beyond the representable range.
        PriceTooLarge = "price_too_large",
        /// A price given where the order type takes none.
        PriceNotAllowed = "price_not_allowed",
        /// Price not a multiple of the tick size.
        OffTick = "off_tick",
        /// Quantity not a multiple of the lot size.
        OffLot = "off_lot",
        /// Too many decimal places or not a number.
        InvalidNumber = "invalid_number",
        /// Client order id already used by this account today.
        DuplicateClientOrderId = "duplicate_client_order_id",
        /// No order with this client order id was seen today.
        UnknownOrder = "unknown_order",
        /// The order is already filled, cancelled or expired.
        OrderNotWorking = "order_not_working",
        /// A replace to a total quantity not above what has already filled.
        QtyNotAboveFilled = "qty_not_above_filled",
        /// A post-only order that would take liquidity.
        PostOnlyWouldTake = "post_only_would_take",
        /// A combination of order type, time in force and flags that is not allowed.
        InvalidOrderType = "invalid_order_type",
        /// A feature that is not available yet.
        NotSupported = "not_supported",
        /// The symbol is halted: only cancels are accepted.
        SymbolHalted = "symbol_halted",
        /// The account's kill switch is on.
        KillSwitch = "kill_switch",
        /// A GTD expiry not after the engine time, or an expiry without `tif=gtd`.
        InvalidExpiry = "invalid_expiry",
        /// Risk: order quantity above the account's maximum.
        MaxQty = "max_qty",
        /// Risk: order notional above the account's maximum.
        MaxNotional = "max_notional",
        /// Risk: price outside the collar around the reference price.
        PriceCollar = "price_collar",
        /// Risk: too many open orders.
        MaxOpenOrders = "max_open_orders",
        /// Risk: the worst-case position would exceed the limit.
        PositionLimit = "position_limit",
        /// Risk: not enough buying power.
        BuyingPower = "buying_power",
        /// Risk: the account's order rate is above its limit.
        Throttled = "throttled",
        /// Risk: the symbol is restricted for the account.
        RestrictedSymbol = "restricted_symbol",
    }
);

reason_enum!(
    /// Why a working order (or its remainder) was cancelled.
    CancelReason {
        /// The client asked.
        Requested = "requested",
        /// A mass cancel of the account (and symbol).
        MassCancel = "mass_cancel",
        /// The remainder of an immediate-or-cancel order.
        ImmediateOrCancel = "immediate_or_cancel",
        /// A fill-or-kill order that could not fill in full.
        FillOrKill = "fill_or_kill",
        /// The remainder of a market order with no more liquidity.
        NoLiquidity = "no_liquidity",
        /// Self-trade prevention.
        SelfTrade = "self_trade",
        /// The account's kill switch.
        KillSwitch = "kill_switch",
        /// Left over after its auction.
        AuctionLeftover = "auction_leftover",
        /// Cancelled by an operator halt policy.
        Halted = "halted",
    }
);

impl RejectReason {
    /// Whether a pre-trade risk limit gave this reason (not the engine's own checks).
    pub const fn is_risk(self) -> bool {
        matches!(
            self,
            RejectReason::MaxQty
                | RejectReason::MaxNotional
                | RejectReason::PriceCollar
                | RejectReason::MaxOpenOrders
                | RejectReason::PositionLimit
                | RejectReason::BuyingPower
                | RejectReason::Throttled
                | RejectReason::RestrictedSymbol
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RejectReason::ALL {
            let s = r.as_str();
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{s}");
            assert!(seen.insert(s), "duplicate {s}");
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in CancelReason::ALL {
            assert!(seen.insert(r.as_str()));
        }
    }
}
