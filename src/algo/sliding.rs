//! Sliding-window maximum and minimum in O(n) with a monotonic deque.

use std::collections::VecDeque;

/// `out[e]` = extreme of `values[e + 1 - window ..= e]` for every `e >= window - 1`; earlier
/// entries (incomplete windows) are `None`. `better(a, b)` says `a` beats or ties `b`
/// (`>=` for a maximum, `<=` for a minimum). `window` must be at least 1.
pub fn window_extremes(
    values: &[f64],
    window: usize,
    better: impl Fn(f64, f64) -> bool,
) -> Vec<Option<f64>> {
    let mut out = vec![None; values.len()];
    if window == 0 {
        return out;
    }
    let mut deque: VecDeque<usize> = VecDeque::new();
    for (e, &v) in values.iter().enumerate() {
        while deque.back().is_some_and(|&b| better(v, values[b])) {
            deque.pop_back();
        }
        deque.push_back(e);
        if deque.front().is_some_and(|&f| f + window <= e) {
            deque.pop_front();
        }
        if e + 1 >= window {
            out[e] = deque.front().map(|&f| values[f]);
        }
    }
    out
}

/// Rolling maximum over windows of `window` values (see [`window_extremes`]).
pub fn rolling_max(values: &[f64], window: usize) -> Vec<Option<f64>> {
    window_extremes(values, window, |a, b| a >= b)
}

/// Rolling minimum over windows of `window` values (see [`window_extremes`]).
pub fn rolling_min(values: &[f64], window: usize) -> Vec<Option<f64>> {
    window_extremes(values, window, |a, b| a <= b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equals_brute_force(values in prop::collection::vec(-20i32..20, 0..200), window in 1usize..12) {
            let values: Vec<f64> = values.into_iter().map(f64::from).collect();
            let max = rolling_max(&values, window);
            let min = rolling_min(&values, window);
            for e in 0..values.len() {
                if e + 1 < window {
                    prop_assert_eq!(max[e], None);
                    prop_assert_eq!(min[e], None);
                } else {
                    let w = &values[e + 1 - window..=e];
                    prop_assert_eq!(max[e], w.iter().copied().reduce(f64::max));
                    prop_assert_eq!(min[e], w.iter().copied().reduce(f64::min));
                }
            }
        }
    }
}
