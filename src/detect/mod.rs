//! Native causal detectors (`ict-concepts.md` §3): every event knows the bar it is drawn at
//! (`anchor`) and the first bar at whose close it exists without future data (`known_at`).
//!
//! Each detector is a streaming state machine ([`Detector`]): `step` processes the newest bar
//! of a [`History`] and `undo` takes that bar back (a revised forming candle). The batch form
//! ([`run`]) is the fold of `step` over a series, so batch and streaming agree bit for bit by
//! construction, and nothing a detector emits can depend on a later bar.
//!
//! - [`swings`]: pivot highs/lows with HH/LH/HL/LL labels.
//! - [`structure`]: BOS/CHoCH at the break bar; internal and swing layers.
//! - [`mss`]: market structure shifts (sweep, then a displaced CHoCH).
//! - [`cisd`]: changes in state of delivery (a close beyond the open of a run that made an
//!   extreme).
//! - [`fvg`], [`gaps`] (volume imbalances, opening gaps), [`order_blocks`] (with breakers):
//!   zones with the lifecycle of [`zones`] (touched, mean threshold, filled, inverted, dead).
//! - [`mitigation`]: mitigation blocks (a failure swing, then a break), with the zone
//!   lifecycle.
//! - [`composite`]: BPRs (overlapping opposite FVGs) and rejection blocks (long-wick swings),
//!   with the zone lifecycle.
//! - [`displacement`]: large-body candles.
//! - [`ranges`]: dealing ranges left by breaks — premium/discount, OTE band (with a
//!   lifecycle), strong and weak ends.
//! - [`liquidity`]: swing levels and equal highs/lows pools (causal tolerance), swept or run.
//! - [`new_opening_gaps`]: NDOG / NWOG, settlement close to reopen, with the zone lifecycle.
//! - [`sessions`]: kill zones and sessions in an IANA time zone (DST-correct), one row per
//!   window instance with its high and low, known at the first bar after it.
//! - [`lifecycle`]: states, the transition log, and the "alive at bar t" index.
//! - [`engine`]: several detectors over one live series (`update`, `update_last`).
//! - [`registry`]: the one list of detectors, each declared once in its module (name,
//!   parameters, tables, inputs); [`graph`]: a run's detectors and their shared inputs.

pub mod checkpoint;
pub mod cisd;
pub mod composite;
pub mod displacement;
pub mod engine;
pub mod fvg;
pub mod gaps;
pub mod graph;
pub mod history;
pub mod lifecycle;
pub mod liquidity;
pub mod log;
pub mod mitigation;
pub mod mss;
pub mod new_opening_gaps;
pub mod order_blocks;
pub mod ranges;
pub mod registry;
pub mod sessions;
pub mod structure;
pub mod swings;
pub mod table;
pub mod zones;

pub use engine::Engine;
pub use history::{Bar, History};
pub use registry::{Declaration, Detector, NativeSpec, REGISTRY};

use crate::candles::Candles;
use crate::error::Result;
use crate::table::ResultTable;

/// Revision of the native detectors' outputs, part of their cache key: bumped whenever a
/// detector's table can change for the same input and parameters (a fixed definition, a
/// changed ATR rounding, another row order), so a cache never returns a table an older
/// build computed. 2: ATR by constant multipliers; same-bar zone transitions logged zone by
/// zone; mitigation blocks; tick tolerance. 3: an order block's volume share sums the
/// leg's volumes directly (not as a difference of running sums: other last bits).
pub const REVISION: i64 = 3;

/// Runs a detector over every candle of a validated series; returns its tables (in the order
/// of [`NativeSpec::tables`]).
pub fn run(spec: &NativeSpec, candles: &Candles) -> Result<Vec<ResultTable>> {
    let (mut graph, ids) = graph::Graph::new(std::slice::from_ref(spec))?;
    graph.reserve(candles.len());
    let mut history = History::over(candles);
    while history.advance() {
        graph.step(&history)?;
    }
    let node = ids.first().and_then(|&id| graph.node(id));
    Ok(node
        .map(|d| {
            (0..spec.declaration.tables.len())
                .map(|which| d.table(&history, which, 0))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
pub(crate) mod tests;
