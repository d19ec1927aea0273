//! `smc.liquidity` (spec §2.5): groups of equal highs (lows) within a band sized from the whole
//! series' range, and the first candle that trades through the band.
//!
//! The library walks all later candidates for every leader (up to quadratic). Here the alive
//! candidates sit in a segment tree ordered by level that keeps the smallest row of each
//! subtree: a leader's group is "alive, level in [lo, hi], row < swept", found in
//! O(log S) per member, and each candidate joins at most one group.

use super::arith::{InputDtypes, Precision};
use super::{f32_of, split_swing_rows, SwingsView};
use crate::algo::{max_of, min_of, Extreme, FirstMatch};
use crate::candles::check_ohlc;
use crate::columns::filled;
use crate::error::Result;

/// The columns of `smc.liquidity`, all float32 as in the library.
#[derive(Debug, Clone, PartialEq)]
pub struct Liquidity {
    pub liquidity: Vec<f32>,
    pub level: Vec<f32>,
    pub end: Vec<f32>,
    pub swept: Vec<f32>,
}

impl Liquidity {
    /// n rows without any pool (all NaN).
    fn empty(n: usize) -> Self {
        Self {
            liquidity: filled(n, f32::NAN),
            level: filled(n, f32::NAN),
            end: filled(n, f32::NAN),
            swept: filled(n, f32::NAN),
        }
    }
}

/// Liquidity pools as `smc.liquidity(ohlc, swing_highs_lows, range_percent)` computes them,
/// in the arithmetic of the inputs' `dtypes`. O(n + S log S).
pub fn liquidity(
    open: &[f64],
    high: &[f64],
    low: &[f64],
    close: &[f64],
    swings: SwingsView<'_>,
    range_percent: f64,
    dtypes: InputDtypes,
) -> Result<Liquidity> {
    check_ohlc(open, high, low, close)?;
    let n = open.len();
    let swings = SwingsView::checked(swings.high_low, swings.level, n)?;
    let mut out = Liquidity::empty(n);
    if n == 0 {
        return Ok(out);
    }
    // QUIRK: the band comes from the whole frame's range, future candles included.
    // Prices are finite (checked), so plain comparisons give pandas' max()/min().
    // QUIRK: the range is numpy scalar arithmetic in the highs' and lows' dtype, the band
    // edges in that promoted with the levels', the mean in the levels' own.
    let prices = Precision::of(&[dtypes.high, dtypes.low]);
    let level_precision = Precision::of(&[dtypes.level]);
    let edges = prices.with(level_precision);
    let band = prices.round(prices.round(max_of(high) - min_of(low)) * range_percent);

    let highs = FirstMatch::new(high, Extreme::Max);
    let lows = FirstMatch::new(low, Extreme::Min);
    let (bull_rows, bear_rows) = split_swing_rows(swings.high_low);
    for (bullish, rows) in [(true, bull_rows), (false, bear_rows)] {
        let kind = if bullish { 1.0 } else { -1.0 };
        let levels: Vec<f64> = rows.iter().map(|&r| swings.level[r]).collect();
        let mut pool = Candidates::new(levels);
        for c in 0..rows.len() {
            if !pool.alive[c] {
                continue; // consumed by an earlier group
            }
            pool.consume(c);
            let i = rows[c];
            let level = pool.levels[c];
            let (lo, hi) = (edges.round(level - band), edges.round(level + band));
            let swept = if bullish {
                highs.first_from(i + 1, |v| v >= hi)
            } else {
                lows.first_from(i + 1, |v| v <= lo)
            };
            // Candidates (by index) before `limit` lie before the swept candle.
            let limit = swept.map_or(rows.len(), |s| rows.partition_point(|&r| r < s));
            let members = pool.take_group(c + 1, limit, lo, hi);
            let Some(&last) = members.last() else {
                continue;
            };
            // QUIRK: the mean sums member levels in row order, leader first, in the
            // levels' dtype.
            let sum = members
                .iter()
                .fold(level, |acc, &j| level_precision.round(acc + pool.levels[j]));
            let count = (members.len() + 1) as f64;
            out.liquidity[i] = kind as f32;
            out.level[i] = f32_of(level_precision.round(sum / count));
            out.end[i] = rows[last] as f32;
            out.swept[i] = swept.map_or(0.0, |j| j as f32);
        }
    }
    Ok(out)
}

