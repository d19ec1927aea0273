//! Sliding-window maximum and minimum in O(n) with the van Herk / Gil-Werman scheme: prefix
//! and suffix extremes inside blocks of the window's length, so every window is the extreme
//! of one suffix and one prefix. Branch-free and about three comparisons per value, which
//! beats a monotonic deque on long series.

/// `out[e]` = extreme of `values[e + 1 - window ..= e]` for every `e >= window - 1`; earlier
/// entries (incomplete windows) are NaN, as is everything when `window` is 0. `pick(a, b)`
/// returns the more extreme of the two (for finite values).
pub fn window_extremes(values: &[f64], window: usize, pick: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let n = values.len();
    if window == 0 || n < window {
        return vec![f64::NAN; n];
    }
    let mut prefix = vec![0.0; n];
    let mut suffix = vec![0.0; n];
    for (block, (p, s)) in values
        .chunks(window)
        .zip(prefix.chunks_mut(window).zip(suffix.chunks_mut(window)))
    {
        let mut acc = block[0];
        for (k, &v) in block.iter().enumerate() {
            acc = if k == 0 { v } else { pick(acc, v) };
            p[k] = acc;
        }
        let mut acc = block[block.len() - 1];
        for (k, &v) in block.iter().enumerate().rev() {
            acc = pick(acc, v);
            s[k] = acc;
        }
    }
    // The result overwrites `prefix` in place: prefix[e] is read only when computing out[e].
    let mut out = prefix;
    for e in window - 1..n {
        out[e] = pick(suffix[e + 1 - window], out[e]);
    }
    out[..window - 1].fill(f64::NAN);
    out
}

/// Rolling maximum over windows of `window` values (see [`window_extremes`]).
pub fn rolling_max(values: &[f64], window: usize) -> Vec<f64> {
    window_extremes(values, window, |a, b| if b > a { b } else { a })
}

/// Rolling minimum over windows of `window` values (see [`window_extremes`]).
pub fn rolling_min(values: &[f64], window: usize) -> Vec<f64> {
    window_extremes(values, window, |a, b| if b < a { b } else { a })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equals_brute_force(values in prop::collection::vec(-20i32..20, 0..200), window in 0usize..12) {
            let values: Vec<f64> = values.into_iter().map(f64::from).collect();
            let max = rolling_max(&values, window);
            let min = rolling_min(&values, window);
            for e in 0..values.len() {
                if window == 0 || e + 1 < window {
                    prop_assert!(max[e].is_nan() && min[e].is_nan());
                } else {
                    let w = &values[e + 1 - window..=e];
                    prop_assert_eq!(max[e], w.iter().copied().fold(f64::MIN, f64::max));
                    prop_assert_eq!(min[e], w.iter().copied().fold(f64::MAX, f64::min));
                }
            }
        }
    }
}
