//! Detector tests: hand-made cases worked out from the definitions, brute-force references,
//! causality by prefix replay, streaming (with revised bars) == batch, lifecycle invariants.

use super::fvg::{Fvg, FvgParams};
use super::history::{Bar, History};
use super::lifecycle::{ActiveIndex, State};
use super::structure::{BreakKind, BreakOn, Structure, StructureParams};
use super::swings::{Label, SwingParams, Swings};
use super::*;
use proptest::prelude::*;

fn bar(i: usize, open: f64, high: f64, low: f64, close: f64) -> Bar {
    Bar {
        time: 1_700_000_000_000_000_000 + i as i64 * 60_000_000_000,
        open,
        high,
        low,
        close,
        volume: 1.0 + i as f64,
    }
}

fn history(bars: &[Bar]) -> History {
    let mut h = History::default();
    for &b in bars {
        h.push_unchecked(b);
    }
    h
}

/// Runs a detector's step over `bars`, returning the history.
fn run(bars: &[Bar], mut step: impl FnMut(&History)) -> History {
    let mut h = History::default();
    for &b in bars {
        h.push_unchecked(b);
        step(&h);
    }
    h
}

/// A random walk with prices on a coarse grid, so ties (equal highs) are common.
fn walk(seed: u64, n: usize) -> Vec<Bar> {
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut price = 100.0;
    (0..n)
        .map(|i| {
            let open = price;
            let step = (next() % 7) as f64 - 3.0;
            let close = (open + step).max(1.0);
            let high = open.max(close) + (next() % 3) as f64;
            let low = (open.min(close) - (next() % 3) as f64).max(0.5);
            price = close;
            bar(i, open, high, low, close)
        })
        .collect()
}

/// A bullish FVG, worked out by hand (prices chosen so each bar crosses one threshold):
/// bar 0 high 10; bar 1 the displacement candle; bar 2 low 12 > 10 -> zone [10, 12], CE 11,
/// formed at bar 2 (anchor 1). Bar 3 low 12.5: nothing. Bar 4 low 11.8 <= 12: touched.
/// Bar 5 low 11 <= CE: mean threshold. Bar 6 low 9.9 <= 10 but close 10.5: filled, not
/// inverted. Bar 7 close 9.5 < 10: inverted (now resistance); its high 11.2 reaches bar 5's
/// low, so no bearish gap forms. Bar 8 close 12.5 > 12: dead.
#[test]
fn a_bullish_fvg_is_touched_half_filled_filled_inverted_and_dies() {
    let bars = [
        bar(0, 9.0, 10.0, 8.5, 9.5),
        bar(1, 9.5, 14.0, 9.4, 13.8),
        bar(2, 13.8, 14.5, 12.0, 14.0),
        bar(3, 14.0, 14.2, 12.5, 13.0),
        bar(4, 13.0, 13.2, 11.8, 12.9),
        bar(5, 12.9, 13.0, 11.0, 12.2),
        bar(6, 12.2, 12.4, 9.9, 10.5),
        bar(7, 10.5, 11.2, 9.2, 9.5),
        bar(8, 9.5, 12.8, 9.4, 12.5),
    ];
    let mut d = Fvg::new(FvgParams::default());
    run(&bars, |h| {
        d.step(h);
    });
    assert_eq!(d.zones.len(), 1, "{:?}", d.zones);
    let z = d.zones[0];
    assert_eq!((z.direction, z.anchor, z.known_at), (1, 1, 2));
    assert_eq!((z.bottom, z.top, z.ce), (10.0, 12.0, 11.0));
    assert_eq!(z.state, State::Dead);
    let log: Vec<(State, usize)> = d.transitions.iter().map(|t| (t.state, t.bar)).collect();
    assert_eq!(
        log,
        [
            (State::Formed, 2),
            (State::Touched, 4),
            (State::MeanThreshold, 5),
            (State::Filled, 6),
            (State::Inverted, 7),
            (State::Dead, 8),
        ]
    );
    // Volume share of the middle candle: 2 / (1 + 2 + 3).
    assert_eq!(z.volume_share, 2.0 / 6.0);
}