/// How many alive candidates a group search walks one by one before it switches to the
/// level-ordered tree. Walking is cheapest when the swept candle comes soon (the usual case);
/// the tree bounds the worst case (a band never swept) at O(log S) per member.
const WALK: usize = 48;

/// The candidates of one pass (in row order) and which are still alive (neither led nor
/// consumed by a group).
struct Candidates {
    levels: Vec<f64>,
    alive: Vec<bool>,
    /// Union-find "next alive candidate at or after c" (path halving); `len` means none.
    next: Vec<usize>,
    /// Built on the first search that outgrows the walk.
    tree: Option<LevelTree>,
}

impl Candidates {
    fn new(levels: Vec<f64>) -> Self {
        let m = levels.len();
        Self {
            alive: vec![true; m],
            next: (0..=m).collect(),
            levels,
            tree: None,
        }
    }

    fn next_alive(&mut self, mut c: usize) -> usize {
        while self.next[c] != c {
            self.next[c] = self.next[self.next[c]];
            c = self.next[c];
        }
        c
    }

    fn consume(&mut self, c: usize) {
        self.alive[c] = false;
        self.next[c] = c + 1;
        if let Some(tree) = self.tree.as_mut() {
            tree.remove(c);
        }
    }

    /// Consumes and returns, in index (= row) order, every alive candidate in
    /// [from, limit) whose level lies in [lo, hi].
    fn take_group(&mut self, from: usize, limit: usize, lo: f64, hi: f64) -> Vec<usize> {
        let mut members = Vec::new();
        let mut c = self.next_alive(from.min(self.levels.len()));
        let mut walked = 0;
        while c < limit && walked < WALK {
            let v = self.levels[c];
            if lo <= v && v <= hi {
                members.push(c);
                self.consume(c);
            }
            walked += 1;
            c = self.next_alive(c + 1);
        }
        if c < limit {
            // Everything in band before `c` is consumed, so the tree's answers all lie after.
            let tree = self
                .tree
                .get_or_insert_with(|| LevelTree::new(&self.levels, &self.alive));
            let mut rest = tree.take_in_band(lo, hi, limit);
            rest.sort_unstable();
            for &r in &rest {
                self.alive[r] = false;
                self.next[r] = r + 1;
            }
            members.extend(rest);
        }
        members
    }
}

/// Alive candidates in a segment tree over level order; each node keeps the smallest
/// candidate index below it (`usize::MAX` once everything below is gone).
struct LevelTree {
    /// Sorted (level, candidate) of the alive candidates with a non-NaN level.
    by_level: Vec<(f64, usize)>,
    /// Leaf position of each candidate (None: NaN level, or not alive when built).
    leaf_of: Vec<Option<usize>>,
    leaves: usize,
    tree: Vec<usize>,
}

