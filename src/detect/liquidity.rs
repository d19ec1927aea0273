//! Liquidity: resting stops beyond confirmed swing levels, equal highs/lows pools, and what
//! price does to them.
//!
//! Every confirmed swing high is buy-side liquidity (BSL) until taken; lows are sell-side
//! (SSL). A new swing within `tolerance_atr` x ATR(14) (as of its confirmation — causal,
//! never sized from the whole series) plus `tolerance_price` (a fixed distance, e.g. ticks x
//! tick size) of an untaken level on its side joins it: two or more
//! members make an **equal highs / equal lows pool** whose level is the members' extreme.
//! Each join is a new row of the pool table (members so far, level so far), so no row is ever
//! rewritten.
//!
//! A bar whose high trades above an untaken BSL level (low below SSL) either **runs** it (the
//! close is beyond too: the level dies) or **sweeps** it (the close is back inside: a stop
//! hunt). A level is swept at most once; a later close beyond runs it. Sweeps and runs are
//! rows of the sweep table, with the depth in ATR and the wick beyond the level over the body.
//!
//! Untaken levels sit in ordered sets keyed by price, so a bar visits only the levels it
//! takes and a new swing finds its nearest neighbour in O(log n). Changes are journaled so
//! the newest bar can be undone.

use super::history::History;
use super::registry::{
    self, Declaration, Detector, Inputs, NativeSpec, ParamDecl, Shape, TableDecl, Values,
};
use super::swings::{SwingParams, Swings};
use super::table;
use super::zones::{ordered, unordered};
use crate::error::Result;
use crate::table::{Column, Dtype, ResultTable};

/// `kind` code of a equal highs row.
pub const KIND_EQUAL_HIGHS: i32 = 10;
/// `kind` code of a equal lows row.
pub const KIND_EQUAL_LOWS: i32 = 11;
/// `kind` code of a sweep row.
pub const KIND_SWEEP: i32 = 12;
/// `kind` code of a run row.
pub const KIND_RUN: i32 = 13;

/// The liquidity detector (reads `swings`).
pub static DECLARATION: Declaration = Declaration {
    name: "liquidity",
    doc: "swing levels and equal highs/lows pools, with their sweeps and runs",
    params: &[
        registry::SWING_PARAMS[0],
        registry::SWING_PARAMS[1],
        TOLERANCE_ATR,
        TOLERANCE_PRICE,
    ],
    tables: &[
        TableDecl {
            name: "liquidity",
            columns: &[
                table::COMMON,
                &[
                    ("level", Dtype::F64),
                    ("members", Dtype::I32),
                    ("tolerance", Dtype::F64),
                ],
            ],
        },
        TableDecl {
            name: "liquidity_sweeps",
            columns: &[
                table::COMMON,
                &[
                    ("level", Dtype::F64),
                    ("depth_atr", Dtype::F64),
                    ("wick_body", Dtype::F64),
                    ("pool_id", Dtype::I64),
                    ("swing_id", Dtype::I64),
                ],
            ],
        },
    ],
    shape: Shape::Liquidity,
    kinds: &[
        (KIND_EQUAL_HIGHS, "equal_highs"),
        (KIND_EQUAL_LOWS, "equal_lows"),
        (KIND_SWEEP, "sweep"),
        (KIND_RUN, "run"),
    ],
    inputs: |v| Ok(vec![LiquidityParams::from_values(v)?.swings_spec()?]),
    build: |v| Ok(Box::new(Liquidity::new(LiquidityParams::from_values(v)?))),
};

/// `tolerance_atr`: how near in ATR a swing joins a level.
pub const TOLERANCE_ATR: ParamDecl = registry::number(
    "tolerance_atr",
    LiquidityParams::DEFAULT.tolerance_atr,
    "a swing within this many ATR(14) of an untaken level joins it (equal highs/lows)",
);
/// `tolerance_price`: a fixed distance added to the tolerance.
pub const TOLERANCE_PRICE: ParamDecl = registry::number(
    "tolerance_price",
    LiquidityParams::DEFAULT.tolerance_price,
    "a fixed price distance added to the tolerance (ticks x tick size)",
);

impl LiquidityParams {
    /// Preset "ictcore".
    pub const DEFAULT: Self = Self {
        swings: SwingParams::DEFAULT,
        tolerance_atr: 0.2,
        tolerance_price: 0.0,
    };

    /// The parameters of a detector's checked values.
    pub fn from_values(v: &Values) -> Result<Self> {
        Ok(Self {
            swings: SwingParams::from_values(v)?,
            tolerance_atr: v.number("tolerance_atr")?,
            tolerance_price: v.number("tolerance_price")?,
        })
    }

