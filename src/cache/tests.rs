//! Promises C1, C5, C6 and C7 of the analysis cache, on the core API.

use super::*;
use crate::param::Param;
use crate::table::Column;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;

/// The default settings, but every computed result written to disk (these tests exercise the
/// disk tier with results that compute in microseconds).
fn every_write() -> CacheConfig {
    CacheConfig {
        disk_writes: DiskWrites::All,
        ..CacheConfig::default()
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ictcore-cache-{name}-{}-{}",
        std::process::id(),
        now_ns()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A deterministic "detector": a result that depends on the seed only.
fn result(seed: u64, rows: usize) -> ResultTable {
    ResultTable {
        columns: vec![
            Column::f64(
                "level",
                (0..rows)
                    .map(|i| {
                        if (i as u64 + seed).is_multiple_of(5) {
                            seed as f64 + i as f64 * 0.25
                        } else {
                            f64::NAN
                        }
                    })
                    .collect(),
            ),
            Column::i64("index", (0..rows as i64).map(|i| i + seed as i64).collect()),
        ],
        meta: vec![("seed".into(), seed.to_string())],
    }
}

fn key(seed: u64) -> Key {
    let mut k = KeyBuilder::new("test", "native");
    k.param("seed", Param::Int(seed as i64)).unwrap();
    k.key()
}

type Never = IctError;

fn get(cache: &AnalysisCache, seed: u64, runs: &AtomicUsize) -> (Arc<ResultTable>, Source) {
    cache
        .get_or_compute::<Never, _>(key(seed), "native.test", || {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(result(seed, 1000))
        })
        .unwrap()
}

fn memory_only(bytes: u64, eviction: Eviction) -> AnalysisCache {
    AnalysisCache::open(
        None,
        CacheConfig {
            max_memory_bytes: bytes,
            eviction,
            ..every_write()
        },
    )
    .unwrap()
}

/// C7: a scripted sequence with exact counts, through both tiers.
#[test]
fn statistics_count_exactly() {
    let root = dir("stats");
    let runs = AtomicUsize::new(0);
    let cache = AnalysisCache::open(Some(&root), every_write()).unwrap();
    assert_eq!(get(&cache, 1, &runs).1, Source::Computed);
    assert_eq!(get(&cache, 1, &runs).1, Source::Memory);
    assert_eq!(get(&cache, 2, &runs).1, Source::Computed);
    // A second cache over the same directory (another process, say) finds both on disk.
    let other = AnalysisCache::open(Some(&root), every_write()).unwrap();
    assert_eq!(get(&other, 1, &runs).1, Source::Disk);
    assert_eq!(get(&other, 1, &runs).1, Source::Memory);
    assert_eq!(get(&other, 3, &runs).1, Source::Computed);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    let s = cache.stats().unwrap();
    assert_eq!(
        (s.memory_hits, s.disk_hits, s.misses, s.corrupt),
        (1, 0, 2, 0)
    );
    assert_eq!((s.entries, s.disk_writes), (2, 2));
    let s = other.stats().unwrap();
    assert_eq!(
        (s.memory_hits, s.disk_hits, s.misses, s.corrupt),
        (1, 1, 1, 0)
    );
    assert_eq!(s.entries, 2);
    assert!(s.bytes_on_disk > 0 && s.compression_ratio() > 2.0, "{s:?}");
    cache.clear().unwrap();
    assert_eq!(get(&cache, 1, &runs).1, Source::Computed);
    std::fs::remove_dir_all(root).unwrap();
}

/// C6: 16 threads asking for one key at once run the computation once.
#[test]
fn concurrent_requests_compute_once() {
    let cache = memory_only(64 << 20, Eviction::TinyLfu);
    let runs = AtomicUsize::new(0);
    let barrier = std::sync::Barrier::new(16);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                barrier.wait();
                let (value, _) = cache
                    .get_or_compute::<Never, _>(key(9), "native.test", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                        Ok(result(9, 1000))
                    })
                    .unwrap();
                assert_eq!(*value, result(9, 1000));
            });
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let s = cache.stats().unwrap();
    assert_eq!((s.misses, s.memory_hits), (1, 15));
}

