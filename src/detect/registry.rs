//! The one list of native detectors. Each detector declares itself once, in its own module,
//! as a [`Declaration`]: its name, parameters (type, default, bounds, one-line doc), the
//! tables it produces with their column schemas, the detectors whose output it reads, and how
//! to build it. Everything else — parsing parameters by name ([`NativeSpec`]), cache-key
//! parameters, the pool's `native.<name>` detectors, the engine's shared-input graph and
//! Python's `PRESET`, table names and classes — is derived from [`REGISTRY`].
//!
//! Adding a detector: its module (the state machine, a [`Detector`] impl and a
//! `DECLARATION`), one line in [`REGISTRY`], its tests (and, if it has one, its Python
//! wrapper function and stub).

use super::history::History;
use crate::error::{IctError, Result};
use crate::param::Param;
use crate::table::{Dtype, ResultTable};
use std::any::Any;
use std::fmt;
use std::sync::OnceLock;

/// Every native detector, in the order they are listed to users.
pub static REGISTRY: &[&Declaration] = &[
    &super::swings::DECLARATION,
    &super::structure::DECLARATION,
    &super::fvg::DECLARATION,
    &super::gaps::VOLUME_IMBALANCE,
    &super::gaps::OPENING_GAPS,
    &super::displacement::DECLARATION,
    &super::order_blocks::DECLARATION,
    &super::liquidity::DECLARATION,
    &super::ranges::DECLARATION,
    &super::composite::BPR,
    &super::composite::REJECTION_BLOCKS,
    &super::sessions::DECLARATION,
    &super::structure::LAYERS,
    &super::mss::DECLARATION,
    &super::mitigation::DECLARATION,
    &super::cisd::DECLARATION,
    &super::new_opening_gaps::DECLARATION,
];

/// A streaming detector: `step` processes the newest bar of a history (the detectors it reads,
/// its [`Inputs`], have already processed that bar), `undo` takes the bar back (before its
/// inputs take theirs back).
pub trait Detector: Any + Send + Sync + super::checkpoint::Checkpointed {
    fn step(&mut self, history: &History, inputs: &Inputs<'_>) -> Result<()>;
    fn undo(&mut self);
    /// Rows of table `which` (an index into its declaration's `tables`) now.
    fn rows(&self, which: usize) -> usize;
    /// Rows `start..` of table `which`.
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable;
    /// A batch run is about to step `bars` bars: room for what they will log, so the logs
    /// grow without copying (untouched room costs address space, not memory).
    fn reserve(&mut self, _bars: usize) {}
    /// Drops rows before `upto` of table `which` when that table is a log only written
    /// ([`super::log::Log`]): a live session's after reporting them, for a detector no
    /// other detector reads. Rows before `upto` cannot be asked for afterwards.
    fn forget(&mut self, _which: usize, _upto: usize) {}
    /// Whether this detector may read rows its inputs logged at earlier bars, not only
    /// those the current bar added (and their current state): its inputs then keep every
    /// row. False lets a live session or a resumed run drop its inputs' old rows.
    fn reads_back(&self) -> bool {
        true
    }
}

/// `step` and `undo` of a [`Detector`] that reads no other detector: its inherent
/// `step(history)` and `undo()`.
macro_rules! steps_alone {
    () => {
        fn step(
            &mut self,
            history: &crate::detect::History,
            _: &crate::detect::registry::Inputs<'_>,
        ) -> crate::error::Result<()> {
            Self::step(self, history);
            Ok(())
        }
        fn undo(&mut self) {
            Self::undo(self);
        }
    };
}
pub(crate) use steps_alone;

/// `rows` and `table` of a [`Detector`] with one table: `self.$rows` rows, made by its
/// inherent `table(history, start)`.
macro_rules! one_table {
    ($rows:ident) => {
        fn rows(&self, _: usize) -> usize {
            self.$rows.len()
        }
        fn table(
            &self,
            history: &crate::detect::History,
            _: usize,
            start: usize,
        ) -> crate::table::ResultTable {
            Self::table(self, history, start)
        }
    };
}
pub(crate) use one_table;

/// The detectors a detector reads, in the order its declaration's `inputs` lists them,
/// already stepped to the current bar.
pub struct Inputs<'a> {
    pub(crate) done: &'a [Box<dyn Detector>],
    pub(crate) ids: &'a [usize],
}