    /// The swings detector it reads.
    pub fn swings_spec(&self) -> Result<NativeSpec> {
        NativeSpec::with("swings", &self.swings.as_params())
    }

    /// The liquidity detector with these parameters.
    pub fn spec(&self) -> Result<NativeSpec> {
        let [left, right] = self.swings.as_params();
        NativeSpec::with(
            "liquidity",
            &[
                left,
                right,
                (
                    "tolerance_atr",
                    crate::param::Param::Float(self.tolerance_atr),
                ),
                (
                    "tolerance_price",
                    crate::param::Param::Float(self.tolerance_price),
                ),
            ],
        )
    }
}

impl Detector for Liquidity {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()> {
        Liquidity::step(self, history, inputs.get(0)?);
        Ok(())
    }
    fn undo(&mut self) {
        Liquidity::undo(self);
    }
    fn rows(&self, which: usize) -> usize {
        if which == 0 {
            self.pools.len()
        } else {
            self.taken.len()
        }
    }
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable {
        if which == 0 {
            self.pool_table(history, start)
        } else {
            self.taken_table(history, start)
        }
    }
    fn forget(&mut self, which: usize, upto: usize) {
        if which == 0 {
            self.pools.forget_before(upto);
        } else {
            self.taken.forget_before(upto);
        }
    }
    /// Reads the swings the current bar confirmed, nothing older.
    fn reads_back(&self) -> bool {
        false
    }
}
use std::collections::BTreeSet;

/// `edges` of empty sets: nothing is beyond them.
const EMPTY_EDGES: [f64; 4] = [
    f64::INFINITY,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NEG_INFINITY,
];

/// Parameters of [`Liquidity`]. Preset "ictcore": swings of 5 bars each side, tolerance
/// 0.2 ATR(14) and no fixed part.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiquidityParams {
    pub swings: SwingParams,
    pub tolerance_atr: f64,
    /// A fixed part of the tolerance in price units (ticks x tick size); added to the ATR
    /// part.
    pub tolerance_price: f64,
}

impl Default for LiquidityParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A level being watched: a lone swing or a pool.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Level {
    direction: i8,
    level: f64,
    /// The first member's pivot bar.
    anchor: usize,
    /// The newest member's swing id.
    swing_id: usize,
    pool: Option<usize>,
    members: u32,
}

/// A row of the pool table.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PoolRow {
    pub pool: usize,
    pub direction: i8,
    pub anchor: usize,
    pub known_at: usize,
    pub level: f64,
    pub members: u32,
    pub tolerance: f64,
}

/// A row of the sweep table.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Taken {
    /// True: a run (close beyond); false: a sweep.
    pub run: bool,
    pub direction: i8,
    pub anchor: usize,
    pub known_at: usize,
    pub level: f64,
    pub depth_atr: f64,
    pub wick_body: f64,
    pub pool: Option<usize>,
    pub swing_id: usize,
}

type Entry = (u64, usize);

#[derive(serde::Serialize, serde::Deserialize)]
enum Op {
    Insert(usize, Entry),
    Remove(usize, Entry),
    /// A level before a join changed it.
    Restore(usize, Level),
}

/// Streaming liquidity detector (over a swings detector).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Liquidity {
    pub params: LiquidityParams,
    levels: Vec<Level>,
    /// Sets: 0 untaken highs, 1 swept highs, 2 untaken lows, 3 swept lows.
    sets: [BTreeSet<Entry>; 4],
    /// The level nearest to price in each set (the lowest high, the highest low; +inf /
    /// -inf when empty), so a bar that takes nothing costs four comparisons.
    edges: [f64; 4],
    pub pools: super::log::Log<PoolRow>,
    pub taken: super::log::Log<Taken>,
    pool_count: usize,
    journal: Vec<Op>,
    before: (usize, usize, usize, usize),
}

impl Liquidity {
    pub fn new(params: LiquidityParams) -> Self {
        Self {
            params,
            levels: Vec::new(),
            sets: Default::default(),
            edges: EMPTY_EDGES,
            pools: super::log::Log::default(),
            taken: super::log::Log::default(),
            pool_count: 0,
            journal: Vec::new(),
            before: (0, 0, 0, 0),
        }
    }

    fn insert(&mut self, set: usize, id: usize) {
        let entry = (ordered(self.levels[id].level), id);
        self.sets[set].insert(entry);
        self.journal.push(Op::Insert(set, entry));
        self.refresh(set);
    }