/// An error from the computation reaches the caller and caches nothing.
#[test]
fn errors_are_not_cached() {
    let cache = memory_only(1 << 20, Eviction::Lru);
    let err = cache
        .get_or_compute(key(1), "native.test", || {
            Err(IctError::parameter("x", "bad input"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("bad input"), "{err}");
    let runs = AtomicUsize::new(0);
    assert_eq!(get(&cache, 1, &runs).1, Source::Computed);
}

/// C5, memory: after pending work the weighted size is within the budget, whatever the
/// policy, and evictions are counted.
#[test]
fn the_memory_tier_stays_within_its_budget() {
    for eviction in [Eviction::Lru, Eviction::TinyLfu] {
        let budget = 200_000;
        let cache = memory_only(budget, eviction);
        let runs = AtomicUsize::new(0);
        for seed in 0..100 {
            get(&cache, seed, &runs); // 16 kB + overhead each: ~12 fit
        }
        let s = cache.stats().unwrap();
        assert!(s.bytes_in_memory <= budget, "{eviction:?}: {s:?}");
        assert!(s.entries <= 13 && s.evictions > 0, "{eviction:?}: {s:?}");
    }
}

/// C5 and T5, disk: as entries are written the tier never holds more than its budget plus
/// one entry (a write that goes over sweeps down to 90%); the most recently used entries
/// are the ones kept, and an explicit sweep keeps it within the budget.
#[test]
fn the_disk_tier_is_swept_to_its_budget() {
    let root = dir("sweep");
    let one = {
        let probe = dir("probe");
        let tier = DiskTier::open(&probe, u64::MAX, None, false).unwrap();
        let meta = EntryMeta {
            detector: "native.test".into(),
            created_ns: 0,
            compute_ns: 0,
        };
        let (_, _, file) = tier.put(&key(0), &result(0, 1000), &meta).unwrap();
        std::fs::remove_dir_all(probe).unwrap();
        file
    };
    let budget = one * 10;
    let config = CacheConfig {
        max_disk_bytes: budget,
        ..every_write()
    };
    let cache = AnalysisCache::open(Some(&root), config).unwrap();
    let runs = AtomicUsize::new(0);
    let disk = cache.disk().unwrap();
    let mut most = 0;
    for seed in 0..30 {
        // Older mtimes for earlier entries (file times can be coarse).
        let when = std::time::SystemTime::now() - Duration::from_secs(1000 - seed * 10);
        for earlier in seed.saturating_sub(3)..seed {
            if let Ok(f) = std::fs::File::options()
                .write(true)
                .open(disk.entry_path(&key(earlier)))
            {
                f.set_modified(when - Duration::from_secs(100)).unwrap();
            }
        }
        get(&cache, seed, &runs);
        most = most.max(disk.bytes().unwrap());
    }
    assert!(most <= budget + one, "{most} > {budget} + {one}");
    let swept = cache.sweep().unwrap();
    assert!(swept.ran && swept.bytes <= budget, "{swept:?}");
    assert!(disk.bytes().unwrap() <= budget);
    assert!(disk.entry_path(&key(29)).exists() && !disk.entry_path(&key(0)).exists());
    std::fs::remove_dir_all(root).unwrap();
}

/// C1: damaged, truncated, zeroed, swapped and other-version entries are each a miss, a
/// recompute equal to a fresh computation, and a counted corrupt entry; the bad file is
/// quarantined and the recomputed one replaces it.
#[test]
fn damaged_entries_are_misses_never_wrong_answers() {
    let root = dir("corrupt");
    let runs = AtomicUsize::new(0);
    let writer = AnalysisCache::open(Some(&root), every_write()).unwrap();
    get(&writer, 1, &runs);
    get(&writer, 2, &runs);
    let disk = writer.disk().unwrap();
    let (p1, p2) = (disk.entry_path(&key(1)), disk.entry_path(&key(2)));
    let good1 = std::fs::read(&p1).unwrap();
    let good2 = std::fs::read(&p2).unwrap();
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "bit flip in the payload",
            Box::new(|b| {
                let at = b.len() - 5;
                b[at] ^= 0x10;
            }),
        ),
        ("bit flip in the header", Box::new(|b| b[30] ^= 1)),
        ("truncation", Box::new(|b| b.truncate(b.len() / 2))),
        ("empty file", Box::new(|b| b.clear())),
        (
            "zero fill",
            Box::new(|b| b.iter_mut().skip(40).for_each(|x| *x = 0)),
        ),
        (
            "the other key's entry",
            Box::new(move |b| b.clone_from(&good2)),
        ),
        ("another format version", Box::new(|b| b[8] = 9)),
    ];
    for (round, (what, damage)) in damages.iter().enumerate() {
        let mut bytes = good1.clone();
        damage(&mut bytes);
        std::fs::write(&p1, &bytes).unwrap();
        // A fresh process-like cache (empty memory tier) over the same directory.
        let cache = AnalysisCache::open(Some(&root), every_write()).unwrap();
        let before = runs.load(Ordering::SeqCst);
        let (value, source) = get(&cache, 1, &runs);
        assert_eq!(source, Source::Computed, "{what}");
        assert_eq!(*value, result(1, 1000), "{what}");
        assert_eq!(runs.load(Ordering::SeqCst), before + 1, "{what}");
        let s = cache.stats().unwrap();
        assert_eq!((s.corrupt, s.misses), (1, 1), "{what} (round {round})");
        assert!(p1.with_extension("corrupt").exists(), "{what}: quarantined");
        // The recomputed entry replaced it and validates.
        let (table, _) = entry::decode(&std::fs::read(&p1).unwrap(), &key(1)).unwrap();
        assert_eq!(table, result(1, 1000), "{what}");
        assert_eq!(get(&cache, 2, &runs).1, Source::Disk);
    }
    std::fs::write(&p2, b"").unwrap();
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn nonsense_settings_are_refused() {
    for ttl in [Duration::ZERO, Duration::from_secs(u64::MAX / 4)] {
        let config = CacheConfig {
            ttl: Some(ttl),
            ..every_write()
        };
        assert!(AnalysisCache::open(None, config).is_err());
    }
}

/// The ttl drops entries from memory and, by age, from disk.
#[test]
fn ttl_expires_entries() {
    let root = dir("ttl");
    let config = CacheConfig {
        ttl: Some(Duration::from_millis(200)),
        ..every_write()
    };
    let cache = AnalysisCache::open(Some(&root), config).unwrap();
    let runs = AtomicUsize::new(0);
    get(&cache, 1, &runs);
    std::thread::sleep(Duration::from_millis(1300)); // past the ttl, and a new mtime second
    let swept = cache.sweep().unwrap();
    assert_eq!(swept.removed_entries, 1, "{swept:?}");
    assert_eq!(get(&cache, 1, &runs).1, Source::Computed);
    std::fs::remove_dir_all(root).unwrap();
}

/// T1: the cache removes, truncates or writes only its own files. A directory holding
/// anything else is refused at open (the files of the adversarial review: a draft in a
/// two-hex-digit folder, a database, a store), and files that appear in a cache root later
/// (foreign names, links) are left alone by lookups, writes, sweeps and `clear`.
#[test]
fn only_its_own_files_are_ever_touched() {
    let config = || CacheConfig {
        ttl: Some(Duration::from_secs(1)),
        max_disk_bytes: 1,
        ..every_write()
    };
    for (folder, file) in [
        ("ab", "draft.tmp"),
        ("db", "users.sqlite"),
        ("AA", "1h.ictc"),
    ] {
        let root = dir("foreign");
        std::fs::create_dir_all(root.join(folder)).unwrap();
        let path = root.join(folder).join(file);
        std::fs::write(&path, b"user data").unwrap();
        let err = AnalysisCache::open(Some(&root), config()).unwrap_err();
        assert!(err.to_string().contains("not an ictcore cache"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"user data");
        std::fs::remove_dir_all(root).unwrap();
    }
    // A store's root is refused even when it holds nothing but its marker.
    let root = dir("store-root");
    std::fs::write(root.join(".ictcore-store"), b"ictcore candle store\n").unwrap();
    assert!(AnalysisCache::open(Some(&root), config()).is_err());
    std::fs::remove_dir_all(&root).unwrap();

    // Inside a cache root: foreign files, a link posing as an entry and a link posing as
    // the sweep lock survive everything the cache does.
    let root = dir("own");
    let outside = dir("outside");
    let target = outside.join("precious");
    std::fs::write(&target, b"precious").unwrap();
    let cache = AnalysisCache::open(Some(&root), config()).unwrap();
    let runs = AtomicUsize::new(0);
    get(&cache, 1, &runs);
    let entry = cache.disk().unwrap().entry_path(&key(1));
    let shard = entry.parent().unwrap().to_path_buf();
    std::fs::write(shard.join("draft.tmp"), b"user draft").unwrap();
    let linked = cache.disk().unwrap().entry_path(&key(2));
    std::fs::create_dir_all(linked.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &linked).unwrap();
    std::fs::remove_file(root.join(".sweep.lock")).unwrap();
    std::os::unix::fs::symlink(&target, root.join(".sweep.lock")).unwrap();
    assert!(cache.sweep().is_err(), "a linked sweep lock is refused");
    assert_eq!(get(&cache, 2, &runs).1, Source::Computed); // the link is a miss ...
    assert!(std::fs::symlink_metadata(&linked)
        .unwrap()
        .file_type()
        .is_symlink()); // ... left
    cache.clear().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let _ = cache.sweep();
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    assert_eq!(
        std::fs::read(shard.join("draft.tmp")).unwrap(),
        b"user draft"
    );
    assert!(!entry.exists(), "its own entry was cleared");
    // A shard directory that is a link is never written through.
    let (hex2, hex3) = (key(3).to_string(), key(4).to_string());
    for hex in [hex2, hex3] {
        let shard = root.join(&hex[..2]);
        if !shard.exists() {
            std::os::unix::fs::symlink(&outside, &shard).unwrap();
        }
    }
    get(&cache, 3, &runs);
    get(&cache, 4, &runs);
    let mut names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from("precious")]);
    std::fs::remove_dir_all(root).unwrap();
    std::fs::remove_dir_all(outside).unwrap();
}

/// A cache directory written by a build from before the marker (entries, a sweep lock, a
/// temp file) is adopted: it holds nothing but the cache's own files.
#[test]
fn a_cache_from_before_the_marker_is_adopted() {
    let root = dir("legacy");
    let runs = AtomicUsize::new(0);
    let cache = AnalysisCache::open(Some(&root), every_write()).unwrap();
    get(&cache, 1, &runs);
    drop(cache);
    std::fs::remove_file(root.join(disk::MARKER)).unwrap();
    let cache = AnalysisCache::open(Some(&root), every_write()).unwrap();
    assert_eq!(get(&cache, 1, &runs).1, Source::Disk);
    assert!(root.join(disk::MARKER).exists());
    std::fs::remove_dir_all(root).unwrap();
}

/// T2: a crafted entry whose lengths promise far more than its bytes can hold (with every
/// checksum recomputed, as an attacker would) is a corrupt miss, never an allocation abort.
#[test]
fn crafted_lengths_are_refused_before_allocating() {
    let table = result(1, 1000);
    let meta = EntryMeta {
        detector: "native.test".into(),
        created_ns: 0,
        compute_ns: 0,
    };
    let good = entry::encode(&key(1), &table, &meta).bytes;
    // Locate the first column's raw length: after magic, version, key, times, two strings,
    // the column count, the name and two codes.
    let name_len = "native.test".len() + 2 + crate::VERSION.len() + 2;
    let first = 8 + 2 + 16 + 16 + name_len + 4 + 2 + "level".len() + 2;
    for claimed in [1u64 << 36, 1 << 34, 1 << 33, u64::MAX - 7, (1 << 40) + 8] {
        let mut bytes = good.clone();
        bytes[first..first + 8].copy_from_slice(&claimed.to_le_bytes());
        reseal(&mut bytes);
        let err = entry::decode(&bytes, &key(1)).unwrap_err();
        assert!(!err.0.is_empty());
    }
}

/// Recomputes an entry's header checksum after a test edited its header (the header ends
/// with the two payload checksums, then its own).
fn reseal(bytes: &mut [u8]) {
    // Walk the header as the decoder does to find its end.
    let mut at = 8 + 2 + 16 + 16;
    for _ in 0..2 {
        let n = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        at += 2 + n;
    }
    let columns = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    at += 4;
    for _ in 0..columns {
        let n = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        at += 2 + n + 2 + 16;
    }
    at += 16;
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[..at]);
    bytes[at..at + 8].copy_from_slice(&sum.to_le_bytes());
}

