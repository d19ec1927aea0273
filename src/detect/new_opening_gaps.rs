//! New day and new week opening gaps (NDOG / NWOG): the price gap between a trading day's
//! settlement close and the next trading day's reopen.
//!
//! In a time zone (New York by default), a trading day runs from `open_at` (18:00: the
//! futures reopen) to the next `open_at`, and its settlement is at `close_at` (17:00). The
//! settlement close is the close of the day's last bar that opened before `close_at`. At the
//! first bar of a later trading day (the reopen) the gap between that close and the bar's
//! open is an **NDOG**; when the reopen also starts a new week (Monday's trading day, which
//! opens Sunday evening) the same gap is an **NWOG** too (a second row, kind `nwog`). With
//! `close_at == open_at` (e.g. both 00:00) it is the gap across the calendar boundary
//! (LuxAlgo's midnight NDOG). Days without bars (weekends, holidays) are skipped: the gap runs
//! from the last settlement seen. Equal prices leave no gap.
//!
//! A gap is a zone (`top`/`bottom`, `mid` = its CE) known at the reopen bar, drawn from the
//! settlement bar (`anchor`), with the [`ZoneBook`] lifecycle; up gaps are bullish (support).

use super::history::History;
use super::lifecycle::State;
use super::registry::steps_alone;
use super::registry::{self, Declaration, Detector, ParamDecl, ParamKind, Shape, TableDecl};
use super::sessions::{self, LocalClock};
use super::table;
use super::zones::{Zone, ZoneBook};
use crate::error::Result;
use crate::table::{Column, Dtype, ResultTable};
use chrono_tz::Tz;

/// `kind` code of a ndog row.
pub const KIND_NDOG: i32 = 21;
/// `kind` code of a nwog row.
pub const KIND_NWOG: i32 = 22;

/// The NDOG / NWOG detector.
pub static DECLARATION: Declaration = Declaration {
    name: "new_opening_gaps",
    doc: "new day / new week opening gaps (settlement close to reopen), with the zone lifecycle",
    params: &[
        sessions::ZONE,
        ParamDecl {
            name: "close_at",
            kind: ParamKind::Text {
                default: "17:00",
                canonical: |text| clock("new_opening_gaps.close_at", text),
            },
            doc: "the settlement: the day's last bar opening before this local time",
        },
        ParamDecl {
            name: "open_at",
            kind: ParamKind::Text {
                default: "18:00",
                canonical: |text| clock("new_opening_gaps.open_at", text),
            },
            doc: "the reopen: a trading day starts at this local time",
        },
    ],
    tables: &[
        TableDecl {
            name: "new_opening_gaps",
            columns: &[
                table::COMMON,
                &[
                    ("top", Dtype::F64),
                    ("bottom", Dtype::F64),
                    ("ce", Dtype::F64),
                    ("size_atr", Dtype::F64),
                ],
            ],
        },
        TableDecl {
            name: "new_opening_gaps_transitions",
            columns: &[table::TRANSITIONS],
        },
    ],
    shape: Shape::Zones,
    kinds: &[(KIND_NDOG, "ndog"), (KIND_NWOG, "nwog")],
    inputs: registry::no_inputs,
    build: |v| {
        let at =
            |name: &str| -> Result<u32> { Ok(sessions::minutes(v.text(name)?, name, "")? % 1440) };
        Ok(Box::new(NewOpeningGaps::new(NewGapParams {
            zone: sessions::parse_zone(v.text("zone")?)?,
            close_at: at("close_at")?,
            open_at: at("open_at")?,
        })))
    },
};

/// A local clock time `HH:MM` as its one spelling (`24:00` is `00:00`).
fn clock(parameter: &str, text: &str) -> Result<String> {
    let minute = sessions::minutes(text, parameter, text)? % 1440;
    Ok(format!("{:02}:{:02}", minute / 60, minute % 60))
}

impl Detector for NewOpeningGaps {
    steps_alone!();
    fn rows(&self, which: usize) -> usize {
        self.book.rows(which)
    }
    fn table(&self, history: &History, which: usize, start: usize) -> ResultTable {
        if which == 0 {
            NewOpeningGaps::table(self, history, start)
        } else {
            self.book.transitions_table(history, start)
        }
    }
}

/// Quality column: the gap's height in ATR(14) at the reopen.
pub const QUALITY: [&str; 3] = ["size_atr", "", ""];

