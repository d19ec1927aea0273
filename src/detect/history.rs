//! The bars a causal detector may look at: everything up to and including the bar being
//! processed, plus Wilder's ATR as of each bar (quality columns are sized in ATR).
//!
//! Columns, not rows: a batch run borrows the caller's columns and only reveals one more bar
//! per step (no copy of the series; 8 bytes per bar for the ATR), while the streaming engine
//! owns its columns and appends. Undoing the newest bar (a revised forming candle) is a pop.

use crate::candles::Candles;
use crate::error::{IctError, Result};
use std::borrow::Cow;

/// One OHLCV candle: `time` in int64 nanoseconds since the epoch (UTC), float64 prices.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Wilder's `(atr * 13 + tr) / 14` with the division folded into two constants: the chain
/// from one bar's ATR to the next is a multiply and an add, not a division (~20 cycles).
const KEEP: f64 = (ATR_PERIOD - 1) as f64 / ATR_PERIOD as f64;
const ADD: f64 = 1.0 / ATR_PERIOD as f64;

/// Bars seen so far (the first [`History::len`] of its columns) and the ATR as of each.
#[derive(Debug, Clone, Default)]
pub struct History<'a> {
    time: Cow<'a, [i64]>,
    open: Cow<'a, [f64]>,
    high: Cow<'a, [f64]>,
    low: Cow<'a, [f64]>,
    close: Cow<'a, [f64]>,
    volume: Cow<'a, [f64]>,
    len: usize,
    /// ATR per bar from bar `atr_base` on: every bar's at once for a batch (one tight loop;
    /// [`History::atr`] only shows the visible ones), appended bar by bar when streaming.
    atr: Vec<f64>,
    /// The bar of `atr[0]`: 0, except in a live history ([`History::resumed`]), which keeps
    /// only the newest ATRs (detectors read the ATR of the bar they step and of the two
    /// before it, never older ones).
    atr_base: usize,
}

/// ATRs a live history keeps ([`History::atr_tail`]): more than the three bars detectors
/// read back.
pub const ATR_TAIL: usize = 16;

impl<'a> History<'a> {
    /// A batch history over a validated series: no bar is visible until [`History::advance`].
    pub fn over(c: &Candles<'a>) -> Self {
        let mut h = Self::borrowing(c, 0, Vec::with_capacity(c.len()), 0);
        // Each bar's ATR only reads bars up to it, so computing them all here is the same as
        // bar by bar; the accessor keeps later ones out of sight.
        let n = c.len().min(ATR_PERIOD);
        for t in 0..n {
            h.atr.push(h.next_atr(t));
        }
        if c.len() > ATR_PERIOD {
            // True ranges first (a loop the compiler vectorises), then the smoothing in place.
            let (high, low, close) = (&c.high[1..], &c.low[1..], &c.close[..c.len() - 1]);
            h.atr.extend(
                high.iter()
                    .zip(low)
                    .zip(close)
                    .skip(ATR_PERIOD - 1)
                    .map(|((&h, &l), &c)| (h - l).max((h - c).abs()).max((l - c).abs())),
            );
            let mut atr = h.atr[ATR_PERIOD - 1];
            for a in &mut h.atr[ATR_PERIOD..] {
                atr = atr * KEEP + *a * ADD;
                *a = atr;
            }
        }
        h
    }

    /// A history over `c`'s columns with the first `len` bars visible and `atr` the ATRs
    /// from bar `atr_base` on.
    fn borrowing(c: &Candles<'a>, len: usize, atr: Vec<f64>, atr_base: usize) -> Self {
        Self {
            time: Cow::Borrowed(c.time),
            open: Cow::Borrowed(c.open),
            high: Cow::Borrowed(c.high),
            low: Cow::Borrowed(c.low),
            close: Cow::Borrowed(c.close),
            volume: Cow::Borrowed(c.volume),
            len,
            atr,
            atr_base,
        }
    }

    /// A history over `c` whose first `seen` bars were stepped before (a live series), given
    /// the ATRs of its newest bars up to `seen` ([`History::atr_tail`] of the history that
    /// stepped them): the ATR is computed for the bars after `seen` only, with the same
    /// arithmetic as a batch, so each bar's ATR is the batch's bit for bit. The first `seen`
    /// bars are visible. `tail` longer than `seen` is cut to it.
    pub fn resumed(c: &Candles<'a>, seen: usize, mut tail: Vec<f64>) -> Self {
        let seen = seen.min(c.len());
        tail.truncate(seen);
        let base = seen - tail.len();
        let mut h = Self::borrowing(c, seen, tail, base);
        h.atr.reserve(c.len() - seen);
        for t in seen..c.len() {
            let atr = h.next_atr(t);
            h.atr.push(atr);
        }
        h
    }

    /// The ATRs of the newest [`ATR_TAIL`] visible bars, for the [`History::resumed`] that
    /// continues this one.
    pub fn atr_tail(&self) -> Vec<f64> {
        let visible = self.atrs();
        visible[visible.len().saturating_sub(ATR_TAIL)..].to_vec()
    }

    /// Makes the first `n` bars of a batch history visible at once (a resumed run whose
    /// detectors already saw them).
    pub fn skip_to(&mut self, n: usize) {
        self.len = n.min(self.time.len());
    }

    /// Reveals the next bar of a batch history. False when there is none.
    pub fn advance(&mut self) -> bool {
        if self.len >= self.time.len() {
            return false;
        }
        self.len += 1;
        true
    }

