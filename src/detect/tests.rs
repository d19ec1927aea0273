//! Detector tests: hand-made cases worked out from the definitions, brute-force references,
//! causality by prefix replay, streaming (with revised bars) == batch, lifecycle invariants.

use super::checkpoint;
use super::fvg::{Fvg, FvgParams};
use super::history::{Bar, History};
use super::lifecycle::{ActiveIndex, State};
use super::structure::{BreakKind, Structure, StructureParams};
use super::swings::{Label, SwingParams, Swings};
use super::zones;
use super::*;
use crate::param::Param;
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

fn history(bars: &[Bar]) -> History<'static> {
    let mut h = History::default();
    for &b in bars {
        h.push_unchecked(b);
    }
    h
}

/// Runs a detector's step over `bars`, returning the history.
fn run(bars: &[Bar], mut step: impl FnMut(&History)) -> History<'static> {
    let mut h = History::default();
    for &b in bars {
        h.push_unchecked(b);
        step(&h);
    }
    h
}

/// Detectors and the detectors they read, stepped together as an engine steps them.
struct Chain {
    graph: graph::Graph,
    ids: Vec<usize>,
}

impl Chain {
    fn new(specs: &[NativeSpec]) -> Self {
        let (graph, ids) = graph::Graph::new(specs).unwrap();
        Self { graph, ids }
    }

    fn step(&mut self, h: &History) {
        self.graph.step(h).unwrap();
    }

    /// Requested detector `k` as its type.
    fn get<T: Detector>(&self, k: usize) -> &T {
        let node = self.graph.node(self.ids[k]).unwrap();
        (node as &dyn std::any::Any).downcast_ref::<T>().unwrap()
    }
}

/// A detector by name with parameters.
fn sp(name: &str, params: &[(&str, Param)]) -> NativeSpec {
    NativeSpec::with(name, params).unwrap()
}

fn int(v: i64) -> Param {
    Param::Int(v)
}