/// A bearish FVG whose CE and fill come on one wide bar: bar 0 low 20; bar 2 high 17 < 20 ->
/// zone [17, 20], CE 18.5. Bar 3 high 16.5: nothing. Bar 4 high 20.2 >= 20 with close 19:
/// touched, mean threshold and filled on bar 4, in that order; no close above 20 -> stays
/// filled.
#[test]
fn one_wide_bar_logs_several_transitions_in_order() {
    let bars = [
        bar(0, 21.0, 22.0, 20.0, 20.5),
        bar(1, 20.5, 20.6, 16.0, 16.2),
        bar(2, 16.2, 17.0, 15.0, 15.5),
        bar(3, 15.5, 16.5, 15.1, 16.0),
        bar(4, 16.0, 20.2, 15.9, 19.0),
    ];
    let mut d = Fvg::new(FvgParams::default());
    run(&bars, |h| {
        d.step(h);
    });
    assert_eq!(d.zones.len(), 1);
    let z = d.zones[0];
    assert_eq!((z.direction, z.bottom, z.top, z.ce), (-1, 17.0, 20.0, 18.5));
    let log: Vec<(State, usize)> = d.transitions.iter().map(|t| (t.state, t.bar)).collect();
    assert_eq!(
        log,
        [
            (State::Formed, 2),
            (State::Touched, 4),
            (State::MeanThreshold, 4),
            (State::Filled, 4)
        ]
    );
}

/// Swings with left = right = 2: highs 1 2 5 3 2 4 6 2 1. Bar 2 (5) beats both neighbours on
/// each side -> swing high, known at bar 4; bar 6 (6) -> swing high known at bar 8, a higher
/// high. Lows mirror on the negated series.
#[test]
fn pivots_are_known_right_bars_later_and_labelled() {
    let highs = [1.0, 2.0, 5.0, 3.0, 2.0, 4.0, 6.0, 2.0, 1.0];
    let bars: Vec<Bar> = highs
        .iter()
        .enumerate()
        .map(|(i, &h)| bar(i, h - 0.5, h, h - 1.0, h - 0.5))
        .collect();
    let mut d = Swings::new(SwingParams { left: 2, right: 2 });
    run(&bars, |h| {
        d.step(h);
    });
    let highs: Vec<(usize, usize, f64, Label)> = d
        .events
        .iter()
        .filter(|e| e.direction > 0)
        .map(|e| (e.anchor, e.known_at, e.level, e.label))
        .collect();
    assert_eq!(
        highs,
        [(2, 4, 5.0, Label::First), (6, 8, 6.0, Label::HigherHigh)]
    );
    // The low at bar 4 (1.0) is below bars 2..3 and 5..6: a swing low known at 6.
    let lows: Vec<(usize, usize)> = d
        .events
        .iter()
        .filter(|e| e.direction < 0)
        .map(|e| (e.anchor, e.known_at))
        .collect();
    assert_eq!(lows, [(4, 6)]);
}

/// The definition, checked naively: a pivot high at p has high[p] >= each of the `left` bars
/// before and > each of the `right` bars after.
fn brute_swings(bars: &[Bar], p: SwingParams) -> Vec<(i8, usize, usize)> {
    let mut out = Vec::new();
    for t in 0..bars.len() {
        let Some(q) = t.checked_sub(p.right) else {
            continue;
        };
        if q < p.left {
            continue;
        }
        let high = bars[q].high;
        if bars[q - p.left..q].iter().all(|b| high >= b.high)
            && bars[q + 1..=t].iter().all(|b| high > b.high)
        {
            out.push((1, q, t));
        }
        let low = bars[q].low;
        if bars[q - p.left..q].iter().all(|b| low <= b.low)
            && bars[q + 1..=t].iter().all(|b| low < b.low)
        {
            out.push((-1, q, t));
        }
    }
    out
}

