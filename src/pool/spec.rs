//! What the pool can run: the compat detectors by name, with typed parameters (defaults as
//! `smartmoneyconcepts` 0.0.27 has them, except `sessions`, whose session the library requires
//! and the pool defaults to "London"), each computing a [`ResultTable`] whose columns are the
//! compat frame's, in order, with its dtypes.

use crate::cache::KeyBuilder;
use crate::candles::Candles;
use crate::compat::{self, Dtype, InputDtypes, Precision, SwingsView};
use crate::detect::NativeSpec;
use crate::error::{IctError, Result};
use crate::param::Param;
use crate::params::Params;
use crate::table::{Column, ResultTable};

/// A detector with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Fvg {
        join_consecutive: bool,
    },
    SwingHighsLows {
        swing_length: usize,
    },
    BosChoch {
        swing_length: usize,
        close_break: bool,
    },
    Ob {
        swing_length: usize,
        close_mitigation: bool,
    },
    Liquidity {
        swing_length: usize,
        range_percent: f64,
    },
    PreviousHighLow {
        time_frame: String,
    },
    Sessions {
        session: String,
        start_time: String,
        end_time: String,
    },
    Retracements {
        swing_length: usize,
    },
    /// A native causal detector (`crate::detect`), requested as `native.<name>`: its main
    /// table, followed by the columns of its other tables as `<table name>.<column>`
    /// (`fvg_transitions.state`), so one entry holds the whole result.
    Native(NativeSpec),
    /// Test hook: panics on the series of `symbol`, an empty result elsewhere.
    PanicForTests {
        symbol: String,
    },
}

/// Names of the detectors, in the order `ictcore scan` runs them by default.
pub const DETECTORS: [&str; 8] = [
    "fvg",
    "swing_highs_lows",
    "bos_choch",
    "ob",
    "liquidity",
    "previous_high_low",
    "sessions",
    "retracements",
];

/// Names of the native detectors in the pool (`native.` + the detector's name), from the
/// registry.
pub fn native_detectors() -> &'static [&'static str] {
    crate::detect::registry::pool_names()
}

fn known_detectors() -> Vec<String> {
    DETECTORS
        .iter()
        .chain(native_detectors())
        .map(|d| d.to_string())
        .collect()
}

/// The swing length the library defaults to.
const DEFAULT_SWING_LENGTH: i64 = 50;

/// The detectors of one run with their parameters. smartmoneyconcepts users compute one
/// swings frame and pass it to every detector that reads swings, so `swing_highs_lows`'
/// `swing_length` is the default `swing_length` of `bos_choch`, `ob`, `liquidity` and
/// `retracements` in the same run; a detector's own `swing_length` overrides it.
pub fn parse_run(detectors: Vec<(String, Vec<(String, Param)>)>) -> Result<Vec<Spec>> {
    let shared = detectors
        .iter()
        .filter(|(name, _)| name == "swing_highs_lows")
        .flat_map(|(_, params)| params.iter())
        .find(|(param, _)| param == "swing_length")
        .map(|(_, value)| value.clone());
    detectors
        .into_iter()
        .map(|(name, mut params)| {
            if let Some(length) = &shared {
                let reads_swings = Spec::parse(&name, Vec::new())
                    .map(|s| s.swing_length().is_some())
                    .unwrap_or(false);
                if reads_swings && !params.iter().any(|(p, _)| p == "swing_length") {
                    params.push(("swing_length".into(), length.clone()));
                }
            }
            Spec::parse(&name, params)
        })
        .collect()
}

