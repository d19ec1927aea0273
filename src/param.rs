//! [`Param`]: a detector parameter's value, typed exactly (what cache keys record and
//! detectors read).

use std::fmt;

/// A typed parameter value. A key records the exact type and value: values of different
/// types never share a key, even when they compare equal (`True`, `1`, `1.0`,
/// `numpy.True_`), since a computation may treat them differently.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Param {
    Int(i64),
    /// An integer beyond int64, as its decimal digits (never rounded to a float).
    BigInt(String),
    /// Keyed by its IEEE bits: -0.0 and 0.0 differ, and a NaN is the NaN it is.
    Float(f64),
    Bool(bool),
    Str(String),
    /// An explicit "not set" (Python's `None`), distinct from leaving the parameter out.
    None,
    /// A value of another type than the plain ones (a numpy scalar, an `int` subclass such
    /// as an enum), keyed by the type's name and its value as a plain one.
    Typed(String, Box<Param>),
}

impl fmt::Display for Param {
    /// The value as Python would show it (for error messages).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Int(v) => write!(f, "{v}"),
            Param::BigInt(v) => f.write_str(v),
            Param::Float(v) if v.is_nan() => f.write_str("nan"),
            Param::Float(v) if v.is_infinite() => {
                f.write_str(if *v > 0.0 { "inf" } else { "-inf" })
            }
            Param::Float(v) => write!(f, "{v:?}"),
            Param::Bool(v) => f.write_str(if *v { "True" } else { "False" }),
            Param::Str(v) => write!(f, "{v:?}"),
            Param::None => f.write_str("None"),
            Param::Typed(type_name, inner) => write!(f, "{type_name}({inner})"),
        }
    }
}

impl Param {
    /// The value as detectors read it: a typed value as its plain one.
    pub fn plain(&self) -> &Param {
        match self {
            Param::Typed(_, inner) => inner.plain(),
            other => other,
        }
    }
}
