//! CSV import: MT5 exports (`Date` as `YYYY.MM.DD HH:MM:SS` or separate `<DATE>`/`<TIME>`
//! columns, `Tickvol`/`Volume`) and generic OHLCV files with a time column, parsed with the
//! `csv` crate. The whole file is parsed and checked before anything is stored, and every
//! error names the file and line.

use crate::error::{io_error, IctError, Result};
use chrono::NaiveDate;
use std::path::Path;

/// Which volume column to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeColumn {
    /// `volume` when present and not all zero, else a tick volume column, else zeros.
    Auto,
    /// This column (matched case-insensitively, `<>` stripped).
    Named(String),
    /// Zeros.
    Zero,
}

/// A parsed file, validated: strictly increasing time, finite values, high >= max(open,
/// close), low <= min(open, close).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCsv {
    pub time: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    /// The column used as volume (None: zeros).
    pub volume_column: Option<String>,
}

fn parse_error(path: &Path, line: u64, message: impl Into<String>) -> IctError {
    IctError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Nanoseconds since the epoch (UTC) of `YYYY-MM-DD`, `YYYY.MM.DD` or `YYYY/MM/DD`,
/// optionally followed by ` ` or `T` and `HH:MM[:SS[.fraction]]`, and optionally by `Z` or a
/// `+HH:MM` / `-HH:MM` offset.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let s = text.trim();
    // `get` rather than `split_at`: a multi-byte character must not panic, only fail.
    let (date, rest) = (s.get(..10)?, s.get(10..)?);
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b[7] || !matches!(b[4], b'-' | b'.' | b'/') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| date.get(r)?.parse::<u32>().ok();
    let day = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let mut rest = rest;
    let mut offset_seconds: i64 = 0;
    if let Some(stripped) = rest.strip_suffix('Z') {
        rest = stripped;
    } else if let (Some(body), Some(tz)) = (
        rest.get(..rest.len().saturating_sub(6)),
        rest.get(rest.len().saturating_sub(6)..),
    ) {
        let t = tz.as_bytes();
        if t.len() == 6 && !body.is_empty() && matches!(t[0], b'+' | b'-') && t[3] == b':' {
            let h: i64 = tz.get(1..3)?.parse().ok()?;
            let m: i64 = tz.get(4..6)?.parse().ok()?;
            offset_seconds = (h * 3600 + m * 60) * if t[0] == b'-' { -1 } else { 1 };
            rest = body;
        }
    }
    let (h, m, sec, nanos) = if rest.is_empty() {
        (0, 0, 0, 0)
    } else {
        let clock = rest.strip_prefix([' ', 'T'])?;
        let mut parts = clock.splitn(3, ':');
        let h: u32 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let (sec, nanos) = match parts.next() {
            None => (0, 0),
            Some(sec) => match sec.split_once('.') {
                None => (sec.parse().ok()?, 0),
                Some((whole, frac)) => {
                    if frac.is_empty()
                        || frac.len() > 9
                        || !frac.bytes().all(|c| c.is_ascii_digit())
                    {
                        return None;
                    }
                    let scaled: u32 = format!("{frac:0<9}").parse().ok()?;
                    (whole.parse().ok()?, scaled)
                }
            },
        };
        (h, m, sec, nanos)
    };
    let naive = day.and_hms_nano_opt(h, m, sec, nanos)?;
    naive
        .and_utc()
        .timestamp_nanos_opt()?
        .checked_sub(offset_seconds.checked_mul(1_000_000_000)?)
}

fn normalize(name: &str) -> String {
    name.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_ascii_lowercase()
}

