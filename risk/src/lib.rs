//! risk placeholder