impl Spec {
    /// The detector `name` with `params` (missing ones take their defaults).
    pub fn parse(name: &str, params: Vec<(String, Param)>) -> Result<Self> {
        if let Some(native) = name.strip_prefix("native.") {
            return NativeSpec::parse(native, params)
                .map(Spec::Native)
                .map_err(|e| match e {
                    IctError::UnknownName { name, .. } => IctError::UnknownName {
                        what: "detector",
                        name: format!("native.{name}"),
                        known: known_detectors(),
                    },
                    other => other,
                });
        }
        let mut p = Params::new(name, params);
        let spec = match name {
            "fvg" => Spec::Fvg {
                join_consecutive: p.bool("join_consecutive", false)?,
            },
            "swing_highs_lows" => Spec::SwingHighsLows {
                swing_length: p.length("swing_length", DEFAULT_SWING_LENGTH)?,
            },
            "bos_choch" => Spec::BosChoch {
                swing_length: p.length("swing_length", DEFAULT_SWING_LENGTH)?,
                close_break: p.bool("close_break", true)?,
            },
            "ob" => Spec::Ob {
                swing_length: p.length("swing_length", DEFAULT_SWING_LENGTH)?,
                close_mitigation: p.bool("close_mitigation", false)?,
            },
            "liquidity" => Spec::Liquidity {
                swing_length: p.length("swing_length", DEFAULT_SWING_LENGTH)?,
                range_percent: p.float("range_percent", 0.01)?,
            },
            "previous_high_low" => Spec::PreviousHighLow {
                time_frame: p.string("time_frame", "1D")?,
            },
            "sessions" => {
                let zone = p.string("time_zone", "UTC")?;
                if zone != "UTC" {
                    return Err(IctError::parameter(
                        "sessions.time_zone",
                        format!(
                            "the pool reads stored times as UTC; got {zone:?} (use \
                             ictcore.compat.smc.sessions for other zones)"
                        ),
                    ));
                }
                let spec = Spec::Sessions {
                    session: p.string("session", "London")?,
                    start_time: p.string("start_time", "")?,
                    end_time: p.string("end_time", "")?,
                };
                if let Spec::Sessions {
                    session,
                    start_time,
                    end_time,
                } = &spec
                {
                    compat::session_window(session, start_time, end_time)?;
                }
                spec
            }
            "retracements" => Spec::Retracements {
                swing_length: p.length("swing_length", DEFAULT_SWING_LENGTH)?,
            },
            "_panic_for_tests" => Spec::PanicForTests {
                symbol: p.string("symbol", "")?,
            },
            other => {
                return Err(IctError::UnknownName {
                    what: "detector",
                    name: other.to_string(),
                    known: known_detectors(),
                })
            }
        };
        p.done()?;
        if let Spec::PreviousHighLow { time_frame } = &spec {
            compat::resample::parse_rule(time_frame)?;
        }
        Ok(spec)
    }

