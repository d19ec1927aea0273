//! The pool against direct compat calls, fault isolation, cancellation and the cache.

use super::*;
use crate::cache::CacheConfig;
use crate::store::Durability;

fn root(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ictcore-pool-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A deterministic random walk of `n` 1-minute candles.
struct Walk {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

fn walk(seed: u64, n: usize) -> Walk {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 2001) as f64 / 1000.0 - 1.0
    };
    let mut w = Walk {
        time: Vec::new(),
        open: Vec::new(),
        high: Vec::new(),
        low: Vec::new(),
        close: Vec::new(),
        volume: Vec::new(),
    };
    let mut price = 100.0;
    for i in 0..n {
        let open = price;
        let close = open + next();
        let high = open.max(close) + next().abs();
        let low = open.min(close) - next().abs();
        price = close;
        w.time
            .push(1_700_000_000_000_000_000 + i as i64 * 60_000_000_000);
        w.open.push(open);
        w.high.push(high);
        w.low.push(low);
        w.close.push(close);
        w.volume.push(1.0 + next().abs());
    }
    w
}

fn view(w: &Walk) -> Candles<'_> {
    Candles::new(&w.time, &w.open, &w.high, &w.low, &w.close, &w.volume).unwrap()
}

fn specs() -> Vec<Spec> {
    DETECTORS
        .iter()
        .map(|name| {
            let params = if name.contains("swing")
                || ["bos_choch", "ob", "liquidity", "retracements"].contains(name)
            {
                vec![("swing_length".to_string(), Param::Int(5))]
            } else {
                Vec::new()
            };
            Spec::parse(name, params).unwrap()
        })
        .collect()
}

/// Each spec computed directly, one by one.
fn direct(c: &Candles<'_>, specs: &[Spec]) -> Vec<ResultTable> {
    let swings = Spec::SwingHighsLows { swing_length: 5 }
        .compute(c, None, "", InputDtypes::default())
        .unwrap();
    specs
        .iter()
        .map(|s| {
            s.compute(c, Some(&swings), "", InputDtypes::default())
                .unwrap()
        })
        .collect()
}

#[test]
fn parallel_equals_serial_and_direct_calls() {
    let walks: Vec<Walk> = (0..12).map(|k| walk(k, 200 + 400 * k as usize)).collect();
    let specs = specs();
    let requests: Vec<Request<'_>> = walks
        .iter()
        .enumerate()
        .map(|(k, w)| Request {
            symbol: format!("S{k}"),
            timeframe: "1m".into(),
            start: None,
            end: None,
            source: Source::Candles(view(w)),
            dtypes: InputDtypes::default(),
        })
        .collect();
    for workers in [1, 2, 3] {
        let pool = DetectorPool::new(Some(workers), 1 << 20).unwrap();
        let out = pool.analyze(
            &requests,
            &specs,
            None,
            None,
            &Control::default(),
            Hold::Dense,
        );
        assert_eq!(out.stats.failed, 0);
        for (w, result) in walks.iter().zip(&out.results) {
            let got: Vec<ResultTable> = result
                .as_ref()
                .unwrap()
                .iter()
                .map(|t| (**t).clone())
                .collect();
            assert_eq!(got, direct(&view(w), &specs), "workers {workers}");
        }
    }
    // Held compact, every result is the dense one: expanded, or (deferred) its digest.
    let pool = DetectorPool::new(Some(2), 1 << 20).unwrap();
    let out = pool.analyze(
        &requests,
        &specs,
        None,
        None,
        &Control::default(),
        Hold::Compact,
    );
    for (w, result) in walks.iter().zip(&out.results) {
        for (held, dense) in result
            .as_ref()
            .unwrap()
            .iter()
            .zip(direct(&view(w), &specs))
        {
            let deferred = held
                .meta
                .iter()
                .find(|(k, _)| k == crate::compact::DEFERRED_DIGEST);
            match deferred {
                Some((_, digest)) => {
                    let cols = dense.columns.iter();
                    let want =
                        crate::compact::digest(cols.map(|c| (c.name.as_str(), c.dtype, c.bytes())));
                    assert_eq!(*digest, want);
                }
                None => assert_eq!(crate::compact::expand(held), Some(dense)),
            }
        }
    }
}

