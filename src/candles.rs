//! `Candles`: a borrowed, validated view of one OHLCV series, and the column checks every
//! entry point shares (equal lengths, finite prices, strictly increasing time).

use crate::error::{IctError, Result};

/// A borrowed OHLCV series: `time` in int64 nanoseconds since the Unix epoch (UTC) and
/// float64 prices and volume, all of one length.
#[derive(Debug, Clone, Copy)]
pub struct Candles<'a> {
    pub time: &'a [i64],
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
}

impl<'a> Candles<'a> {
    /// Builds a view after checking that every column has the length of `time`, that prices
    /// and volume are finite and that time is strictly increasing. The error names the first
    /// offending column and row.
    pub fn new(
        time: &'a [i64],
        open: &'a [f64],
        high: &'a [f64],
        low: &'a [f64],
        close: &'a [f64],
        volume: &'a [f64],
    ) -> Result<Self> {
        let candles = Self {
            time,
            open,
            high,
            low,
            close,
            volume,
        };
        check_lengths(
            "time",
            time.len(),
            &[
                ("open", open.len()),
                ("high", high.len()),
                ("low", low.len()),
                ("close", close.len()),
                ("volume", volume.len()),
            ],
        )?;
        for (name, column) in candles.price_columns() {
            check_finite(name, column)?;
        }
        check_finite("volume", volume)?;
        check_strictly_increasing("time", time)?;
        Ok(candles)
    }

    /// Number of candles.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when the series has no candles.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// The rows from `from` on (none when `from` is past the end).
    pub fn tail(&self, from: usize) -> Self {
        let from = from.min(self.len());
        Self {
            time: &self.time[from..],
            open: &self.open[from..],
            high: &self.high[from..],
            low: &self.low[from..],
            close: &self.close[from..],
            volume: &self.volume[from..],
        }
    }

    /// The four price columns with their names, in OHLC order.
    pub fn price_columns(&self) -> [(&'static str, &'a [f64]); 4] {
        [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", self.close),
        ]
    }
}

/// Checks that every `(name, len)` in `others` equals `len` of the reference column.
pub fn check_lengths(reference: &str, len: usize, others: &[(&str, usize)]) -> Result<()> {
    match others.iter().find(|(_, l)| *l != len) {
        Some((name, got)) => Err(IctError::LengthMismatch {
            column: (*name).to_string(),
            reference: reference.to_string(),
            expected: len,
            got: *got,
        }),
        None => Ok(()),
    }
}

/// Fails on the first NaN or infinite value, naming column and row.
pub fn check_finite(column: &str, values: &[f64]) -> Result<()> {
    // A branch-free scan of the exponent bits first (it vectorises); the row is looked for
    // only when something is wrong.
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    let any_bad = values.chunks(256).any(|c| {
        c.iter()
            .fold(false, |bad, v| bad | (v.to_bits() & EXPONENT == EXPONENT))
    });
    if !any_bad {
        return Ok(());
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(IctError::NonFinite {
            column: column.to_string(),
            row,
            value: values[row],
        }),
        None => Ok(()),
    }
}

/// Fails on the first row whose time is not strictly after the previous row's, saying
/// whether it repeats (duplicate) or goes back (unsorted).
pub fn check_strictly_increasing(column: &str, values: &[i64]) -> Result<()> {
    match values.windows(2).position(|w| w[1] <= w[0]) {
        Some(prev) => {
            let (previous, value) = (values[prev], values[prev + 1]);
            Err(IctError::NotIncreasing {
                column: column.to_string(),
                row: prev + 1,
                previous_row: prev,
                value,
                previous,
                relation: if value == previous {
                    "a duplicate of"
                } else {
                    "earlier than"
                },
            })
        }
        None => Ok(()),
    }
}

/// Checks the four OHLC columns of a compat call: equal lengths and finite values.
pub fn check_ohlc(open: &[f64], high: &[f64], low: &[f64], close: &[f64]) -> Result<()> {
    check_lengths(
        "open",
        open.len(),
        &[
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
        ],
    )?;
    for (name, column) in [
        ("open", open),
        ("high", high),
        ("low", low),
        ("close", close),
    ] {
        check_finite(name, column)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_accepts_a_valid_series() {
        let t = [1, 2, 3];
        let p = [1.0, 2.0, 3.0];
        let c = Candles::new(&t, &p, &p, &p, &p, &p).unwrap();
        assert_eq!(c.len(), 3);
        assert!(!c.is_empty());
    }

    #[test]
    fn new_names_the_short_column() {
        let t = [1, 2, 3];
        let p = [1.0, 2.0, 3.0];
        let short = [1.0, 2.0];
        let err = Candles::new(&t, &p, &p, &short, &p, &p).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'low'") && msg.contains("2 rows"), "{msg}");
    }

    #[test]
    fn new_names_column_and_row_of_a_nan() {
        let t = [1, 2, 3];
        let p = [1.0, 2.0, 3.0];
        let bad = [1.0, 2.0, f64::NAN];
        let err = Candles::new(&t, &p, &p, &p, &bad, &p).unwrap_err();
        assert!(matches!(err, IctError::NonFinite { ref column, row: 2, .. } if column == "close"));
        assert!(err.is_invalid_input());
    }

    #[test]
    fn duplicate_and_unsorted_times_are_named() {
        let err = check_strictly_increasing("time", &[1, 2, 2]).unwrap_err();
        assert!(err.to_string().contains("row 2") && err.to_string().contains("duplicate"));
        let err = check_strictly_increasing("time", &[1, 3, 2]).unwrap_err();
        assert!(err.to_string().contains("earlier than"));
    }
}