    /// The detector's name.
    pub fn name(&self) -> &'static str {
        match self {
            Spec::Fvg { .. } => "fvg",
            Spec::SwingHighsLows { .. } => "swing_highs_lows",
            Spec::BosChoch { .. } => "bos_choch",
            Spec::Ob { .. } => "ob",
            Spec::Liquidity { .. } => "liquidity",
            Spec::PreviousHighLow { .. } => "previous_high_low",
            Spec::Sessions { .. } => "sessions",
            Spec::Retracements { .. } => "retracements",
            Spec::Native(n) => native_detectors()
                .iter()
                .find(|d| d.strip_prefix("native.") == Some(n.name()))
                .copied()
                .unwrap_or("native"),
            Spec::PanicForTests { .. } => "_panic_for_tests",
        }
    }

    /// Relative cost per candle (measured: release build, 1M candles, BENCHMARKS.md), for
    /// ordering work longest first.
    pub fn weight(&self) -> u64 {
        match self {
            Spec::Fvg { .. } => 15,
            Spec::SwingHighsLows { .. } => 11,
            Spec::BosChoch { .. } => 12,
            Spec::Ob { .. } => 22,
            Spec::Liquidity { .. } => 23,
            Spec::PreviousHighLow { .. } => 12,
            Spec::Sessions { .. } => 8,
            Spec::Retracements { .. } => 10,
            // bench_native.py: ~60 ms (swings, structure) to ~100 ms (zones) per 1M candles.
            Spec::Native(_) => 8,
            Spec::PanicForTests { .. } => 1,
        }
    }

    /// The swing length it reads swings with, if it reads swings.
    pub fn swing_length(&self) -> Option<usize> {
        match self {
            Spec::BosChoch { swing_length, .. }
            | Spec::Ob { swing_length, .. }
            | Spec::Liquidity { swing_length, .. }
            | Spec::Retracements { swing_length } => Some(*swing_length),
            _ => None,
        }
    }

    /// The columns it reads (named as the cache key names them).
    pub fn inputs(&self) -> &'static [&'static str] {
        match self {
            Spec::SwingHighsLows { .. } => &["high", "low"],
            Spec::PreviousHighLow { .. } => &["time", "high", "low"],
            Spec::Sessions { .. } => &["wall_clock", "high", "low"],
            Spec::Ob { .. } => &["open", "high", "low", "close", "volume"],
            Spec::PanicForTests { .. } => &[],
            // Tables carry times, FVGs a volume share.
            Spec::Native(_) => &["time", "open", "high", "low", "close", "volume"],
            _ => &["open", "high", "low", "close"],
        }
    }

    /// Its parameters, all of them (defaults included), as the cache key records them.
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        let len = |l: usize| Param::Int(i64::try_from(l).unwrap_or(i64::MAX));
        match self {
            Spec::Fvg { join_consecutive } => {
                vec![("join_consecutive", Param::Bool(*join_consecutive))]
            }
            Spec::SwingHighsLows { swing_length } => vec![("swing_length", len(*swing_length))],
            Spec::BosChoch {
                swing_length,
                close_break,
            } => vec![
                ("swing_length", len(*swing_length)),
                ("close_break", Param::Bool(*close_break)),
            ],
            Spec::Ob {
                swing_length,
                close_mitigation,
            } => vec![
                ("swing_length", len(*swing_length)),
                ("close_mitigation", Param::Bool(*close_mitigation)),
            ],
            Spec::Liquidity {
                swing_length,
                range_percent,
            } => vec![
                ("swing_length", len(*swing_length)),
                ("range_percent", Param::Float(*range_percent)),
            ],
            Spec::PreviousHighLow { time_frame } => {
                vec![("time_frame", Param::Str(time_frame.clone()))]
            }
            Spec::Sessions {
                session,
                start_time,
                end_time,
            } => vec![
                ("session", Param::Str(session.clone())),
                ("start_time", Param::Str(start_time.clone())),
                ("end_time", Param::Str(end_time.clone())),
            ],
            Spec::Retracements { swing_length } => vec![("swing_length", len(*swing_length))],
            Spec::Native(n) => n.params(),
            Spec::PanicForTests { symbol } => vec![("symbol", Param::Str(symbol.clone()))],
        }
    }

    /// True for the native detectors (their key's mode is "native").
    pub fn is_native(&self) -> bool {
        matches!(self, Spec::Native(_))
    }

    /// A key builder with the detector, its parameters and mode; the caller adds the inputs.
    pub fn key_builder(&self) -> Result<KeyBuilder> {
        let mode = if self.is_native() { "native" } else { "compat" };
        let mut k = KeyBuilder::new(self.name(), mode);
        for (name, value) in self.params() {
            k.param(name, value)?;
        }
        if self.is_native() {
            k.param("native_revision", Param::Int(crate::detect::REVISION))?;
        }
        Ok(k)
    }

    /// Runs the detector on `c`; `swings` are the swing columns (HighLow, Level) for the
    /// detectors that read them. `symbol` is only for the test hook.
    pub fn compute(
        &self,
        c: &Candles<'_>,
        swings: Option<&ResultTable>,
        symbol: &str,
        dtypes: InputDtypes,
    ) -> Result<ResultTable> {
        match self {
            Spec::Native(n) => Ok(native_table(n, crate::detect::run(n, c)?)),
            Spec::PanicForTests { symbol: target } => {
                #[allow(clippy::panic, reason = "the test hook exists to panic on purpose")]
                if target == symbol {
                    panic!("deliberate panic from the _panic_for_tests detector on {symbol}");
                }
                Ok(ResultTable::default())
            }
            _ => {
                let columns = swings.map(|t| swing_columns(self.name(), t)).transpose()?;
                let swings = columns.as_ref().map(|(high_low, level)| SwingsView {
                    high_low,
                    level: level.as_ref(),
                });
                self.compute_compat(&CompatInputs {
                    dtypes: dtypes.with_computed_level(),
                    ..CompatInputs::of(c, swings)
                })
            }
        }
    }

    /// Runs a compat detector: the one place the compat frames' column names and dtypes are
    /// written (`ictcore.compat.smc` and the pool both come here).
    pub fn compute_compat(&self, x: &CompatInputs<'_>) -> Result<ResultTable> {
        let view = || {
            x.swings.ok_or_else(|| IctError::Internal {
                context: self.name().to_string(),
                message: "swings were not given".into(),
            })
        };
        let (o, h, l, cl) = (x.open, x.high, x.low, x.close);
        let columns = match self {
            Spec::Fvg { join_consecutive } => {
                let r = compat::fvg(o, h, l, cl, *join_consecutive)?;
                // QUIRK: Top holds lows and Bottom highs, in their columns' dtypes.
                vec![
                    Column::f64("FVG", r.fvg),
                    float_column("Top", r.top, x.dtypes.low),
                    float_column("Bottom", r.bottom, x.dtypes.high),
                    Column::f64("MitigatedIndex", r.mitigated_index),
                ]
            }
            Spec::SwingHighsLows { swing_length } => {
                let r = compat::swing_highs_lows(h, l, *swing_length)?;
                let level = match Precision::of(&[x.dtypes.high, x.dtypes.low]) {
                    Precision::F32 => Dtype::Float32,
                    Precision::F64 => Dtype::Float64,
                };
                vec![
                    Column::f64("HighLow", r.high_low),
                    float_column("Level", r.level, level),
                ]
            }
            Spec::BosChoch { close_break, .. } => {
                let r = compat::bos_choch(o, h, l, cl, view()?, *close_break)?;
                vec![
                    Column::f64("BOS", r.bos),
                    Column::f64("CHOCH", r.choch),
                    Column::f32_vec("Level", r.level),
                    Column::f64("BrokenIndex", r.broken_index),
                ]
            }
            Spec::Ob {
                close_mitigation, ..
            } => {
                let r = compat::ob(
                    o,
                    h,
                    l,
                    cl,
                    compat::ob::Volume {
                        values: x.volume,
                        dtype: x.dtypes.volume,
                    },
                    view()?,
                    *close_mitigation,
                )?;
                vec![
                    Column::f64("OB", r.ob),
                    Column::f32_vec("Top", r.top),
                    Column::f32_vec("Bottom", r.bottom),
                    Column::f32_vec("OBVolume", r.ob_volume),
                    Column::f64("MitigatedIndex", r.mitigated_index),
                    Column::f32_vec("Percentage", r.percentage),
                ]
            }
            Spec::Liquidity { range_percent, .. } => {
                let r = compat::liquidity(o, h, l, cl, view()?, *range_percent, x.dtypes)?;
                vec![
                    Column::f32_vec("Liquidity", r.liquidity),
                    Column::f32_vec("Level", r.level),
                    Column::f32_vec("End", r.end),
                    Column::f32_vec("Swept", r.swept),
                ]
            }
            Spec::PreviousHighLow { time_frame } => {
                let r = compat::previous_high_low(x.time, h, l, time_frame)?;
                vec![
                    Column::f32_vec("PreviousHigh", r.previous_high),
                    Column::f32_vec("PreviousLow", r.previous_low),
                    Column::i32_vec("BrokenHigh", r.broken_high),
                    Column::i32_vec("BrokenLow", r.broken_low),
                ]
            }
            Spec::Sessions {
                session,
                start_time,
                end_time,
            } => {
                let (start, end) = compat::session_window(session, start_time, end_time)?;
                let r = compat::sessions(x.time, h, l, start, end)?;
                vec![
                    Column::i32_vec("Active", r.active),
                    Column::f32_vec("High", r.high),
                    Column::f32_vec("Low", r.low),
                ]
            }
            Spec::Retracements { .. } => {
                let r = compat::retracements(o, h, l, cl, view()?, x.dtypes)?;
                vec![
                    Column::i32_vec("Direction", r.direction),
                    Column::f64("CurrentRetracement%", r.current),
                    Column::f64("DeepestRetracement%", r.deepest),
                ]
            }
            Spec::Native(_) | Spec::PanicForTests { .. } => {
                return Err(IctError::parameter(
                    "detector",
                    format!("'{}' is not a compat detector", self.name()),
                ))
            }
        };
        Ok(ResultTable::new(columns))
    }
}

