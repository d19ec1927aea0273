//! [`ZoneBook`]: the zones of one detector (FVGs, volume imbalances, opening gaps, order
//! blocks) and their lifecycle, shared by every zone detector.
//!
//! A bullish zone (support below price) is **touched** when a low reaches its top, reaches its
//! **mean threshold** when a low reaches `mid` (an FVG's CE, an order block's 50% of body), is
//! **filled** when a low reaches its bottom, is **inverted** when a close goes below its
//! bottom (an inverse FVG, a breaker: it now acts as resistance) and **dead** when a close
//! goes back above its top. Bearish zones mirror. Checks start on the bar after the zone is
//! known; several transitions may share a bar and are logged in order.
//!
//! Zones waiting for their next transition sit in ordered sets keyed by the price that
//! triggers it, so a bar only visits the zones it moves: O(log n) per transition and no scan
//! over open zones; one comparison per set skips a bar that moves nothing. Set changes are
//! journaled, so the newest bar can be undone.

use super::history::{Bar, History};
use super::lifecycle::{State, Transition};
use crate::cache::table::{Column, ResultTable};
use std::collections::BTreeSet;

/// One zone as formed (its later states are in the transition log).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zone {
    pub id: usize,
    /// +1 bullish (support), -1 bearish (resistance).
    pub direction: i8,
    pub anchor: usize,
    pub known_at: usize,
    pub top: f64,
    pub bottom: f64,
    /// The mean threshold (an FVG's consequent encroachment).
    pub mid: f64,
    /// The detector's quality columns (named by the detector).
    pub quality: [f64; 3],
    /// The state now.
    pub state: State,
}

#[derive(Clone, Copy)]
enum Price {
    Low,
    High,
    Close,
}

/// What moves a zone out of one state: its level, the bar's price compared with it, and from
/// which end of the ordered set zones fire.
#[derive(Clone, Copy)]
struct Rule {
    level: fn(&Zone) -> f64,
    price: Price,
    /// True: the largest levels fire first, while `level >= price` (`>` when strict).
    /// False: the smallest first, while `level <= price` (`<` when strict).
    from_top: bool,
    strict: bool,
}

const fn rule(level: fn(&Zone) -> f64, price: Price, from_top: bool, strict: bool) -> Rule {
    Rule {
        level,
        price,
        from_top,
        strict,
    }
}

fn top(z: &Zone) -> f64 {
    z.top
}
fn bottom(z: &Zone) -> f64 {
    z.bottom
}
fn mid(z: &Zone) -> f64 {
    z.mid
}

/// Rules for the states formed..inverted, bullish then bearish.
const RULES: [Rule; 10] = [
    rule(top, Price::Low, true, false),      // touched: low <= top
    rule(mid, Price::Low, true, false),      // mean threshold: low <= mid
    rule(bottom, Price::Low, true, false),   // filled: low <= bottom
    rule(bottom, Price::Close, true, true),  // inverted: close < bottom
    rule(top, Price::Close, false, true),    // dead: close > top
    rule(bottom, Price::High, false, false), // touched: high >= bottom
    rule(mid, Price::High, false, false),    // mean threshold: high >= mid
    rule(top, Price::High, false, false),    // filled: high >= top
    rule(top, Price::Close, false, true),    // inverted: close > top
    rule(bottom, Price::Close, true, true),  // dead: close < bottom
];

/// Total order of finite floats as integers (for the ordered sets).
fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

enum Op {
    Insert(usize, (u64, usize)),
    Remove(usize, (u64, usize)),
}

/// Zones, their transition log and the waiting lists.
pub struct ZoneBook {
    pub zones: Vec<Zone>,
    pub transitions: Vec<Transition>,
    /// Waiting lists: index `side * 5 + state` (side 0 bullish, 1 bearish).
    waiting: Vec<BTreeSet<(u64, usize)>>,
    /// The level that fires first in each list (NaN when empty).
    first: [f64; 10],
    journal: Vec<Op>,
    zones_before: usize,
    transitions_before: usize,
}

impl Default for ZoneBook {
    fn default() -> Self {
        Self {
            zones: Vec::new(),
            transitions: Vec::new(),
            waiting: vec![BTreeSet::new(); 10],
            first: [f64::NAN; 10],
            journal: Vec::new(),
            zones_before: 0,
            transitions_before: 0,
        }
    }
}

impl ZoneBook {
    /// Starts a bar: what [`ZoneBook::undo`] returns to.
    pub fn begin(&mut self) {
        self.journal.clear();
        self.zones_before = self.zones.len();
        self.transitions_before = self.transitions.len();
    }

    fn insert(&mut self, list: usize, id: usize) {
        let level = (RULES[list].level)(&self.zones[id]);
        let entry = (ordered(level), id);
        self.waiting[list].insert(entry);
        self.journal.push(Op::Insert(list, entry));
        self.refresh(list);
    }