/// Brute-force lifecycle: for each zone, walk the bars after it formed and apply the rules in
/// order, one threshold at a time.
fn brute_transitions(bars: &[Bar], zones: &[fvg::Zone]) -> Vec<(usize, State, usize)> {
    let mut out = Vec::new();
    for z in zones {
        out.push((z.id, State::Formed, z.known_at));
        let mut state = State::Formed;
        for (t, b) in bars.iter().enumerate().skip(z.known_at + 1) {
            loop {
                let bull = z.direction > 0;
                let fires = match state {
                    State::Formed => {
                        if bull {
                            b.low <= z.top
                        } else {
                            b.high >= z.bottom
                        }
                    }
                    State::Touched => {
                        if bull {
                            b.low <= z.ce
                        } else {
                            b.high >= z.ce
                        }
                    }
                    State::MeanThreshold => {
                        if bull {
                            b.low <= z.bottom
                        } else {
                            b.high >= z.top
                        }
                    }
                    State::Filled => {
                        if bull {
                            b.close < z.bottom
                        } else {
                            b.close > z.top
                        }
                    }
                    State::Inverted => {
                        if bull {
                            b.close > z.top
                        } else {
                            b.close < z.bottom
                        }
                    }
                    State::Dead => false,
                };
                if !fires {
                    break;
                }
                state = state.next().unwrap();
                out.push((z.id, state, t));
            }
        }
    }
    out
}

fn sorted_by_bar(mut v: Vec<(usize, State, usize)>) -> Vec<(usize, State, usize)> {
    v.sort_by_key(|&(id, state, bar)| (bar, id, state));
    v
}

#[test]
fn fvg_lifecycle_equals_the_brute_force_walk() {
    for seed in 1..20 {
        let bars = walk(seed, 800);
        let mut d = Fvg::new(FvgParams::default());
        run(&bars, |h| {
            d.step(h);
        });
        assert!(d.zones.len() > 10, "seed {seed}: too few zones to test");
        let got: Vec<_> = d
            .transitions
            .iter()
            .map(|t| (t.id, t.state, t.bar))
            .collect();
        assert_eq!(
            sorted_by_bar(got),
            sorted_by_bar(brute_transitions(&bars, &d.zones))
        );
        // Transitions only move forward, one state at a time, never before formation.
        let mut last = vec![None; d.zones.len()];
        for t in &d.transitions {
            let z = &d.zones[t.id];
            assert!(t.bar >= z.known_at);
            let expected = match last[t.id] {
                None => State::Formed,
                Some((s, bar)) => {
                    assert!(t.bar >= bar);
                    State::next(s).unwrap()
                }
            };
            assert_eq!(t.state, expected);
            last[t.id] = Some((t.state, t.bar));
        }
    }
}

/// Prefix replay (`ict-concepts.md` §4.1): every row known at or before a prefix's last bar
/// is identical in the prefix's run and the full run. Returns the rows compared.
fn prefix_rewrites(bars: &[Bar]) -> usize {
    let full = all_tables(bars);
    let mut compared = 0;
    for end in (20..bars.len()).step_by(bars.len() / 30 + 1) {
        let prefix = all_tables(&bars[..end]);
        for (name, rows) in &prefix {
            let (_, full_rows) = full.iter().find(|(n, _)| n == name).unwrap();
            // Every row the prefix knows is in the full run, identical; and the full run has
            // no row known within the prefix that the prefix lacks.
            let known = |r: &Vec<f64>| (r[0] as usize) < end; // known at or before bar end - 1
            let a: Vec<_> = rows.iter().filter(|r| known(r)).collect();
            let b: Vec<_> = full_rows.iter().filter(|r| known(r)).collect();
            assert_eq!(a.len(), b.len(), "{name}: prefix {end}");
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(
                    x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{name}: prefix {end}"
                );
            }
            compared += a.len();
        }
    }
    compared
}