#[test]
fn a_failure_fails_its_request_alone() {
    let dir = root("faults");
    let store = Store::open(&dir, true).unwrap();
    let good = walk(1, 3000);
    store.write("GOOD", "1m", &view(&good)).unwrap();
    store.write("BAD", "1m", &view(&good)).unwrap();
    std::fs::write(
        store.series_path("BAD", "1m").unwrap(),
        b"garbage".repeat(3000),
    )
    .unwrap();
    let mut nan = walk(2, 500);
    nan.close[100] = f64::NAN;
    let nan_view = Candles {
        time: &nan.time,
        open: &nan.open,
        high: &nan.high,
        low: &nan.low,
        close: &nan.close,
        volume: &nan.volume,
    };
    let request = |symbol: &str, source: Source<'static>| Request {
        symbol: symbol.into(),
        timeframe: "1m".into(),
        start: None,
        end: None,
        source,
        dtypes: InputDtypes::default(),
    };
    let nan_request = Request {
        symbol: "NAN".into(),
        timeframe: "1m".into(),
        start: None,
        end: None,
        source: Source::Candles(nan_view),
        dtypes: InputDtypes::default(),
    };
    let requests = vec![
        request("GOOD", Source::Store),
        request("BAD", Source::Store),
        request("MISSING", Source::Store),
        nan_request,
        request("PANIC", Source::Store),
    ];
    store.write("PANIC", "1m", &view(&good)).unwrap();
    let mut specs = specs();
    specs.push(
        Spec::parse(
            "_panic_for_tests",
            vec![("symbol".into(), Param::Str("PANIC".into()))],
        )
        .unwrap(),
    );
    let pool = DetectorPool::new(Some(2), 1 << 20).unwrap();
    let out = pool.analyze(
        &requests,
        &specs,
        Some(&store),
        None,
        &Control::default(),
        Hold::Dense,
    );
    let errors: Vec<String> = out
        .results
        .iter()
        .map(|r| {
            r.as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    assert!(errors[0].is_empty(), "{}", errors[0]);
    assert!(
        errors[1].starts_with("BAD 1m") && errors[1].contains("bad magic"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("MISSING 1m") && errors[2].contains("no such file"),
        "{}",
        errors[2]
    );
    assert!(
        errors[3].starts_with("NAN 1m") && errors[3].contains("row 100"),
        "{}",
        errors[3]
    );
    assert!(
        errors[4].contains("panic") && errors[4].contains("PANIC"),
        "{}",
        errors[4]
    );
    assert_eq!(out.stats.failed, 4);
    let got: Vec<ResultTable> = out.results[0].as_ref().unwrap()[..8]
        .iter()
        .map(|t| (**t).clone())
        .collect();
    assert_eq!(got, direct(&view(&good), &specs[..8]));
    // The pool answers the next call.
    let again = pool.analyze(
        &requests[..1],
        &specs[..8],
        Some(&store),
        None,
        &Control::default(),
        Hold::Dense,
    );
    assert_eq!(again.stats.failed, 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cancellation_and_the_cache() {
    let dir = root("cache");
    let store = Store::open(&dir.join("store"), true).unwrap();
    let walks: Vec<Walk> = (0..4).map(|k| walk(10 + k, 2000)).collect();
    for (k, w) in walks.iter().enumerate() {
        store.write(&format!("S{k}"), "1m", &view(w)).unwrap();
    }
    let requests: Vec<Request<'_>> = (0..4)
        .map(|k| Request {
            symbol: format!("S{k}"),
            timeframe: "1m".into(),
            start: None,
            end: None,
            source: Source::Store,
            dtypes: InputDtypes::default(),
        })
        .collect();
    let specs = specs();
    let pool = DetectorPool::new(Some(2), 1 << 20).unwrap();
    let cancelled = Control::default();
    cancelled.cancel.store(true, Ordering::Relaxed);
    let out = pool.analyze(
        &requests,
        &specs,
        Some(&store),
        None,
        &cancelled,
        Hold::Dense,
    );
    assert!(out.results.iter().all(|r| matches!(
        r.as_ref().map_err(IctError::root),
        Err(IctError::Cancelled { .. })
    )));

    // Every result kept (these 2,000-bar results recompute faster than they read back).
    let every = CacheConfig {
        disk_writes: crate::cache::DiskWrites::All,
        ..CacheConfig::default()
    };
    let cache = AnalysisCache::open(Some(&dir.join("cache")), every).unwrap();
    let cold = pool.analyze(
        &requests,
        &specs,
        Some(&store),
        Some(&cache),
        &Control::default(),
        Hold::Dense,
    );
    assert_eq!((cold.stats.misses, cold.stats.memory_hits), (4 * 8, 0));
    let warm = pool.analyze(
        &requests,
        &specs,
        Some(&store),
        Some(&cache),
        &Control::default(),
        Hold::Dense,
    );
    assert_eq!((warm.stats.misses, warm.stats.memory_hits), (0, 4 * 8));
    for (a, b) in cold.results.iter().zip(&warm.results) {
        assert_eq!(a.as_ref().unwrap(), b.as_ref().unwrap());
    }
    // One bar appended to one series: only that series is recomputed.
    let last = walks[2].time[1999];
    let (t, p) = ([last + 60_000_000_000], [100.0]);
    store
        .append(
            "S2",
            "1m",
            &Candles::new(&t, &p, &p, &p, &p, &p).unwrap(),
            Durability::Os,
        )
        .unwrap();
    let after = pool.analyze(
        &requests,
        &specs,
        Some(&store),
        Some(&cache),
        &Control::default(),
        Hold::Dense,
    );
    assert_eq!((after.stats.misses, after.stats.memory_hits), (8, 3 * 8));
    std::fs::remove_dir_all(dir).unwrap();
}