impl Inputs<'_> {
    /// No inputs (a detector that reads none).
    pub const NONE: Inputs<'static> = Inputs {
        done: &[],
        ids: &[],
    };

    /// Input `which` as its concrete type.
    pub fn get<T: Detector>(&self, which: usize) -> Result<&T> {
        let detector = self
            .ids
            .get(which)
            .and_then(|&id| self.done.get(id))
            .map(|d| &**d as &dyn Any);
        detector
            .and_then(|d| d.downcast_ref::<T>())
            .ok_or_else(|| IctError::Internal {
                context: "detector inputs".into(),
                message: format!("input {which} is not a {}", std::any::type_name::<T>()),
            })
    }
}

/// What values a parameter takes, with its default.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// A whole number of bars in `min..=max`.
    Length {
        default: usize,
        min: usize,
        max: usize,
    },
    /// A finite number >= 0 (ints accepted).
    Number { default: f64 },
    /// One of a few words.
    Choice {
        default: &'static str,
        options: &'static [&'static str],
    },
    /// Text in a format the detector checks; `canonical` validates it and gives the one
    /// spelling the cache key records (`"9:30"` and `"09:30"` are one key).
    Text {
        default: &'static str,
        canonical: fn(&str) -> Result<String>,
    },
}

impl ParamKind {
    /// The default, as a parameter value.
    pub fn default_value(&self) -> Param {
        match *self {
            ParamKind::Length { default, .. } => Param::Int(len_param(default)),
            ParamKind::Number { default } => Param::Float(default),
            ParamKind::Choice { default, .. } | ParamKind::Text { default, .. } => {
                Param::Str(default.to_string())
            }
        }
    }

    /// The type's name for users (`int`, `float`, `str`).
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamKind::Length { .. } => "int",
            ParamKind::Number { .. } => "float",
            ParamKind::Choice { .. } | ParamKind::Text { .. } => "str",
        }
    }
}

fn len_param(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One parameter of a detector.
#[derive(Debug, Clone, Copy)]
pub struct ParamDecl {
    pub name: &'static str,
    pub kind: ParamKind,
    pub doc: &'static str,
}

/// A swing window length (both sides of a pivot need at least one bar).
pub const fn swing_length(name: &'static str, default: usize, doc: &'static str) -> ParamDecl {
    ParamDecl {
        name,
        kind: ParamKind::Length {
            default,
            min: 1,
            max: 100_000,
        },
        doc,
    }
}

/// A finite number >= 0.
pub const fn number(name: &'static str, default: f64, doc: &'static str) -> ParamDecl {
    ParamDecl {
        name,
        kind: ParamKind::Number { default },
        doc,
    }
}

/// `left` and `right`: the swing windows every swing-based detector takes.
pub const SWING_PARAMS: [ParamDecl; 2] = [
    swing_length("left", 5, "bars before a pivot it must exceed (or equal)"),
    swing_length(
        "right",
        5,
        "bars after a pivot it must exceed: it is known that late",
    ),
];

/// `break_on`: what breaks a structure level.
pub const BREAK_ON: ParamDecl = ParamDecl {
    name: "break_on",
    kind: ParamKind::Choice {
        default: "close",
        options: &["close", "wick"],
    },
    doc: "a close beyond the level breaks it, or any wick",
};

/// How Python shows a detector's result (the class that wraps its tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One table of events (`EventTable`).
    Events,
    /// Zones and their transition log (`ZoneTable`, `.transitions`).
    Zones,
    /// Pools and their sweeps (`LiquidityTable`, `.sweeps`).
    Liquidity,
    /// Window instances with the windows' names (`SessionTable`).
    Sessions,
}

impl Shape {
    /// The Python class name.
    pub fn class_name(self) -> &'static str {
        match self {
            Shape::Events => "EventTable",
            Shape::Zones => "ZoneTable",
            Shape::Liquidity => "LiquidityTable",
            Shape::Sessions => "SessionTable",
        }
    }
}

