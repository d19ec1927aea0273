//! CSV import: MT5 exports (`Date` as `YYYY.MM.DD HH:MM:SS` or separate `<DATE>`/`<TIME>`
//! columns, `Tickvol`/`Volume`) and generic OHLCV files with a time column, parsed with the
//! `csv` crate (floats with `fast-float2`). The whole file is parsed and checked before
//! anything is stored, and every error names the file and line.
//!
//! Speed: a file without quote characters cannot have a record spanning lines, so it is cut
//! at line ends into one chunk per core and the chunks are parsed in parallel (each with its
//! own `csv` reader and its first line number); a file with quotes is parsed in one piece.

use super::source_zone::{SourceZone, ToUtc};
use crate::error::{io_error, IctError, Result};
use chrono::NaiveDate;
use std::ops::Range;
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
    parse_stamp(text).map(|(t, _)| t)
}

/// [`parse_datetime`], and whether the text carried its own offset (`Z` or `+HH:MM`).
fn parse_stamp(text: &str) -> Option<(i64, bool)> {
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
    let mut zoned = false;
    if let Some(stripped) = rest.strip_suffix('Z') {
        rest = stripped;
        zoned = true;
    } else if let (Some(body), Some(tz)) = (
        rest.get(..rest.len().saturating_sub(6)),
        rest.get(rest.len().saturating_sub(6)..),
    ) {
        let t = tz.as_bytes();
        if t.len() == 6 && !body.is_empty() && matches!(t[0], b'+' | b'-') && t[3] == b':' {
            let h: i64 = tz.get(1..3)?.parse().ok()?;
            let m: i64 = tz.get(4..6)?.parse().ok()?;
            // Real offsets run from -12:00 to +14:00; anything else is a damaged time, not
            // one to shift by.
            if h > 14 || m > 59 || (h == 14 && m > 0) {
                return None;
            }
            offset_seconds = (h * 3600 + m * 60) * if t[0] == b'-' { -1 } else { 1 };
            rest = body;
            zoned = true;
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
    let utc = naive
        .and_utc()
        .timestamp_nanos_opt()?
        .checked_sub(offset_seconds.checked_mul(1_000_000_000)?)?;
    Some((utc, zoned))
}

fn normalize(name: &str) -> String {
    name.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_ascii_lowercase()
}

/// Below this many bytes per chunk, threads cost more than they save.
const MIN_CHUNK_BYTES: usize = 1 << 20;

/// Where each field is, found from the header.
struct Layout {
    delimiter: u8,
    /// Fields in the header: every record must have as many.
    fields: usize,
    time_at: usize,
    /// MT5's separate `<TIME>` column, joined to `<DATE>` with a space.
    clock_at: Option<usize>,
    open_at: usize,
    high_at: usize,
    low_at: usize,
    close_at: usize,
    /// The column read as volume (`volume`, or the one named by the caller).
    volume_at: Option<usize>,
    /// A tick volume column, read when no volume column was named.
    tick_at: Option<usize>,
    /// The zone of the file's naive times: when it is not UTC, a time with its own offset
    /// is refused (which zone would it be in?).
    zone: SourceZone,
}

/// The rows of one chunk, already checked row by row.
#[derive(Default)]
struct Chunk {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volumes: Vec<f64>,
    ticks: Vec<f64>,
    /// Where the first and last record start (bytes into the body), for the check across
    /// chunk boundaries; their lines are counted only if it fails.
    first_start: u64,
    last_start: u64,
}

/// Parses a CSV file of candles; see the module documentation. Naive times are in `zone`
/// and converted to UTC (see [`super::source_zone`]).
pub fn parse_csv(path: &Path, volume: &VolumeColumn, zone: SourceZone) -> Result<ParsedCsv> {
    // A regular file, read no further than its length at open: a device or a pipe
    // (`/dev/zero`) would otherwise be read without end.
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let meta = file.metadata().map_err(io_error(path))?;
    if !meta.is_file() {
        return Err(IctError::parameter(
            "csv",
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(meta.len() as usize)
        .map_err(|e| io_error(path)(std::io::Error::other(e.to_string())))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, meta.len()), &mut bytes)
        .map_err(io_error(path))?;
    let delimiter = detect_delimiter(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(bytes.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| parse_error(path, 1, e.to_string()))?
        .iter()
        .map(normalize)
        .collect();
    // After the header: where the records start, in bytes and lines.
    let body_at = record_start(&bytes, reader.position().byte());
    let body_line = line_of(&bytes, 1, reader.position().byte());
    let body = bytes.get(body_at..).unwrap_or_default();
    let layout = layout(path, &headers, delimiter, volume, zone)?;

    let pieces = split(body);
    let parse = |range: &Range<usize>| parse_chunk(path, &layout, body, range.clone(), body_line);
    let parsed: Vec<Result<Chunk>> = if pieces.len() == 1 {
        pieces.iter().map(parse).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = pieces
                .iter()
                .map(|range| scope.spawn(|| parse(range)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(IctError::Internal {
                            context: format!("import of {}", path.display()),
                            message: "a CSV parsing thread panicked".into(),
                        })
                    })
                })
                .collect()
        })
    };
    let mut chunks = parsed.into_iter().collect::<Result<Vec<Chunk>>>()?;
    if let SourceZone::Named { .. } = zone {
        // Wall-clock times may repeat at a fall-back, so order is checked after the
        // conversion, in one pass over the rows (a repeated hour is told by its neighbour).
        let mut to_utc = ToUtc::new(zone);
        let mut previous: Option<i64> = None;
        let mut row = 0usize;
        let line = |row: usize| line_of_row(body, body_line, layout.delimiter, row);
        for chunk in &mut chunks {
            for t in &mut chunk.time {
                let local = *t;
                *t = to_utc.convert(local, previous).map_err(|_| {
                    parse_error(
                        path,
                        line(row),
                        format!(
                            "time {} does not exist in {}: the clocks skip it (is the file in that zone?)",
                            format_time(local),
                            zone
                        ),
                    )
                })?;
                if let Some(before) = previous.filter(|&before| *t <= before) {
                    return Err(order_error(path, *t == before, line(row), line(row - 1)));
                }
                previous = Some(*t);
                row += 1;
            }
        }
        return Ok(merge(chunks, &headers, &layout, volume));
    }
    if let SourceZone::Fixed(_) = zone {
        let mut to_utc = ToUtc::new(zone);
        for t in chunks.iter_mut().flat_map(|c| c.time.iter_mut()) {
            *t = to_utc.convert(*t, None).unwrap_or(*t);
        }
    }
    // Each chunk checked its own rows; time must also increase across the cuts.
    for pair in chunks.windows(2) {
        if let (Some(&before), Some(&after)) = (pair[0].time.last(), pair[1].time.first()) {
            if after <= before {
                return Err(order_error(
                    path,
                    after == before,
                    line_of(body, body_line, pair[1].first_start),
                    line_of(body, body_line, pair[0].last_start),
                ));
            }
        }
    }
    Ok(merge(chunks, &headers, &layout, volume))
}