    fn refresh(&mut self, list: usize) {
        let r = RULES[list];
        let set = &self.waiting[list];
        let next = if r.from_top { set.last() } else { set.first() };
        self.first[list] = next.map_or(f64::NAN, |&(_, id)| (r.level)(&self.zones[id]));
    }

    /// Moves the zones bar `t` moves (call before adding the zones formed at `t`).
    pub fn advance(&mut self, bar: &Bar, t: usize) {
        for (list, &r) in RULES.iter().enumerate() {
            let price = match r.price {
                Price::Low => bar.low,
                Price::High => bar.high,
                Price::Close => bar.close,
            };
            let fires = |level: f64| match (r.from_top, r.strict) {
                (true, false) => level >= price,
                (true, true) => level > price,
                (false, false) => level <= price,
                (false, true) => level < price,
            };
            // NaN (an empty list) never fires.
            if !fires(self.first[list]) {
                continue;
            }
            loop {
                let next = if r.from_top {
                    self.waiting[list].last()
                } else {
                    self.waiting[list].first()
                };
                let Some(&entry) = next else { break };
                if !fires((r.level)(&self.zones[entry.1])) {
                    break;
                }
                self.waiting[list].remove(&entry);
                self.journal.push(Op::Remove(list, entry));
                let zone = &mut self.zones[entry.1];
                let Some(state) = zone.state.next() else {
                    break;
                };
                zone.state = state;
                self.transitions.push(Transition {
                    id: entry.1,
                    state,
                    bar: t,
                });
                if list % 5 < 4 {
                    self.insert(list + 1, entry.1);
                }
            }
            self.refresh(list);
        }
    }

    /// Adds a zone known at bar `zone.known_at` (its id is assigned here).
    pub fn add(&mut self, mut zone: Zone) -> usize {
        let id = self.zones.len();
        zone.id = id;
        zone.state = State::Formed;
        self.zones.push(zone);
        self.transitions.push(Transition {
            id,
            state: State::Formed,
            bar: zone.known_at,
        });
        self.insert(if zone.direction > 0 { 0 } else { 5 }, id);
        id
    }

    /// Undoes everything since [`ZoneBook::begin`].
    pub fn undo(&mut self) {
        let mut changed = [false; 10];
        while let Some(op) = self.journal.pop() {
            let list = match op {
                Op::Insert(list, entry) => {
                    self.waiting[list].remove(&entry);
                    list
                }
                Op::Remove(list, entry) => {
                    self.waiting[list].insert(entry);
                    list
                }
            };
            changed[list] = true;
        }
        for tr in self.transitions.drain(self.transitions_before..).rev() {
            if let Some(zone) = self.zones.get_mut(tr.id) {
                zone.state = previous(tr.state);
            }
        }
        self.zones.truncate(self.zones_before);
        for (list, &c) in changed.iter().enumerate() {
            if c {
                self.refresh(list);
            }
        }
    }

    /// Zones `start..` as a table: the common columns with `kind`, `top`, `bottom`, the mean
    /// threshold under `mid_name`, then the quality columns under `quality_names`.
    pub fn table(
        &self,
        history: &History,
        start: usize,
        kind: i32,
        mid_name: &str,
        quality_names: [&str; 3],
    ) -> ResultTable {
        let zones = &self.zones[start.min(self.zones.len())..];
        let mut columns = super::table::common(
            history,
            zones.iter().map(|z| z.id as i64).collect(),
            vec![kind; zones.len()],
            zones.iter().map(|z| i32::from(z.direction)).collect(),
            zones.iter().map(|z| z.anchor as i64).collect(),
            zones.iter().map(|z| z.known_at as i64).collect(),
        );
        columns.push(Column::f64("top", zones.iter().map(|z| z.top).collect()));
        columns.push(Column::f64(
            "bottom",
            zones.iter().map(|z| z.bottom).collect(),
        ));
        columns.push(Column::f64(mid_name, zones.iter().map(|z| z.mid).collect()));
        for (q, name) in quality_names.iter().enumerate() {
            if !name.is_empty() {
                columns.push(Column::f64(
                    *name,
                    zones.iter().map(|z| z.quality[q]).collect(),
                ));
            }
        }
        ResultTable { columns }
    }

    /// Transitions `start..` as a table.
    pub fn transitions_table(&self, history: &History, start: usize) -> ResultTable {
        super::table::transitions(
            history,
            &self.transitions[start.min(self.transitions.len())..],
        )
    }
}

fn previous(state: State) -> State {
    match state {
        State::Formed | State::Touched => State::Formed,
        State::MeanThreshold => State::Touched,
        State::Filled => State::MeanThreshold,
        State::Inverted => State::Filled,
        State::Dead => State::Inverted,
    }
}