/// Parses a CSV file of candles; see the module documentation.
pub fn parse_csv(path: &Path, volume: &VolumeColumn) -> Result<ParsedCsv> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',');
    // No csv-level trimming (it copies every record); fields are trimmed as &str below.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(bytes.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| parse_error(path, 1, e.to_string()))?
        .iter()
        .map(normalize)
        .collect();
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.iter().position(|h| h == n))
    };
    let need = |name: &str| {
        find(&[name]).ok_or_else(|| {
            parse_error(
                path,
                1,
                format!("no '{name}' column (header: {})", headers.join(", ")),
            )
        })
    };
    // Time: separate MT5 <DATE> and <TIME> columns, or one datetime column.
    let (time_at, clock_at) = match (find(&["date"]), find(&["time"])) {
        (Some(d), Some(t)) => (d, Some(t)),
        _ => (
            find(&["datetime", "timestamp", "time", "date"]).ok_or_else(|| {
                parse_error(
                    path,
                    1,
                    format!("no time column (header: {})", headers.join(", ")),
                )
            })?,
            None,
        ),
    };
    let (open_at, high_at, low_at, close_at) =
        (need("open")?, need("high")?, need("low")?, need("close")?);
    let tick_names = ["tickvol", "tick_volume", "tickvolume", "vol"];

    let mut out = ParsedCsv {
        time: Vec::new(),
        open: Vec::new(),
        high: Vec::new(),
        low: Vec::new(),
        close: Vec::new(),
        volume: Vec::new(),
        volume_column: None,
    };
    let named_volume = match volume {
        VolumeColumn::Named(name) => Some(need(&normalize(name))?),
        _ => None,
    };
    let volume_at = find(&["volume"]);
    let tick_at = find(&tick_names);
    let mut volumes: Vec<f64> = Vec::new();
    let mut ticks: Vec<f64> = Vec::new();
    let mut lines: Vec<u64> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut stamp = String::new();
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            parse_error(
                path,
                e.position().map_or(0, csv::Position::line),
                e.to_string(),
            )
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        let field = |at: usize, name: &str| -> Result<&str> {
            let raw = record
                .get(at)
                .ok_or_else(|| parse_error(path, line, format!("missing field '{name}'")))?;
            std::str::from_utf8(raw)
                .map(str::trim)
                .map_err(|_| parse_error(path, line, format!("field '{name}' is not UTF-8")))
        };
        let number = |at: usize, name: &str| -> Result<f64> {
            let text = field(at, name)?;
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    parse_error(
                        path,
                        line,
                        format!("{name} {text:?} is not a finite number"),
                    )
                })
        };
        let text = match clock_at {
            Some(c) => {
                stamp.clear();
                stamp.push_str(field(time_at, "date")?);
                stamp.push(' ');
                stamp.push_str(field(c, "time")?);
                stamp.as_str()
            }
            None => field(time_at, "time")?,
        };
        let t = parse_datetime(text)
            .ok_or_else(|| parse_error(path, line, format!("time {text:?} is not a date-time")))?;
        out.time.push(t);
        out.open.push(number(open_at, "open")?);
        out.high.push(number(high_at, "high")?);
        out.low.push(number(low_at, "low")?);
        out.close.push(number(close_at, "close")?);
        if let Some(at) = named_volume.or(volume_at) {
            volumes.push(number(at, "volume")?);
        }
        if let Some(at) = tick_at.filter(|_| named_volume.is_none()) {
            ticks.push(number(at, "tick volume")?);
        }
        lines.push(line);
    }
    let n = out.time.len();
    (out.volume, out.volume_column) = match volume {
        VolumeColumn::Named(name) => (volumes, Some(normalize(name))),
        VolumeColumn::Zero => (vec![0.0; n], None),
        VolumeColumn::Auto => {
            let real = volume_at.is_some() && volumes.iter().any(|v| *v != 0.0);
            if real || tick_at.is_none() && volume_at.is_some() {
                (volumes, Some("volume".into()))
            } else if let Some(at) = tick_at {
                (ticks, Some(headers[at].clone()))
            } else {
                (vec![0.0; n], None)
            }
        }
    };
    check_rows(path, &out, &lines)?;
    Ok(out)
}