/// A table's columns, as consecutive parts (the common columns, then the detector's own).
pub type Schema = &'static [&'static [(&'static str, Dtype)]];

/// One table a detector produces.
#[derive(Debug, Clone, Copy)]
pub struct TableDecl {
    pub name: &'static str,
    pub columns: Schema,
}

impl TableDecl {
    /// The column names and dtypes, in order.
    pub fn columns(&self) -> impl Iterator<Item = (&'static str, Dtype)> + '_ {
        self.columns.iter().flat_map(|part| part.iter().copied())
    }
}

/// A native detector, declared once.
pub struct Declaration {
    pub name: &'static str,
    /// One line for users.
    pub doc: &'static str,
    pub params: &'static [ParamDecl],
    /// Its tables: the main one first (named as the detector), then a log if it has one.
    pub tables: &'static [TableDecl],
    pub shape: Shape,
    /// The `kind` codes its rows carry, with their names (codes are stable: caches and
    /// users' files hold them; a new kind takes a new code).
    pub kinds: &'static [(i32, &'static str)],
    /// The detectors whose output it reads, with parameters derived from its own; they run
    /// once per engine however many detectors read them.
    pub inputs: fn(&Values) -> Result<Vec<NativeSpec>>,
    /// A fresh detector (its parameters already checked).
    pub build: fn(&Values) -> Result<Box<dyn Detector>>,
}

impl fmt::Debug for Declaration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Declaration({})", self.name)
    }
}

/// For detectors that read no other detector.
pub fn no_inputs(_: &Values) -> Result<Vec<NativeSpec>> {
    Ok(Vec::new())
}

/// A detector's parameters after defaults and checks, in declaration order (what the cache
/// key records).
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    detector: &'static str,
    values: Vec<(&'static str, Param)>,
}

impl Values {
    fn missing(&self, name: &str) -> IctError {
        IctError::Internal {
            context: format!("native detector {}", self.detector),
            message: format!("parameter '{name}' is not declared with that type"),
        }
    }

    fn get(&self, name: &str) -> Option<&Param> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// A length parameter.
    pub fn length(&self, name: &str) -> Result<usize> {
        match self.get(name) {
            Some(Param::Int(v)) => usize::try_from(*v).map_err(|_| self.missing(name)),
            _ => Err(self.missing(name)),
        }
    }

    /// A number parameter.
    pub fn number(&self, name: &str) -> Result<f64> {
        match self.get(name) {
            Some(Param::Float(v)) => Ok(*v),
            _ => Err(self.missing(name)),
        }
    }

    /// A choice or text parameter.
    pub fn text(&self, name: &str) -> Result<&str> {
        match self.get(name) {
            Some(Param::Str(v)) => Ok(v),
            _ => Err(self.missing(name)),
        }
    }

    /// Every parameter, in declaration order.
    pub fn all(&self) -> &[(&'static str, Param)] {
        &self.values
    }
}

/// The declaration of detector `name`.
pub fn declaration(name: &str) -> Result<&'static Declaration> {
    REGISTRY
        .iter()
        .copied()
        .find(|d| d.name == name)
        .ok_or_else(|| IctError::UnknownName {
            what: "native detector",
            name: name.to_string(),
            known: names().map(str::to_string).collect(),
        })
}

/// The names of every native detector.
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|d| d.name)
}

/// `native.<name>` for every native detector (the pool's names for them).
pub fn pool_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        // Built once per process from the registry; the strings live as long as it does.
        names().map(|n| &*format!("native.{n}").leak()).collect()
    })
}

/// A native detector with checked parameters.
#[derive(Debug, Clone)]
pub struct NativeSpec {
    pub declaration: &'static Declaration,
    values: Values,
}

impl PartialEq for NativeSpec {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.declaration, other.declaration) && self.values == other.values
    }
}

fn wrong(detector: &str, p: &ParamDecl, got: &Param) -> IctError {
    IctError::parameter(
        format!("{detector}.{}", p.name),
        format!("expected {}, got {got}", p.kind.type_name()),
    )
}