/// Every table of every detector as rows of numbers, the known-at bar first.
fn all_tables(bars: &[Bar]) -> Vec<(String, Vec<Vec<f64>>)> {
    let mut s = Swings::new(SwingParams { left: 3, right: 2 });
    let mut st = Structure::new(StructureParams {
        swings: SwingParams { left: 3, right: 2 },
        break_on: BreakOn::Close,
    });
    let mut w = Structure::new(StructureParams {
        swings: SwingParams { left: 2, right: 4 },
        break_on: BreakOn::Wick,
    });
    let mut f = Fvg::new(FvgParams::default());
    let h = run(bars, |h| {
        s.step(h);
        st.step(h);
        w.step(h);
        f.step(h);
    });
    let rows = |table: crate::cache::table::ResultTable, known: &str| -> Vec<Vec<f64>> {
        let cols: Vec<Vec<f64>> = table
            .columns
            .iter()
            .map(|c| match c.dtype {
                crate::cache::table::Dtype::F64 => {
                    bytemuck::cast_slice::<u8, f64>(c.bytes()).to_vec()
                }
                crate::cache::table::Dtype::I64 => bytemuck::cast_slice::<u8, i64>(c.bytes())
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
                _ => bytemuck::cast_slice::<u8, i32>(c.bytes())
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect(),
            })
            .collect();
        let k = table.columns.iter().position(|c| c.name == known).unwrap();
        (0..cols[k].len())
            .map(|i| {
                std::iter::once(cols[k][i])
                    .chain(cols.iter().map(|c| c[i]))
                    .collect()
            })
            .collect()
    };
    vec![
        (
            "swings".into(),
            rows(table::swings(&h, &s.events), "known_at"),
        ),
        (
            "structure".into(),
            rows(table::breaks(&h, &st.events), "known_at"),
        ),
        (
            "structure_wick".into(),
            rows(table::breaks(&h, &w.events), "known_at"),
        ),
        ("fvg".into(), rows(table::zones(&h, &f.zones), "known_at")),
        (
            "fvg_transitions".into(),
            rows(table::transitions(&h, &f.transitions), "bar"),
        ),
    ]
}

#[test]
fn prefix_replay_rewrites_nothing() {
    for seed in [3, 99, 12345] {
        let compared = prefix_rewrites(&walk(seed, 1500));
        assert!(compared > 1000, "only {compared} rows compared");
    }
}

#[test]
fn structure_breaks_at_the_break_bar_with_bos_and_choch() {
    let bars = walk(7, 3000);
    let mut d = Structure::new(StructureParams::default());
    run(&bars, |h| {
        d.step(h);
    });
    assert!(d.events.iter().any(|e| e.kind == BreakKind::Choch));
    assert!(d
        .events
        .iter()
        .any(|e| e.kind == BreakKind::Bos && !e.initial));
    assert!(d.events[0].initial && d.events[1..].iter().all(|e| !e.initial));
    let mut trend = 0;
    for e in &d.events {
        let swing = d.swings.events[e.swing_id];
        assert_eq!((swing.anchor, swing.level), (e.anchor, e.level));
        // Broken after the swing was known, by a close beyond it, and never earlier.
        assert!(e.known_at > swing.known_at);
        let close = bars[e.known_at].close;
        assert!(if e.direction > 0 {
            close > e.level
        } else {
            close < e.level
        });
        for b in &bars[swing.known_at + 1..e.known_at] {
            assert!(if e.direction > 0 {
                b.close <= e.level
            } else {
                b.close >= e.level
            });
        }
        let expected = if trend == 0 || trend == e.direction {
            BreakKind::Bos
        } else {
            BreakKind::Choch
        };
        assert_eq!(e.kind, expected);
        trend = e.direction;
    }
}