/// A native detector's tables as one result: its main table, then each secondary table's
/// columns as `<table>.<column>`.
pub fn native_table(n: &NativeSpec, tables: Vec<ResultTable>) -> ResultTable {
    let mut tables = tables.into_iter().zip(n.tables());
    let mut main = tables.next().map(|(t, _)| t).unwrap_or_default();
    for (log, name) in tables {
        for mut column in log.columns {
            column.name = format!("{name}.{}", column.name);
            main.columns.push(column);
        }
    }
    main
}

/// A float64 result column of values taken from an input column, in that column's dtype
/// when it is float32 (exact: the values came from float32).
fn float_column(name: &str, values: Vec<f64>, dtype: Dtype) -> Column {
    match dtype {
        Dtype::Float32 => Column::f32_vec(name, values.into_iter().map(|v| v as f32).collect()),
        _ => Column::f64(name, values),
    }
}

/// The columns a compat detector reads (those it does not read may be empty): the candles'
/// and, for the swing-based ones, the swings frame's HighLow and Level.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompatInputs<'a> {
    pub time: &'a [i64],
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
    pub swings: Option<SwingsView<'a>>,
    /// The dtypes the caller's columns had (the library computes in them); float64 for
    /// stored series.
    pub dtypes: InputDtypes,
}

