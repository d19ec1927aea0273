//! The library computes in its input's dtypes: numpy scalar arithmetic on float32 columns
//! rounds every operation to float32, and sums of int32 volumes wrap. ictcore receives
//! every column as float64 (values of float32 and integer columns are exact there) and
//! reproduces the library's arithmetic from the columns' original dtypes.
//!
//! Rounding an exact float64 result of `+ - * /` on two float32 values to float32 gives
//! the correctly rounded float32 result (float64 has more than 2 x 24 + 2 bits), so one
//! float64 operation and a cast reproduce numpy's float32 operation exactly.

/// The dtype of an input column, as far as the library's arithmetic depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dtype {
    /// float64, and every dtype whose values and sums are exact in float64 (int64 and
    /// uint64 below 2^53).
    #[default]
    Float64,
    Float32,
    /// A narrow integer: sums wrap at this width.
    Int {
        bits: u8,
        signed: bool,
    },
}

impl Dtype {
    /// From a numpy dtype name (`"float32"`, `"int32"`, `"uint16"`, ...); any other name is
    /// float64 arithmetic.
    pub fn from_numpy(name: &str) -> Self {
        match name {
            "float32" => Self::Float32,
            "int8" => Self::Int {
                bits: 8,
                signed: true,
            },
            "int16" => Self::Int {
                bits: 16,
                signed: true,
            },
            "int32" => Self::Int {
                bits: 32,
                signed: true,
            },
            "uint8" => Self::Int {
                bits: 8,
                signed: false,
            },
            "uint16" => Self::Int {
                bits: 16,
                signed: false,
            },
            "uint32" => Self::Int {
                bits: 32,
                signed: false,
            },
            _ => Self::Float64,
        }
    }

    /// The numpy name of a dtype whose arithmetic differs from float64's (None for float64).
    pub fn numpy_name(self) -> Option<String> {
        match self {
            Self::Float64 => None,
            Self::Float32 => Some("float32".into()),
            Self::Int { bits, signed } => {
                Some(format!("{}int{bits}", if signed { "" } else { "u" }))
            }
        }
    }

    /// Whether values of this dtype go through float32 arithmetic (alone or with another
    /// float32 operand).
    fn is_float32(self) -> bool {
        self == Self::Float32
    }

    /// `a + b` as numpy adds two scalars of this dtype (exact integers for `Int`).
    pub fn add(self, a: f64, b: f64) -> f64 {
        match self {
            Self::Float64 => a + b,
            Self::Float32 => f64::from((a + b) as f32),
            Self::Int { bits, signed } => {
                // Integer columns arrive as exact float64 values.
                let sum = (a as i128).wrapping_add(b as i128);
                let modulus = 1i128 << bits;
                let wrapped = sum.rem_euclid(modulus);
                let value = if signed && wrapped >= modulus / 2 {
                    wrapped - modulus
                } else {
                    wrapped
                };
                value as f64
            }
        }
    }
}

/// The precision of a float operation: numpy's promotion of its operands' dtypes (float32
/// only when every operand is float32; float32 with any integer or float64 is float64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F64,
    F32,
}

impl Precision {
    /// The precision of an operation on values of these dtypes.
    pub fn of(dtypes: &[Dtype]) -> Self {
        if !dtypes.is_empty() && dtypes.iter().all(|d| d.is_float32()) {
            Self::F32
        } else {
            Self::F64
        }
    }

    /// The two precisions together (an operation on results of both).
    pub fn with(self, other: Self) -> Self {
        if self == Self::F32 && other == Self::F32 {
            Self::F32
        } else {
            Self::F64
        }
    }

    /// An exact float64 result rounded as this precision stores it.
    #[inline]
    pub fn round(self, x: f64) -> f64 {
        match self {
            Self::F64 => x,
            Self::F32 => f64::from(x as f32),
        }
    }

    /// numpy's `round(x, 1)` in this precision: rint(10 x) / 10, ties to even, each
    /// operation in the precision.
    pub fn round1(self, x: f64) -> f64 {
        self.round(self.round(x * 10.0).round_ties_even() / 10.0)
    }
}

/// The dtypes of a compat call's inputs (float64 unless the caller says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputDtypes {
    pub open: Dtype,
    pub high: Dtype,
    pub low: Dtype,
    pub close: Dtype,
    pub volume: Dtype,
    /// The swings frame's `Level`.
    pub level: Dtype,
}

impl InputDtypes {
    /// With `level` as `smc.swing_highs_lows` gives it for these highs and lows (float32
    /// when both are float32): for swings the pool computes itself.
    pub fn with_computed_level(self) -> Self {
        let level = match Precision::of(&[self.high, self.low]) {
            Precision::F32 => Dtype::Float32,
            Precision::F64 => Dtype::Float64,
        };
        Self { level, ..self }
    }

    /// `"close=float32,high=float32"`: the candle columns whose arithmetic differs from
    /// float64's, by name (the form `ictcore.compat` keys its cache with); None when there
    /// are none.
    pub fn key_text(&self) -> Option<String> {
        let named = [
            ("close", self.close),
            ("high", self.high),
            ("low", self.low),
            ("open", self.open),
            ("volume", self.volume),
        ];
        let parts: Vec<String> = named
            .iter()
            .filter_map(|(name, d)| d.numpy_name().map(|n| format!("{name}={n}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int32_sums_wrap_as_numpy_does() {
        let int32 = Dtype::from_numpy("int32");
        assert_eq!(int32.add(2_147_483_647.0, 1.0), -2_147_483_648.0);
        assert_eq!(int32.add(-5.0, 3.0), -2.0);
        let uint32 = Dtype::from_numpy("uint32");
        assert_eq!(uint32.add(4_294_967_295.0, 2.0), 1.0);
        assert_eq!(Dtype::from_numpy("int64").add(1e15, 1.0), 1e15 + 1.0);
    }

    #[test]
    fn float32_operations_round_once() {
        let a = f64::from(0.1f32);
        let b = f64::from(0.2f32);
        assert_eq!(Dtype::Float32.add(a, b), f64::from(0.1f32 + 0.2f32));
        assert_eq!(Precision::F32.round(a / b), f64::from(0.1f32 / 0.2f32));
        assert_eq!(
            Precision::of(&[Dtype::Float32, Dtype::Float64]),
            Precision::F64
        );
        assert_eq!(
            Precision::of(&[
                Dtype::Float32,
                Dtype::Int {
                    bits: 32,
                    signed: true
                }
            ]),
            Precision::F64
        );
    }

    proptest::proptest! {
        #[test]
        fn float32_arithmetic_through_float64_is_exact(a in proptest::num::f32::NORMAL, b in proptest::num::f32::NORMAL) {
            let (x, y) = (f64::from(a), f64::from(b));
            let p = Precision::F32;
            proptest::prop_assert_eq!(p.round(x + y).to_bits(), f64::from(a + b).to_bits());
            proptest::prop_assert_eq!(p.round(x - y).to_bits(), f64::from(a - b).to_bits());
            proptest::prop_assert_eq!(p.round(x * y).to_bits(), f64::from(a * b).to_bits());
            proptest::prop_assert_eq!(p.round(x / y).to_bits(), f64::from(a / b).to_bits());
        }
    }
}