/// Parameters of [`NewOpeningGaps`]: the zone, the settlement and the reopen (minutes after local
/// midnight). Preset "ictcore": New York, 17:00 and 18:00.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewGapParams {
    pub zone: Tz,
    pub close_at: u32,
    pub open_at: u32,
}

impl Default for NewGapParams {
    fn default() -> Self {
        Self {
            zone: chrono_tz::America::New_York,
            close_at: 17 * 60,
            open_at: 18 * 60,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct GapState {
    /// The trading day of the newest bar (days since 1970-01-01 of its `open_at`).
    day: Option<i64>,
    /// The newest settlement close seen: (close, bar, its trading day).
    settlement: Option<(f64, usize, i64)>,
}

/// Streaming NDOG/NWOG detector.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct NewOpeningGaps {
    pub params: NewGapParams,
    clock: LocalClock,
    state: GapState,
    saved: GapState,
    pub book: ZoneBook,
    /// Per zone: `kind` (NDOG or NWOG).
    kinds: Vec<i32>,
    /// Seconds from the reopen to the settlement (a whole day when they are equal).
    settle: i64,
}

/// The Monday-based week of a trading day. A day opening in the evening (from 12:00) trades
/// for the next calendar date: the Sunday 18:00 reopen is Monday's day.
fn week(day: i64, open_at: u32) -> i64 {
    let date = day + i64::from(open_at >= 12 * 60);
    // 1970-01-01 was a Thursday: +3 makes Mondays multiples of 7.
    (date + 3).div_euclid(7)
}

impl NewOpeningGaps {
    pub fn new(params: NewGapParams) -> Self {
        Self {
            params,
            clock: LocalClock::new(params.zone),
            state: GapState::default(),
            saved: GapState::default(),
            book: ZoneBook::default(),
            kinds: Vec::new(),
            settle: match (i64::from(params.close_at) - i64::from(params.open_at)).rem_euclid(1440)
            {
                0 => 86_400,
                minutes => minutes * 60,
            },
        }
    }

    /// Processes the newest bar of `history`.
    pub fn step(&mut self, history: &History) {
        let t = history.len() - 1;
        self.saved = self.state;
        self.book.begin();
        let bar = history.bar(t);
        self.book.advance(&bar, t);
        let open_at = i64::from(self.params.open_at) * 60;
        let shifted = self.clock.local_seconds(bar.time) - open_at;
        let (day, into) = (shifted.div_euclid(86_400), shifted.rem_euclid(86_400));
        let new_day = self.state.day.is_some_and(|d| day > d);
        if let Some((close, anchor, settled)) = self.state.settlement.filter(|_| new_day) {
            let (top, bottom) = (bar.open.max(close), bar.open.min(close));
            if top > bottom {
                let mut kinds = vec![KIND_NDOG];
                if week(day, self.params.open_at) > week(settled, self.params.open_at) {
                    kinds.push(KIND_NWOG);
                }
                for kind in kinds {
                    self.book.add(Zone {
                        id: 0,
                        direction: if bar.open > close { 1 } else { -1 },
                        anchor,
                        known_at: t,
                        top,
                        bottom,
                        mid: bottom + (top - bottom) / 2.0,
                        quality: [(top - bottom) / history.atr(t), f64::NAN, f64::NAN],
                        state: State::Formed,
                    });
                    self.kinds.push(kind);
                }
            }
        }
        if self.state.day.is_none_or(|d| day > d) {
            self.state.day = Some(day);
        }
        if into < self.settle && self.state.day == Some(day) {
            self.state.settlement = Some((bar.close, t, day));
        }
    }

    /// Undoes the last [`NewOpeningGaps::step`].
    pub fn undo(&mut self) {
        self.state = self.saved;
        self.book.undo();
        self.kinds.truncate(self.book.zones.len());
    }

    /// Zones `start..` as a table (the zone columns, `kind` per row).
    pub fn table(&self, history: &History, start: usize) -> ResultTable {
        let mut table = self.book.table(history, start, 0, "ce", QUALITY);
        let kinds = &self.kinds[start.min(self.kinds.len())..];
        if let Some(c) = table.columns.iter_mut().find(|c| c.name == "kind") {
            *c = Column::i32("kind", kinds);
        }
        table
    }
}
