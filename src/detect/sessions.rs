//! Sessions and kill zones in a real time zone (IANA, DST included — the compat layer's
//! fixed UTC windows are right only in US summer).
//!
//! A window is a span of local wall-clock time, e.g. the London open kill zone 02:00-05:00 New
//! York time; it may wrap past midnight. A bar belongs to a window instance when its open
//! time, read in the zone, falls in it. An instance becomes a row at the first bar after it —
//! the first moment its high and low are final from past data alone (`known_at`); `anchor` is
//! its first bar. Columns: the window (its position in the window list), the instance's
//! start and end as UTC times (so DST shifts are visible), open, high, low, close, the bars
//! of the high and low, and how many bars it had.
//!
//! A window whose start equals its end is a whole day from that time: `day=17:00-17:00`
//! (the futures day), `day=00:00-00:00` (midnight New York), or any anchor in any zone. Its
//! rows are the previous day's open, high, low and close, known at the first bar of the next
//! day — previous-day highs and lows with an explicit day boundary.

use super::history::History;
use super::registry::{self, Declaration, Detector, ParamDecl, ParamKind, Shape, TableDecl};
use super::registry::{one_table, steps_alone};
use super::table;
use crate::error::{IctError, Result};
use crate::table::{Column, Dtype, ResultTable};
use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// ICT windows in New York time (`ict-concepts.md` §3.6), minutes after local midnight.
pub const PRESETS: &[(&str, u32, u32)] = &[
    ("asian", 20 * 60, 24 * 60),
    ("london_open", 2 * 60, 5 * 60),
    ("ny_am", 7 * 60, 10 * 60),
    ("london_close", 10 * 60, 12 * 60),
    ("ny_lunch", 12 * 60, 13 * 60),
    ("ny_pm", 13 * 60 + 30, 16 * 60),
    ("silver_bullet_london", 3 * 60, 4 * 60),
    ("silver_bullet_am", 10 * 60, 11 * 60),
    ("silver_bullet_pm", 14 * 60, 15 * 60),
    ("cbdr", 14 * 60, 20 * 60),
];

/// The preset "ictcore" window list.
pub const DEFAULT_WINDOWS: &str = "asian,london_open,ny_am,london_close";

/// One window: name and local start/end in minutes after midnight (`end < start`: it wraps
/// past midnight; `end == start`: a whole day from `start`; 1440 is midnight at the end of
/// the day).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub name: String,
    pub start: u32,
    pub end: u32,
}

/// `kind` code of a session row.
pub const KIND_SESSION: i32 = 17;

/// The sessions detector.
pub static DECLARATION: Declaration = Declaration {
    name: "sessions",
    doc: "kill zones and sessions in an IANA time zone (DST-correct), with their ranges",
    params: &[
        ZONE,
        ParamDecl {
            name: "windows",
            kind: ParamKind::Text {
                default: DEFAULT_WINDOWS,
                canonical: |text| Ok(SessionParams::parse("UTC", text)?.windows_text()),
            },
            doc: "preset window names or name=HH:MM-HH:MM, comma-separated, read in zone",
        },
    ],
    tables: &[TableDecl {
        name: "sessions",
        columns: &[
            table::COMMON,
            &[
                ("window", Dtype::I32),
                ("window_start", Dtype::I64),
                ("window_end", Dtype::I64),
                ("open", Dtype::F64),
                ("high", Dtype::F64),
                ("low", Dtype::F64),
                ("close", Dtype::F64),
                ("high_bar", Dtype::I64),
                ("low_bar", Dtype::I64),
                ("bars", Dtype::I32),
            ],
        ],
    }],
    shape: Shape::Sessions,
    kinds: &[(KIND_SESSION, "session")],
    inputs: registry::no_inputs,
    build: |v| {
        Ok(Box::new(Sessions::new(SessionParams::parse(
            v.text("zone")?,
            v.text("windows")?,
        )?)))
    },
};

/// The metadata key of a session table's window names (comma-separated, in code order).
pub const WINDOWS_META: &str = "windows";

/// `zone`: an IANA time zone (its canonical name is what the key records).
pub const ZONE: ParamDecl = ParamDecl {
    name: "zone",
    kind: ParamKind::Text {
        default: "America/New_York",
        canonical: |text| Ok(parse_zone(text)?.name().to_string()),
    },
    doc: "the IANA time zone the clock times are read in",
};

impl Detector for Sessions {
    steps_alone!();
    one_table!(rows);
}

/// Parameters of [`Sessions`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionParams {
    pub zone: Tz,
    pub windows: Vec<Window>,
}

