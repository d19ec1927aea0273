//! The bars a causal detector may look at: everything up to and including the bar being
//! processed, plus Wilder's ATR as of each bar (quality columns are sized in ATR). Append-only,
//! so undoing the newest bar (a revised forming candle) is a pop.

use crate::error::{IctError, Result};

/// One OHLCV candle: `time` in int64 nanoseconds since the epoch (UTC), float64 prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Bar {
    /// Absolute body size.
    pub fn body(&self) -> f64 {
        (self.close - self.open).abs()
    }
}

/// ATR length of the quality columns (Wilder's smoothing, seeded with the mean true range of
/// the first [`ATR_PERIOD`] bars; NaN before that).
pub const ATR_PERIOD: usize = 14;

/// Bars seen so far and the ATR as of each.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub bars: Vec<Bar>,
    pub atr: Vec<f64>,
}

impl History {
    /// Appends `bar` after checking it (finite fields, time after the previous bar's).
    /// `row` names the bar in an error.
    pub fn push(&mut self, bar: Bar, row: usize) -> Result<()> {
        for (column, value) in [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
            ("volume", bar.volume),
        ] {
            if !value.is_finite() {
                return Err(IctError::NonFinite {
                    column: column.into(),
                    row,
                    value,
                });
            }
        }
        if let Some(previous) = self.bars.last() {
            if bar.time <= previous.time {
                return Err(IctError::NotIncreasing {
                    column: "time".into(),
                    row,
                    previous_row: row.saturating_sub(1),
                    value: bar.time,
                    previous: previous.time,
                    relation: if bar.time == previous.time {
                        "equal to"
                    } else {
                        "before"
                    },
                });
            }
        }
        self.push_unchecked(bar);
        Ok(())
    }

    /// Appends a bar already checked (batch input validated as whole columns).
    pub fn push_unchecked(&mut self, bar: Bar) {
        let t = self.bars.len();
        let true_range = match self.bars.last() {
            Some(p) => (bar.high - bar.low)
                .max((bar.high - p.close).abs())
                .max((bar.low - p.close).abs()),
            None => bar.high - bar.low,
        };
        self.bars.push(bar);
        let atr = if t + 1 < ATR_PERIOD {
            f64::NAN
        } else if t + 1 == ATR_PERIOD {
            // Seed: the mean true range of the first ATR_PERIOD bars (recomputed here from
            // the bars, so popping a bar never leaves a stale running sum behind).
            let mut sum = self.bars[0].high - self.bars[0].low;
            for w in self.bars.windows(2) {
                sum += (w[1].high - w[1].low)
                    .max((w[1].high - w[0].close).abs())
                    .max((w[1].low - w[0].close).abs());
            }
            sum / ATR_PERIOD as f64
        } else {
            let previous = self.atr[t - 1];
            (previous * (ATR_PERIOD - 1) as f64 + true_range) / ATR_PERIOD as f64
        };
        self.atr.push(atr);
    }

    /// Removes the newest bar.
    pub fn pop(&mut self) {
        self.bars.pop();
        self.atr.pop();
    }

    pub fn len(&self) -> usize {
        self.bars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }
}
