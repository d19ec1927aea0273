//! Live sessions against batch runs: whatever the appends, restarts and rewrites, the rows
//! polled add up to the batch tables bit for bit.

use super::*;
use crate::detect::tests::{all_specs, walk};
use crate::detect::Bar;
use crate::store::Durability;
use proptest::prelude::*;

fn root(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ictcore-live-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Cols {
    time: Vec<i64>,
    values: [Vec<f64>; 5],
}

fn cols(bars: &[Bar]) -> Cols {
    Cols {
        time: bars.iter().map(|b| b.time).collect(),
        values: [
            bars.iter().map(|b| b.open).collect(),
            bars.iter().map(|b| b.high).collect(),
            bars.iter().map(|b| b.low).collect(),
            bars.iter().map(|b| b.close).collect(),
            bars.iter().map(|b| b.volume).collect(),
        ],
    }
}

impl Cols {
    fn candles(&self) -> Candles<'_> {
        let [o, h, l, c, v] = &self.values;
        Candles::new(&self.time, o, h, l, c, v).unwrap()
    }
}

/// `more`'s rows after `into`'s (a table with no columns is empty).
fn extend(into: &mut ResultTable, more: &ResultTable) {
    if more.columns.is_empty() {
        return;
    }
    if into.columns.is_empty() {
        *into = more.clone();
        return;
    }
    for (a, b) in into.columns.iter_mut().zip(&more.columns) {
        assert_eq!((&a.name, a.dtype), (&b.name, b.dtype));
        let mut bytes = a.bytes().to_vec();
        bytes.extend_from_slice(b.bytes());
        *a = crate::table::Column::from_bytes(a.name.clone(), a.dtype, &bytes).unwrap();
    }
}

/// What a consumer of polls holds: per detector, per table, every row polled (a reset
/// replaces them).
type Held = Vec<Vec<ResultTable>>;

fn take(held: &mut Held, update: &Update) {
    if update.reset {
        held.iter_mut()
            .flatten()
            .for_each(|t| *t = ResultTable::default());
    }
    for (h, u) in held.iter_mut().zip(&update.tables) {
        for (t, more) in h.iter_mut().zip(u) {
            extend(t, more);
        }
    }
}

fn assert_batch(held: &Held, specs: &[NativeSpec], bars: &[Bar]) {
    let c = cols(bars);
    for (spec, tables) in specs.iter().zip(held) {
        let batch = if bars.is_empty() {
            Vec::new()
        } else {
            crate::detect::run(spec, &c.candles()).unwrap()
        };
        for (which, name) in spec.tables().enumerate() {
            let want = batch.get(which).cloned().unwrap_or_default();
            let got = &tables[which];
            let rows = |t: &ResultTable| t.columns.first().map_or(0, |c| c.len());
            if rows(&want) == 0 {
                assert_eq!(rows(got), 0, "{name}: polled rows where the batch has none");
            } else {
                assert_eq!(got, &want, "{name} after {} bars", bars.len());
            }
        }
    }
}

fn threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