/// The delimiter of a file: the most frequent of `,`, tab and `;` in its first line.
fn detect_delimiter(bytes: &[u8]) -> u8 {
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',')
}

/// The file line of the `row`-th record (from 0) of a CSV file [`parse_csv`] read, read
/// afresh (only for errors, so the parse need not count lines); None when it cannot be
/// read again.
pub fn record_line(path: &Path, row: usize) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(&bytes))
        .from_reader(bytes.as_slice());
    reader.headers().ok()?;
    let byte = reader.position().byte();
    let body = bytes.get(record_start(&bytes, byte)..)?;
    let body_line = line_of(&bytes, 1, byte);
    Some(line_of_row(body, body_line, detect_delimiter(&bytes), row))
}

fn layout(
    path: &Path,
    headers: &[String],
    delimiter: u8,
    volume: &VolumeColumn,
    zone: SourceZone,
) -> Result<Layout> {
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
    let named_volume = match volume {
        VolumeColumn::Named(name) => Some(need(&normalize(name))?),
        _ => None,
    };
    Ok(Layout {
        delimiter,
        fields: headers.len(),
        time_at,
        clock_at,
        open_at: need("open")?,
        high_at: need("high")?,
        low_at: need("low")?,
        close_at: need("close")?,
        volume_at: named_volume.or(find(&["volume"])),
        tick_at: find(&["tickvol", "tick_volume", "tickvolume", "vol"])
            .filter(|_| named_volume.is_none()),
        zone,
    })
}

