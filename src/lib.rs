//! ictcore: the native core of an ICT / Smart Money Concepts analysis engine.
//!
//! Pure Rust with no Python dependency; the PyO3 bindings live in the `python/` crate.
//! - [`compat`]: bit-for-bit ports of `smartmoneyconcepts` 0.0.27.
//! - [`detect`]: native causal detectors (event tables with `known_at`, lifecycles, streaming).
//! - [`candles`]: the borrowed OHLCV view and the input checks every entry point shares.
//! - [`algo`]: threshold searches and sliding extremes the detectors are built from.
//! - [`error`]: the single error type, with context for every failure.
//! - [`table`]: a detector result as named, typed columns (what the pool, the cache and the
//!   bindings pass around); [`param`]: a parameter value, typed exactly.
//! - [`store`]: the candle store: memory-mapped series files, crash-safe appends, CSV import.
//! - [`compact`]: row-per-candle tables stored the cheapest exact way (sparse rows, runs).
//! - [`cache`]: the analysis cache: a moka memory tier over a compressed disk tier.
//! - [`pool`]: the detector pool: whole portfolios on a rayon pool, through the cache.
//! - [`fork`]: per-process state, fresh in a forked child (never a lock held by a thread
//!   that does not exist there).
//! - [`own_files`]: opening, creating and publishing files without following links or
//!   replacing anything (the store and cache touch only their own files).
//! - [`recycle`]: the extension's allocator, which reuses large freed result columns.

pub mod algo;
pub mod cache;
pub mod candles;
pub mod columns;
pub mod compact;
pub mod compat;
pub mod detect;
pub mod error;
pub mod fork;
pub mod live;
pub mod own_files;
pub mod param;
pub mod params;
pub mod pool;
pub mod recycle;
pub mod store;
pub mod table;

pub use candles::Candles;
pub use error::{IctError, Result};

/// The version of this crate, part of every cache key.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod fuzz_tests;