/// Minutes after midnight of `HH:MM` (24:00 allowed); errors name `parameter` and `what`.
pub(crate) fn minutes(text: &str, parameter: &str, what: &str) -> Result<u32> {
    let bad = || IctError::parameter(parameter, format!("{what}: expected HH:MM, got {text:?}"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (
        h.trim().parse().map_err(|_| bad())?,
        m.trim().parse().map_err(|_| bad())?,
    );
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// An IANA time zone by name.
pub(crate) fn parse_zone(name: &str) -> Result<Tz> {
    name.parse().map_err(|_| IctError::UnknownName {
        what: "time zone",
        name: name.to_string(),
        known: vec!["an IANA name such as America/New_York, Europe/London, UTC".into()],
    })
}

impl SessionParams {
    /// `zone`: an IANA name; `windows`: comma-separated preset names or `name=HH:MM-HH:MM`.
    pub fn parse(zone: &str, windows: &str) -> Result<Self> {
        let zone = parse_zone(zone)?;
        let mut list = Vec::new();
        for item in windows.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let window = match item.split_once('=') {
                Some((name, span)) => {
                    let (a, b) = span.split_once('-').ok_or_else(|| {
                        IctError::parameter(
                            "sessions.windows",
                            format!("{item:?}: expected name=HH:MM-HH:MM"),
                        )
                    })?;
                    Window {
                        name: name.trim().to_string(),
                        start: minutes(a, "sessions.windows", item)?,
                        end: minutes(b, "sessions.windows", item)?,
                    }
                }
                None => {
                    let (name, start, end) =
                        PRESETS.iter().find(|p| p.0 == item).ok_or_else(|| {
                            IctError::UnknownName {
                                what: "session window",
                                name: item.to_string(),
                                known: PRESETS.iter().map(|p| p.0.to_string()).collect(),
                            }
                        })?;
                    Window {
                        name: name.to_string(),
                        start: *start,
                        end: *end,
                    }
                }
            };
            let mut window = window;
            if window.start % 1440 == window.end % 1440 {
                // A whole day from that time: a trading day (17:00-17:00 New York), whose
                // rows are each day's open, high, low and close.
                window.start %= 1440;
                window.end = window.start;
            }
            if window.name.is_empty() || window.name.contains(['=', ',']) {
                return Err(IctError::parameter(
                    "sessions.windows",
                    format!("{item:?}: a window needs a name without '=' or ','"),
                ));
            }
            if list.iter().any(|w: &Window| w.name == window.name) {
                // Rows name their window: two windows of one name could not be told apart.
                return Err(IctError::parameter(
                    "sessions.windows",
                    format!("the window name {:?} is given twice", window.name),
                ));
            }
            list.push(window);
        }
        if list.is_empty() {
            return Err(IctError::parameter("sessions.windows", "no window given"));
        }
        Ok(Self {
            zone,
            windows: list,
        })
    }

    /// The windows as the string [`SessionParams::parse`] reads (for the cache key).
    pub fn windows_text(&self) -> String {
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        self.windows
            .iter()
            .map(|w| format!("{}={}-{}", w.name, hm(w.start), hm(w.end)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One window instance being built or finished.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Instance {
    pub window: usize,
    /// Local date (days since 1970-01-01) the instance started on.
    pub day: i64,
    pub first: usize,
    pub last: usize,
    pub open: f64,
    pub close: f64,
    pub high: f64,
    pub low: f64,
    pub high_bar: usize,
    pub low_bar: usize,
    /// Filled in when the row is emitted.
    pub known_at: usize,
}

/// Streaming sessions detector.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Sessions {
    pub params: SessionParams,
    open: Vec<Option<Instance>>,
    saved: Vec<Option<Instance>>,
    pub rows: Vec<Instance>,
    before: usize,
    clock: LocalClock,
}

/// Local wall-clock seconds of UTC bar times in one zone, remembering the last offset: zones
/// change offsets only at 15-minute UTC boundaries, so most bars skip the zone lookup.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LocalClock {
    pub zone: Tz,
    /// (15-minute UTC bucket, offset seconds).
    offset: Option<(i64, i64)>,
}

impl LocalClock {
    pub fn new(zone: Tz) -> Self {
        Self { zone, offset: None }
    }

    /// Seconds since 1970-01-01 00:00 local time.
    pub fn local_seconds(&mut self, time_ns: i64) -> i64 {
        let secs = time_ns.div_euclid(1_000_000_000);
        let bucket = secs.div_euclid(900);
        let offset = match self.offset {
            Some((b, o)) if b == bucket => o,
            _ => {
                let utc = chrono::DateTime::from_timestamp(secs, 0)
                    .map(|d| d.naive_utc())
                    .unwrap_or_default();
                let o = i64::from(
                    self.zone
                        .offset_from_utc_datetime(&utc)
                        .fix()
                        .local_minus_utc(),
                );
                self.offset = Some((bucket, o));
                o
            }
        };
        secs + offset
    }
}

impl Sessions {
    pub fn new(params: SessionParams) -> Self {
        let n = params.windows.len();
        let params_zone = params.zone;
        Self {
            params,
            open: vec![None; n],
            saved: vec![None; n],
            rows: Vec::new(),
            before: 0,
            clock: LocalClock::new(params_zone),
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.saved.clone_from(&self.open);
        self.before = self.rows.len();
        let bar = history.bar(t);
        let local = self.clock.local_seconds(bar.time);
        let (day, tod) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        for (w, window) in self.params.windows.iter().enumerate() {
            let (s, e) = (i64::from(window.start) * 60, i64::from(window.end) * 60);
            let member = if s < e {
                (s <= tod && tod < e).then_some(day)
            } else if tod >= s {
                Some(day)
            } else {
                (tod < e).then_some(day - 1)
            };
            if let Some(current) = self.open[w] {
                if member != Some(current.day) {
                    self.rows.push(Instance {
                        known_at: t,
                        ..current
                    });
                    self.open[w] = None;
                }
            }
            let Some(day) = member else { continue };
            let inst = self.open[w].get_or_insert(Instance {
                window: w,
                day,
                first: t,
                last: t,
                open: bar.open,
                close: bar.close,
                high: bar.high,
                low: bar.low,
                high_bar: t,
                low_bar: t,
                known_at: usize::MAX,
            });
            inst.last = t;
            inst.close = bar.close;
            if bar.high > inst.high {
                inst.high = bar.high;
                inst.high_bar = t;
            }
            if bar.low < inst.low {
                inst.low = bar.low;
                inst.low_bar = t;
            }
        }
    }

    /// Undoes the last [`Sessions::step`].
    pub fn undo(&mut self) {
        self.open.clone_from(&self.saved);
        self.rows.truncate(self.before);
    }

    /// The UTC time (ns) of local `minute` on local `day`. A local time in a DST gap (02:30
    /// when clocks jump from 02:00 to 03:00) is read with the offset before the jump, i.e.
    /// the instant of the jump; an ambiguous one (the repeated hour) is the earlier instant.
    fn utc_of(&self, day: i64, minute: u32) -> i64 {
        let date = NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|d| d.checked_add_signed(chrono::TimeDelta::days(day)));
        let Some(date) = date else { return i64::MIN };
        let local: NaiveDateTime = date.and_hms_opt(0, 0, 0).unwrap_or_default()
            + chrono::TimeDelta::minutes(i64::from(minute));
        let zone = &self.params.zone;
        if let Some(t) = zone.from_local_datetime(&local).earliest() {
            return t.timestamp_nanos_opt().unwrap_or(i64::MIN);
        }
        let before = local - chrono::TimeDelta::days(1);
        zone.offset_from_local_datetime(&before)
            .earliest()
            .and_then(|o| {
                let utc = local - chrono::TimeDelta::seconds(i64::from(o.fix().local_minus_utc()));
                utc.and_utc().timestamp_nanos_opt()
            })
            .unwrap_or(i64::MIN)
    }

    /// Rows `start..` as a table.
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        let from = start.min(self.rows.len());
        let rows = &self.rows[from..];
        let mut columns = super::table::common(
            history,
            (from..from + rows.len()).map(|i| i as i64).collect(),
            vec![KIND_SESSION; rows.len()],
            vec![0; rows.len()],
            rows.iter().map(|r| r.first as i64).collect(),
            rows.iter().map(|r| r.known_at as i64).collect(),
        );
        let windows: Vec<i32> = rows.iter().map(|r| r.window as i32).collect();
        columns.push(Column::i32("window", &windows));
        let bounds = |r: &Instance| {
            let w = &self.params.windows[r.window];
            let end_day = if w.end <= w.start { r.day + 1 } else { r.day };
            (self.utc_of(r.day, w.start), self.utc_of(end_day, w.end))
        };
        columns.push(Column::i64(
            "window_start",
            rows.iter().map(|r| bounds(r).0).collect(),
        ));
        columns.push(Column::i64(
            "window_end",
            rows.iter().map(|r| bounds(r).1).collect(),
        ));
        for (name, get) in [
            ("open", (|r: &Instance| r.open) as fn(&Instance) -> f64),
            ("high", |r| r.high),
            ("low", |r| r.low),
            ("close", |r| r.close),
        ] {
            columns.push(Column::f64(name, rows.iter().map(get).collect()));
        }
        columns.push(Column::i64(
            "high_bar",
            rows.iter().map(|r| r.high_bar as i64).collect(),
        ));
        columns.push(Column::i64(
            "low_bar",
            rows.iter().map(|r| r.low_bar as i64).collect(),
        ));
        let bars: Vec<i32> = rows.iter().map(|r| (r.last - r.first + 1) as i32).collect();
        columns.push(Column::i32("bars", &bars));
        let names: Vec<&str> = self
            .params
            .windows
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        ResultTable {
            columns,
            // What the `window` codes index (names never hold ',').
            meta: vec![(WINDOWS_META.to_string(), names.join(","))],
        }
    }
}
