//! Sliding-window maximum and minimum in O(n) time and O(window) memory with the
//! van Herk / Gil-Werman scheme: within blocks of the window's length, every window is the
//! extreme of one block suffix and the next block's prefix. Branch-free, about three
//! comparisons per value, and no per-series arrays beyond one block of suffixes.

/// Calls `visit(e, extreme of values[e + 1 - window ..= e])` for every `e >= window - 1`, in
/// order. `pick(a, b)` returns the more extreme of two (finite) values. Nothing is visited
/// when `window` is 0 or longer than the series.
pub fn for_each_window_extreme(
    values: &[f64],
    window: usize,
    pick: impl Fn(f64, f64) -> f64,
    mut visit: impl FnMut(usize, f64),
) {
    if window == 0 || values.len() < window {
        return;
    }
    // Suffix extremes of the previous full block (windows start there and end in this one).
    let mut suffix = vec![0.0; window];
    for (b, block) in values.chunks(window).enumerate() {
        let start = b * window;
        let mut prefix = block[0];
        for (k, &v) in block.iter().enumerate() {
            prefix = if k == 0 { v } else { pick(prefix, v) };
            if k == window - 1 {
                visit(start + k, prefix); // the window is exactly this block
            } else if b > 0 {
                visit(start + k, pick(suffix[k + 1], prefix));
            }
        }
        if block.len() == window {
            let mut acc = block[window - 1];
            for k in (0..window).rev() {
                acc = pick(acc, block[k]);
                suffix[k] = acc;
            }
        }
    }
}

/// `pick` for a maximum.
pub fn larger(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// `pick` for a minimum.
pub fn smaller(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equals_brute_force(values in prop::collection::vec(-20i32..20, 0..200), window in 0usize..12) {
            let values: Vec<f64> = values.into_iter().map(f64::from).collect();
            for (pick, fold) in [(larger as fn(f64, f64) -> f64, f64::max as fn(f64, f64) -> f64),
                                 (smaller, f64::min)] {
                let mut seen = Vec::new();
                for_each_window_extreme(&values, window, pick, |e, x| seen.push((e, x)));
                let expected: Vec<(usize, f64)> = if window == 0 || values.len() < window {
                    Vec::new()
                } else {
                    (window - 1..values.len())
                        .map(|e| (e, values[e + 1 - window..=e].iter().copied().reduce(fold).unwrap_or(f64::NAN)))
                        .collect()
                };
                prop_assert_eq!(seen, expected);
            }
        }
    }
}
