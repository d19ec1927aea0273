//! [`NativeSpec`]: a native detector by name with typed parameters — what the Python
//! functions, the streaming engine and the pool share — and the [`Detector`] trait every
//! streaming detector implements.

use super::cisd::{Cisd, CisdParams};
use super::composite::{self, Bpr, RejectionBlocks, RejectionParams};
use super::displacement::{Displacement, DisplacementParams};
use super::fvg::{self, Fvg, FvgParams};
use super::gaps::{self, GapKind, Gaps};
use super::history::History;
use super::liquidity::{Liquidity, LiquidityParams};
use super::mitigation::{self, MitigationBlocks};
use super::mss::{Mss, MssParams};
use super::new_opening_gaps::{NewGapParams, NewOpeningGaps};
use super::order_blocks::{self, OrderBlocks};
use super::ranges::DealingRanges;
use super::sessions::{SessionParams, Sessions, DEFAULT_WINDOWS};
use super::structure::{BreakOn, Structure, StructureLayers, StructureParams};
use super::swings::{SwingParams, Swings};
use super::table;
use crate::cache::table::ResultTable;
use crate::cache::Param;
use crate::error::{IctError, Result};
use crate::params::Params;

/// A streaming detector: `step` processes the newest bar of a history, `undo` takes it back.
/// It produces one or two tables (events; zones and their transition log).
pub trait Detector: Send + Sync {
    fn step(&mut self, history: &History);
    fn undo(&mut self);
    /// Rows of each table now (the second is 0 for one-table detectors).
    fn lens(&self) -> [usize; 2];
    /// Rows `start..` of table `which`.
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable;
    /// A batch run is about to step `bars` bars: room for what they will log, so the logs
    /// grow without copying (untouched room costs address space, not memory).
    fn reserve(&mut self, _bars: usize) {}
}

/// A native detector and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum NativeSpec {
    Swings(SwingParams),
    Structure(StructureParams),
    Fvg(FvgParams),
    VolumeImbalance,
    OpeningGaps,
    Displacement(DisplacementParams),
    OrderBlocks(StructureParams),
    Liquidity(LiquidityParams),
    DealingRanges(StructureParams),
    Bpr {
        window: usize,
    },
    RejectionBlocks(RejectionParams),
    Sessions(SessionParams),
    StructureLayers {
        internal: StructureParams,
        swing: StructureParams,
    },
    Mss(MssParams),
    MitigationBlocks(StructureParams),
    Cisd(CisdParams),
    NewOpeningGaps(NewGapParams),
}

/// Names of the native detectors.
pub const NATIVE: [&str; 17] = [
    "swings",
    "structure",
    "fvg",
    "volume_imbalance",
    "opening_gaps",
    "displacement",
    "order_blocks",
    "liquidity",
    "dealing_ranges",
    "bpr",
    "rejection_blocks",
    "sessions",
    "structure_layers",
    "mss",
    "mitigation_blocks",
    "cisd",
    "new_opening_gaps",
];

fn swing_params(p: &mut Params<'_>) -> Result<SwingParams> {
    let d = SwingParams::default();
    let s = SwingParams {
        left: p.length("left", d.left as i64)?,
        right: p.length("right", d.right as i64)?,
    };
    super::check_swing_params(s)?;
    Ok(s)
}

fn break_on(name: &str, p: &mut Params<'_>) -> Result<BreakOn> {
    match p.string("break_on", "close")?.as_str() {
        "close" => Ok(BreakOn::Close),
        "wick" => Ok(BreakOn::Wick),
        other => Err(IctError::parameter(
            format!("{name}.break_on"),
            format!("must be \"close\" or \"wick\", got {other:?}"),
        )),
    }
}

fn structure_params(name: &str, p: &mut Params<'_>) -> Result<StructureParams> {
    let swings = swing_params(p)?;
    let break_on = break_on(name, p)?;
    Ok(StructureParams { swings, break_on })
}

