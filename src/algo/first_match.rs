//! `FirstMatch`: "the first index j >= start whose value passes a threshold test", the query
//! behind FVG mitigation, BOS/CHoCH breaks, order-block mitigation and liquidity sweeps.
//!
//! Most answers are a few candles away (a gap is usually filled within a handful of bars), so a
//! query first scans up to [`SCAN`] values. Beyond that, a segment tree over the extremes
//! (max or min) of blocks of [`BLOCK`] values, built once on first need, finds the first
//! passing block, and a scan inside it the index: O(SCAN + log n) per query in the worst case,
//! O(n) to build, and the tree is 1/BLOCK the size of the data.

/// Which extreme the tree keeps; it decides which predicates the tree can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extreme {
    /// Block maxima: for upward-closed tests such as `v > t` or `v >= t`.
    Max,
    /// Block minima: for downward-closed tests such as `v < t` or `v <= t`.
    Min,
}

impl Extreme {
    fn identity(self) -> f64 {
        match self {
            Extreme::Max => f64::NEG_INFINITY,
            Extreme::Min => f64::INFINITY,
        }
    }

    fn combine(self, a: f64, b: f64) -> f64 {
        // Inputs are NaN-free (the detectors check), so plain comparisons suffice.
        match self {
            Extreme::Max => super::sliding::larger(a, b),
            Extreme::Min => super::sliding::smaller(a, b),
        }
    }
}

/// Values per block: a linear scan of this many is cheaper than a tree level.
pub const BLOCK: usize = 32;

/// Values a query scans before it turns to the block tree.
pub const SCAN: usize = 8 * BLOCK;

/// Threshold search over one borrowed column. See the module documentation.
#[derive(Debug, Clone)]
pub struct FirstMatch<'a> {
    values: &'a [f64],
    kind: Extreme,
    blocks: usize,
    leaves: usize,
    tree: std::cell::OnceCell<Vec<f64>>,
}

impl<'a> FirstMatch<'a> {
    /// A search over `values`, which must not contain NaN (the detectors reject NaN input).
    /// Cheap: the block tree is built by the first query that needs it.
    pub fn new(values: &'a [f64], kind: Extreme) -> Self {
        let blocks = values.len().div_ceil(BLOCK);
        Self {
            values,
            kind,
            blocks,
            leaves: blocks.next_power_of_two().max(1),
            tree: std::cell::OnceCell::new(),
        }
    }

    fn tree(&self) -> &[f64] {
        self.tree.get_or_init(|| {
            let kind = self.kind;
            let mut tree = vec![kind.identity(); 2 * self.leaves];
            for (b, chunk) in self.values.chunks(BLOCK).enumerate() {
                tree[self.leaves + b] = chunk
                    .iter()
                    .fold(kind.identity(), |acc, &v| kind.combine(acc, v));
            }
            for node in (1..self.leaves).rev() {
                tree[node] = kind.combine(tree[2 * node], tree[2 * node + 1]);
            }
            tree
        })
    }

    /// First `j >= start` with `pred(values[j])`, or `None`.
    ///
    /// `pred` must be closed in the direction of the tree's extreme: for [`Extreme::Max`], if
    /// `pred(v)` then `pred(w)` for every `w > v` (e.g. `|v| v > t`); mirrored for
    /// [`Extreme::Min`]. A NaN threshold simply never matches.
    pub fn first_from(&self, start: usize, pred: impl Fn(f64) -> bool) -> Option<usize> {
        let n = self.values.len();
        if start >= n {
            return None;
        }
        // Scan up to a block boundary at least SCAN - BLOCK values ahead, then use the tree.
        let scan_end = ((start + SCAN) / BLOCK * BLOCK).min(n);
        if let Some(k) = self.values[start..scan_end].iter().position(|&v| pred(v)) {
            return Some(start + k);
        }
        if scan_end >= n {
            return None;
        }
        let block = self.first_block_from(scan_end / BLOCK, &pred)?;
        let lo = block * BLOCK;
        let hi = (lo + BLOCK).min(n);
        self.values[lo..hi]
            .iter()
            .position(|&v| pred(v))
            .map(|k| lo + k)
    }

    /// First block index `>= block` whose extreme passes `pred`.
    fn first_block_from(&self, block: usize, pred: &impl Fn(f64) -> bool) -> Option<usize> {
        if block >= self.blocks {
            return None;
        }
        let tree = self.tree();
        let mut node = block + self.leaves;
        loop {
            if pred(tree[node]) {
                while node < self.leaves {
                    node *= 2;
                    if !pred(tree[node]) {
                        node += 1;
                    }
                }
                let found = node - self.leaves;
                return (found < self.blocks).then_some(found);
            }
            // Everything up to the end of `node` fails: move to the subtree just after it.
            while node & 1 == 1 {
                if node == 1 {
                    return None;
                }
                node >>= 1;
            }
            node += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(values: &[f64], start: usize, pred: impl Fn(f64) -> bool) -> Option<usize> {
        (start..values.len()).find(|&j| pred(values[j]))
    }

    #[test]
    fn empty_and_out_of_range() {
        let s = FirstMatch::new(&[], Extreme::Max);
        assert_eq!(s.first_from(0, |v| v > 0.0), None);
        let v = [1.0, 2.0];
        let s = FirstMatch::new(&v, Extreme::Max);
        assert_eq!(s.first_from(5, |v| v > 0.0), None);
        let nan = f64::NAN;
        assert_eq!(s.first_from(0, |v| v > nan), None);
    }

    proptest! {
        #[test]
        fn equals_a_linear_scan(
            values in prop::collection::vec(-50i32..50, 0..1200),
            start in 0usize..1220,
            t in -55i32..55,
        ) {
            let values: Vec<f64> = values.into_iter().map(f64::from).collect();
            let t = f64::from(t);
            let max = FirstMatch::new(&values, Extreme::Max);
            prop_assert_eq!(max.first_from(start, |v| v > t), brute(&values, start, |v| v > t));
            prop_assert_eq!(max.first_from(start, |v| v >= t), brute(&values, start, |v| v >= t));
            let min = FirstMatch::new(&values, Extreme::Min);
            prop_assert_eq!(min.first_from(start, |v| v < t), brute(&values, start, |v| v < t));
            prop_assert_eq!(min.first_from(start, |v| v <= t), brute(&values, start, |v| v <= t));
        }
    }
}
