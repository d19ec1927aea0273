//! [`ZoneBook`]: the zones of one detector (FVGs, volume imbalances, opening gaps, order
//! blocks) and their lifecycle, shared by every zone detector.
//!
//! A bullish zone (support below price) is **touched** when a low reaches its top, reaches its
//! **mean threshold** when a low reaches `mid` (an FVG's CE, an order block's 50% of body), is
//! **filled** when a low reaches its bottom, is **inverted** when a close goes below its
//! bottom (an inverse FVG, a breaker: it now acts as resistance) and **dead** when a close
//! goes back above its top. Bearish zones mirror. Checks start on the bar after the zone is
//! known; several transitions may share a bar: they are logged zone by zone, each zone's in
//! state order.
//!
//! Zones waiting for their next transition sit in heaps keyed by the price that triggers it,
//! the zone that fires first on top, so a bar only visits the zones it moves: O(log n) per
//! transition and no scan over open zones; one comparison per heap skips a bar that moves
//! nothing. Heap changes are journaled, so the newest bar can be undone: a pop is undone by a
//! push, a push by a tombstone that the heap drops when the entry comes to the top.

use super::history::{Bar, History};
use super::lifecycle::{State, Transition};
use crate::table::{Column, ResultTable};
use std::collections::{BinaryHeap, HashMap};

/// One zone as formed (its later states are in the transition log).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
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

impl Zone {
    /// A zone over one candle's range (order blocks, mitigation blocks): mean threshold at
    /// 50% of its body, formed at `known_at`; its id is assigned by [`ZoneBook::add`].
    pub fn of_candle(
        candle: &Bar,
        direction: i8,
        anchor: usize,
        known_at: usize,
        quality: [f64; 3],
    ) -> Self {
        Self {
            id: 0,
            direction,
            anchor,
            known_at,
            top: candle.high,
            bottom: candle.low,
            mid: candle.open.min(candle.close) + candle.body() / 2.0,
            quality,
            state: State::Formed,
        }
    }
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

/// Total order of finite floats as integers (the heaps here, liquidity's ordered sets).
pub(crate) fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The inverse of [`ordered`]: the level back from a key, so a bar is tested against the
/// heap alone without loading the zone (a cache miss per test on long series).
pub(crate) fn unordered(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// A heap entry: (key, id) for lists whose largest level fires first, (!key, !id) for the
/// others, so the max-heap's top is always the next to fire (ties: the same order as a sorted
/// set of (level, id) read from that end).
type Entry = (u64, usize);

#[derive(serde::Serialize, serde::Deserialize)]
enum Op {
    Insert(usize, Entry),
    Remove(usize, Entry),
}

/// One waiting list.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Waiting {
    heap: BinaryHeap<Entry>,
    /// Entries whose insertion was undone, with how many copies to drop.
    cancelled: HashMap<Entry, u32>,
}

impl Waiting {
    /// The live top (dropping cancelled copies on the way).
    fn top(&mut self) -> Option<Entry> {
        while let Some(&top) = self.heap.peek() {
            if self.cancelled.is_empty() {
                return Some(top);
            }
            match self.cancelled.get_mut(&top) {
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        self.cancelled.remove(&top);
                    }
                    self.heap.pop();
                }
                None => return Some(top),
            }
        }
        None
    }
}

/// Zones, their transition log and the waiting lists.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ZoneBook {
    pub zones: super::log::Log<Zone>,
    pub transitions: super::log::Log<Transition>,
    /// Waiting lists: index `side * 5 + state` (side 0 bullish, 1 bearish).
    waiting: Vec<Waiting>,
    /// The level that fires first in each list (NaN when empty).
    first: [f64; 10],
    /// The lists' first levels folded by the price that moves them, so a bar that moves
    /// nothing costs four comparisons: the highest level a low fires (lists 0-2), the
    /// lowest a high fires (5-7), the highest a close fires from above (3, 9) and the lowest
    /// from below (4, 8). -inf / +inf when those lists are empty.
    gates: [f64; 4],
    /// Lists changed since `first` was last brought up to date (bit per list).
    dirty: u16,
    journal: Vec<Op>,
    zones_before: usize,
    transitions_before: usize,
}