/// The file line of the `row`-th record (from 0) of `body`; only called for errors.
fn line_of_row(body: &[u8], body_line: u64, delimiter: u8, row: usize) -> u64 {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    for _ in 0..row {
        if !reader.read_byte_record(&mut record).unwrap_or(false) {
            break;
        }
    }
    line_of(body, body_line, reader.position().byte())
}

/// `YYYY-MM-DD HH:MM:SS` of nanoseconds since the epoch (for a wall-clock time held as if it
/// were UTC, its wall clock), for error messages.
pub(crate) fn format_time(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Cuts the records into one byte range per core at line ends; one range when the text is
/// small or has quotes (a quoted field may hold a line end).
fn split(body: &[u8]) -> Vec<Range<usize>> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let pieces = cores.min(body.len() / MIN_CHUNK_BYTES).max(1);
    if pieces == 1 || memchr::memchr(b'"', body).is_some() {
        return std::iter::once(0..body.len()).collect();
    }
    let mut out = Vec::with_capacity(pieces);
    let mut from = 0;
    for k in 1..=pieces {
        let to = if k == pieces {
            body.len()
        } else {
            let target = body.len() / pieces * k;
            body.get(target..)
                .and_then(|rest| memchr::memchr(b'\n', rest))
                .map_or(body.len(), |at| target + at + 1)
                .max(from)
        };
        out.push(from..to);
        from = to;
    }
    out
}

/// The file line of the record whose reading started at `byte` of `text` (whose first
/// line is `first_line`). Counted from the bytes rather than taken from `csv::Position`,
/// whose line lags by one after a CRLF line end (a record's recorded start is then the
/// `\n` of the line before); only called for errors and chunk ends, so it may rescan.
fn line_of(text: &[u8], first_line: u64, byte: u64) -> u64 {
    let before = text.get(..record_start(text, byte)).unwrap_or_default();
    first_line + memchr::memchr_iter(b'\n', before).count() as u64
}

