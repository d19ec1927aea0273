//! The candle store: one memory-mappable file per (symbol, timeframe).
//!
//! Format and protocol follow `storage-and-cache.md` §2.1-2.3. This module so far holds the
//! on-disk header: two checksummed slots (A at 0, B at 4096) of which a reader trusts the
//! valid one with the higher sequence number, so a torn header write can never be read as a
//! commit.

pub mod header;

pub use header::{choose_slot, Header, SlotError};