#[test]
fn bad_parameters_and_bars_name_the_problem() {
    let t = [1i64, 2];
    let p = [1.0, 1.0];
    let c = crate::Candles::new(&t, &p, &p, &p, &p, &p).unwrap();
    let err = swings(&c, SwingParams { left: 0, right: 3 }).unwrap_err();
    assert!(err.to_string().contains("'left'"), "{err}");
    let err = fvg(
        &c,
        FvgParams {
            min_size_atr: f64::NAN,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("min_size_atr"), "{err}");
    let mut e = Engine::new(&EngineParams {
        fvg: Some(FvgParams::default()),
        ..Default::default()
    })
    .unwrap();
    e.update(bar(0, 1.0, 2.0, 0.5, 1.5)).unwrap();
    let err = e.update(bar(1, 1.0, f64::NAN, 0.5, 1.5)).unwrap_err();
    assert!(
        err.to_string().contains("'high'") && err.to_string().contains("row 1"),
        "{err}"
    );
    let err = e.update(bar(0, 1.0, 2.0, 0.5, 1.5)).unwrap_err();
    assert!(err.to_string().contains("'time'"), "{err}");
    // A bad revision keeps the bar the engine had.
    let err = e
        .update_last(bar(0, f64::INFINITY, 2.0, 0.5, 1.5))
        .unwrap_err();
    assert!(err.to_string().contains("'open'"), "{err}");
    assert_eq!(e.history.bars, [bar(0, 1.0, 2.0, 0.5, 1.5)]);
    assert!(e.table("swings").is_err());
}

fn engine_params() -> EngineParams {
    EngineParams {
        swings: Some(SwingParams { left: 3, right: 2 }),
        structure: Some(StructureParams {
            swings: SwingParams { left: 2, right: 3 },
            break_on: BreakOn::Wick,
        }),
        fvg: Some(FvgParams::default()),
    }
}

fn batch_tables(bars: &[Bar]) -> Vec<crate::cache::table::ResultTable> {
    let mut e = Engine::new(&engine_params()).unwrap();
    for &b in bars {
        e.history.push_unchecked(b);
        e.swings.as_mut().unwrap().step(&e.history);
        e.structure.as_mut().unwrap().step(&e.history);
        e.fvg.as_mut().unwrap().step(&e.history);
    }
    ["swings", "structure", "fvg", "fvg_transitions"]
        .iter()
        .map(|n| e.table(n).unwrap())
        .collect()
}

#[test]
fn active_at_equals_a_brute_force_scan() {
    let bars = walk(5, 2000);
    let mut d = Fvg::new(FvgParams::default());
    run(&bars, |h| {
        d.step(h);
    });
    let starts: Vec<i64> = d.zones.iter().map(|z| z.known_at as i64).collect();
    let mut ends = vec![i64::MAX; d.zones.len()];
    for t in &d.transitions {
        if t.state == State::Dead {
            ends[t.id] = t.bar as i64;
        }
    }
    let index = ActiveIndex::new(starts.clone(), ends.clone()).unwrap();
    for t in -1..2001 {
        let brute: Vec<usize> = (0..starts.len())
            .filter(|&i| starts[i] <= t && t < ends[i])
            .collect();
        assert_eq!(index.query(t), brute, "bar {t}");
    }
    assert!(ActiveIndex::new(vec![2, 1], vec![5, 5]).is_err());
    assert!(ActiveIndex::new(vec![], vec![])
        .unwrap()
        .query(3)
        .is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The pivot detector equals the definition on random walks with many ties.
    #[test]
    fn swings_equal_the_definition(seed in 1u64.., n in 0usize..400, left in 1usize..8, right in 1usize..8) {
        let bars = walk(seed, n);
        let p = SwingParams { left, right };
        let mut d = Swings::new(p);
        run(&bars, |h| { d.step(h); });
        let got: Vec<_> = d.events.iter().map(|e| (e.direction, e.anchor, e.known_at)).collect();
        prop_assert_eq!(got, brute_swings(&bars, p));
    }

    /// Streaming == batch, bit for bit, with random revisions of the forming bar: before each
    /// final bar the engine sees up to three provisional versions of it.
    #[test]
    fn streaming_with_revisions_equals_batch(seed in 1u64.., n in 0usize..300, revisions in proptest::collection::vec(0usize..4, 300)) {
        let bars = walk(seed, n);
        let noise = walk(seed ^ 0xABCD, n);
        let mut e = Engine::new(&engine_params()).unwrap();
        for (i, &b) in bars.iter().enumerate() {
            let mut provisional = noise[i];
            provisional.time = b.time;
            e.update(provisional).unwrap();
            for k in 0..revisions[i] {
                provisional.high += k as f64;
                provisional.close = provisional.low;
                e.update_last(provisional).unwrap();
            }
            e.update_last(b).unwrap();
        }
        let streamed: Vec<_> = ["swings", "structure", "fvg", "fvg_transitions"].iter().map(|n| e.table(n).unwrap()).collect();
        prop_assert_eq!(streamed, batch_tables(&bars));
    }

    #[test]
    fn prefix_replay_on_random_series(seed in 1u64.., n in 60usize..500) {
        prefix_rewrites(&walk(seed, n));
    }
}

#[test]
fn history_atr_is_seeded_then_smoothed() {
    let bars = walk(11, 40);
    let h = history(&bars);
    assert!(h.atr[..13].iter().all(|a| a.is_nan()));
    assert!(h.atr[13..].iter().all(|a| a.is_finite() && *a > 0.0));
}