    fn remove(&mut self, set: usize, entry: Entry) {
        self.sets[set].remove(&entry);
        self.journal.push(Op::Remove(set, entry));
        self.refresh(set);
    }

    fn refresh(&mut self, set: usize) {
        let entry = if set < 2 {
            self.sets[set].first()
        } else {
            self.sets[set].last()
        };
        self.edges[set] = entry.map_or(EMPTY_EDGES[set], |e| unordered(e.0));
    }

    /// Processes the newest bar of `history` (`swings` has processed it already).
    pub fn step(&mut self, history: &History, swings: &Swings) {
        let t = history.len() - 1;
        self.journal.clear();
        self.before = (
            self.levels.len(),
            self.pools.len(),
            self.taken.len(),
            self.pool_count,
        );
        self.take(history, t);
        for s in swings.added() {
            self.join(history, t, s.direction, s.level, s.anchor, s.id);
        }
    }

    /// Sweeps and runs of the levels known before bar `t`.
    fn take(&mut self, history: &History, t: usize) {
        let bar = history.bar(t);
        let e = &self.edges;
        if bar.high <= e[0] && bar.close <= e[1] && bar.low >= e[2] && bar.close >= e[3] {
            return;
        }
        let atr = history.atr(t);
        for side in [1i8, -1] {
            let (fresh, swept) = if side > 0 { (0, 1) } else { (2, 3) };
            let beyond = |level: f64, price: f64| {
                if side > 0 {
                    price > level
                } else {
                    price < level
                }
            };
            let extreme = if side > 0 { bar.high } else { bar.low };
            // Untaken levels the wick went beyond: nearest to price first.
            loop {
                let next = if side > 0 {
                    self.sets[fresh].first()
                } else {
                    self.sets[fresh].last()
                };
                let Some(&entry) = next else { break };
                let level = self.levels[entry.1];
                if !beyond(level.level, extreme) {
                    break;
                }
                self.remove(fresh, entry);
                let run = beyond(level.level, bar.close);
                let body = bar.body();
                let body_edge = if side > 0 {
                    bar.open.max(bar.close)
                } else {
                    bar.open.min(bar.close)
                };
                // The part of the wick beyond both the level and the body.
                let wick = if side > 0 {
                    extreme - level.level.max(body_edge)
                } else {
                    level.level.min(body_edge) - extreme
                };
                self.taken.push(Taken {
                    run,
                    direction: side,
                    anchor: level.anchor,
                    known_at: t,
                    level: level.level,
                    depth_atr: (extreme - level.level).abs() / atr,
                    wick_body: if body > 0.0 {
                        wick / body
                    } else {
                        f64::INFINITY
                    },
                    pool: level.pool,
                    swing_id: level.swing_id,
                });
                if !run {
                    self.insert(swept, entry.1);
                }
            }
            // Swept levels a close went beyond: runs.
            loop {
                let next = if side > 0 {
                    self.sets[swept].first()
                } else {
                    self.sets[swept].last()
                };
                let Some(&entry) = next else { break };
                let level = self.levels[entry.1];
                if !beyond(level.level, bar.close) {
                    break;
                }
                self.remove(swept, entry);
                self.taken.push(Taken {
                    run: true,
                    direction: side,
                    anchor: level.anchor,
                    known_at: t,
                    level: level.level,
                    depth_atr: (extreme - level.level).abs() / atr,
                    wick_body: f64::NAN,
                    pool: level.pool,
                    swing_id: level.swing_id,
                });
            }
        }
    }

    /// A swing confirmed at `t` joins the nearest untaken level within tolerance, or becomes
    /// a level of its own.
    fn join(
        &mut self,
        history: &History,
        t: usize,
        side: i8,
        price: f64,
        anchor: usize,
        swing: usize,
    ) {
        let atr = history.atr(t);
        // Before the ATR exists only the fixed part applies.
        let scaled = if atr.is_finite() {
            self.params.tolerance_atr * atr
        } else {
            0.0
        };
        let tolerance = scaled + self.params.tolerance_price;
        let fresh = if side > 0 { 0 } else { 2 };
        let set = &self.sets[fresh];
        let key = ordered(price);
        let above = set.range((key, 0)..).next().copied();
        let below = set.range(..(key, 0)).next_back().copied();
        let distance = |e: Option<Entry>| e.map(|e| (self.levels[e.1].level - price).abs());
        let nearest = match (distance(above), distance(below)) {
            (Some(a), Some(b)) => {
                if a <= b {
                    above
                } else {
                    below
                }
            }
            (Some(_), None) => above,
            (None, Some(_)) => below,
            (None, None) => None,
        }
        .filter(|e| (self.levels[e.1].level - price).abs() <= tolerance);
        let Some(entry) = nearest else {
            self.levels.push(Level {
                direction: side,
                level: price,
                anchor,
                swing_id: swing,
                pool: None,
                members: 1,
            });
            self.insert(fresh, self.levels.len() - 1);
            return;
        };
        self.remove(fresh, entry);
        let id = entry.1;
        let old = self.levels[id];
        self.journal.push(Op::Restore(id, old));
        let pool = old.pool.unwrap_or_else(|| {
            self.pool_count += 1;
            self.pool_count - 1
        });
        let level = if side > 0 {
            old.level.max(price)
        } else {
            old.level.min(price)
        };
        self.levels[id] = Level {
            level,
            swing_id: swing,
            pool: Some(pool),
            members: old.members + 1,
            ..old
        };
        self.insert(fresh, id);
        self.pools.push(PoolRow {
            pool,
            direction: side,
            anchor: old.anchor,
            known_at: t,
            level,
            members: old.members + 1,
            tolerance,
        });
    }