/// A random walk with prices on a coarse grid, so ties (equal highs) are common.
pub(crate) fn walk(seed: u64, n: usize) -> Vec<Bar> {
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
            // Now and then the open jumps away from the last close (volume imbalances need
            // bodies that do not touch).
            let jump = if next() % 4 == 0 {
                (next() % 5) as f64 - 2.0
            } else {
                0.0
            };
            let open = (price + jump).max(1.0);
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
    assert_eq!(d.book.zones.len(), 1, "{:?}", d.book.zones);
    let z = d.book.zones[0];
    assert_eq!((z.direction, z.anchor, z.known_at), (1, 1, 2));
    assert_eq!((z.bottom, z.top, z.mid), (10.0, 12.0, 11.0));
    assert_eq!(z.state, State::Dead);
    let log: Vec<(State, usize)> = d
        .book
        .transitions
        .iter()
        .map(|t| (t.state, t.bar))
        .collect();
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
    assert_eq!(z.quality[2], 2.0 / 6.0);
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
    assert_eq!(d.book.zones.len(), 1);
    let z = d.book.zones[0];
    assert_eq!(
        (z.direction, z.bottom, z.top, z.mid),
        (-1, 17.0, 20.0, 18.5)
    );
    let log: Vec<(State, usize)> = d
        .book
        .transitions
        .iter()
        .map(|t| (t.state, t.bar))
        .collect();
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
fn brute_transitions(bars: &[Bar], zones: &[zones::Zone]) -> Vec<(usize, State, usize)> {
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
                            b.low <= z.mid
                        } else {
                            b.high >= z.mid
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
        assert!(
            d.book.zones.len() > 10,
            "seed {seed}: too few zones to test"
        );
        let got: Vec<_> = d
            .book
            .transitions
            .iter()
            .map(|t| (t.id, t.state, t.bar))
            .collect();
        assert_eq!(
            sorted_by_bar(got),
            sorted_by_bar(brute_transitions(&bars, d.book.zones.as_slice()))
        );
        // Transitions only move forward, one state at a time, never before formation.
        let mut last = vec![None; d.book.zones.len()];
        for t in &d.book.transitions {
            let z = &d.book.zones[t.id];
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
    let mut specs = all_specs();
    specs.push(spec("structure", &[]).unwrap());
    specs.push(
        spec(
            "order_blocks",
            &[("break_on", crate::param::Param::Str("wick".into()))],
        )
        .unwrap(),
    );
    let (t, [o, h, l, c, v]) = candles_of(bars);
    let candles = crate::Candles::new(&t, &o, &h, &l, &c, &v).unwrap();
    let rows = |table: crate::table::ResultTable, known: &str| -> Vec<Vec<f64>> {
        let cols: Vec<Vec<f64>> = table
            .columns
            .iter()
            .map(|c| match c.dtype {
                crate::table::Dtype::F64 => bytemuck::cast_slice::<u8, f64>(c.bytes()).to_vec(),
                crate::table::Dtype::I64 => bytemuck::cast_slice::<u8, i64>(c.bytes())
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
    let mut out = Vec::new();
    for (k, spec) in specs.iter().enumerate() {
        for (name, table) in spec.tables().zip(super::run(spec, &candles).unwrap()) {
            let known = if name.ends_with("_transitions") {
                "bar"
            } else {
                "known_at"
            };
            out.push((format!("{k}:{name}"), rows(table, known)));
        }
    }
    out
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
    let mut c = Chain::new(&[sp("structure", &[]), sp("swings", &[])]);
    run(&bars, |h| c.step(h));
    let (d, swings) = (c.get::<Structure>(0), c.get::<Swings>(1));
    assert!(d.events.iter().any(|e| e.kind == BreakKind::Choch));
    assert!(d
        .events
        .iter()
        .any(|e| e.kind == BreakKind::Bos && !e.initial));
    assert!(d.events[0].initial && d.events.from(1).iter().all(|e| !e.initial));
    let mut trend = 0;
    for e in &d.events {
        let swing = swings.events[e.swing_id];
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

fn spec(name: &str, params: &[(&str, crate::param::Param)]) -> crate::Result<NativeSpec> {
    NativeSpec::parse(
        name,
        params
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect(),
    )
}

#[test]
fn bad_parameters_and_bars_name_the_problem() {
    let err = spec("swings", &[("left", Param::Int(0))]).unwrap_err();
    assert!(err.to_string().contains("'swings.left'"), "{err}");
    let err = spec("fvg", &[("min_size_atr", Param::Float(-1.0))]).unwrap_err();
    assert!(err.to_string().contains("min_size_atr"), "{err}");
    let err = spec("structure", &[("break_on", Param::Str("body".into()))]).unwrap_err();
    assert!(err.to_string().contains("break_on"), "{err}");
    let err = spec("swings", &[("length", Param::Int(3))]).unwrap_err();
    assert!(err.to_string().contains("swings.length"), "{err}");
    let err = spec("nope", &[]).unwrap_err();
    assert!(err.to_string().contains("order_blocks"), "{err}");
    let mut e = Engine::new(vec![spec("fvg", &[]).unwrap()]).unwrap();
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
    assert_eq!(e.history.bars(), [bar(0, 1.0, 2.0, 0.5, 1.5)]);
    assert!(e.table("swings").is_err());
    assert!(Engine::new(vec![spec("fvg", &[]).unwrap(), spec("fvg", &[]).unwrap()]).is_err());
}

/// Every native detector, with non-default parameters where it has any.
pub(crate) fn all_specs() -> Vec<NativeSpec> {
    vec![
        spec(
            "swings",
            &[("left", Param::Int(3)), ("right", Param::Int(2))],
        )
        .unwrap(),
        spec(
            "structure",
            &[
                ("left", Param::Int(2)),
                ("right", Param::Int(3)),
                ("break_on", Param::Str("wick".into())),
            ],
        )
        .unwrap(),
        spec("fvg", &[]).unwrap(),
        spec("volume_imbalance", &[]).unwrap(),
        spec("opening_gaps", &[]).unwrap(),
        spec("displacement", &[("min_body_atr", Param::Float(1.0))]).unwrap(),
        spec(
            "order_blocks",
            &[("left", Param::Int(3)), ("right", Param::Int(3))],
        )
        .unwrap(),
        spec(
            "liquidity",
            &[
                ("left", Param::Int(2)),
                ("right", Param::Int(2)),
                ("tolerance_atr", Param::Float(0.5)),
            ],
        )
        .unwrap(),
        spec("dealing_ranges", &[("left", Param::Int(2))]).unwrap(),
        spec("bpr", &[("window", Param::Int(6))]).unwrap(),
        spec(
            "rejection_blocks",
            &[
                ("right", Param::Int(2)),
                ("min_wick_body", Param::Float(1.0)),
            ],
        )
        .unwrap(),
        spec(
            "sessions",
            &[(
                "windows",
                Param::Str("a=17:20-17:27,b=17:25-17:50,c=21:00-01:00".into()),
            )],
        )
        .unwrap(),
        spec(
            "structure_layers",
            &[
                ("internal_left", Param::Int(2)),
                ("internal_right", Param::Int(2)),
                // 80 + 50 > SCAN_MAX: the swing layer streams on the stacks (undo
                // included).
                ("swing_left", Param::Int(80)),
                ("swing_right", Param::Int(50)),
            ],
        )
        .unwrap(),
        spec(
            "mss",
            &[
                ("left", Param::Int(2)),
                ("right", Param::Int(2)),
                ("min_displacement", Param::Float(0.3)),
            ],
        )
        .unwrap(),
        spec(
            "mitigation_blocks",
            &[("left", Param::Int(2)), ("right", Param::Int(2))],
        )
        .unwrap(),
        spec("cisd", &[("lookback", Param::Int(6))]).unwrap(),
        // The walks' 1-minute bars start at 17:13 New York: days turn at 18:30.
        spec(
            "new_opening_gaps",
            &[
                ("close_at", Param::Str("18:10".into())),
                ("open_at", Param::Str("18:30".into())),
            ],
        )
        .unwrap(),
    ]
}

#[test]
fn all_specs_cover_every_native_detector() {
    let names: Vec<_> = all_specs().iter().map(|s| s.name()).collect();
    assert_eq!(names, registry::names().collect::<Vec<_>>());
}

fn candles_of(bars: &[Bar]) -> (Vec<i64>, [Vec<f64>; 5]) {
    let col = |f: fn(&Bar) -> f64| bars.iter().map(f).collect::<Vec<f64>>();
    (
        bars.iter().map(|b| b.time).collect(),
        [
            col(|b| b.open),
            col(|b| b.high),
            col(|b| b.low),
            col(|b| b.close),
            col(|b| b.volume),
        ],
    )
}

fn batch_tables(bars: &[Bar]) -> Vec<crate::table::ResultTable> {
    let (t, [o, h, l, c, v]) = candles_of(bars);
    let candles = crate::Candles::new(&t, &o, &h, &l, &c, &v).unwrap();
    all_specs()
        .iter()
        .flat_map(|s| super::run(s, &candles).unwrap())
        .collect()
}

fn engine_tables(e: &Engine) -> Vec<crate::table::ResultTable> {
    all_specs()
        .iter()
        .flat_map(|s| s.tables().map(|t| e.table(t).unwrap()))
        .collect()
}

#[test]
fn active_at_equals_a_brute_force_scan() {
    let bars = walk(5, 2000);
    let mut d = Fvg::new(FvgParams::default());
    run(&bars, |h| {
        d.step(h);
    });
    let starts: Vec<i64> = d.book.zones.iter().map(|z| z.known_at as i64).collect();
    let mut ends = vec![i64::MAX; d.book.zones.len()];
    for t in &d.book.transitions {
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
    /// Both forms (direct checks, stacks), short and long windows (long ones take the stacks
    /// in `Swings::new`).
    #[test]
    fn swings_equal_the_definition(seed in 1u64.., n in 0usize..400, left in 1usize..8, right in 1usize..8, long in proptest::bool::ANY) {
        let bars = walk(seed, n);
        let p = if long {
            SwingParams { left: left * 5, right: right * 5 }
        } else {
            SwingParams { left, right }
        };
        let expected = brute_swings(&bars, p);
        for mut d in [Swings::new(p), Swings::with_stacks(p)] {
            run(&bars, |h| { d.step(h); });
            let got: Vec<_> = d.events.iter().map(|e| (e.direction, e.anchor, e.known_at)).collect();
            prop_assert_eq!(&got, &expected);
        }
    }

    /// Streaming == batch, bit for bit, with random revisions of the forming bar: before each
    /// final bar the engine sees up to three provisional versions of it.
    #[test]
    fn streaming_with_revisions_equals_batch(seed in 1u64.., n in 0usize..300, revisions in proptest::collection::vec(0usize..4, 300)) {
        let bars = walk(seed, n);
        let noise = walk(seed ^ 0xABCD, n);
        let mut e = Engine::new(all_specs()).unwrap();
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
        prop_assert_eq!(engine_tables(&e), batch_tables(&bars));
    }

    #[test]
    fn prefix_replay_on_random_series(seed in 1u64.., n in 60usize..500) {
        prefix_rewrites(&walk(seed, n));
    }

    /// Checkpoint + the rest == batch, bit for bit: a checkpoint at a random bar (of an
    /// engine whose newest bar was revised), restored, then a revision of the newest bar
    /// (the undo journal travels too) and the remaining bars; the restored engine
    /// checkpoints again to the same state.
    #[test]
    fn checkpoint_and_the_rest_equal_batch(seed in 1u64.., n in 0usize..300, at in 0usize..300, revise in proptest::bool::ANY) {
        let bars = walk(seed, n);
        let at = at.min(n);
        let mut e = Engine::new(all_specs()).unwrap();
        for &b in &bars[..at] {
            e.update(b).unwrap();
        }
        if revise && at > 0 {
            let mut wrong = bars[at - 1];
            wrong.close = wrong.low;
            e.update_last(wrong).unwrap();
        }
        let bytes = checkpoint::save(&e).unwrap();
        let mut restored = checkpoint::restore(&bytes).unwrap();
        prop_assert_eq!(restored.history.len(), at);
        if at > 0 {
            restored.update_last(bars[at - 1]).unwrap();
        }
        for &b in &bars[at..] {
            restored.update(b).unwrap();
        }
        prop_assert_eq!(engine_tables(&restored), batch_tables(&bars));
        let again = checkpoint::restore(&checkpoint::save(&restored).unwrap()).unwrap();
        prop_assert_eq!(engine_tables(&again), engine_tables(&restored));
    }

    /// A batch run resumed from the state of a run on a prefix (any split, empty and whole
    /// included, chained twice) equals a full run bit for bit, stepping only the new bars.
    #[test]
    fn resumed_runs_equal_full_runs(seed in 1u64.., n in 0usize..300, a in 0usize..300, b in 0usize..300) {
        let bars = walk(seed, n);
        let (mut a, mut b) = (a.min(n), b.min(n));
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        let (t, [o, h, l, c, v]) = candles_of(&bars);
        let prefix = |k: usize| crate::Candles::new(&t[..k], &o[..k], &h[..k], &l[..k], &c[..k], &v[..k]).unwrap();
        for spec in all_specs() {
            let first = checkpoint::run_resumable(&spec, &prefix(a), None, None).unwrap();
            let second = checkpoint::run_resumable(&spec, &prefix(b), Some(&first.state), None).unwrap();
            let third = checkpoint::run_resumable(&spec, &prefix(n), Some(&second.state), Some(b + (n - b) / 2)).unwrap();
            prop_assert_eq!((first.stepped, second.stepped, third.stepped), (a, b - a, n - b));
            // Each run hands out the rows its bars made known: the pieces make the batch's.
            let joined = |pieces: &[&Vec<crate::table::ResultTable>]| -> Vec<crate::table::ResultTable> {
                (0..pieces[0].len())
                    .map(|t| {
                        let parts: Vec<_> = pieces.iter().map(|p| p[t].columns.as_slice()).collect();
                        crate::table::ResultTable::concat(&parts, pieces[0][t].meta.clone(), "test").unwrap()
                    })
                    .collect()
            };
            let mut upto_third = vec![&first.tables, &second.tables];
            if let Some(saved) = &third.saved {
                upto_third.push(&saved.tables);
            }
            upto_third.push(&third.tables);
            prop_assert_eq!(&joined(&upto_third), &super::run(&spec, &prefix(n)).unwrap());
            prop_assert_eq!(&joined(&[&first.tables, &second.tables]), &super::run(&spec, &prefix(b)).unwrap());
            // The state kept on the way (mid-way through the third run) resumes too.
            if let Some(saved) = &third.saved {
                let again = checkpoint::run_resumable(&spec, &prefix(n), Some(&saved.state), None).unwrap();
                prop_assert_eq!(again.stepped, n - saved.rows);
                prop_assert_eq!(&again.tables, &third.tables);
            }
        }
    }

    /// Any bytes: refused as corrupt or restored, never a panic.
    #[test]
    fn arbitrary_checkpoint_bytes_never_panic(noise in proptest::collection::vec(proptest::num::u8::ANY, 0..400), flips in proptest::collection::vec((0usize..4000, 0u8..8), 0..4)) {
        let _ = checkpoint::restore(&noise);
        let mut e = Engine::new(all_specs()).unwrap();
        for b in walk(7, 120) {
            e.update(b).unwrap();
        }
        let mut bytes = checkpoint::save(&e).unwrap();
        for (at, bit) in flips {
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
        }
        let _ = checkpoint::restore(&bytes);
    }
}

#[test]
fn a_run_state_resumes_only_its_own_detector_and_series() {
    let bars = walk(4, 400);
    let (t, [o, h, l, c, v]) = candles_of(&bars);
    let whole = crate::Candles::new(&t, &o, &h, &l, &c, &v).unwrap();
    let head = crate::Candles::new(
        &t[..300],
        &o[..300],
        &h[..300],
        &l[..300],
        &c[..300],
        &v[..300],
    )
    .unwrap();
    let fvg = sp("fvg", &[]);
    let state = checkpoint::run_resumable(&fvg, &head, None, None)
        .unwrap()
        .state;
    let corrupt =
        |r: crate::Result<checkpoint::Resumable>| matches!(r, Err(crate::IctError::Corrupt { .. }));
    // Another detector, other parameters, a shorter series, another series.
    assert!(corrupt(checkpoint::run_resumable(
        &sp("swings", &[]),
        &whole,
        Some(&state),
        None
    )));
    let other = sp("fvg", &[("min_size_atr", Param::Float(0.5))]);
    assert!(corrupt(checkpoint::run_resumable(
        &other,
        &whole,
        Some(&state),
        None
    )));
    let short = crate::Candles::new(
        &t[..200],
        &o[..200],
        &h[..200],
        &l[..200],
        &c[..200],
        &v[..200],
    )
    .unwrap();
    assert!(corrupt(checkpoint::run_resumable(
        &fvg,
        &short,
        Some(&state),
        None
    )));
    let mut moved = c.clone();
    moved[299] += 0.25;
    let changed = crate::Candles::new(&t, &o, &h, &l, &moved, &v);
    if let Ok(changed) = changed {
        assert!(corrupt(checkpoint::run_resumable(
            &fvg,
            &changed,
            Some(&state),
            None
        )));
    }
    // An engine checkpoint is not a run state, nor the other way round.
    let engine = Engine::new(vec![fvg.clone()]).unwrap();
    assert!(corrupt(checkpoint::run_resumable(
        &fvg,
        &whole,
        Some(&engine.checkpoint().unwrap()),
        None
    )));
    assert!(matches!(
        Engine::from_checkpoint(&state),
        Err(crate::IctError::Corrupt { .. })
    ));
    let resumed = checkpoint::run_resumable(&fvg, &whole, Some(&state), None).unwrap();
    assert_eq!(resumed.stepped, 100);
}

#[test]
fn damaged_truncated_foreign_and_other_version_checkpoints_are_refused() {
    let mut e = Engine::new(all_specs()).unwrap();
    for b in walk(3, 300) {
        e.update(b).unwrap();
    }
    let good = checkpoint::save(&e).unwrap();
    assert!(checkpoint::restore(&good).is_ok());
    let refused = |bytes: &[u8]| {
        matches!(
            checkpoint::restore(bytes),
            Err(crate::IctError::Corrupt { .. })
        )
    };
    for cut in [
        0,
        7,
        8,
        20,
        checkpoint::HEADER,
        good.len() / 2,
        good.len() - 1,
    ] {
        assert!(refused(&good[..cut]), "cut at {cut}");
    }
    for at in [0, 9, 13, 21, 29, checkpoint::HEADER + 3, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert!(refused(&bad), "flip at {at}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(refused(&longer));
    assert!(refused(b"PK\x03\x04 a zip file, not a checkpoint at all"));
}

#[test]
fn history_atr_is_seeded_then_smoothed() {
    let bars = walk(11, 40);
    let h = history(&bars);
    assert!(h.atrs()[..13].iter().all(|a| a.is_nan()));
    assert!(h.atrs()[13..].iter().all(|a| a.is_finite() && *a > 0.0));
    // The batch history computes every ATR up front: the same bits as bar by bar, and only
    // the visible ones can be read.
    for n in [0, 1, 13, 14, 15, 40] {
        let (t, [o, hi, l, c, v]) = candles_of(&bars[..n]);
        let candles = crate::Candles::new(&t, &o, &hi, &l, &c, &v).unwrap();
        let mut batch = History::over(&candles);
        let mut seen = 0;
        while batch.advance() {
            seen += 1;
            assert_eq!(batch.atrs().len(), seen);
        }
        let bits = |a: &[f64]| a.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(batch.atrs()), bits(&h.atrs()[..n]), "{n} bars");
    }
    let (t, [o, hi, l, c, v]) = candles_of(&bars);
    let candles = crate::Candles::new(&t, &o, &hi, &l, &c, &v).unwrap();
    let mut batch = History::over(&candles);
    batch.advance();
    assert!(std::panic::catch_unwind(|| batch.atr(1)).is_err());
}

/// Every zone detector's lifecycle equals the brute-force walk of the rules.
#[test]
fn zone_lifecycles_equal_the_brute_force_walk() {
    use super::gaps::{GapKind, Gaps};
    use super::order_blocks::OrderBlocks;
    for seed in [2, 17, 23] {
        let bars = walk(seed, 1500);
        let mut vi = Gaps::new(GapKind::VolumeImbalance);
        let mut og = Gaps::new(GapKind::OpeningGap);
        let mut c = Chain::new(&[sp("order_blocks", &[])]);
        run(&bars, |h| {
            vi.step(h);
            og.step(h);
            c.step(h);
        });
        let ob = c.get::<OrderBlocks>(0);
        for (name, book) in [("vi", &vi.book), ("og", &og.book), ("ob", &ob.book)] {
            assert!(book.zones.len() > 5, "{name}: too few zones to test");
            let got: Vec<_> = book
                .transitions
                .iter()
                .map(|t| (t.id, t.state, t.bar))
                .collect();
            assert_eq!(
                sorted_by_bar(got),
                sorted_by_bar(brute_transitions(&bars, book.zones.as_slice())),
                "{name}"
            );
        }
    }
}

/// Bar 0: body 10..11, high 11.5. Bar 1: body 11.2..12, low 11.0 (wicks overlap, bodies do
/// not) -> a bullish volume imbalance [11, 11.2] at bar 1, and no opening gap (11.0 < 11.5).
/// Bar 2: low 12.4 > bar 1's high 12.3 -> a bullish opening gap [12.3, 12.4] at bar 2; its body
/// (12.5..13) also clears bar 1's body top 12 while its low is above bar 1's high, so the wicks
/// do not overlap: no volume imbalance there.
#[test]
fn volume_imbalance_and_opening_gap_by_hand() {
    use super::gaps::{GapKind, Gaps};
    let bars = [
        bar(0, 10.0, 11.5, 9.8, 11.0),
        bar(1, 11.2, 12.3, 11.0, 12.0),
        bar(2, 12.5, 13.2, 12.4, 13.0),
    ];
    let mut vi = Gaps::new(GapKind::VolumeImbalance);
    let mut og = Gaps::new(GapKind::OpeningGap);
    run(&bars, |h| {
        vi.step(h);
        og.step(h);
    });
    let z: Vec<_> = vi
        .book
        .zones
        .iter()
        .map(|z| (z.direction, z.anchor, z.bottom, z.top))
        .collect();
    assert_eq!(z, [(1, 1, 11.0, 11.2)]);
    let z: Vec<_> = og
        .book
        .zones
        .iter()
        .map(|z| (z.direction, z.anchor, z.bottom, z.top, z.quality[2]))
        .collect();
    assert_eq!(z, [(1, 2, 12.3, 12.4, 60.0)]);
}

/// Fifteen bars of range 1 with closes equal to opens: true range 1, so ATR(14) = 1 from bar
/// 13 on. Bar 15: body 2 (1.5 ATR needed), range 2.5 (share 0.8) -> a bullish displacement.
/// Bar 16: body 2 but range 4 (share 0.5 < 0.6) -> none.
#[test]
fn displacement_by_hand() {
    use super::displacement::{Displacement, DisplacementParams};
    let mut bars: Vec<Bar> = (0..15).map(|i| bar(i, 10.0, 10.5, 9.5, 10.0)).collect();
    bars.push(bar(15, 10.0, 12.25, 9.75, 12.0));
    bars.push(bar(16, 12.0, 12.5, 8.5, 10.0));
    let mut d = Displacement::new(DisplacementParams::default());
    run(&bars, |h| d.step(h));
    assert_eq!(d.events.len(), 1);
    let e = d.events[0];
    assert_eq!((e.bar, e.direction, e.body_share), (15, 1, 0.8));
    assert!((e.body_atr - 2.0).abs() < 1e-12, "{}", e.body_atr);
}

/// Order blocks against their definition: each is the latest lowest-low (up breaks) or
/// highest-high (down breaks) candle between the broken swing's pivot and the break bar,
/// known at the break.
#[test]
fn order_blocks_are_the_leg_extremes_of_structure_breaks() {
    use super::order_blocks::OrderBlocks;
    let bars = walk(31, 4000);
    let mut c = Chain::new(&[sp("order_blocks", &[]), sp("structure", &[])]);
    run(&bars, |h| c.step(h));
    let (ob, breaks) = (c.get::<OrderBlocks>(0), &c.get::<Structure>(1).events);
    assert!(!breaks.is_empty());
    assert_eq!(ob.book.zones.len(), breaks.len());
    for (z, b) in ob.book.zones.iter().zip(breaks) {
        assert_eq!((z.known_at, z.direction), (b.known_at, b.direction));
        // The latest extreme: scan forward, replacing on ties.
        let mut expected = b.anchor;
        for i in b.anchor..=b.known_at {
            let better = if b.direction > 0 {
                bars[i].low <= bars[expected].low
            } else {
                bars[i].high >= bars[expected].high
            };
            if better {
                expected = i;
            }
        }
        let c = bars[expected];
        assert_eq!(z.anchor, expected);
        assert_eq!((z.top, z.bottom), (c.high, c.low));
        assert_eq!(z.mid, c.open.min(c.close) + c.body() / 2.0);
    }
}

/// Liquidity against a naive re-statement of its rules (every level checked on every bar,
/// the nearest untaken level found by a scan).
#[test]
fn liquidity_equals_the_brute_force_rules() {
    use super::liquidity::{Liquidity, LiquidityParams};
    for seed in [4, 8, 15] {
        let bars = walk(seed, 3000);
        // Seed 15 adds a fixed (tick-based) part to the tolerance.
        let fixed = if seed == 15 { 1.0 } else { 0.0 };
        let params = LiquidityParams {
            swings: SwingParams { left: 2, right: 2 },
            tolerance_atr: 0.5,
            tolerance_price: fixed,
        };
        let mut c = Chain::new(&[params.spec().unwrap(), params.swings_spec().unwrap()]);
        let h = run(&bars, |h| c.step(h));
        let (d, swings) = (c.get::<Liquidity>(0), c.get::<Swings>(1));
        // (direction, level, anchor, state 0 untaken / 1 swept / 2 gone, pool)
        let mut levels: Vec<(i8, f64, usize, u8, Option<usize>, u32)> = Vec::new();
        let mut taken = Vec::new();
        let mut pools = Vec::new();
        let mut pool_count = 0;
        for (t, b) in bars.iter().enumerate() {
            for side in [1i8, -1] {
                let beyond = |level: f64, price: f64| {
                    if side > 0 {
                        price > level
                    } else {
                        price < level
                    }
                };
                let extreme = if side > 0 { b.high } else { b.low };
                for lv in levels.iter_mut().filter(|l| l.0 == side) {
                    if lv.3 == 0 && beyond(lv.1, extreme) {
                        let run = beyond(lv.1, b.close);
                        taken.push((t, run, side, lv.1.to_bits(), lv.2, lv.4));
                        lv.3 = if run { 2 } else { 1 };
                    } else if lv.3 == 1 && beyond(lv.1, b.close) {
                        taken.push((t, true, side, lv.1.to_bits(), lv.2, lv.4));
                        lv.3 = 2;
                    }
                }
            }
            for s in swings.events.iter().filter(|s| s.known_at == t) {
                let tol = if h.atr(t).is_finite() {
                    0.5 * h.atr(t) + fixed
                } else {
                    fixed
                };
                let mut best: Option<(usize, (f64, bool, i64))> = None;
                for (i, l) in levels.iter().enumerate() {
                    if l.0 != s.direction || l.3 != 0 || (l.1 - s.level).abs() > tol {
                        continue;
                    }
                    // Nearest; on equal distance the level above; among equal levels above the
                    // oldest, below the newest.
                    let above = l.1 >= s.level;
                    let rank = (
                        (l.1 - s.level).abs(),
                        !above,
                        if above { i as i64 } else { -(i as i64) },
                    );
                    if best
                        .is_none_or(|(_, r)| rank.partial_cmp(&r) == Some(std::cmp::Ordering::Less))
                    {
                        best = Some((i, rank));
                    }
                }
                match best {
                    None => levels.push((s.direction, s.level, s.anchor, 0, None, 1)),
                    Some((i, _)) => {
                        let l = &mut levels[i];
                        l.1 = if s.direction > 0 {
                            l.1.max(s.level)
                        } else {
                            l.1.min(s.level)
                        };
                        if l.4.is_none() {
                            l.4 = Some(pool_count);
                            pool_count += 1;
                        }
                        l.5 += 1;
                        pools.push((l.4.unwrap(), t, l.1.to_bits(), l.5, l.2));
                    }
                }
            }
        }
        let got_pools: Vec<_> = d
            .pools
            .iter()
            .map(|p| (p.pool, p.known_at, p.level.to_bits(), p.members, p.anchor))
            .collect();
        assert!(pools.len() > 10, "seed {seed}: too few pools");
        assert_eq!(got_pools, pools, "seed {seed}");
        let mut got: Vec<_> = d
            .taken
            .iter()
            .map(|r| {
                (
                    r.known_at,
                    r.run,
                    r.direction,
                    r.level.to_bits(),
                    r.anchor,
                    r.pool,
                )
            })
            .collect();
        let mut want = taken;
        got.sort();
        want.sort();
        assert!(
            want.iter().any(|w| !w.1) && want.iter().any(|w| w.1),
            "seed {seed}: needs sweeps and runs"
        );
        assert_eq!(got, want, "seed {seed}");
    }
}

/// After 14 flat bars (ATR 1): swing highs 10 (at start + 2, known at start + 4) and 9.97
/// (at start + 6, known at start + 8) with left = right = 2. The second stays below the
/// first (a higher one would have swept it) and within 0.2 ATR of it, so it joins: an
/// equal-highs pool at 10 (the members' max) known at start + 8. Bar n trades to 10.3 and
/// closes at 9.9: a sweep. Bar n + 1 closes at 10.2: a run.
#[test]
fn equal_highs_are_swept_then_run_by_hand() {
    use super::liquidity::{Liquidity, LiquidityParams};
    let mut bars: Vec<Bar> = (0..14).map(|i| bar(i, 8.0, 8.5, 7.5, 8.0)).collect();
    let start = bars.len();
    for (k, (h, l)) in [
        (9.0, 8.0),
        (9.5, 8.5),
        (10.0, 9.0),
        (9.5, 8.6),
        (9.0, 8.2),
        (9.6, 8.4),
        (9.97, 9.1),
        (9.4, 8.7),
        (9.1, 8.3),
    ]
    .into_iter()
    .enumerate()
    {
        bars.push(bar(start + k, l + 0.2, h, l, h - 0.2));
    }
    let n = bars.len();
    bars.push(bar(n, 9.5, 10.3, 9.4, 9.9));
    bars.push(bar(n + 1, 9.9, 10.4, 9.8, 10.2));
    let params = LiquidityParams {
        swings: SwingParams { left: 2, right: 2 },
        tolerance_atr: 0.2,
        tolerance_price: 0.0,
    };
    let mut c = Chain::new(&[params.spec().unwrap()]);
    run(&bars, |h| c.step(h));
    let d = c.get::<Liquidity>(0);
    let pools: Vec<_> = d
        .pools
        .iter()
        .filter(|p| p.direction > 0)
        .map(|p| (p.anchor, p.known_at, p.level, p.members))
        .collect();
    assert_eq!(pools, [(start + 2, start + 8, 10.0, 2)]);
    let taken: Vec<_> = d
        .taken
        .iter()
        .filter(|r| r.direction > 0)
        .map(|r| (r.run, r.known_at, r.level, r.pool))
        .collect();
    let pool = d.pools.iter().find(|p| p.direction > 0).map(|p| p.pool);
    assert_eq!(taken, [(false, n, 10.0, pool), (true, n + 1, 10.0, pool)]);
}

/// Dealing ranges against their definition: for each structure break, the leg from the
/// latest extreme between the broken swing and the break (the strong end) to the opposite
/// extreme after it (the weak end), the OTE band at 62% / 70.5% / 79% of it.
#[test]
fn dealing_ranges_follow_the_breaking_leg() {
    use super::ranges::DealingRanges;
    let bars = walk(41, 4000);
    let mut c = Chain::new(&[sp("dealing_ranges", &[]), sp("structure", &[])]);
    run(&bars, |h| c.step(h));
    let (d, breaks) = (c.get::<DealingRanges>(0), &c.get::<Structure>(1).events);
    assert!(breaks.len() > 20);
    assert_eq!(d.ranges.len(), breaks.len());
    for ((r, z), b) in d.ranges.iter().zip(&d.book.zones).zip(breaks) {
        let up = b.direction > 0;
        let mut origin = b.anchor;
        let mut peak = b.anchor;
        for i in b.anchor..=b.known_at {
            let (deeper, further) = if up {
                (
                    bars[i].low <= bars[origin].low,
                    bars[i].high >= bars[peak].high,
                )
            } else {
                (
                    bars[i].high >= bars[origin].high,
                    bars[i].low <= bars[peak].low,
                )
            };
            if deeper {
                origin = i;
                peak = i;
            } else if further {
                peak = i;
            }
        }
        assert_eq!((r.strong_bar, r.weak_bar), (origin, peak));
        let (top, bottom) = if up {
            (bars[peak].high, bars[origin].low)
        } else {
            (bars[origin].high, bars[peak].low)
        };
        assert_eq!((r.top, r.bottom), (top, bottom));
        let span = top - bottom;
        let (near, far) = if up {
            (top - 0.62 * span, top - 0.79 * span)
        } else {
            (bottom + 0.62 * span, bottom + 0.79 * span)
        };
        assert_eq!(
            (z.top, z.bottom),
            if up { (near, far) } else { (far, near) }
        );
        assert_eq!(z.known_at, b.known_at);
    }
}

/// BPRs and rejection blocks against their definitions, restated over the finished tables.
#[test]
fn bpr_and_rejection_blocks_follow_their_definitions() {
    use super::composite::{Bpr, RejectionBlocks};
    let bars = walk(77, 5000);
    let mut c = Chain::new(&[
        sp("bpr", &[("window", int(10))]),
        sp("rejection_blocks", &[]),
        sp("fvg", &[]),
        sp("swings", &[]),
    ]);
    run(&bars, |h| c.step(h));
    let (bpr, rb) = (c.get::<Bpr>(0), c.get::<RejectionBlocks>(1));
    let gaps = &c.get::<Fvg>(2).book.zones;
    let mut expected = Vec::new();
    for newer in gaps {
        let older = gaps
            .iter()
            .filter(|z| {
                z.id < newer.id
                    && z.known_at + 10 >= newer.known_at
                    && z.direction != newer.direction
                    && z.bottom.max(newer.bottom) < z.top.min(newer.top)
            })
            .max_by_key(|z| z.id);
        if let Some(o) = older {
            expected.push((
                newer.known_at,
                newer.direction,
                o.top.min(newer.top),
                o.bottom.max(newer.bottom),
            ));
        }
    }
    let got: Vec<_> = bpr
        .book
        .zones
        .iter()
        .map(|z| (z.known_at, z.direction, z.top, z.bottom))
        .collect();
    assert!(got.len() > 5, "too few BPRs to test");
    assert_eq!(got, expected);

    let mut expected = Vec::new();
    for s in &c.get::<Swings>(3).events {
        let b = bars[s.anchor];
        let wick = if s.direction > 0 {
            b.high - b.open.max(b.close)
        } else {
            b.open.min(b.close) - b.low
        };
        if wick > 0.0 && wick >= 2.0 * b.body() && wick >= 0.5 * (b.high - b.low) {
            let (top, bottom) = if s.direction > 0 {
                (b.high, b.open.max(b.close))
            } else {
                (b.open.min(b.close), b.low)
            };
            expected.push((s.known_at, -s.direction, top, bottom, s.anchor));
        }
    }
    let got: Vec<_> = rb
        .book
        .zones
        .iter()
        .map(|z| (z.known_at, z.direction, z.top, z.bottom, z.anchor))
        .collect();
    assert!(got.len() > 5, "too few rejection blocks to test");
    assert_eq!(got, expected);
}

/// Kill zones across the 2024 US DST change (10 March): the London open kill zone (02:00-05:00
/// New York) is 07:00-10:00 UTC before and 06:00-09:00 UTC after. Each row's high/low are
/// those of exactly the bars whose times fall in its window; it is known at the first bar
/// after; a window wrapping past midnight (22:00-02:00) gathers both days' bars; a whole-day
/// window (17:00-17:00, the futures day) runs 22:00-22:00 UTC in winter, 21:00-21:00 in
/// summer, 23 hours on the day of the jump.
#[test]
fn sessions_follow_the_zone_across_dst() {
    use super::sessions::{SessionParams, Sessions};
    let start = 1_709_251_200_000_000_000i64; // 2024-03-01T00:00:00Z
    let step = 15 * 60 * 1_000_000_000i64;
    let mut bars: Vec<Bar> = walk(9, 20 * 96);
    for (i, b) in bars.iter_mut().enumerate() {
        b.time = start + i as i64 * step;
    }
    let params = SessionParams::parse(
        "America/New_York",
        "london_open,late=22:00-02:00,day=17:00-17:00",
    )
    .unwrap();
    let mut d = Sessions::new(params);
    let h = run(&bars, |h| d.step(h));
    let table = d.table(&h, 0);
    let col = |name: &str| -> Vec<i64> {
        bytemuck::cast_slice::<u8, i64>(table.column(name).unwrap().bytes()).to_vec()
    };
    let (starts, ends) = (col("window_start"), col("window_end"));
    let hour = |ns: i64| ns.div_euclid(3_600_000_000_000).rem_euclid(24);
    let mut seen_winter = false;
    let mut seen_summer = false;
    let mut days = 0;
    for (k, r) in d.rows.iter().enumerate() {
        let inside: Vec<usize> = (0..bars.len())
            .filter(|&i| starts[k] <= bars[i].time && bars[i].time < ends[k])
            .collect();
        assert!(
            !inside.is_empty(),
            "row {k}: {r:?} {} {} first bar {}",
            starts[k],
            ends[k],
            bars[r.first].time
        );
        assert_eq!(
            (r.first, r.last),
            (inside[0], *inside.last().unwrap()),
            "row {k}"
        );
        assert_eq!(r.known_at, r.last + 1);
        let high = inside
            .iter()
            .map(|&i| bars[i].high)
            .fold(f64::MIN, f64::max);
        let low = inside.iter().map(|&i| bars[i].low).fold(f64::MAX, f64::min);
        assert_eq!((r.high, r.low), (high, low));
        if r.window == 0 {
            let utc = (hour(starts[k]), hour(ends[k]));
            // 2024-03-10T07:00Z: the jump (02:00 EST -> 03:00 EDT). That day 02:00 does not
            // exist, so the window opens at the jump and lasts two hours.
            let jump = 1_710_054_000_000_000_000;
            if starts[k] < jump {
                assert_eq!(utc, (7, 10));
                seen_winter = true;
            } else if starts[k] == jump {
                assert_eq!(utc, (7, 9));
            } else {
                assert_eq!(utc, (6, 9));
                seen_summer = true;
            }
        } else if r.window == 2 {
            let hours = (ends[k] - starts[k]) / 3_600_000_000_000;
            let expected = match starts[k] {
                s if s < 1_710_021_600_000_000_000 => (22, 22, 24), // before 2024-03-09T22Z
                1_710_021_600_000_000_000 => (22, 21, 23),
                _ => (21, 21, 24),
            };
            assert_eq!((hour(starts[k]), hour(ends[k]), hours), expected, "row {k}");
            days += 1;
        } else {
            // Four hours every night, the night of the jump too (02:00 reads as the jump).
            assert_eq!(
                ends[k] - starts[k],
                4 * 3_600_000_000_000,
                "22:00-02:00 is 4 hours"
            );
        }
    }
    assert!(seen_winter && seen_summer && days >= 18);
    for (zone, windows) in [
        ("Mars/Olympus", "london_open"),
        ("UTC", "nope"),
        ("UTC", "x=25:00-02:00"),
    ] {
        assert!(
            SessionParams::parse(zone, windows).is_err(),
            "{zone} {windows}"
        );
    }
}

/// Internal and swing layers: every swing-layer break is reported (layer 1); an internal
/// break is reported (layer 0) unless its level is the one the swing layer was watching on
/// that side when the bar came in.
#[test]
fn structure_layers_report_each_break_once() {
    use super::structure::StructureLayers;
    let internal = StructureParams {
        swings: SwingParams { left: 3, right: 3 },
        break_on: super::structure::BreakOn::Close,
    };
    let swing = StructureParams {
        swings: SwingParams {
            left: 12,
            right: 12,
        },
        break_on: super::structure::BreakOn::Close,
    };
    let bars = walk(55, 5000);
    let mut c = Chain::new(&[
        sp(
            "structure_layers",
            &[
                ("internal_left", int(3)),
                ("internal_right", int(3)),
                ("swing_left", int(12)),
                ("swing_right", int(12)),
            ],
        ),
        internal.spec().unwrap(),
        swing.spec().unwrap(),
        swing.swings_spec().unwrap(),
    ]);
    let mut skipped = 0;
    let mut h = History::default();
    for &b in &bars {
        let alone_swing = c.get::<Structure>(2);
        let watched: Vec<Option<f64>> = [1i8, -1]
            .iter()
            .map(|&dir| {
                alone_swing
                    .watched(dir)
                    .map(|(_, id)| c.get::<Swings>(3).events[id].level)
            })
            .collect();
        h.push_unchecked(b);
        c.step(&h);
        for e in c.get::<Structure>(1).added() {
            if watched[usize::from(e.direction < 0)] == Some(e.level) {
                skipped += 1;
            }
        }
    }
    let (d, alone_internal, alone_swing) = (
        c.get::<StructureLayers>(0),
        c.get::<Structure>(1),
        c.get::<Structure>(2),
    );
    let swing_rows: Vec<_> = d.rows.iter().filter(|r| r.0 == 1).map(|r| r.1).collect();
    assert_eq!(swing_rows, alone_swing.events.as_slice());
    let internal_rows = d.rows.iter().filter(|r| r.0 == 0).count();
    assert_eq!(internal_rows + skipped, alone_internal.events.len());
    assert!(skipped > 0 && internal_rows > 0 && !swing_rows.is_empty());
}

/// MSS against its definition over the finished tables: every displaced CHoCH with an
/// opposite-side sweep (not a run) in the window before it, and nothing else.
#[test]
fn mss_is_a_displaced_choch_after_a_sweep() {
    use super::liquidity::LiquidityParams;
    use super::mss::{Mss, MssParams};
    let swings = SwingParams { left: 2, right: 2 };
    let params = MssParams {
        structure: StructureParams {
            swings,
            break_on: super::structure::BreakOn::Close,
        },
        liquidity: LiquidityParams {
            swings,
            tolerance_atr: 0.2,
            tolerance_price: 0.0,
        },
        sweep_window: 10,
        min_displacement: 0.3,
    };
    let bars = walk(61, 6000);
    let mut c = Chain::new(&[
        sp(
            "mss",
            &[
                ("left", int(2)),
                ("right", int(2)),
                ("min_displacement", Param::Float(0.3)),
            ],
        ),
        params.structure.spec().unwrap(),
        params.liquidity.spec().unwrap(),
    ]);
    run(&bars, |h| c.step(h));
    let (d, structure, liquidity) = (
        c.get::<Mss>(0),
        c.get::<Structure>(1),
        c.get::<super::liquidity::Liquidity>(2),
    );
    assert_eq!(d.params, params);
    let mut expected = Vec::new();
    for b in &structure.events {
        let displaced = b.displacement >= 0.3; // NaN (no ATR yet) is not
        if b.kind != BreakKind::Choch || !displaced {
            continue;
        }
        // The newest qualifying sweep, scanning every sweep (not just the window's tail).
        let sweep = liquidity.taken.iter().rfind(|s| {
            !s.run
                && s.direction == -b.direction
                && s.known_at <= b.known_at
                && s.known_at + 10 >= b.known_at
        });
        if let Some(s) = sweep {
            expected.push((b.known_at, b.direction, s.known_at, s.level.to_bits()));
        }
    }
    let got: Vec<_> = d
        .rows
        .iter()
        .map(|r| {
            (
                r.brk.known_at,
                r.brk.direction,
                r.sweep_bar,
                r.sweep_level.to_bits(),
            )
        })
        .collect();
    assert!(got.len() > 5, "too few shifts to test");
    assert_eq!(got, expected);
}

/// A bearish mitigation block by hand (swings of 1 bar each side): bar 1 high 14 is H1
/// (known at 2); bar 3 low 8 is L (known at 4); bar 5 high 12.5 < 14 is the failure swing H2
/// (known at 6); bar 7 closes at 7.6 < 8: the break of L. The last up-close candle at or
/// before H2's pivot is bar 5 itself -> zone [10.5, 12.5], mean threshold 10.8 + 1.4 / 2 =
/// 11.5, known at 7. Then bar 8 high 10.6 reaches its bottom: touched; bar 9 high 11.6 >=
/// 11.5: mean threshold; bar 10 high 12.6 >= 12.5 with close 12.0: filled; bar 11 close 12.8
/// above the top: inverted; bar 12 close 10.2 below the bottom: dead. Bar 11 also breaks H2
/// upwards, but the low before it (bar 8, 7.4) undercut L (8): a sweep, not a failure swing,
/// so no bullish block.
#[test]
fn a_bearish_mitigation_block_by_hand() {
    use super::mitigation::MitigationBlocks;
    let bars = [
        bar(0, 10.0, 11.0, 9.0, 10.5),
        bar(1, 10.5, 14.0, 10.0, 13.5),
        bar(2, 13.5, 13.6, 11.0, 11.5),
        bar(3, 11.5, 12.0, 8.0, 8.5),
        bar(4, 8.5, 11.0, 8.4, 10.8),
        bar(5, 10.8, 12.5, 10.5, 12.2),
        bar(6, 12.2, 12.3, 10.0, 10.2),
        bar(7, 10.2, 10.3, 7.5, 7.6),
        bar(8, 7.6, 10.6, 7.4, 10.0),
        bar(9, 10.0, 11.6, 9.8, 11.0),
        bar(10, 11.0, 12.6, 10.9, 12.0),
        bar(11, 12.0, 13.0, 11.9, 12.8),
        bar(12, 12.8, 12.9, 10.0, 10.2),
    ];
    let params = StructureParams {
        swings: SwingParams { left: 1, right: 1 },
        break_on: super::structure::BreakOn::Close,
    };
    let mut c = Chain::new(&[
        sp("mitigation_blocks", &[("left", int(1)), ("right", int(1))]),
        params.spec().unwrap(),
    ]);
    run(&bars, |h| c.step(h));
    let d = c.get::<MitigationBlocks>(0);
    assert_eq!(d.book.zones.len(), 1, "{:?}", d.book.zones);
    let z = d.book.zones[0];
    assert_eq!((z.direction, z.anchor, z.known_at), (-1, 5, 7));
    assert_eq!((z.bottom, z.top, z.mid), (10.5, 12.5, 11.5));
    let log: Vec<(State, usize)> = d
        .book
        .transitions
        .iter()
        .map(|t| (t.state, t.bar))
        .collect();
    assert_eq!(
        log,
        [
            (State::Formed, 7),
            (State::Touched, 8),
            (State::MeanThreshold, 9),
            (State::Filled, 10),
            (State::Inverted, 11),
            (State::Dead, 12),
        ]
    );
    // The up break at bar 11 exists (so the missing bullish block is the rule, not silence).
    assert!(c
        .get::<Structure>(1)
        .events
        .iter()
        .any(|b| b.direction > 0 && b.known_at == 11));
}

/// Mitigation blocks against the definition restated over the finished swing and structure
/// tables: for every break, the newest opposite-side swing known before the break bar must
/// be pivoted after the broken swing and fall short of the last one pivoted before it; the
/// zone is the last candle of the opposite colour from that swing's pivot back to the broken
/// swing's pivot.
#[test]
fn mitigation_blocks_equal_the_definition() {
    use super::mitigation::MitigationBlocks;
    let params = StructureParams {
        swings: SwingParams { left: 2, right: 2 },
        break_on: super::structure::BreakOn::Close,
    };
    let mut total = [0usize; 2];
    for seed in [7, 8, 9] {
        let bars = walk(seed, 4000);
        let mut c = Chain::new(&[
            sp("mitigation_blocks", &[("left", int(2)), ("right", int(2))]),
            params.spec().unwrap(),
            params.swings_spec().unwrap(),
        ]);
        run(&bars, |h| c.step(h));
        let d = c.get::<MitigationBlocks>(0);
        let swings = &c.get::<Swings>(2).events;
        let mut expected = Vec::new();
        for b in &c.get::<Structure>(1).events {
            let broken = &swings[b.swing_id];
            let side: Vec<_> = swings
                .iter()
                .filter(|s| s.direction == -b.direction && s.known_at < b.known_at)
                .collect();
            let Some(second) = side.last().filter(|s| s.anchor > broken.anchor) else {
                continue;
            };
            let Some(first) = side.iter().rev().find(|s| s.anchor < broken.anchor) else {
                continue;
            };
            let failed = if b.direction < 0 {
                second.level < first.level
            } else {
                second.level > first.level
            };
            if !failed {
                continue;
            }
            let colour = |i: usize| {
                let c = &bars[i];
                if b.direction < 0 {
                    c.close > c.open
                } else {
                    c.close < c.open
                }
            };
            if let Some(c) = (broken.anchor..=second.anchor).rev().find(|&i| colour(i)) {
                expected.push((b.direction, c, b.known_at, bars[c].low, bars[c].high));
            }
        }
        let got: Vec<_> = d
            .book
            .zones
            .iter()
            .map(|z| (z.direction, z.anchor, z.known_at, z.bottom, z.top))
            .collect();
        assert_eq!(got, expected, "seed {seed}");
        for z in &d.book.zones {
            total[usize::from(z.direction > 0)] += 1;
        }
        // The lifecycle of each block is the shared zone walk.
        assert_eq!(
            sorted_by_bar(
                d.book
                    .transitions
                    .iter()
                    .map(|t| (t.id, t.state, t.bar))
                    .collect()
            ),
            sorted_by_bar(brute_transitions(&bars, d.book.zones.as_slice()))
        );
    }
    assert!(total[0] > 10 && total[1] > 10, "too few blocks: {total:?}");
}

/// A bullish CISD by hand (runs of 2+, a 5-bar extreme): bars 1-3 close down (first open
/// 10.2, lowest low 9.0); bar 4 closes up, ending the run, whose low 9.0 is the lowest of bars
/// 0-3: the level 10.2 is armed, but bar 4 closes at 9.8. Bar 5 closes at 10.25 > 10.2: a
/// bullish CISD known at 5, anchored at 1. The up run 4-5 (high 10.3) ends at bar 6 without
/// an extreme (bar 1's high 10.4 is within the 5 bars), and the down run 6-7 ends at the doji
/// 8 above bar 3's low: nothing else is armed.
#[test]
fn a_bullish_cisd_by_hand() {
    use super::cisd::{Cisd, CisdParams};
    let bars = [
        bar(0, 10.0, 10.5, 9.8, 10.2),
        bar(1, 10.2, 10.4, 9.9, 10.0),
        bar(2, 10.0, 10.1, 9.5, 9.6),
        bar(3, 9.6, 9.7, 9.0, 9.1),
        bar(4, 9.1, 9.9, 9.05, 9.8),
        bar(5, 9.8, 10.3, 9.7, 10.25),
        bar(6, 10.25, 10.3, 10.0, 10.1),
        bar(7, 10.1, 10.2, 9.95, 10.0),
        bar(8, 10.0, 10.05, 9.9, 10.0),
        bar(9, 10.0, 10.6, 9.9, 10.5),
    ];
    let mut d = Cisd::new(CisdParams {
        min_run: 2,
        lookback: 5,
    });
    run(&bars, |h| d.step(h));
    let got: Vec<_> = d
        .events
        .iter()
        .map(|e| {
            (
                e.direction,
                e.anchor,
                e.known_at,
                e.level,
                e.extreme,
                e.run_length,
            )
        })
        .collect();
    assert_eq!(got, [(1, 1, 5, 10.2, 9.0, 3)]);
}

/// CISD against the definition restated over the whole series: find every maximal run of
/// one colour that has ended, keep those long enough whose extreme is the extreme of the
/// `lookback` bars ending with them, and walk the bars: a run ending at e arms its side from
/// bar e + 1 (replacing what waits there), and the first close beyond the armed open fires.
#[test]
fn cisd_equals_the_definition() {
    use super::cisd::{Cisd, CisdParams};
    let params = CisdParams {
        min_run: 2,
        lookback: 8,
    };
    let mut counts = [0usize; 2];
    for seed in [21, 22, 23] {
        let bars = walk(seed, 5000);
        let mut d = Cisd::new(params);
        run(&bars, |h| d.step(h));
        let colour = |b: &Bar| (b.close > b.open) as i8 - (b.close < b.open) as i8;
        // (end bar, colour, first bar) of every run that ended.
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..bars.len() {
            if colour(&bars[i]) != colour(&bars[i - 1]) {
                runs.push((i - 1, colour(&bars[i - 1]), start));
                start = i;
            }
        }
        let mut armed: [Option<(f64, usize)>; 2] = [None, None];
        let mut expected = Vec::new();
        let mut next_run = 0;
        for (t, b) in bars.iter().enumerate() {
            while next_run < runs.len() && runs[next_run].0 + 1 == t {
                let (end, c, first) = runs[next_run];
                next_run += 1;
                if c == 0 || end + 1 - first < params.min_run {
                    continue;
                }
                let from = (end + 1).saturating_sub(params.lookback);
                let ok = if c > 0 {
                    let top = bars[first..=end]
                        .iter()
                        .map(|b| b.high)
                        .fold(f64::MIN, f64::max);
                    bars[from..=end].iter().all(|b| b.high <= top)
                } else {
                    let low = bars[first..=end]
                        .iter()
                        .map(|b| b.low)
                        .fold(f64::MAX, f64::min);
                    bars[from..=end].iter().all(|b| b.low >= low)
                };
                if ok {
                    armed[usize::from(c > 0)] = Some((bars[first].open, first));
                }
            }
            if let Some((level, first)) = armed[0].filter(|a| b.close > a.0) {
                expected.push((1, first, t, level.to_bits()));
                armed[0] = None;
            }
            if let Some((level, first)) = armed[1].filter(|a| b.close < a.0) {
                expected.push((-1, first, t, level.to_bits()));
                armed[1] = None;
            }
        }
        let got: Vec<_> = d
            .events
            .iter()
            .map(|e| (e.direction, e.anchor, e.known_at, e.level.to_bits()))
            .collect();
        assert_eq!(got, expected, "seed {seed}");
        for e in &d.events {
            counts[usize::from(e.direction > 0)] += 1;
        }
    }
    assert!(counts[0] > 20 && counts[1] > 20, "too few: {counts:?}");
}

/// NDOG and NWOG by hand, in New York time (EST, UTC-5), 17:00 settlement and 18:00 reopen:
/// bar 0 (Thursday 16:45) closes at 100: Thursday's settlement; bar 1 (17:15) is after it;
/// bar 2 (18:00) reopens at 100.5: a bullish NDOG [100, 100.5] known at 2, drawn from bar 0.
/// Bar 3 (Friday 16:45) settles at 102; bar 4 (Sunday 18:00, Monday's trading day) reopens
/// at 101: a bearish NDOG [101, 102] and, a new week, the same gap as an NWOG. Bar 5 trades up
/// to 102.5 and closes at 101.5: both bearish gaps are touched, reach their CE (101.5) and
/// fill on it; no close above 102, so they stay filled. No bar after bar 2 trades down to
/// 100.5: the bullish gap stays formed.
#[test]
fn new_day_and_week_opening_gaps_by_hand() {
    use super::new_opening_gaps::{NewGapParams, NewOpeningGaps};
    let at = |utc: i64| utc * 1_000_000_000;
    let thu = 1_709_243_100; // 2024-02-29T21:45:00Z = 16:45 New York
    let bars = [
        Bar {
            time: at(thu),
            ..bar(0, 99.8, 100.2, 99.7, 100.0)
        },
        Bar {
            time: at(thu + 1800),
            ..bar(1, 100.0, 101.2, 99.9, 101.0)
        },
        Bar {
            time: at(thu + 4500),
            ..bar(2, 100.5, 101.0, 100.5, 100.8)
        },
        Bar {
            time: at(thu + 86_400),
            ..bar(3, 101.5, 102.2, 101.2, 102.0)
        },
        Bar {
            time: at(thu + 3 * 86_400 + 4500),
            ..bar(4, 101.0, 101.3, 100.9, 101.2)
        },
        Bar {
            time: at(thu + 4 * 86_400 - 6 * 3600 - 2700),
            ..bar(5, 101.2, 102.5, 100.8, 101.5)
        },
    ];
    let mut d = NewOpeningGaps::new(NewGapParams::default());
    let h = run(&bars, |h| d.step(h));
    let zones: Vec<_> = d
        .book
        .zones
        .iter()
        .map(|z| (z.direction, z.anchor, z.known_at, z.bottom, z.top, z.mid))
        .collect();
    assert_eq!(
        zones,
        [
            (1, 0, 2, 100.0, 100.5, 100.25),
            (-1, 3, 4, 101.0, 102.0, 101.5),
            (-1, 3, 4, 101.0, 102.0, 101.5),
        ]
    );
    let table = d.table(&h, 0);
    let kinds = bytemuck::cast_slice::<u8, i32>(table.column("kind").unwrap().bytes()).to_vec();
    assert_eq!(
        kinds,
        [
            super::new_opening_gaps::KIND_NDOG,
            super::new_opening_gaps::KIND_NDOG,
            super::new_opening_gaps::KIND_NWOG
        ]
    );
    let log: Vec<_> = d
        .book
        .transitions
        .iter()
        .map(|t| (t.id, t.state, t.bar))
        .collect();
    let mut expected = vec![
        (0, State::Formed, 2),
        (1, State::Formed, 4),
        (2, State::Formed, 4),
    ];
    for id in [1, 2] {
        for state in [State::Touched, State::MeanThreshold, State::Filled] {
            expected.push((id, state, 5));
        }
    }
    assert_eq!(sorted_by_bar(log), sorted_by_bar(expected));
}

/// NDOG/NWOG against the definition with every local time read from the zone afresh (no
/// offset memo), on 15-minute bars across the 2024 US DST change and four weekends (no bars
/// from Friday 17:00 to Sunday 18:00 New York), for the futures day and for midnight.
#[test]
fn new_opening_gaps_equal_the_definition() {
    use super::new_opening_gaps::{NewGapParams, NewOpeningGaps};
    use chrono::{Datelike, Offset, TimeZone};
    let zone = chrono_tz::America::New_York;
    let local = |ns: i64| {
        let utc = chrono::DateTime::from_timestamp(ns / 1_000_000_000, 0).unwrap();
        let offset = zone.offset_from_utc_datetime(&utc.naive_utc()).fix();
        utc.naive_utc() + chrono::TimeDelta::seconds(i64::from(offset.local_minus_utc()))
    };
    let start = 1_708_822_800_000_000_000i64; // 2024-02-25T01:00:00Z, Saturday evening NY
    let step = 15 * 60 * 1_000_000_000i64;
    let mut bars = walk(31, 4 * 7 * 96);
    for (i, b) in bars.iter_mut().enumerate() {
        b.time = start + i as i64 * step;
    }
    // Drop the weekend: Friday 17:00 to Sunday 18:00 New York.
    bars.retain(|b| {
        let l = local(b.time);
        let minute = l.hour_minute();
        match l.weekday() {
            chrono::Weekday::Fri => minute < 17 * 60,
            chrono::Weekday::Sat => false,
            chrono::Weekday::Sun => minute >= 18 * 60,
            _ => true,
        }
    });
    let mut total = [0usize; 2];
    for (close_at, open_at) in [(17 * 60, 18 * 60), (0, 0)] {
        let params = NewGapParams {
            zone,
            close_at,
            open_at,
        };
        let mut d = NewOpeningGaps::new(params);
        let h = run(&bars, |h| d.step(h));
        let mut expected = Vec::new();
        let mut last_day = None;
        let mut settlement: Option<(f64, usize, chrono::NaiveDate)> = None;
        for (t, b) in bars.iter().enumerate() {
            // The trading day: the local date of (local time - open_at).
            let shifted = local(b.time) - chrono::TimeDelta::minutes(i64::from(open_at));
            let day = shifted.date();
            let into = shifted.hour_minute();
            if last_day.is_some_and(|d| day > d) {
                if let Some((close, anchor, settled)) = settlement {
                    if b.open != close {
                        let named = |d: chrono::NaiveDate| {
                            if open_at >= 12 * 60 {
                                d.succ_opt().unwrap()
                            } else {
                                d
                            }
                        };
                        let new_week = named(day).iso_week() != named(settled).iso_week();
                        let dir = if b.open > close { 1 } else { -1 };
                        expected.push((dir, anchor, t, super::new_opening_gaps::KIND_NDOG));
                        if new_week {
                            expected.push((dir, anchor, t, super::new_opening_gaps::KIND_NWOG));
                        }
                    }
                }
            }
            if last_day.is_none_or(|d| day > d) {
                last_day = Some(day);
            }
            let settle = (close_at + 1440 - open_at) % 1440;
            let settle = if settle == 0 { 1440 } else { settle };
            if into < settle {
                settlement = Some((b.close, t, day));
            }
        }
        let table = d.table(&h, 0);
        let kinds = bytemuck::cast_slice::<u8, i32>(table.column("kind").unwrap().bytes());
        let got: Vec<_> = d
            .book
            .zones
            .iter()
            .zip(kinds)
            .map(|(z, &k)| (z.direction, z.anchor, z.known_at, k))
            .collect();
        assert_eq!(got, expected, "{close_at} {open_at}");
        total[0] += got
            .iter()
            .filter(|g| g.3 == super::new_opening_gaps::KIND_NDOG)
            .count();
        total[1] += got
            .iter()
            .filter(|g| g.3 == super::new_opening_gaps::KIND_NWOG)
            .count();
    }
    // ~20 trading days a run with 4 week opens; the walk's opens repeat the previous close
    // unless they jump (one bar in four), so many reopens leave no gap.
    assert!(total[0] > 15 && total[1] >= 3, "{total:?}");
}

trait HourMinute {
    fn hour_minute(&self) -> u32;
}

impl HourMinute for chrono::NaiveDateTime {
    fn hour_minute(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}

/// The registry is the one list: every declared detector parses with its defaults, reaches
/// the pool as `native.<name>`, builds its inputs, and produces exactly the tables and column
/// schemas it declares. A detector declared but missing anywhere derived fails here.
#[test]
fn every_declared_detector_is_known_everywhere_and_keeps_its_schema() {
    let bars = walk(5, 2000);
    let (t, [o, h, l, c, v]) = candles_of(&bars);
    let candles = crate::Candles::new(&t, &o, &h, &l, &c, &v).unwrap();
    let mut table_names = std::collections::HashSet::new();
    for d in registry::REGISTRY {
        let spec = NativeSpec::parse(d.name, Vec::new()).unwrap();
        assert_eq!(spec.name(), d.name);
        let keyed: Vec<&str> = spec.params().iter().map(|p| p.0).collect();
        let declared: Vec<&str> = d.params.iter().map(|p| p.name).collect();
        assert_eq!(keyed, declared, "{}: key parameters", d.name);
        assert!(!d.doc.is_empty() && d.params.iter().all(|p| !p.doc.is_empty()));
        let pool_name = format!("native.{}", d.name);
        assert!(crate::pool::native_detectors().contains(&pool_name.as_str()));
        let pooled = crate::pool::Spec::parse(&pool_name, Vec::new()).unwrap();
        assert_eq!(pooled.name(), pool_name);
        assert!(!d.tables.is_empty() && d.tables[0].name == d.name);
        let tables = super::run(&spec, &candles).unwrap();
        assert_eq!(tables.len(), d.tables.len(), "{}: tables", d.name);
        for (table, declared) in tables.iter().zip(d.tables) {
            assert!(table_names.insert(declared.name), "{} twice", declared.name);
            let got: Vec<_> = table
                .columns
                .iter()
                .map(|c| (c.name.as_str(), c.dtype))
                .collect();
            let want: Vec<_> = declared.columns().collect();
            assert_eq!(got, want, "{}: schema", declared.name);
        }
        let mut e = Engine::new(vec![spec.clone()]).unwrap();
        let counts = e.update(bars[0]).unwrap();
        let names: Vec<&str> = counts.iter().map(|c| c.0).collect();
        assert_eq!(names, spec.tables().collect::<Vec<_>>());
        // A typo is refused naming `<detector>.<parameter>`.
        let err = NativeSpec::with(d.name, &[("no_such", Param::Int(1))]).unwrap_err();
        assert!(
            err.to_string().contains(&format!("'{}.no_such'", d.name)),
            "{err}"
        );
    }
    // A code names one kind everywhere.
    let kinds = table::kinds();
    for (i, (code, name)) in kinds.iter().enumerate() {
        assert!(
            kinds[..i].iter().all(|(c, n)| c != code && n != name),
            "kind {code} {name} twice"
        );
    }
    assert_eq!(kinds.len(), 22);
}

/// A shared input steps once: structure, order blocks, dealing ranges and mitigation blocks
/// over the same swings make a graph of five nodes, not four private copies of each input.
#[test]
fn shared_inputs_are_one_node() {
    let specs: Vec<NativeSpec> = [
        "structure",
        "order_blocks",
        "dealing_ranges",
        "mitigation_blocks",
    ]
    .iter()
    .map(|n| sp(n, &[]))
    .collect();
    let e = Engine::new(specs).unwrap();
    assert_eq!(e.nodes(), 5);
    // Every detector with its defaults: only structure_layers' 50-bar swing layer (its
    // structure and swings) is not another requested detector.
    let defaults: Vec<NativeSpec> = registry::names().map(|n| sp(n, &[])).collect();
    let all = Engine::new(defaults).unwrap();
    assert_eq!(all.nodes(), registry::REGISTRY.len() + 2);
}

/// A payload changed behind a recomputed checksum (what no accident produces) still never
/// panics while it is restored.
#[test]
fn rechecksummed_damage_is_refused_or_restored_without_panic() {
    let mut e = Engine::new(all_specs()).unwrap();
    for b in walk(9, 200) {
        e.update(b).unwrap();
    }
    let good = checkpoint::save(&e).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let (mut restored, mut stepped_panics) = (0, 0);
    for _ in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bad = good.clone();
        let at = checkpoint::HEADER + (x as usize % (bad.len() - checkpoint::HEADER));
        bad[at] ^= 1 << (x >> 61);
        let body = bad[checkpoint::HEADER..].to_vec();
        bad[28..36].copy_from_slice(&xxhash_rust::xxh3::xxh3_64(&body).to_le_bytes());
        if let Ok(mut r) = checkpoint::restore(&bad) {
            restored += 1;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for b in walk(10, 230).into_iter().skip(200) {
                    let _ = r.update(b);
                }
                let _ = engine_tables(&r);
            }));
            stepped_panics += usize::from(outcome.is_err());
        }
    }
    // The decoder is reached (postcard reads most changed payloads as other numbers) and
    // never panics; an engine restored from such bytes may panic when stepped, which the
    // bindings catch (`guarded`) and the pool catches per series.
    assert!(restored > 0);
    eprintln!(
        "restored {restored} of 3000 damaged payloads; {stepped_panics} panicked when stepped"
    );
}
