//! Building blocks shared by the detectors: "first index past a threshold" search and
//! sliding-window extremes. Each is O(n) to build and answers queries in O(log n) or
//! amortised O(1), so no detector needs a per-event forward scan over the rest of a series.

pub mod first_match;
pub mod sliding;

pub use first_match::{Extreme, FirstMatch};

/// Largest value of a slice of finite numbers (`-inf` when empty). Eight independent lanes
/// so the compiler can vectorise the loop instead of serialising on one running maximum.
pub fn max_of(values: &[f64]) -> f64 {
    lanes(
        values,
        f64::NEG_INFINITY,
        |acc, v| if v > acc { v } else { acc },
    )
}

/// Smallest value of a slice of finite numbers (`+inf` when empty); see [`max_of`].
pub fn min_of(values: &[f64]) -> f64 {
    lanes(
        values,
        f64::INFINITY,
        |acc, v| if v < acc { v } else { acc },
    )
}

#[inline(always)]
fn lanes(values: &[f64], identity: f64, pick: impl Fn(f64, f64) -> f64 + Copy) -> f64 {
    let mut acc = [identity; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for k in 0..8 {
            acc[k] = pick(acc[k], chunk[k]);
        }
    }
    let folded = acc.into_iter().fold(identity, pick);
    rest.iter().fold(folded, |a, &v| pick(a, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes() {
        assert_eq!(max_of(&[]), f64::NEG_INFINITY);
        let v: Vec<f64> = (0..37).map(|i| f64::from((i * 17) % 23)).collect();
        assert_eq!(max_of(&v), 22.0);
        assert_eq!(min_of(&v), 0.0);
        assert_eq!(min_of(&v[1..3]), 11.0);
    }
}