impl Default for ZoneBook {
    fn default() -> Self {
        Self {
            zones: super::log::Log::default(),
            transitions: super::log::Log::default(),
            waiting: (0..10).map(|_| Waiting::default()).collect(),
            first: [f64::NAN; 10],
            gates: [
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
            ],
            dirty: 0,
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

    /// Positions of the zones the current bar added.
    pub fn added(&self) -> std::ops::Range<usize> {
        self.zones_before.min(self.zones.len())..self.zones.len()
    }

    /// Rows of the zone table (0) or the transition log (1).
    pub fn rows(&self, which: usize) -> usize {
        if which == 0 {
            self.zones.len()
        } else {
            self.transitions.len()
        }
    }

    /// Rows `start..` of the zone table (0, see [`ZoneBook::table`]) or the log (1).
    pub fn table_or_log(
        &self,
        history: &History,
        which: usize,
        start: usize,
        kind: i32,
        mid_name: &str,
        quality_names: [&str; 3],
    ) -> ResultTable {
        if which == 0 {
            self.table(history, start, kind, mid_name, quality_names)
        } else {
            self.transitions_table(history, start)
        }
    }

    /// Room for the zones and transitions of a batch run of `bars` bars (at most one zone
    /// per bar in practice, and six transitions each).
    pub fn reserve(&mut self, bars: usize) {
        self.zones.reserve(bars / 4);
        self.transitions.reserve(bars);
    }

    fn entry(list: usize, level: f64, id: usize) -> Entry {
        if RULES[list].from_top {
            (ordered(level), id)
        } else {
            (!ordered(level), !id)
        }
    }

    fn id(list: usize, entry: Entry) -> usize {
        if RULES[list].from_top {
            entry.1
        } else {
            !entry.1
        }
    }

    fn level(list: usize, entry: Entry) -> f64 {
        if RULES[list].from_top {
            unordered(entry.0)
        } else {
            unordered(!entry.0)
        }
    }

    fn insert(&mut self, list: usize, id: usize) {
        let level = (RULES[list].level)(&self.zones[id]);
        let entry = Self::entry(list, level, id);
        self.waiting[list].heap.push(entry);
        self.journal.push(Op::Insert(list, entry));
        self.dirty |= 1 << list;
    }

    /// Brings `first` and the gates up to date with the lists changed since the last call.
    fn refresh(&mut self) {
        if self.dirty == 0 {
            return;
        }
        for list in 0..RULES.len() {
            if self.dirty & (1 << list) != 0 {
                let top = self.waiting[list].top();
                self.first[list] = top.map_or(f64::NAN, |e| Self::level(list, e));
            }
        }
        self.dirty = 0;
        // f64::max / min skip NaN (an empty list).
        let f = &self.first;
        self.gates = [
            f64::NEG_INFINITY.max(f[0]).max(f[1]).max(f[2]),
            f64::INFINITY.min(f[5]).min(f[6]).min(f[7]),
            f64::NEG_INFINITY.max(f[3]).max(f[9]),
            f64::INFINITY.min(f[4]).min(f[8]),
        ];
    }

    /// Moves the zones bar `t` moves (call before adding the zones formed at `t`).
    pub fn advance(&mut self, bar: &Bar, t: usize) {
        let g = &self.gates;
        if bar.low > g[0] && bar.high < g[1] && bar.close >= g[2] && bar.close <= g[3] {
            return;
        }
        for (list, &r) in RULES.iter().enumerate() {
            let fires = |level: f64| Self::meets(r, level, bar);
            // NaN (an empty list) never fires.
            // `first` may miss zones queued earlier this bar; they do not fire on it (see
            // `chain`), so only the zones waiting before the bar need this check.
            if !fires(self.first[list]) {
                continue;
            }
            self.dirty |= 1 << list;
            while let Some(entry) = self.waiting[list].top() {
                if !fires(Self::level(list, entry)) {
                    break;
                }
                let id = Self::id(list, entry);
                self.waiting[list].heap.pop();
                self.journal.push(Op::Remove(list, entry));
                self.chain(list, id, bar, t);
            }
        }
        self.refresh();
    }

    /// Zone `id` left list `list` at bar `t`: logs its transition, then every later rule the
    /// same bar also meets (a wide bar touches, crosses the mean and fills at once), and
    /// queues it where it waits next. Chaining here spares a heap push and pop per same-bar
    /// transition; the transitions are those of visiting the lists in order, logged zone by
    /// zone.
    fn chain(&mut self, mut list: usize, id: usize, bar: &Bar, t: usize) {
        loop {
            let zone = &mut self.zones[id];
            let Some(state) = zone.state.next() else {
                return;
            };
            zone.state = state;
            self.transitions.push(Transition { id, state, bar: t });
            if list % 5 == 4 {
                return;
            }
            list += 1;
            if !Self::meets(RULES[list], (RULES[list].level)(zone), bar) {
                self.insert(list, id);
                return;
            }
        }
    }

    /// Whether `bar` meets rule `r` for a zone level.
    #[inline]
    fn meets(r: Rule, level: f64, bar: &Bar) -> bool {
        let price = match r.price {
            Price::Low => bar.low,
            Price::High => bar.high,
            Price::Close => bar.close,
        };
        match (r.from_top, r.strict) {
            (true, false) => level >= price,
            (true, true) => level > price,
            (false, false) => level <= price,
            (false, true) => level < price,
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
        self.refresh();
        id
    }

    /// Undoes everything since [`ZoneBook::begin`].
    pub fn undo(&mut self) {
        while let Some(op) = self.journal.pop() {
            let list = match op {
                Op::Insert(list, entry) => {
                    *self.waiting[list].cancelled.entry(entry).or_insert(0) += 1;
                    list
                }
                Op::Remove(list, entry) => {
                    self.waiting[list].heap.push(entry);
                    list
                }
            };
            self.dirty |= 1 << list;
        }
        for tr in self.transitions.drain_from(self.transitions_before).rev() {
            if let Some(zone) = self.zones.get_mut(tr.id) {
                zone.state = previous(tr.state);
            }
        }
        self.zones.truncate(self.zones_before);
        self.refresh();
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
        let zones = self.zones.from(start);
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
        ResultTable::new(columns)
    }

    /// Transitions `start..` as a table.
    pub fn transitions_table(&self, history: &History, start: usize) -> ResultTable {
        super::table::transitions(history, self.transitions.from(start))
    }
}

/// `rows`, `table` and `reserve` of a [`super::registry::Detector`] whose tables are its
/// `book`'s zones (`kind` code of `self`, the middle level's name, quality names) and log.
macro_rules! zone_tables {
    ($kind:expr, $mid:expr, $quality:expr) => {
        fn rows(&self, which: usize) -> usize {
            self.book.rows(which)
        }
        fn reserve(&mut self, bars: usize) {
            self.book.reserve(bars);
        }
        fn forget(&mut self, which: usize, upto: usize) {
            if which == 0 {
                // Open zones stay: the bars to come move them.
                self.book
                    .zones
                    .forget_keeping(upto, |z| z.state != crate::detect::lifecycle::State::Dead);
            } else {
                self.book.transitions.forget_before(upto);
            }
        }
        fn table(
            &self,
            history: &History,
            which: usize,
            start: usize,
        ) -> crate::table::ResultTable {
            let kind: i32 = $kind(self);
            self.book
                .table_or_log(history, which, start, kind, $mid, $quality)
        }
    };
}
pub(crate) use zone_tables;

fn previous(state: State) -> State {
    match state {
        State::Formed | State::Touched => State::Formed,
        State::MeanThreshold => State::Touched,
        State::Filled => State::MeanThreshold,
        State::Inverted => State::Filled,
        State::Dead => State::Inverted,
    }
}

#[cfg(test)]
mod tests {
    use super::{ordered, unordered};

    proptest::proptest! {
        /// Keys order like the floats and give them back bit for bit (-0.0 included).
        #[test]
        fn keys_order_and_invert(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL, b in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            proptest::prop_assert_eq!(unordered(ordered(a)).to_bits(), a.to_bits());
            if a < b {
                proptest::prop_assert!(ordered(a) < ordered(b));
            }
        }
    }
}