/// T3: a computation that asks its own cache for its own key gets an error naming the key,
/// instead of waiting for itself forever; other keys and other caches still work inside.
#[test]
fn a_reentrant_request_is_an_error_not_a_deadlock() {
    let cache = memory_only(1 << 20, Eviction::Lru);
    let other = memory_only(1 << 20, Eviction::Lru);
    let runs = AtomicUsize::new(0);
    let err = cache
        .get_or_compute(key(1), "native.test", || {
            // Another key of this cache, and the same key of another cache, are fine.
            get(&cache, 2, &runs);
            get(&other, 1, &runs);
            cache
                .get_or_compute::<IctError, _>(key(1), "native.test", || Ok(result(1, 10)))
                .map_err(|e| (*e).clone())?;
            Ok(result(1, 10))
        })
        .unwrap_err();
    assert!(matches!(*err, IctError::Reentrant { .. }), "{err}");
    assert!(err.to_string().contains(&key(1).to_string()), "{err}");
    // Nothing is left marked: the key computes normally now.
    assert_eq!(get(&cache, 1, &runs).1, Source::Computed);
}

/// By default only results that took longer to compute than reading them back would take go
/// to disk (the others stay in the memory tier when they went through it, and are not kept
/// by `fill`/`fill_computed`, which bypass it).
#[test]
fn only_results_that_pay_are_written_by_default() {
    assert!(!pays_to_keep(10_000, 1 << 20)); // 10 us for 1 MiB: read back costs ~3 ms
    assert!(pays_to_keep(5_000_000, 1 << 20)); // 5 ms for 1 MiB
    assert!(!pays_to_keep(40_000, 0)); // under the fixed cost of a read
    assert!(!pays_to_keep(1_000_000_000, u64::MAX)); // no overflow
    let root = dir("pays");
    let cache = AnalysisCache::open(Some(&root), CacheConfig::default()).unwrap();
    let table = Arc::new(ResultTable::new(vec![Column::f64("x", vec![1.0; 1 << 17])]));
    let key = |i: i64| {
        let mut k = KeyBuilder::new("d", "native");
        k.param("i", Param::Int(i)).unwrap();
        k.key()
    };
    cache.fill_computed(key(1), "native.d", &table, 1_000);
    cache.fill_computed(key(2), "native.d", &table, 50_000_000);
    let stats = cache.stats().unwrap();
    assert_eq!((stats.disk_writes, stats.skipped_writes), (1, 1));
    assert_eq!(cache.contains(&key(1)), None);
    assert_eq!(cache.contains(&key(2)), Some(Source::Disk));
    let all = AnalysisCache::open(Some(&root.join("all")), every_write()).unwrap();
    all.fill_computed(key(1), "native.d", &table, 1_000);
    assert_eq!(all.stats().unwrap().disk_writes, 1);
    std::fs::remove_dir_all(&root).ok();
}