    /// Undoes the last [`Liquidity::step`].
    pub fn undo(&mut self) {
        while let Some(op) = self.journal.pop() {
            match op {
                Op::Insert(set, entry) => {
                    self.sets[set].remove(&entry);
                }
                Op::Remove(set, entry) => {
                    self.sets[set].insert(entry);
                }
                Op::Restore(id, level) => self.levels[id] = level,
            }
        }
        let (levels, pools, taken, count) = self.before;
        self.levels.truncate(levels);
        self.pools.truncate(pools);
        self.taken.truncate(taken);
        self.pool_count = count;
        for set in 0..4 {
            self.refresh(set);
        }
    }

    /// Pool rows `start..`: the common columns (`id` = the pool, `anchor` = its first member's
    /// pivot, `known_at` = the join), `level`, `members`, `tolerance`.
    pub fn pool_table(&self, history: &History, start: usize) -> ResultTable {
        let rows = self.pools.from(start.min(self.pools.len()));
        let mut columns = super::table::common(
            history,
            rows.iter().map(|r| r.pool as i64).collect(),
            rows.iter()
                .map(|r| {
                    if r.direction > 0 {
                        KIND_EQUAL_HIGHS
                    } else {
                        KIND_EQUAL_LOWS
                    }
                })
                .collect(),
            rows.iter().map(|r| i32::from(r.direction)).collect(),
            rows.iter().map(|r| r.anchor as i64).collect(),
            rows.iter().map(|r| r.known_at as i64).collect(),
        );
        columns.push(Column::f64("level", rows.iter().map(|r| r.level).collect()));
        let members: Vec<i32> = rows.iter().map(|r| r.members as i32).collect();
        columns.push(Column::i32("members", &members));
        columns.push(Column::f64(
            "tolerance",
            rows.iter().map(|r| r.tolerance).collect(),
        ));
        ResultTable::new(columns)
    }

    /// Sweep/run rows `start..`: the common columns (`id` = the row, `kind` sweep or run,
    /// `direction` +1 buy-side taken / -1 sell-side, `anchor` = the level's first pivot,
    /// `known_at` = the bar), `level`, `depth_atr`, `wick_body`, `pool_id` (-1 for a lone
    /// swing), `swing_id`.
    pub fn taken_table(&self, history: &History, start: usize) -> ResultTable {
        let from = start.clamp(self.taken.first_kept(), self.taken.len());
        let rows = self.taken.from(from);
        let mut columns = super::table::common(
            history,
            (from..from + rows.len()).map(|i| i as i64).collect(),
            rows.iter()
                .map(|r| if r.run { KIND_RUN } else { KIND_SWEEP })
                .collect(),
            rows.iter().map(|r| i32::from(r.direction)).collect(),
            rows.iter().map(|r| r.anchor as i64).collect(),
            rows.iter().map(|r| r.known_at as i64).collect(),
        );
        columns.push(Column::f64("level", rows.iter().map(|r| r.level).collect()));
        columns.push(Column::f64(
            "depth_atr",
            rows.iter().map(|r| r.depth_atr).collect(),
        ));
        columns.push(Column::f64(
            "wick_body",
            rows.iter().map(|r| r.wick_body).collect(),
        ));
        columns.push(Column::i64(
            "pool_id",
            rows.iter()
                .map(|r| r.pool.map_or(-1, |p| p as i64))
                .collect(),
        ));
        columns.push(Column::i64(
            "swing_id",
            rows.iter().map(|r| r.swing_id as i64).collect(),
        ));
        ResultTable::new(columns)
    }
}
