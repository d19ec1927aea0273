//! Building blocks shared by the detectors: "first index past a threshold" search and
//! sliding-window extremes. Each is O(n) to build and answers queries in O(log n) or
//! amortised O(1), so no detector needs a per-event forward scan over the rest of a series.

pub mod first_match;
pub mod sliding;

pub use first_match::{Extreme, FirstMatch};