/// A note replaces its own entry (content-addressed entries keep the first), and leaves a
/// file under its name that is not its entry alone.
#[test]
fn a_note_replaces_its_own_entry_only() {
    let root = dir("note");
    let tier = DiskTier::open(&root, u64::MAX, None, false).unwrap();
    let meta = EntryMeta {
        detector: "native.test".into(),
        created_ns: 0,
        compute_ns: 0,
    };
    let read = |k: &Key| match tier.get(k) {
        crate::cache::disk::Lookup::Hit(t, _) => Some(t),
        _ => None,
    };
    tier.put(&key(1), &result(1, 10), &meta).unwrap();
    tier.put(&key(1), &result(2, 10), &meta).unwrap();
    assert_eq!(read(&key(1)), Some(result(1, 10)));
    tier.put_replacing(&key(1), &result(2, 10), &meta).unwrap();
    assert_eq!(read(&key(1)), Some(result(2, 10)));
    // Another key's entry copied under this name is not this key's entry: left alone.
    tier.put(&key(3), &result(3, 10), &meta).unwrap();
    std::fs::copy(tier.entry_path(&key(3)), tier.entry_path(&key(1))).unwrap();
    let before = std::fs::read(tier.entry_path(&key(1))).unwrap();
    assert!(tier.put_replacing(&key(1), &result(4, 10), &meta).is_err());
    assert_eq!(std::fs::read(tier.entry_path(&key(1))).unwrap(), before);
    std::fs::remove_dir_all(root).unwrap();
}

