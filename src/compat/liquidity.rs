//! `smc.liquidity` (spec §2.5): groups of equal highs (lows) within a band sized from the whole
//! series' range, and the first candle that trades through the band.
//!
//! The library walks all later candidates for every leader (up to quadratic). Here the alive
//! candidates sit in a segment tree ordered by level that keeps the smallest row of each
//! subtree: a leader's group is "alive, level in [lo, hi], row < swept", found in
//! O(log S) per member, and each candidate joins at most one group.

use super::{f32_of, SwingsView};
use crate::algo::{Extreme, FirstMatch};
use crate::candles::check_ohlc;
use crate::error::Result;

/// The columns of `smc.liquidity`, all float32 as in the library.
#[derive(Debug, Clone, PartialEq)]
pub struct Liquidity {
    pub liquidity: Vec<f32>,
    pub level: Vec<f32>,
    pub end: Vec<f32>,
    pub swept: Vec<f32>,
}

/// Liquidity pools as `smc.liquidity(ohlc, swing_highs_lows, range_percent)` computes them.
/// O(n + S log S).
pub fn liquidity(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    swings: SwingsView<'_>,
    range_percent: f64,
) -> Result<Liquidity> {
    check_ohlc(open, high, low, close)?;
    let n = open.len();
    let swings = SwingsView::checked(swings.high_low, swings.level, n)?;
    let mut out = Liquidity {
        liquidity: vec![f32::NAN; n],
        level: vec![f32::NAN; n],
        end: vec![f32::NAN; n],
        swept: vec![f32::NAN; n],
    };
    if n == 0 {
        return Ok(out);
    }
    // QUIRK: the band comes from the whole frame's range, future candles included.
    let max_high = high.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min_low = low.iter().copied().fold(f64::INFINITY, f64::min);
    let band = (max_high - min_low) * range_percent;

    let highs = FirstMatch::new(high, Extreme::Max);
    let lows = FirstMatch::new(low, Extreme::Min);
    for bullish in [true, false] {
        let kind = if bullish { 1.0 } else { -1.0 };
        let candidates: Vec<usize> = (0..n).filter(|&i| swings.high_low[i] == kind).collect();
        let mut pool = AlivePool::new(&candidates, swings.level);
        for (c, &i) in candidates.iter().enumerate() {
            if !pool.take_leader(c) {
                continue; // consumed by an earlier group
            }
            let level = swings.level[i];
            let (lo, hi) = (level - band, level + band);
            let swept = if bullish {
                highs.first_from(i + 1, |v| v >= hi)
            } else {
                lows.first_from(i + 1, |v| v <= lo)
            };
            let mut members = pool.take_in_band(lo, hi, swept.unwrap_or(usize::MAX));
            if members.is_empty() {
                continue;
            }
            members.sort_unstable();
            // QUIRK: the mean sums member levels in row order, leader first, in float64.
            let sum = members.iter().fold(level, |acc, &j| acc + swings.level[j]);
            let count = (members.len() + 1) as f64;
            out.liquidity[i] = kind as f32;
            out.level[i] = f32_of(sum / count);
            out.end[i] = members.last().map_or(f32::NAN, |&j| j as f32);
            out.swept[i] = swept.map_or(0.0, |j| j as f32);
        }
    }
    Ok(out)
}

/// Candidates not yet consumed or led, in a segment tree over level order whose nodes keep
/// the smallest row below them (`usize::MAX` once everything below is gone).
struct AlivePool {
    /// Sorted (level, row) of every candidate with a non-NaN level.
    by_level: Vec<(f64, usize)>,
    /// Leaf position of each candidate, by candidate index (None for a NaN level).
    leaf_of: Vec<Option<usize>>,
    leaves: usize,
    tree: Vec<usize>,
}

impl AlivePool {
    fn new(candidates: &[usize], level: &[f64]) -> Self {
        // (level, row, candidate index), NaN levels left out: they never join a band.
        let mut sorted: Vec<(f64, usize, usize)> = candidates
            .iter()
            .enumerate()
            .filter(|&(_, &r)| !level[r].is_nan())
            .map(|(c, &r)| (level[r], r, c))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let leaves = sorted.len().next_power_of_two().max(1);
        let mut tree = vec![usize::MAX; 2 * leaves];
        let mut leaf_of = vec![None; candidates.len()];
        for (pos, &(_, row, c)) in sorted.iter().enumerate() {
            tree[leaves + pos] = row;
            leaf_of[c] = Some(pos);
        }
        let by_level = sorted.into_iter().map(|(v, r, _)| (v, r)).collect();
        for node in (1..leaves).rev() {
            tree[node] = tree[2 * node].min(tree[2 * node + 1]);
        }
        Self {
            by_level,
            leaf_of,
            leaves,
            tree,
        }
    }

    fn remove(&mut self, pos: usize) {
        let mut node = pos + self.leaves;
        self.tree[node] = usize::MAX;
        while node > 1 {
            node >>= 1;
            self.tree[node] = self.tree[2 * node].min(self.tree[2 * node + 1]);
        }
    }

    /// Marks candidate `c` as processed; false if it was already consumed by a group.
    /// A NaN-level candidate is never consumed, and it leads (it has no leaf).
    fn take_leader(&mut self, c: usize) -> bool {
        match self.leaf_of.get(c).copied().flatten() {
            Some(pos) if self.tree[pos + self.leaves] == usize::MAX => false,
            Some(pos) => {
                self.remove(pos);
                true
            }
            None => true,
        }
    }

    /// Removes and returns every alive candidate with lo <= level <= hi and row < limit.
    fn take_in_band(&mut self, lo: f64, hi: f64, limit: usize) -> Vec<usize> {
        let a = self.by_level.partition_point(|&(v, _)| v < lo);
        let b = self.by_level.partition_point(|&(v, _)| v <= hi);
        let mut taken = Vec::new();
        if a >= b {
            return taken;
        }
        while let Some(pos) = self.first_below(1, 0, self.leaves, a, b, limit) {
            taken.push(self.tree[pos + self.leaves]);
            self.remove(pos);
        }
        taken
    }

    /// First leaf position in [a, b) under `node` (covering [lo, hi)) with row < limit.
    fn first_below(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        a: usize,
        b: usize,
        limit: usize,
    ) -> Option<usize> {
        if hi <= a || b <= lo || self.tree[node] >= limit {
            return None;
        }
        if hi - lo == 1 {
            return Some(lo);
        }
        let mid = (lo + hi) / 2;
        self.first_below(2 * node, lo, mid, a, b, limit)
            .or_else(|| self.first_below(2 * node + 1, mid, hi, a, b, limit))
    }
}