impl LevelTree {
    fn new(levels: &[f64], alive: &[bool]) -> Self {
        let mut by_level: Vec<(f64, usize)> = (0..levels.len())
            .filter(|&c| alive[c] && !levels[c].is_nan())
            .map(|c| (levels[c], c))
            .collect();
        // (level, candidate) pairs are distinct, so an unstable sort is deterministic.
        by_level.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let leaves = by_level.len().next_power_of_two().max(1);
        let mut tree = vec![usize::MAX; 2 * leaves];
        let mut leaf_of = vec![None; levels.len()];
        for (pos, &(_, c)) in by_level.iter().enumerate() {
            tree[leaves + pos] = c;
            leaf_of[c] = Some(pos);
        }
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

    fn remove(&mut self, c: usize) {
        let Some(pos) = self.leaf_of.get_mut(c).and_then(Option::take) else {
            return;
        };
        let mut node = pos + self.leaves;
        self.tree[node] = usize::MAX;
        while node > 1 {
            node >>= 1;
            let min = self.tree[2 * node].min(self.tree[2 * node + 1]);
            if self.tree[node] == min {
                break; // unchanged here, so unchanged above
            }
            self.tree[node] = min;
        }
    }

    /// Removes and returns every alive candidate with lo <= level <= hi and index < limit.
    fn take_in_band(&mut self, lo: f64, hi: f64, limit: usize) -> Vec<usize> {
        let a = self.by_level.partition_point(|&(v, _)| v < lo);
        let b = self.by_level.partition_point(|&(v, _)| v <= hi);
        let mut found = Vec::new();
        if a < b {
            self.collect(1, 0, self.leaves, a, b, limit, &mut found);
        }
        found
            .into_iter()
            .map(|pos| {
                let c = self.tree[pos + self.leaves];
                self.remove(c);
                c
            })
            .collect()
    }

    /// Pushes every leaf position in [a, b) under `node` (covering [lo, hi)) whose candidate
    /// is below `limit`. Only subtrees holding such a leaf are entered: O((found + 1) log S).
    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        a: usize,
        b: usize,
        limit: usize,
        found: &mut Vec<usize>,
    ) {
        if hi <= a || b <= lo || self.tree[node] >= limit {
            return;
        }
        if hi - lo == 1 {
            found.push(lo);
            return;
        }
        let mid = (lo + hi) / 2;
        self.collect(2 * node, lo, mid, a, b, limit, found);
        self.collect(2 * node + 1, mid, hi, a, b, limit, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain transcription of the library's loops, the oracle for the fast version.
    fn reference(high: &[f64], low: &[f64], hl: &[f64], lv: &[f64], pct: f64) -> Liquidity {
        let n = high.len();
        let mut out = Liquidity::empty(n);
        if n == 0 {
            return out;
        }
        let band = (high.iter().copied().fold(f64::MIN, f64::max)
            - low.iter().copied().fold(f64::MAX, f64::min))
            * pct;
        let mut used = hl.to_vec();
        for kind in [1.0, -1.0] {
            let idx: Vec<usize> = (0..n).filter(|&i| used[i] == kind).collect();
            for &i in &idx {
                if used[i] != kind {
                    continue;
                }
                let (lo, hi) = (lv[i] - band, lv[i] + band);
                let swept = (i + 1..n)
                    .find(|&j| {
                        if kind > 0.0 {
                            high[j] >= hi
                        } else {
                            low[j] <= lo
                        }
                    })
                    .unwrap_or(0);
                let (mut sum, mut count, mut end) = (lv[i], 1usize, i);
                for &j in &idx {
                    if j <= i {
                        continue;
                    }
                    if swept != 0 && j >= swept {
                        break;
                    }
                    if used[j] == kind && lo <= lv[j] && lv[j] <= hi {
                        sum += lv[j];
                        count += 1;
                        end = j;
                        used[j] = 0.0;
                    }
                }
                if count > 1 {
                    out.liquidity[i] = kind as f32;
                    out.level[i] = (sum / count as f64) as f32;
                    out.end[i] = end as f32;
                    out.swept[i] = swept as f32;
                }
            }
        }
        out
    }

    fn same(a: &[f32], b: &[f32]) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    proptest::proptest! {
        // Long plateaus of equal swing levels that are never swept force the tree path.
        #[test]
        fn equals_the_library_loops(
            seed_levels in proptest::collection::vec(0u8..6, 1..300),
            kinds in proptest::collection::vec(0u8..3, 1..300),
            pct in proptest::sample::select(vec![0.0, 0.05, 0.2, 1.0]),
        ) {
            let n = seed_levels.len().min(kinds.len());
            let high: Vec<f64> = seed_levels[..n].iter().map(|&v| f64::from(v) + 1.0).collect();
            let low: Vec<f64> = seed_levels[..n].iter().map(|&v| f64::from(v)).collect();
            let hl: Vec<f64> = kinds[..n]
                .iter()
                .map(|&k| match k { 0 => f64::NAN, 1 => 1.0, _ => -1.0 })
                .collect();
            let lv: Vec<f64> = (0..n)
                .map(|i| if hl[i] == 1.0 { high[i] } else if hl[i] == -1.0 { low[i] } else { f64::NAN })
                .collect();
            let got = liquidity(&low, &high, &low, &low, SwingsView { high_low: &hl, level: &lv }, pct, InputDtypes::default())
                .unwrap();
            let exp = reference(&high, &low, &hl, &lv, pct);
            proptest::prop_assert!(same(&got.liquidity, &exp.liquidity));
            proptest::prop_assert!(same(&got.level, &exp.level));
            proptest::prop_assert!(same(&got.end, &exp.end));
            proptest::prop_assert!(same(&got.swept, &exp.swept));
        }
    }
}