fn positive(name: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(IctError::parameter(
            name,
            format!("must be a finite number >= 0, got {value}"),
        ))
    }
}

impl NativeSpec {
    /// The detector `name` with `params` (missing ones take the "ictcore" preset).
    pub fn parse(name: &str, params: Vec<(String, Param)>) -> Result<Self> {
        let mut p = Params::new(name, params);
        let spec = match name {
            "swings" => NativeSpec::Swings(swing_params(&mut p)?),
            "structure" => NativeSpec::Structure(structure_params(name, &mut p)?),
            "order_blocks" => NativeSpec::OrderBlocks(structure_params(name, &mut p)?),
            "dealing_ranges" => NativeSpec::DealingRanges(structure_params(name, &mut p)?),
            "mitigation_blocks" => NativeSpec::MitigationBlocks(structure_params(name, &mut p)?),
            "fvg" => NativeSpec::Fvg(FvgParams {
                min_size_atr: positive("fvg.min_size_atr", p.float("min_size_atr", 0.0)?)?,
            }),
            "liquidity" => {
                let swings = swing_params(&mut p)?;
                let d = LiquidityParams::default();
                NativeSpec::Liquidity(LiquidityParams {
                    swings,
                    tolerance_atr: positive(
                        "liquidity.tolerance_atr",
                        p.float("tolerance_atr", d.tolerance_atr)?,
                    )?,
                    tolerance_price: positive(
                        "liquidity.tolerance_price",
                        p.float("tolerance_price", d.tolerance_price)?,
                    )?,
                })
            }
            "bpr" => NativeSpec::Bpr {
                window: p.length("window", 10)?,
            },
            "rejection_blocks" => {
                let swings = swing_params(&mut p)?;
                let d = RejectionParams::default();
                NativeSpec::RejectionBlocks(RejectionParams {
                    swings,
                    min_wick_body: positive(
                        "rejection_blocks.min_wick_body",
                        p.float("min_wick_body", d.min_wick_body)?,
                    )?,
                    min_wick_share: positive(
                        "rejection_blocks.min_wick_share",
                        p.float("min_wick_share", d.min_wick_share)?,
                    )?,
                })
            }
            "structure_layers" => {
                let internal = SwingParams {
                    left: p.length("internal_left", 5)?,
                    right: p.length("internal_right", 5)?,
                };
                let swing = SwingParams {
                    left: p.length("swing_left", 50)?,
                    right: p.length("swing_right", 50)?,
                };
                super::check_swing_params(internal)?;
                super::check_swing_params(swing)?;
                let break_on = break_on(name, &mut p)?;
                NativeSpec::StructureLayers {
                    internal: StructureParams {
                        swings: internal,
                        break_on,
                    },
                    swing: StructureParams {
                        swings: swing,
                        break_on,
                    },
                }
            }
            "mss" => {
                let structure = structure_params(name, &mut p)?;
                let d = MssParams::default();
                NativeSpec::Mss(MssParams {
                    structure,
                    liquidity: LiquidityParams {
                        swings: structure.swings,
                        tolerance_atr: positive(
                            "mss.tolerance_atr",
                            p.float("tolerance_atr", d.liquidity.tolerance_atr)?,
                        )?,
                        tolerance_price: positive(
                            "mss.tolerance_price",
                            p.float("tolerance_price", d.liquidity.tolerance_price)?,
                        )?,
                    },
                    sweep_window: p.length("sweep_window", d.sweep_window as i64)?,
                    min_displacement: positive(
                        "mss.min_displacement",
                        p.float("min_displacement", d.min_displacement)?,
                    )?,
                })
            }
            "sessions" => NativeSpec::Sessions(SessionParams::parse(
                &p.string("zone", "America/New_York")?,
                &p.string("windows", DEFAULT_WINDOWS)?,
            )?),
            "cisd" => {
                let d = CisdParams::default();
                let min_run = p.length("min_run", d.min_run as i64)?;
                let lookback = p.length("lookback", d.lookback as i64)?;
                // The lookback is scanned at the end of every run: bounded like swing windows.
                for (what, v) in [("min_run", min_run), ("lookback", lookback)] {
                    if v == 0 || v > 100_000 {
                        return Err(IctError::parameter(
                            format!("cisd.{what}"),
                            format!("must be between 1 and 100000, got {v}"),
                        ));
                    }
                }
                NativeSpec::Cisd(CisdParams { min_run, lookback })
            }
            "new_opening_gaps" => {
                let zone = super::sessions::parse_zone(&p.string("zone", "America/New_York")?)?;
                let at = |p: &mut Params<'_>, what: &str, default: &str| -> Result<u32> {
                    let text = p.string(what, default)?;
                    let minute = super::sessions::minutes(&text, &format!("{what}={text}"))?;
                    Ok(minute % 1440)
                };
                NativeSpec::NewOpeningGaps(NewGapParams {
                    zone,
                    close_at: at(&mut p, "close_at", "17:00")?,
                    open_at: at(&mut p, "open_at", "18:00")?,
                })
            }
            "volume_imbalance" => NativeSpec::VolumeImbalance,
            "opening_gaps" => NativeSpec::OpeningGaps,
            "displacement" => {
                let d = DisplacementParams::default();
                NativeSpec::Displacement(DisplacementParams {
                    min_body_atr: positive(
                        "displacement.min_body_atr",
                        p.float("min_body_atr", d.min_body_atr)?,
                    )?,
                    min_body_share: positive(
                        "displacement.min_body_share",
                        p.float("min_body_share", d.min_body_share)?,
                    )?,
                })
            }
            other => {
                return Err(IctError::UnknownName {
                    what: "native detector",
                    name: other.to_string(),
                    known: NATIVE.iter().map(|d| d.to_string()).collect(),
                })
            }
        };
        p.done()?;
        Ok(spec)
    }

    pub fn name(&self) -> &'static str {
        match self {
            NativeSpec::Swings(_) => "swings",
            NativeSpec::Structure(_) => "structure",
            NativeSpec::Fvg(_) => "fvg",
            NativeSpec::VolumeImbalance => "volume_imbalance",
            NativeSpec::OpeningGaps => "opening_gaps",
            NativeSpec::Displacement(_) => "displacement",
            NativeSpec::OrderBlocks(_) => "order_blocks",
            NativeSpec::Liquidity(_) => "liquidity",
            NativeSpec::DealingRanges(_) => "dealing_ranges",
            NativeSpec::Bpr { .. } => "bpr",
            NativeSpec::RejectionBlocks(_) => "rejection_blocks",
            NativeSpec::Sessions(_) => "sessions",
            NativeSpec::StructureLayers { .. } => "structure_layers",
            NativeSpec::Mss(_) => "mss",
            NativeSpec::MitigationBlocks(_) => "mitigation_blocks",
            NativeSpec::Cisd(_) => "cisd",
            NativeSpec::NewOpeningGaps(_) => "new_opening_gaps",
        }
    }

    /// Its tables' names: the events (or zones), then the transition log for zone detectors.
    pub fn tables(&self) -> &'static [&'static str] {
        match self {
            NativeSpec::Swings(_) => &["swings"],
            NativeSpec::Structure(_) => &["structure"],
            NativeSpec::Fvg(_) => &["fvg", "fvg_transitions"],
            NativeSpec::VolumeImbalance => &["volume_imbalance", "volume_imbalance_transitions"],
            NativeSpec::OpeningGaps => &["opening_gaps", "opening_gaps_transitions"],
            NativeSpec::Displacement(_) => &["displacement"],
            NativeSpec::OrderBlocks(_) => &["order_blocks", "order_blocks_transitions"],
            NativeSpec::Liquidity(_) => &["liquidity", "liquidity_sweeps"],
            NativeSpec::DealingRanges(_) => &["dealing_ranges", "dealing_ranges_transitions"],
            NativeSpec::Bpr { .. } => &["bpr", "bpr_transitions"],
            NativeSpec::RejectionBlocks(_) => &["rejection_blocks", "rejection_blocks_transitions"],
            NativeSpec::Sessions(_) => &["sessions"],
            NativeSpec::StructureLayers { .. } => &["structure_layers"],
            NativeSpec::Mss(_) => &["mss"],
            NativeSpec::Cisd(_) => &["cisd"],
            NativeSpec::NewOpeningGaps(_) => &["new_opening_gaps", "new_opening_gaps_transitions"],
            NativeSpec::MitigationBlocks(_) => {
                &["mitigation_blocks", "mitigation_blocks_transitions"]
            }
        }
    }

    /// The prefix of the second table's columns when both tables travel as one (the pool).
    pub fn second_prefix(&self) -> &'static str {
        match self {
            NativeSpec::Liquidity(_) => "sweep.",
            _ => "transition.",
        }
    }

    /// Every parameter, defaults included (as the cache key records them).
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        let len = |l: usize| Param::Int(i64::try_from(l).unwrap_or(i64::MAX));
        let swing = |s: &SwingParams| vec![("left", len(s.left)), ("right", len(s.right))];
        let structure = |s: &StructureParams| {
            let mut v = swing(&s.swings);
            let on = match s.break_on {
                BreakOn::Close => "close",
                BreakOn::Wick => "wick",
            };
            v.push(("break_on", Param::Str(on.into())));
            v
        };
        match self {
            NativeSpec::Swings(s) => swing(s),
            NativeSpec::Structure(s)
            | NativeSpec::OrderBlocks(s)
            | NativeSpec::DealingRanges(s)
            | NativeSpec::MitigationBlocks(s) => structure(s),
            NativeSpec::Fvg(f) => vec![("min_size_atr", Param::Float(f.min_size_atr))],
            NativeSpec::VolumeImbalance | NativeSpec::OpeningGaps => Vec::new(),
            NativeSpec::Displacement(d) => vec![
                ("min_body_atr", Param::Float(d.min_body_atr)),
                ("min_body_share", Param::Float(d.min_body_share)),
            ],
            NativeSpec::Liquidity(l) => {
                let mut v = swing(&l.swings);
                v.push(("tolerance_atr", Param::Float(l.tolerance_atr)));
                v.push(("tolerance_price", Param::Float(l.tolerance_price)));
                v
            }
            NativeSpec::Bpr { window } => vec![("window", len(*window))],
            NativeSpec::NewOpeningGaps(g) => {
                let hm = |m: u32| Param::Str(format!("{:02}:{:02}", m / 60, m % 60));
                vec![
                    ("zone", Param::Str(g.zone.name().to_string())),
                    ("close_at", hm(g.close_at)),
                    ("open_at", hm(g.open_at)),
                ]
            }
            NativeSpec::Cisd(c) => vec![("min_run", len(c.min_run)), ("lookback", len(c.lookback))],
            NativeSpec::StructureLayers { internal, swing } => {
                let mut v = vec![
                    ("internal_left", len(internal.swings.left)),
                    ("internal_right", len(internal.swings.right)),
                    ("swing_left", len(swing.swings.left)),
                    ("swing_right", len(swing.swings.right)),
                ];
                v.push(structure(internal).swap_remove(2));
                v
            }
            NativeSpec::Mss(m) => {
                let mut v = structure(&m.structure);
                v.push(("tolerance_atr", Param::Float(m.liquidity.tolerance_atr)));
                v.push(("tolerance_price", Param::Float(m.liquidity.tolerance_price)));
                v.push(("sweep_window", len(m.sweep_window)));
                v.push(("min_displacement", Param::Float(m.min_displacement)));
                v
            }
            NativeSpec::Sessions(p) => vec![
                ("zone", Param::Str(p.zone.name().to_string())),
                ("windows", Param::Str(p.windows_text())),
            ],
            NativeSpec::RejectionBlocks(r) => {
                let mut v = swing(&r.swings);
                v.push(("min_wick_body", Param::Float(r.min_wick_body)));
                v.push(("min_wick_share", Param::Float(r.min_wick_share)));
                v
            }
        }
    }

    /// A fresh streaming detector.
    pub fn build(&self) -> Box<dyn Detector> {
        match self {
            NativeSpec::Swings(p) => Box::new(Swings::new(*p)),
            NativeSpec::Structure(p) => Box::new(Structure::new(*p)),
            NativeSpec::Fvg(p) => Box::new(Fvg::new(*p)),
            NativeSpec::VolumeImbalance => Box::new(Gaps::new(GapKind::VolumeImbalance)),
            NativeSpec::OpeningGaps => Box::new(Gaps::new(GapKind::OpeningGap)),
            NativeSpec::Displacement(p) => Box::new(Displacement::new(*p)),
            NativeSpec::OrderBlocks(p) => Box::new(OrderBlocks::new(*p)),
            NativeSpec::Liquidity(p) => Box::new(Liquidity::new(*p)),
            NativeSpec::DealingRanges(p) => Box::new(DealingRanges::new(*p)),
            NativeSpec::Bpr { window } => Box::new(Bpr::new(*window)),
            NativeSpec::RejectionBlocks(p) => Box::new(RejectionBlocks::new(*p)),
            NativeSpec::Sessions(p) => Box::new(Sessions::new(p.clone())),
            NativeSpec::StructureLayers { internal, swing } => {
                Box::new(StructureLayers::new(*internal, *swing))
            }
            NativeSpec::Mss(p) => Box::new(Mss::new(*p)),
            NativeSpec::MitigationBlocks(p) => Box::new(MitigationBlocks::new(*p)),
            NativeSpec::Cisd(p) => Box::new(Cisd::new(*p)),
            NativeSpec::NewOpeningGaps(p) => Box::new(NewOpeningGaps::new(*p)),
        }
    }
}