/// Where the record whose reading started at `byte` really starts: the csv reader skips
/// empty lines (and the `\n` of a CRLF) before a record.
fn record_start(text: &[u8], byte: u64) -> usize {
    let mut start = usize::try_from(byte).unwrap_or(text.len()).min(text.len());
    while matches!(text.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    start
}

fn order_error(path: &Path, repeats: bool, line: u64, previous: u64) -> IctError {
    let what = if repeats { "repeats" } else { "goes back from" };
    parse_error(
        path,
        line,
        format!("time {what} the previous line's (line {previous})"),
    )
}

/// Parses and checks the records of `body[range]`; `body_line` is the file line of the
/// body's first byte (lines are counted from there, only for errors).
fn parse_chunk(
    path: &Path,
    layout: &Layout,
    body: &[u8],
    range: Range<usize>,
    body_line: u64,
) -> Result<Chunk> {
    let offset = range.start as u64;
    let text = body.get(range).unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(layout.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    // Enough room for the whole chunk at ~40 bytes a row, so pushes rarely reallocate.
    let guess = text.len() / 40;
    let mut out = Chunk {
        time: Vec::with_capacity(guess),
        open: Vec::with_capacity(guess),
        high: Vec::with_capacity(guess),
        low: Vec::with_capacity(guess),
        close: Vec::with_capacity(guess),
        ..Chunk::default()
    };
    let mut record = csv::ByteRecord::new();
    let mut stamp: Vec<u8> = Vec::new();
    // Wall-clock times of a zone with DST may go back at a fall-back: checked after
    // conversion instead.
    let in_order = !matches!(layout.zone, SourceZone::Named { .. });
    // (time, start byte) of the previous record; line numbers are worked out only for
    // errors and the chunk's ends (counting them per record costs ~10% of the parse).
    let mut previous: Option<(i64, u64)> = None;
    loop {
        let start = offset + reader.position().byte();
        let line = || line_of(body, body_line, start);
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| parse_error(path, line(), e.to_string()))?;
        if !more {
            break;
        }
        if record.len() != layout.fields {
            return Err(parse_error(
                path,
                line(),
                format!(
                    "{} fields where the header has {}",
                    record.len(),
                    layout.fields
                ),
            ));
        }
        let field = |at: usize, name: &str| -> Result<&[u8]> {
            record
                .get(at)
                .map(<[u8]>::trim_ascii)
                .ok_or_else(|| parse_error(path, line(), format!("missing field '{name}'")))
        };
        let number = |at: usize, name: &str| -> Result<f64> {
            let text = field(at, name)?;
            fast_float2::parse::<f64, _>(text)
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    parse_error(
                        path,
                        line(),
                        format!(
                            "{name} {:?} is not a finite number",
                            String::from_utf8_lossy(text)
                        ),
                    )
                })
        };
        let text = match layout.clock_at {
            Some(c) => {
                stamp.clear();
                stamp.extend_from_slice(field(layout.time_at, "date")?);
                stamp.push(b' ');
                stamp.extend_from_slice(field(c, "time")?);
                stamp.as_slice()
            }
            None => field(layout.time_at, "time")?,
        };
        let (t, zoned) = parse_stamp_bytes(text).ok_or_else(|| {
            parse_error(
                path,
                line(),
                format!(
                    "time {:?} is not a date-time",
                    String::from_utf8_lossy(text)
                ),
            )
        })?;
        if zoned && !layout.zone.is_utc() {
            return Err(parse_error(
                path,
                line(),
                format!(
                    "time {:?} carries its own offset; tz= is for files of naive times",
                    String::from_utf8_lossy(text)
                ),
            ));
        }
        let (o, h, l, c) = (
            number(layout.open_at, "open")?,
            number(layout.high_at, "high")?,
            number(layout.low_at, "low")?,
            number(layout.close_at, "close")?,
        );
        if let Some((before, before_start)) = previous.filter(|_| in_order) {
            if t <= before {
                let before_line = line_of(body, body_line, before_start);
                return Err(order_error(path, t == before, line(), before_line));
            }
        }
        if h < o.max(c) || l > o.min(c) {
            return Err(parse_error(
                path,
                line(),
                format!("high {h} / low {l} do not contain open {o} and close {c}"),
            ));
        }
        if let Some(at) = layout.volume_at {
            out.volumes.push(number(at, "volume")?);
        }
        if let Some(at) = layout.tick_at {
            out.ticks.push(number(at, "tick volume")?);
        }
        if previous.is_none() {
            out.first_start = start;
        }
        previous = Some((t, start));
        out.time.push(t);
        out.open.push(o);
        out.high.push(h);
        out.low.push(l);
        out.close.push(c);
    }
    out.last_start = previous.map_or(0, |p| p.1);
    Ok(out)
}

/// Joins the chunks in order and picks the volume column.
fn merge(
    chunks: Vec<Chunk>,
    headers: &[String],
    layout: &Layout,
    volume: &VolumeColumn,
) -> ParsedCsv {
    let n: usize = chunks.iter().map(|c| c.time.len()).sum();
    let join = |pick: fn(&Chunk) -> &Vec<f64>| {
        let mut all = Vec::with_capacity(n);
        for c in &chunks {
            all.extend_from_slice(pick(c));
        }
        all
    };
    let mut time = Vec::with_capacity(n);
    for c in &chunks {
        time.extend_from_slice(&c.time);
    }
    let (volume, volume_column) = match volume {
        VolumeColumn::Named(name) => (join(|c| &c.volumes), Some(normalize(name))),
        VolumeColumn::Zero => (vec![0.0; n], None),
        VolumeColumn::Auto => {
            let volumes = join(|c| &c.volumes);
            let real = layout.volume_at.is_some() && volumes.iter().any(|v| *v != 0.0);
            if real || layout.tick_at.is_none() && layout.volume_at.is_some() {
                (volumes, Some("volume".into()))
            } else if let Some(at) = layout.tick_at {
                (join(|c| &c.ticks), headers.get(at).cloned())
            } else {
                (vec![0.0; n], None)
            }
        }
    };
    ParsedCsv {
        time,
        open: join(|c| &c.open),
        high: join(|c| &c.high),
        low: join(|c| &c.low),
        close: join(|c| &c.close),
        volume,
        volume_column,
    }
}

/// [`parse_datetime`] on bytes, with a fast path for the fixed-width forms every export
/// uses (`YYYY-MM-DD`, optionally ` HH:MM` or ` HH:MM:SS`, any of `-./` and ` `/`T`); any
/// other text goes the general way. Both ways give the same answer (a property test).
pub fn parse_datetime_bytes(b: &[u8]) -> Option<i64> {
    parse_stamp_bytes(b).map(|(t, _)| t)
}

