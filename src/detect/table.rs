//! Event tables as named typed columns (a [`ResultTable`], so native results go
//! through the pool and the cache like compat frames). Every table has `id`, `kind`,
//! `direction`, `anchor`, `known_at` and their times `anchor_time`, `known_at_time`
//! (int64 ns), then its levels and quality columns. `kind` codes are listed by [`kinds`].

use super::history::History;
use super::lifecycle::Transition;
use super::structure::Break;
use super::swings::Swing;
use crate::table::{Column, Dtype, ResultTable};

/// `kind` codes of every native table, and their names: each detector declares the kinds it
/// emits (`Declaration::kinds`); this is their union, in code order.
pub fn kinds() -> Vec<(i32, &'static str)> {
    let mut all: Vec<(i32, &'static str)> = super::registry::REGISTRY
        .iter()
        .flat_map(|d| d.kinds.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Names of swing labels by code (see [`super::swings::Label`]).
pub const LABELS: &[&str] = &["first", "HH", "LH", "EH", "HL", "LL", "EL"];

/// Names of lifecycle states by code (see [`super::lifecycle::State`]).
pub const STATES: &[&str] = &[
    "formed",
    "touched",
    "mean_threshold",
    "filled",
    "inverted",
    "dead",
];

use Dtype::{F64, I32, I64};

/// Schema of the columns every event table starts with ([`common`]).
pub const COMMON: &[(&str, Dtype)] = &[
    ("id", I64),
    ("kind", I32),
    ("direction", I32),
    ("anchor", I64),
    ("known_at", I64),
    ("anchor_time", I64),
    ("known_at_time", I64),
];

/// Schema of a transition log ([`transitions`]).
pub const TRANSITIONS: &[(&str, Dtype)] =
    &[("id", I64), ("state", I32), ("bar", I64), ("time", I64)];

/// Schema of a swing table's own columns ([`swings`]).
pub const SWING_COLUMNS: &[(&str, Dtype)] = &[("level", F64), ("label", I32)];

/// Schema of a structure break's own columns ([`breaks`]).
pub const BREAK_COLUMNS: &[(&str, Dtype)] = &[
    ("level", F64),
    ("swing_id", I64),
    ("initial", I32),
    ("displacement", F64),
];

/// Schema of a zone table's own columns: edges, the middle level named `mid`, then three
/// quality columns (float64, see [`super::zones::ZoneBook::table`]).
pub const fn zone_columns(
    mid: &'static str,
    quality: [&'static str; 3],
) -> [(&'static str, Dtype); 6] {
    [
        ("top", F64),
        ("bottom", F64),
        (mid, F64),
        (quality[0], F64),
        (quality[1], F64),
        (quality[2], F64),
    ]
}

/// The columns every table starts with.
pub(crate) fn common(
    history: &History,
    id: Vec<i64>,
    kind: Vec<i32>,
    direction: Vec<i32>,
    anchor: Vec<i64>,
    known_at: Vec<i64>,
) -> Vec<Column> {
    let time = |rows: &[i64]| -> Vec<i64> {
        rows.iter()
            .map(|&r| history.time_at(r as usize).unwrap_or(i64::MIN))
            .collect()
    };
    let anchor_time = time(&anchor);
    let known_at_time = time(&known_at);
    vec![
        Column::i64("id", id),
        Column::i32("kind", &kind),
        Column::i32("direction", &direction),
        Column::i64("anchor", anchor),
        Column::i64("known_at", known_at),
        Column::i64("anchor_time", anchor_time),
        Column::i64("known_at_time", known_at_time),
    ]
}

pub fn swings(history: &History, events: &[Swing]) -> ResultTable {
    let mut columns = common(
        history,
        events.iter().map(|e| e.id as i64).collect(),
        events
            .iter()
            .map(|e| if e.direction > 0 { 1 } else { 2 })
            .collect(),
        events.iter().map(|e| i32::from(e.direction)).collect(),
        events.iter().map(|e| e.anchor as i64).collect(),
        events.iter().map(|e| e.known_at as i64).collect(),
    );
    columns.push(Column::f64(
        "level",
        events.iter().map(|e| e.level).collect(),
    ));
    let labels: Vec<i32> = events.iter().map(|e| e.label as i32).collect();
    columns.push(Column::i32("label", &labels));
    ResultTable::new(columns)
}

pub fn breaks(history: &History, events: &[Break]) -> ResultTable {
    let mut columns = common(
        history,
        events.iter().map(|e| e.id as i64).collect(),
        events.iter().map(|e| e.kind as i32 + 2).collect(),
        events.iter().map(|e| i32::from(e.direction)).collect(),
        events.iter().map(|e| e.anchor as i64).collect(),
        events.iter().map(|e| e.known_at as i64).collect(),
    );
    columns.push(Column::f64(
        "level",
        events.iter().map(|e| e.level).collect(),
    ));
    columns.push(Column::i64(
        "swing_id",
        events.iter().map(|e| e.swing_id as i64).collect(),
    ));
    let initial: Vec<i32> = events.iter().map(|e| i32::from(e.initial)).collect();
    columns.push(Column::i32("initial", &initial));
    columns.push(Column::f64(
        "displacement",
        events.iter().map(|e| e.displacement).collect(),
    ));
    ResultTable::new(columns)
}

/// The transition log: `id` (the zone), `state` (code, see [`STATES`]), `bar` and `time`.
pub fn transitions(history: &History, log: &[Transition]) -> ResultTable {
    let bars: Vec<i64> = log.iter().map(|t| t.bar as i64).collect();
    let states: Vec<i32> = log.iter().map(|t| t.state as i32).collect();
    let time = bars
        .iter()
        .map(|&r| history.time_at(r as usize).unwrap_or(i64::MIN))
        .collect();
    ResultTable::new(vec![
        Column::i64("id", log.iter().map(|t| t.id as i64).collect()),
        Column::i32("state", &states),
        Column::i64("bar", bars),
        Column::i64("time", time),
    ])
}