    /// Wilder's ATR(14) as of bar `i` (visible bars only: a later one panics, like any read
    /// beyond the newest bar).
    #[inline]
    pub fn atr(&self, i: usize) -> f64 {
        self.atrs()[i - self.atr_base]
    }

    /// The ATR of every visible bar (from the oldest one a live history keeps).
    pub fn atrs(&self) -> &[f64] {
        &self.atr[..self.len - self.atr_base]
    }

    /// Appends `bar` after checking it (finite fields, time after the previous bar's); `row`
    /// names the bar in an error. For owned (streaming) histories.
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
        if let Some(previous) = self.last() {
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

    /// The price and volume columns, owned (a no-op for the engine's own history), cut to
    /// the visible bars.
    fn owned_values(&mut self) -> [&mut Vec<f64>; 5] {
        let len = self.len;
        [
            &mut self.open,
            &mut self.high,
            &mut self.low,
            &mut self.close,
            &mut self.volume,
        ]
        .map(|c| {
            let c = c.to_mut();
            c.truncate(len);
            c
        })
    }

    /// Appends a bar already checked.
    pub fn push_unchecked(&mut self, bar: Bar) {
        let values = [bar.open, bar.high, bar.low, bar.close, bar.volume];
        for (column, value) in self.owned_values().into_iter().zip(values) {
            column.push(value);
        }
        let time = self.time.to_mut();
        time.truncate(self.len);
        time.push(bar.time);
        self.len += 1;
        self.push_atr();
    }

    fn true_range(&self, t: usize) -> f64 {
        let (h, l) = (self.high[t], self.low[t]);
        match t.checked_sub(1) {
            Some(p) => {
                let c = self.close[p];
                (h - l).max((h - c).abs()).max((l - c).abs())
            }
            None => h - l,
        }
    }

    /// The ATR of the newest bar.
    fn push_atr(&mut self) {
        let t = self.len - 1;
        let atr = self.next_atr(t);
        self.atr.truncate(t - self.atr_base);
        self.atr.push(atr);
    }

    /// The ATR of bar `t`, from the ATRs of the bars before it.
    fn next_atr(&self, t: usize) -> f64 {
        if t + 1 < ATR_PERIOD {
            f64::NAN
        } else if t + 1 == ATR_PERIOD {
            // Seed: the mean true range of the first ATR_PERIOD bars (recomputed from the
            // bars, so popping a bar never leaves a stale running sum behind).
            (0..ATR_PERIOD).map(|i| self.true_range(i)).sum::<f64>() / ATR_PERIOD as f64
        } else {
            self.atr[t - 1 - self.atr_base] * KEEP + self.true_range(t) * ADD
        }
    }

    /// Removes the newest bar (owned histories).
    pub fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        self.owned_values();
        self.time.to_mut().truncate(self.len);
        self.atr.truncate(self.len - self.atr_base);
    }

    /// Bar `i` (which must be visible: `i < len()`).
    #[inline]
    pub fn bar(&self, i: usize) -> Bar {
        Bar {
            time: self.time[i],
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        }
    }

    /// The visible highs.
    #[inline]
    pub fn highs(&self) -> &[f64] {
        &self.high[..self.len]
    }

    /// The visible lows.
    #[inline]
    pub fn lows(&self) -> &[f64] {
        &self.low[..self.len]
    }

    /// The visible volumes.
    #[inline]
    pub fn volumes(&self) -> &[f64] {
        &self.volume[..self.len]
    }

    #[inline]
    pub fn high(&self, i: usize) -> f64 {
        self.high[i]
    }

    #[inline]
    pub fn low(&self, i: usize) -> f64 {
        self.low[i]
    }

    /// The time of bar `i`, if it is visible.
    pub fn time_at(&self, i: usize) -> Option<i64> {
        (i < self.len).then(|| self.time[i])
    }

    /// The newest bar.
    pub fn last(&self) -> Option<Bar> {
        self.len.checked_sub(1).map(|i| self.bar(i))
    }

    /// The visible bars (copied out; for tests and pickling).
    pub fn bars(&self) -> Vec<Bar> {
        (0..self.len).map(|i| self.bar(i)).collect()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The visible bars, owned (a checkpoint's).
    pub fn to_bars(&self) -> super::checkpoint::Bars {
        let cut = |c: &[f64]| c[..self.len].to_vec();
        super::checkpoint::Bars {
            time: self.time[..self.len].to_vec(),
            values: [
                cut(&self.open),
                cut(&self.high),
                cut(&self.low),
                cut(&self.close),
                cut(&self.volume),
            ],
        }
    }

    /// An owned history of checkpointed bars, checked as a batch's are (lengths, finite
    /// values, increasing time), with the ATR a batch computes for them.
    pub fn from_bars(bars: super::checkpoint::Bars) -> Result<History<'static>> {
        let super::checkpoint::Bars { time, values } = bars;
        let [open, high, low, close, volume] = values;
        let corrupt = |e: IctError| super::checkpoint::corrupt(format!("its bars: {e}"));
        let candles = Candles::new(&time, &open, &high, &low, &close, &volume).map_err(corrupt)?;
        let mut batch = History::over(&candles);
        while batch.advance() {}
        let atr = batch.atrs().to_vec();
        let len = time.len();
        Ok(History {
            time: Cow::Owned(time),
            open: Cow::Owned(open),
            high: Cow::Owned(high),
            low: Cow::Owned(low),
            close: Cow::Owned(close),
            volume: Cow::Owned(volume),
            len,
            atr,
            atr_base: 0,
        })
    }
}