impl Detector for Swings {
    fn step(&mut self, history: &History) {
        Swings::step(self, history);
    }
    fn undo(&mut self) {
        Swings::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.events.len(), 0]
    }
    fn table(&self, history: &History, _which: usize, start: usize) -> ResultTable {
        table::swings(history, &self.events[start.min(self.events.len())..])
    }
}

impl Detector for Structure {
    fn step(&mut self, history: &History) {
        Structure::step(self, history);
    }
    fn undo(&mut self) {
        Structure::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.events.len(), 0]
    }
    fn table(&self, history: &History, _which: usize, start: usize) -> ResultTable {
        table::breaks(history, &self.events[start.min(self.events.len())..])
    }
}

impl Detector for StructureLayers {
    fn step(&mut self, history: &History) {
        StructureLayers::step(self, history);
    }
    fn undo(&mut self) {
        StructureLayers::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.rows.len(), 0]
    }
    fn table(&self, history: &History, _which: usize, start: usize) -> ResultTable {
        let from = start.min(self.rows.len());
        let rows = &self.rows[from..];
        // Row ids for the combined table; `swing_id` stays the layer's own.
        let breaks: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, b))| super::structure::Break { id: from + i, ..*b })
            .collect();
        let mut t = table::breaks(history, &breaks);
        let layers: Vec<i32> = rows.iter().map(|(l, _)| i32::from(*l)).collect();
        t.columns
            .push(crate::cache::table::Column::i32("layer", &layers));
        t
    }
}