/// The store's append rules, reported by file line.
fn check_rows(path: &Path, p: &ParsedCsv, lines: &[u64]) -> Result<()> {
    for i in 0..p.time.len() {
        if i > 0 && p.time[i] <= p.time[i - 1] {
            let what = if p.time[i] == p.time[i - 1] {
                "repeats"
            } else {
                "goes back from"
            };
            return Err(parse_error(
                path,
                lines[i],
                format!("time {what} the previous line's (line {})", lines[i - 1]),
            ));
        }
        let (o, h, l, c) = (p.open[i], p.high[i], p.low[i], p.close[i]);
        if h < o.max(c) || l > o.min(c) {
            return Err(parse_error(
                path,
                lines[i],
                format!("high {h} / low {l} do not contain open {o} and close {c}"),
            ));
        }
        if !p.volume[i].is_finite() {
            return Err(parse_error(path, lines[i], "volume is not finite"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        let base = 1_665_360_000_000_000_000; // 2022-10-10T00:00:00Z
        assert_eq!(parse_datetime("2022.10.10 00:00:00"), Some(base));
        assert_eq!(parse_datetime("2022-10-10"), Some(base));
        assert_eq!(
            parse_datetime("2022-10-10T00:15"),
            Some(base + 900_000_000_000)
        );
        assert_eq!(
            parse_datetime("2022/10/10 00:00:01.5Z"),
            Some(base + 1_500_000_000)
        );
        assert_eq!(parse_datetime("2022-10-10 02:00:00+02:00"), Some(base));
        for bad in [
            "",
            "2022-13-01",
            "2022-10-10 25:00",
            "10/10/2022",
            "2022-10-10x",
            "2022.10-10",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse_datetime(&text);
        }

        #[test]
        fn formatted_times_round_trip(secs in 0i64..4_000_000_000, frac in 0u32..1_000_000_000) {
            let t = chrono::DateTime::from_timestamp(secs, frac).unwrap();
            let text = t.format("%Y-%m-%d %H:%M:%S%.9f").to_string();
            proptest::prop_assert_eq!(parse_datetime(&text), t.timestamp_nanos_opt());
        }
    }

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ictcore-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn mt5_exports_in_both_layouts() {
        let a = write(
            "a.csv",
            "Date,Open,High,Low,Close,Tickvol,Volume,Spread\n\
             2022.10.10 00:00:00,0.97312,0.97369,0.97312,0.97357,60,0,20\n\
             2022.10.10 00:15:00,0.9735,0.97362,0.97328,0.97362,57,0,20\n",
        );
        let p = parse_csv(&a, &VolumeColumn::Auto).unwrap();
        assert_eq!(p.close, vec![0.97357, 0.97362]);
        assert_eq!(p.volume, vec![60.0, 57.0]); // Volume is all zero: tick volume instead
        assert_eq!(p.volume_column.as_deref(), Some("tickvol"));
        let b = write(
            "b.csv",
            "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n\
             2022.10.10\t00:00:00\t1\t2\t0.5\t1.5\t7\t0\t1\n",
        );
        let p = parse_csv(&b, &VolumeColumn::Named("VOL".into())).unwrap();
        assert_eq!((p.time[0], p.volume[0]), (1_665_360_000_000_000_000, 0.0));
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = write(
            "bad.csv",
            "time,open,high,low,close\n2024-01-01 00:00,1,2,0,1\n2024-01-01 00:01,1,x,0,1\n",
        );
        let err = parse_csv(&bad, &VolumeColumn::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.csv") && err.contains("line 3") && err.contains("high"),
            "{err}"
        );
        let order = write(
            "order.csv",
            "time,open,high,low,close\n2024-01-01 00:01,1,2,0,1\n2024-01-01 00:00,1,2,0,1\n",
        );
        let err = parse_csv(&order, &VolumeColumn::Auto)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("goes back"), "{err}");
        let missing = write("missing.csv", "time,open,high,low\n");
        let err = parse_csv(&missing, &VolumeColumn::Auto)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no 'close' column"), "{err}");
    }
}