/// A result computed in another process is stored as `get_or_compute` would store it, and
/// found by `lookup` from memory, then (in a new cache object) from disk; a miss is not
/// counted by `lookup`.
#[test]
fn results_computed_elsewhere_are_kept_and_found() {
    let d = dir("elsewhere");
    let cache = AnalysisCache::open(Some(&d), every_write()).unwrap();
    assert!(cache.lookup(&key(1)).is_none());
    assert_eq!(cache.stats().unwrap().misses, 0);
    cache.keep_computed(key(1), "python.test", Arc::new(result(1, 100)), 5_000_000);
    let s = cache.stats().unwrap();
    assert_eq!((s.misses, s.disk_writes), (1, 1));
    let (hit, source) = cache.lookup(&key(1)).unwrap();
    assert_eq!((*hit == result(1, 100), source), (true, Source::Memory));
    let reopened = AnalysisCache::open(Some(&d), every_write()).unwrap();
    let (hit, source) = reopened.lookup(&key(1)).unwrap();
    assert_eq!((*hit == result(1, 100), source), (true, Source::Disk));
    assert_eq!(reopened.lookup(&key(1)).unwrap().1, Source::Memory);
    // Under the paying rule a result that took no time is not written, but kept in memory.
    let d = dir("elsewhere-paying");
    let paying = AnalysisCache::open(Some(&d), CacheConfig::default()).unwrap();
    paying.keep_computed(key(2), "python.test", Arc::new(result(2, 100)), 0);
    assert_eq!(paying.lookup(&key(2)).unwrap().1, Source::Memory);
    assert_eq!(paying.stats().unwrap().skipped_writes, 1);
    let reopened = AnalysisCache::open(Some(&d), CacheConfig::default()).unwrap();
    assert!(reopened.lookup(&key(2)).is_none());
}