impl<'a> CompatInputs<'a> {
    /// A series' columns, with its swings if the detector reads them.
    pub fn of(c: &Candles<'a>, swings: Option<SwingsView<'a>>) -> Self {
        Self {
            time: c.time,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
            swings,
            dtypes: InputDtypes::default(),
        }
    }
}

/// The (HighLow, Level) columns of a computed swings table as float64 (Level is float32
/// for float32 inputs, widened here exactly).
fn swing_columns<'a>(
    detector: &str,
    table: &'a ResultTable,
) -> Result<(&'a [f64], std::borrow::Cow<'a, [f64]>)> {
    let missing = || IctError::Internal {
        context: detector.to_string(),
        message: "swing columns are not float64 / float32".into(),
    };
    let high_low = table
        .columns
        .first()
        .and_then(|c| bytemuck::try_cast_slice(c.bytes()).ok())
        .ok_or_else(missing)?;
    let level = table.columns.get(1).ok_or_else(missing)?;
    let level = match level.dtype {
        crate::table::Dtype::F32 => {
            let narrow: &[f32] = bytemuck::try_cast_slice(level.bytes()).map_err(|_| missing())?;
            std::borrow::Cow::Owned(narrow.iter().map(|&v| f64::from(v)).collect())
        }
        _ => std::borrow::Cow::Borrowed(
            bytemuck::try_cast_slice(level.bytes()).map_err(|_| missing())?,
        ),
    };
    Ok((high_low, level))
}