impl Detector for Mss {
    fn step(&mut self, history: &History) {
        Mss::step(self, history);
    }
    fn undo(&mut self) {
        Mss::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.rows.len(), 0]
    }
    fn table(&self, history: &History, _which: usize, start: usize) -> ResultTable {
        Mss::table(self, history, start)
    }
}

impl Detector for Sessions {
    fn step(&mut self, history: &History) {
        Sessions::step(self, history);
    }
    fn undo(&mut self) {
        Sessions::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.rows.len(), 0]
    }
    fn table(&self, history: &History, _which: usize, start: usize) -> ResultTable {
        Sessions::table(self, history, start)
    }
}

impl Detector for NewOpeningGaps {
    fn step(&mut self, history: &History) {
        NewOpeningGaps::step(self, history);
    }
    fn undo(&mut self) {
        NewOpeningGaps::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.book.zones.len(), self.book.transitions.len()]
    }
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable {
        if which == 0 {
            NewOpeningGaps::table(self, history, start)
        } else {
            self.book.transitions_table(history, start)
        }
    }
}

impl Detector for Cisd {
    fn step(&mut self, history: &History) {
        Cisd::step(self, history);
    }
    fn undo(&mut self) {
        Cisd::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.events.len(), 0]
    }
    fn table(&self, history: &History, _which: usize, start: usize) -> ResultTable {
        Cisd::table(self, history, start)
    }
}