/// Checks one given value against its declaration; returns the value the key records.
fn check(detector: &str, p: &ParamDecl, given: &Param) -> Result<Param> {
    // A numpy scalar or an int subclass counts as the plain value it holds.
    let given = given.plain();
    let name = || format!("{detector}.{}", p.name);
    match (p.kind, given) {
        (ParamKind::Length { min, max, .. }, Param::Int(v)) => {
            if usize::try_from(*v).is_ok_and(|n| (min..=max).contains(&n)) {
                Ok(Param::Int(*v))
            } else {
                Err(IctError::parameter(
                    name(),
                    format!("must be between {min} and {max}, got {v}"),
                ))
            }
        }
        (ParamKind::Number { .. }, Param::Float(_) | Param::Int(_)) => {
            let v = match given {
                Param::Int(i) => *i as f64,
                Param::Float(f) => *f,
                _ => f64::NAN,
            };
            if v.is_finite() && v >= 0.0 {
                Ok(Param::Float(v))
            } else {
                Err(IctError::parameter(
                    name(),
                    format!("must be a finite number >= 0, got {given}"),
                ))
            }
        }
        (ParamKind::Choice { options, .. }, Param::Str(s)) => {
            if options.contains(&s.as_str()) {
                Ok(Param::Str(s.clone()))
            } else {
                let quoted: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
                Err(IctError::parameter(
                    name(),
                    format!("must be {}, got {s:?}", quoted.join(" or ")),
                ))
            }
        }
        (ParamKind::Text { canonical, .. }, Param::Str(s)) => canonical(s).map(Param::Str),
        _ => Err(wrong(detector, p, given)),
    }
}

impl NativeSpec {
    /// The detector `name` with `given` parameters (missing ones take their defaults; unknown
    /// or out-of-range ones are refused naming `<detector>.<parameter>`).
    pub fn parse(name: &str, mut given: Vec<(String, Param)>) -> Result<Self> {
        let declaration = declaration(name)?;
        let mut values = Vec::with_capacity(declaration.params.len());
        for p in declaration.params {
            let value = match given.iter().position(|(n, _)| n == p.name) {
                Some(at) => check(declaration.name, p, &given.swap_remove(at).1)?,
                None => match p.kind {
                    // Defaults go through the same canonical spelling as given values.
                    ParamKind::Text { default, canonical } => Param::Str(canonical(default)?),
                    kind => kind.default_value(),
                },
            };
            values.push((p.name, value));
        }
        if let Some((unknown, _)) = given.first() {
            let known: Vec<&str> = declaration.params.iter().map(|p| p.name).collect();
            return Err(IctError::parameter(
                format!("{}.{unknown}", declaration.name),
                format!(
                    "unknown parameter (parameters: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        let spec = Self {
            declaration,
            values: Values {
                detector: declaration.name,
                values,
            },
        };
        // Checks what only the detector knows (a window list, a zone), once, here.
        spec.build()?;
        spec.inputs()?;
        Ok(spec)
    }

    /// `name` with parameters given as plain values (for declaring inputs).
    pub fn with(name: &str, params: &[(&str, Param)]) -> Result<Self> {
        Self::parse(
            name,
            params
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
    }

    pub fn name(&self) -> &'static str {
        self.declaration.name
    }

    /// Its tables' names, main first.
    pub fn tables(&self) -> impl Iterator<Item = &'static str> {
        self.declaration.tables.iter().map(|t| t.name)
    }

    /// Every parameter, defaults included (as the cache key records them).
    pub fn params(&self) -> Vec<(&'static str, Param)> {
        self.values.values.clone()
    }

    /// Its name and every parameter as owned values (what a checkpoint records of it, and
    /// [`NativeSpec::parse`] turns back into it).
    pub fn described(&self) -> (String, Vec<(String, Param)>) {
        let params = self
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        (self.name().to_string(), params)
    }

    /// The checked values.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// The detectors it reads.
    pub fn inputs(&self) -> Result<Vec<NativeSpec>> {
        (self.declaration.inputs)(&self.values)
    }

    /// A fresh streaming detector.
    pub fn build(&self) -> Result<Box<dyn Detector>> {
        (self.declaration.build)(&self.values)
    }
}

/// A length as a parameter value (for declaring inputs).
pub fn length_value(n: usize) -> Param {
    Param::Int(len_param(n))
}