fn states_in(dir: &std::path::Path) -> StateDir {
    StateDir::open(&dir.join("states")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A portfolio of three series, each appended 0, 1 or many bars per cycle (the same
    /// sizes in another order per series), polled every cycle, the session restarted from
    /// its saved states at random cycles: every cycle, the rows polled for each series add up
    /// to a batch run's tables, and only the new bars were stepped.
    #[test]
    fn polled_rows_add_up_to_the_batch(
        seed in 1u64..,
        chunks in proptest::collection::vec(prop_oneof![Just(0usize), Just(1), 2usize..90], 1..12),
        restarts in proptest::collection::vec(proptest::bool::weighted(0.25), 12),
    ) {
        let dir = root("prop");
        let store = Store::open(&dir.join("store"), true).unwrap();
        let states = states_in(&dir);
        let total: usize = chunks.iter().sum();
        let names = ["S0", "S1", "S2"];
        let bars: Vec<Vec<Bar>> = (0..3).map(|k| walk(seed.wrapping_add(k), total)).collect();
        let specs = all_specs();
        let requests: Vec<(String, String)> =
            names.iter().map(|n| (n.to_string(), "1m".to_string())).collect();
        let pool = threads();
        let no = AtomicBool::new(false);
        let mut session = LiveSession::new(specs.clone(), &requests, &store, Some(&states), &pool).unwrap();
        let empty = || -> Held { specs.iter().map(|s| vec![ResultTable::default(); s.tables().count()]).collect() };
        let mut held: Vec<Held> = (0..3).map(|_| empty()).collect();
        let mut at = [0usize; 3];
        for cycle in 0..chunks.len() {
            let mut added = [0usize; 3];
            for k in 0..3 {
                let n = chunks[(cycle + k) % chunks.len()];
                if n > 0 {
                    let c = cols(&bars[k][at[k]..at[k] + n]);
                    store.append(names[k], "1m", &c.candles(), Durability::Os).unwrap();
                    at[k] += n;
                    added[k] = n;
                }
            }
            let (updates, _) = session.poll(&store, &pool, &no);
            for (k, update) in updates.into_iter().enumerate() {
                if at[k] == 0 {
                    prop_assert!(update.is_err()); // not stored yet: its own error
                    continue;
                }
                let update = update.unwrap();
                prop_assert_eq!(update.stepped, if update.reset { at[k] } else { added[k] });
                take(&mut held[k], &update);
                assert_batch(&held[k], &specs, &bars[k][..at[k]]);
            }
            if restarts[cycle] {
                session.save(&store, &states, &pool).unwrap();
                session = LiveSession::new(specs.clone(), &requests, &store, Some(&states), &pool).unwrap();
                let stepped = at.iter().filter(|&&n| n > 0).count();
                prop_assert_eq!(session.restored(), stepped);
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_rewritten_series_is_recomputed_and_reported_reset() {
    let dir = root("rewrite");
    let store = Store::open(&dir.join("store"), true).unwrap();
    let bars = walk(7, 300);
    let specs = all_specs();
    let requests = vec![("S".to_string(), "1m".to_string())];
    let pool = threads();
    store
        .write("S", "1m", &cols(&bars[..200]).candles())
        .unwrap();
    let session = LiveSession::new(specs.clone(), &requests, &store, None, &pool).unwrap();
    let first = session
        .poll(&store, &pool, &AtomicBool::new(false))
        .0
        .remove(0)
        .unwrap();
    assert!(first.reset);
    // Unchanged: nothing stepped, nothing reported.
    let same = session
        .poll(&store, &pool, &AtomicBool::new(false))
        .0
        .remove(0)
        .unwrap();
    assert_eq!((same.stepped, same.rows, same.reset), (0, 0, false));
    // Another series under the same name, longer than the one stepped.
    let other = walk(8, 300);
    store.write("S", "1m", &cols(&other).candles()).unwrap();
    let update = session
        .poll(&store, &pool, &AtomicBool::new(false))
        .0
        .remove(0)
        .unwrap();
    assert!(update.reset);
    assert_eq!(update.stepped, 300);
    let mut held: Held = specs
        .iter()
        .map(|s| vec![ResultTable::default(); s.tables().count()])
        .collect();
    take(&mut held, &update);
    assert_batch(&held, &specs, &other);
    // The same rows written anew (a new file): recognised, not recomputed.
    store.write("S", "1m", &cols(&other).candles()).unwrap();
    let again = session
        .poll(&store, &pool, &AtomicBool::new(false))
        .0
        .remove(0)
        .unwrap();
    assert_eq!((again.stepped, again.reset), (0, false));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_saved_state_that_does_not_fit_is_not_used() {
    let dir = root("state");
    let store = Store::open(&dir.join("store"), true).unwrap();
    let states = states_in(&dir);
    let bars = walk(9, 250);
    let specs = all_specs();
    let requests = vec![
        ("S".to_string(), "1m".to_string()),
        ("T".to_string(), "1m".to_string()),
    ];
    let pool = threads();
    store
        .write("S", "1m", &cols(&bars[..200]).candles())
        .unwrap();
    let session = LiveSession::new(specs.clone(), &requests, &store, Some(&states), &pool).unwrap();
    let (updates, stats) = session.poll(&store, &pool, &AtomicBool::new(false));
    // T is not stored: its own error, S goes on.
    assert_eq!(stats.failed, 1);
    assert!(updates[0].is_ok() && updates[1].is_err());
    let (saved, bytes) = session.save(&store, &states, &pool).unwrap();
    assert_eq!(saved, 1);
    assert!(bytes > 0);
    // The series rewritten with other rows: the saved state is found but fails its check on
    // the first poll, so S is recomputed (and reported reset).
    store
        .write("S", "1m", &cols(&walk(10, 220)).candles())
        .unwrap();
    let resumed = LiveSession::new(specs.clone(), &requests, &store, Some(&states), &pool).unwrap();
    assert_eq!(resumed.restored(), 1);
    let update = resumed
        .poll(&store, &pool, &AtomicBool::new(false))
        .0
        .remove(0)
        .unwrap();
    assert!(update.reset);
    assert_eq!(update.stepped, 220);
    // Other detectors do not find it.
    let fewer = vec![specs[0].clone()];
    let other = LiveSession::new(fewer, &requests, &store, Some(&states), &pool).unwrap();
    assert_eq!(other.restored(), 0);
    // Damaged bytes are refused by the frame check.
    let mut bytes = vec![0u8; 64];
    bytes[..8].copy_from_slice(b"ICTLIVE\0");
    assert!(matches!(
        state::decode(&bytes),
        Err(IctError::Corrupt { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn live_atr_equals_the_batch_atr() {
    let bars = walk(11, 200);
    let c = cols(&bars);
    let candles = c.candles();
    let mut batch = History::over(&candles);
    while batch.advance() {}
    for seen in [0, 1, 5, 13, 14, 15, 40, 200] {
        let part = Candles::new(
            &c.time[..seen],
            &c.values[0][..seen],
            &c.values[1][..seen],
            &c.values[2][..seen],
            &c.values[3][..seen],
            &c.values[4][..seen],
        )
        .unwrap();
        let mut before = History::resumed(&part, 0, Vec::new());
        while before.advance() {}
        let tail = before.atr_tail();
        let kept = tail.len();
        let mut live = History::resumed(&candles, seen, tail);
        while live.advance() {}
        for t in seen - kept..200 {
            assert_eq!(
                live.atr(t).to_bits(),
                batch.atr(t).to_bits(),
                "bar {t} from {seen}"
            );
        }
    }
}

/// The frame's checksum over the payload, recomputed after a damage (so the decoder, not
/// only the frame check, sees damaged bytes).
fn reseal(bytes: &mut [u8]) {
    let header = crate::detect::checkpoint::HEADER;
    if bytes.len() < header {
        return;
    }
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[header..]);
    bytes[28..36].copy_from_slice(&sum.to_le_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::fuzz_tests::cases()))]

    /// Damaged saved states (bits flipped, bytes cut, the checksum resealed or not) are
    /// refused or used; a session made over them and polled never panics, and a poll's
    /// errors stay with the series.
    #[test]
    fn fuzz_live_state(flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..6), reseal_it in any::<bool>(), cut in proptest::option::weighted(0.1, any::<usize>())) {
        let dir = root("fuzz");
        let store = Store::open(&dir.join("store"), true).unwrap();
        let states = states_in(&dir);
        let bars = walk(13, 160);
        store.write("S", "1m", &cols(&bars[..120]).candles()).unwrap();
        let specs = all_specs();
        let requests = vec![("S".to_string(), "1m".to_string())];
        let pool = threads();
        let no = AtomicBool::new(false);
        let session = LiveSession::new(specs.clone(), &requests, &store, Some(&states), &pool).unwrap();
        session.poll(&store, &pool, &no);
        session.save(&store, &states, &pool).unwrap();
        let name = std::fs::read_dir(dir.join("states")).unwrap().next().unwrap().unwrap().path();
        let mut bytes = std::fs::read(&name).unwrap();
        for (at, bit) in flips {
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        if reseal_it {
            reseal(&mut bytes);
        }
        let _ = state::decode(&bytes);
        std::fs::write(&name, &bytes).unwrap();
        store.append("S", "1m", &cols(&bars[120..]).candles(), Durability::Os).unwrap();
        let again = LiveSession::new(specs, &requests, &store, Some(&states), &pool).unwrap();
        let (updates, _) = again.poll(&store, &pool, &no);
        prop_assert_eq!(updates.len(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