impl Detector for Displacement {
    fn step(&mut self, history: &History) {
        Displacement::step(self, history);
    }
    fn undo(&mut self) {
        Displacement::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.events.len(), 0]
    }
    fn table(&self, history: &History, _which: usize, start: usize) -> ResultTable {
        Displacement::table(self, history, start)
    }
}

impl Detector for Liquidity {
    fn step(&mut self, history: &History) {
        Liquidity::step(self, history);
    }
    fn undo(&mut self) {
        Liquidity::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.pools.len(), self.taken.len()]
    }
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable {
        if which == 0 {
            self.pool_table(history, start)
        } else {
            self.taken_table(history, start)
        }
    }
}

impl Detector for DealingRanges {
    fn step(&mut self, history: &History) {
        DealingRanges::step(self, history);
    }
    fn undo(&mut self) {
        DealingRanges::undo(self);
    }
    fn lens(&self) -> [usize; 2] {
        [self.ranges.len(), self.book.transitions.len()]
    }
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable {
        if which == 0 {
            DealingRanges::table(self, history, start)
        } else {
            self.book.transitions_table(history, start)
        }
    }
}

/// The zone detectors share their tables' shape.
macro_rules! zone_detector {
    ($ty:ty, $kind:expr, $mid:expr, $quality:expr) => {
        impl Detector for $ty {
            fn step(&mut self, history: &History) {
                <$ty>::step(self, history);
            }
            fn undo(&mut self) {
                <$ty>::undo(self);
            }
            fn lens(&self) -> [usize; 2] {
                [self.book.zones.len(), self.book.transitions.len()]
            }
            fn reserve(&mut self, bars: usize) {
                self.book.reserve(bars);
            }
            fn table(&self, history: &History, which: usize, start: usize) -> ResultTable {
                if which == 0 {
                    let kind: i32 = $kind(self);
                    self.book.table(history, start, kind, $mid, $quality)
                } else {
                    self.book.transitions_table(history, start)
                }
            }
        }
    };
}

zone_detector!(Fvg, |_: &Fvg| table::KIND_FVG, "ce", fvg::QUALITY);
zone_detector!(
    Gaps,
    |g: &Gaps| match g.kind {
        GapKind::VolumeImbalance => table::KIND_VOLUME_IMBALANCE,
        GapKind::OpeningGap => table::KIND_OPENING_GAP,
    },
    "mid",
    gaps::QUALITY
);
zone_detector!(
    OrderBlocks,
    |_: &OrderBlocks| table::KIND_ORDER_BLOCK,
    "mean_threshold",
    order_blocks::QUALITY
);
zone_detector!(
    Bpr,
    |_: &Bpr| table::KIND_BPR,
    "mid",
    composite::BPR_QUALITY
);
zone_detector!(
    RejectionBlocks,
    |_: &RejectionBlocks| table::KIND_REJECTION_BLOCK,
    "mid",
    composite::REJECTION_QUALITY
);
zone_detector!(
    MitigationBlocks,
    |_: &MitigationBlocks| table::KIND_MITIGATION_BLOCK,
    "mean_threshold",
    mitigation::QUALITY
);