/// With compression off (the engine config's `compression_enabled: false`) entries hold the
/// columns' bytes as they are; they read back the same, and a cache with compression on
/// reads them too (and the reverse): the filter is recorded per column.
#[test]
fn compression_off_stores_columns_as_they_are() {
    let root = dir("stored");
    let table = Arc::new(ResultTable::new(vec![
        Column::f64("x", vec![1.5; 1 << 14]),
        Column::f64("y", (0..1 << 14).map(f64::from).collect()),
    ]));
    let key = |i: i64| {
        let mut k = KeyBuilder::new("d", "native");
        k.param("i", Param::Int(i)).unwrap();
        k.key()
    };
    let plain = CacheConfig {
        compression: false,
        ..every_write()
    };
    let stored = AnalysisCache::open(Some(&root), plain).unwrap();
    stored.fill_computed(key(1), "native.d", &table, 1);
    let s = stored.stats().unwrap();
    assert_eq!(s.compressed_bytes_written, s.raw_bytes_written);
    let packed = AnalysisCache::open(Some(&root), every_write()).unwrap();
    packed.fill_computed(key(2), "native.d", &table, 1);
    assert!(packed.stats().unwrap().compressed_bytes_written < s.raw_bytes_written / 10);
    for cache in [&stored, &packed] {
        for i in [1, 2] {
            let (got, _) = cache.lookup(&key(i)).unwrap();
            assert_eq!(*got, *table);
        }
    }
    std::fs::remove_dir_all(&root).ok();
}