/// [`parse_datetime_bytes`], and whether the text carried its own offset.
fn parse_stamp_bytes(b: &[u8]) -> Option<(i64, bool)> {
    match fixed_width_datetime(b) {
        Some(t) => Some((t, false)),
        None => parse_stamp(std::str::from_utf8(b).ok()?),
    }
}

fn fixed_width_datetime(b: &[u8]) -> Option<i64> {
    if !matches!(b.len(), 10 | 16 | 19) || b[4] != b[7] || !matches!(b[4], b'-' | b'.' | b'/') {
        return None;
    }
    let digits = |at: usize, len: usize| -> Option<i64> {
        let mut v = 0;
        for &c in b.get(at..at + len)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut h, mut m, mut s) = (0, 0, 0);
    if b.len() > 10 {
        if !matches!(b[10], b' ' | b'T') || b[13] != b':' {
            return None;
        }
        (h, m) = (digits(11, 2)?, digits(14, 2)?);
        if b.len() == 19 {
            if b[16] != b':' {
                return None;
            }
            s = digits(17, 2)?;
        }
        if h > 23 || m > 59 || s > 59 {
            return None;
        }
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    seconds.checked_mul(1_000_000_000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
        // Offsets that no place has are damage, not a shift.
        for bad in ["+99:99", "+15:00", "-14:30", "+02:60", "+14:01"] {
            assert_eq!(
                parse_datetime(&format!("2022-10-10 02:00:00{bad}")),
                None,
                "{bad}"
            );
        }
        assert!(parse_datetime("2022-10-10 02:00:00+14:00").is_some());
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

    proptest::proptest! {
        #[test]
        fn fixed_width_fast_path_agrees_with_the_general_parser(
            digits in proptest::collection::vec(0u8..10, 14),
            sep in proptest::sample::select(vec![b'-', b'.', b'/', b':']),
            joint in proptest::sample::select(vec![b' ', b'T', b'_']),
            len in proptest::sample::select(vec![10usize, 16, 19]),
        ) {
            // Digits in every position (so invalid months, days, hours too), real separators.
            let d = |k: usize| b'0' + digits[k];
            let mut text = vec![
                d(0), d(1), d(2), d(3), sep, d(4), d(5), sep, d(6), d(7), joint,
                d(8), d(9), b':', d(10), d(11), b':', d(12), d(13),
            ];
            text.truncate(len);
            let general = std::str::from_utf8(&text).ok().and_then(parse_datetime);
            proptest::prop_assert_eq!(parse_datetime_bytes(&text), general);
            if let Some(fast) = fixed_width_datetime(&text) {
                proptest::prop_assert_eq!(Some(fast), general);
            }
        }

        #[test]
        fn real_dates_take_the_fast_path(secs in -2_000_000_000_000i64..250_000_000_000) {
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap();
            let text = t.format("%Y.%m.%d %H:%M:%S").to_string();
            if text.len() == 19 {
                proptest::prop_assert_eq!(fixed_width_datetime(text.as_bytes()), t.timestamp_nanos_opt());
            }
        }
    }

    /// A file big enough to be cut into chunks parses to what one chunk gives, and an error
    /// deep inside still names its line.
    #[test]
    fn chunked_parsing_equals_one_piece() {
        let mut text = String::from("time,open,high,low,close,volume\r\n");
        let rows = 120_000; // ~5 MB: several chunks on any machine with 2+ cores
        for k in 0..rows {
            let p = 100.0 + (k % 977) as f64 / 64.0;
            text.push_str(&format!(
                "2024-01-{:02} {:02}:{:02}:{:02},{p},{},{},{p},{}\r\n",
                1 + k / 86_400,
                k / 3600 % 24,
                k / 60 % 60,
                k % 60,
                p + 1.0,
                p - 1.0,
                k % 13
            ));
        }
        let path = write("chunked.csv", &text);
        let whole = parse_csv(&path, &VolumeColumn::Auto, SourceZone::Utc).unwrap();
        assert_eq!(whole.time.len(), rows);
        let body_at = text.find('\n').unwrap() + 1;
        let layout = layout(
            &path,
            &["time", "open", "high", "low", "close", "volume"].map(String::from),
            b',',
            &VolumeColumn::Auto,
            SourceZone::Utc,
        )
        .unwrap();
        let body = &text.as_bytes()[body_at..];
        let one = parse_chunk(&path, &layout, body, 0..body.len(), 2).unwrap();
        assert_eq!((whole.time, whole.close), (one.time, one.close));
        let (first, last) = (one.first_start, one.last_start);
        assert_eq!(
            (line_of(body, 2, first), line_of(body, 2, last)),
            (2, rows as u64 + 1)
        );
        assert!(
            split(body).len() > 1
                || std::thread::available_parallelism().map_or(1, |n| n.get()) == 1
        );
        // Break the order at a row in the second half; the error names its line.
        let mut lines: Vec<&str> = text.split("\r\n").collect();
        let at = rows * 3 / 4; // line at + 1 of the file is row `at - 1`... lines[at] is row at-1
        let moved = lines[at - 1].to_string();
        lines[at] = &moved;
        let path = write("chunked-bad.csv", &lines.join("\r\n"));
        let err = parse_csv(&path, &VolumeColumn::Auto, SourceZone::Utc)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("line {}: time repeats", at + 1)),
            "{err}"
        );
        // A repeat exactly at a cut (the first row of the second chunk) is found by the
        // check across chunks, and named by its line.
        let pieces = split(body);
        for piece in &pieces {
            assert!(piece.is_empty() || body[piece.clone()].ends_with(b"\n"));
        }
        if let Some(cut) = pieces.get(1) {
            let cut_line = line_of(body, 2, cut.start as u64);
            let mut lines: Vec<&str> = text.split("\r\n").collect();
            let row = cut_line as usize - 1; // index in `lines` of file line `cut_line`
            let moved = lines[row - 1].to_string();
            lines[row] = &moved;
            let bad = lines.join("\r\n");
            // Same cut in the changed file, so the repeat really sits across two chunks.
            assert_eq!(split(&bad.as_bytes()[body_at..])[1].start, cut.start);
            let path = write("cut-bad.csv", &bad);
            let err = parse_csv(&path, &VolumeColumn::Auto, SourceZone::Utc)
                .unwrap_err()
                .to_string();
            let expected = format!(
                "line {cut_line}: time repeats the previous line's (line {})",
                cut_line - 1
            );
            assert!(err.contains(&expected), "{err}");
        }
    }

    #[test]
    fn field_counts_must_match_the_header() {
        let bad = write(
            "fields.csv",
            "time,open,high,low,close\n2024-01-01 00:00,1,2,0,1\n2024-01-01 00:01,1,2,0,1,9\n",
        );
        let err = parse_csv(&bad, &VolumeColumn::Auto, SourceZone::Utc)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3: 6 fields where the header has 5"),
            "{err}"
        );
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
        let p = parse_csv(&a, &VolumeColumn::Auto, SourceZone::Utc).unwrap();
        assert_eq!(p.close, vec![0.97357, 0.97362]);
        assert_eq!(p.volume, vec![60.0, 57.0]); // Volume is all zero: tick volume instead
        assert_eq!(p.volume_column.as_deref(), Some("tickvol"));
        let b = write(
            "b.csv",
            "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n\
             2022.10.10\t00:00:00\t1\t2\t0.5\t1.5\t7\t0\t1\n",
        );
        let p = parse_csv(&b, &VolumeColumn::Named("VOL".into()), SourceZone::Utc).unwrap();
        assert_eq!((p.time[0], p.volume[0]), (1_665_360_000_000_000_000, 0.0));
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = write(
            "bad.csv",
            "time,open,high,low,close\n2024-01-01 00:00,1,2,0,1\n2024-01-01 00:01,1,x,0,1\n",
        );
        let err = parse_csv(&bad, &VolumeColumn::Auto, SourceZone::Utc)
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
        let err = parse_csv(&order, &VolumeColumn::Auto, SourceZone::Utc)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("goes back"), "{err}");
        let missing = write("missing.csv", "time,open,high,low\n");
        let err = parse_csv(&missing, &VolumeColumn::Auto, SourceZone::Utc)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no 'close' column"), "{err}");
    }
}
