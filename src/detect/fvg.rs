//! Fair value gaps with their lifecycle.
//!
//! A bullish FVG forms at the close of bar i when `low[i] > high[i-2]`: the zone is
//! `[high[i-2], low[i]]`, drawn at the middle candle (`anchor = i-1`) and known at `i`. Bearish
//! mirrors (`high[i] < low[i-2]`, zone `[high[i], low[i-2]]`). CE (consequent encroachment) is
//! the midpoint. From bar i+1 on, a bullish zone (support below price) is **touched** when a
//! low reaches its top, reaches its **mean threshold** when a low reaches the CE, is
//! **filled** when a low reaches its bottom, is **inverted** (an inverse FVG, now resistance)
//! when a close goes below its bottom, and is **dead** when a close goes back above its top.
//! Bearish zones mirror. Each transition is logged with its bar; zones are never erased.
//!
//! Zones waiting for their next transition sit in ordered sets keyed by the price that
//! triggers it, so a bar only visits the zones it moves: O(log n) per transition, no scans
//! over open zones. Set changes are journaled so the newest bar can be undone.

use super::history::History;
use super::lifecycle::{State, Transition};
use std::collections::BTreeSet;

/// Parameters of [`Fvg`]. Preset "ictcore": every gap (`min_size_atr = 0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FvgParams {
    /// Gaps smaller than this many ATR are not zones (with a positive value, none form before
    /// the ATR exists).
    pub min_size_atr: f64,
}

impl Default for FvgParams {
    fn default() -> Self {
        Self { min_size_atr: 0.0 }
    }
}

/// One fair value gap as formed (its later states are in the transition log).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Zone {
    pub id: usize,
    /// +1 bullish (gap up, support), -1 bearish.
    pub direction: i8,
    pub anchor: usize,
    pub known_at: usize,
    pub top: f64,
    pub bottom: f64,
    /// Consequent encroachment: the midpoint.
    pub ce: f64,
    /// Gap height in ATR as of the forming bar.
    pub size_atr: f64,
    /// Body of the middle (displacement) candle in ATR as of the bar before it.
    pub displacement: f64,
    /// Volume of the middle candle over the three candles' volume.
    pub volume_share: f64,
    /// The state now (the log says when each was reached).
    pub state: State,
}

/// Which price of a bar moves a zone out of a state, and how it compares with the zone's level.
#[derive(Clone, Copy)]
enum Price {
    Low,
    High,
    Close,
}

/// A waiting list: zones in one state of one direction, keyed by their trigger level.
#[derive(Clone, Copy)]
struct Rule {
    level: fn(&Zone) -> f64,
    price: Price,
    /// True: the zones with the largest levels fire first (fires while `level >= price`, or
    /// `>` when strict); false: the smallest first (`level <= price`, or `<`).
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
fn ce(z: &Zone) -> f64 {
    z.ce
}

/// Rules per state Formed..Inverted (what moves a zone on), bullish then bearish.
const BULLISH: [Rule; 5] = [
    rule(top, Price::Low, true, false),     // touched: low <= top
    rule(ce, Price::Low, true, false),      // CE: low <= ce
    rule(bottom, Price::Low, true, false),  // filled: low <= bottom
    rule(bottom, Price::Close, true, true), // inverted: close < bottom
    rule(top, Price::Close, false, true),   // dead: close > top
];
const BEARISH: [Rule; 5] = [
    rule(bottom, Price::High, false, false), // touched: high >= bottom
    rule(ce, Price::High, false, false),     // CE: high >= ce
    rule(top, Price::High, false, false),    // filled: high >= top
    rule(top, Price::Close, false, true),    // inverted: close > top
    rule(bottom, Price::Close, true, true),  // dead: close < bottom
];

fn rule_of(list: usize) -> &'static Rule {
    if list < 5 {
        &BULLISH[list]
    } else {
        &BEARISH[list - 5]
    }
}

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

/// Streaming FVG detector; the batch form is its fold.
pub struct Fvg {
    pub params: FvgParams,
    pub zones: Vec<Zone>,
    pub transitions: Vec<Transition>,
    /// Waiting lists: index `side * 5 + state` (side 0 bullish, 1 bearish).
    waiting: Vec<BTreeSet<(u64, usize)>>,
    /// The level that fires first in each list (NaN when empty): most bars move no zone, and
    /// one comparison with this spares a descent of the tree.
    first: [f64; 10],
    journal: Vec<Op>,
    zones_before: usize,
    transitions_before: usize,
}

impl Fvg {
    pub fn new(params: FvgParams) -> Self {
        Self {
            params,
            zones: Vec::new(),
            transitions: Vec::new(),
            waiting: vec![BTreeSet::new(); 10],
            first: [f64::NAN; 10],
            journal: Vec::new(),
            zones_before: 0,
            transitions_before: 0,
        }
    }

    fn insert(&mut self, list: usize, id: usize, level: f64) {
        let entry = (ordered(level), id);
        self.waiting[list].insert(entry);
        self.journal.push(Op::Insert(list, entry));
        self.refresh(list);
    }

    /// Recomputes [`Fvg::first`] of a list after it changed.
    fn refresh(&mut self, list: usize) {
        let from_top = rule_of(list).from_top;
        let set = &self.waiting[list];
        let next = if from_top { set.last() } else { set.first() };
        self.first[list] = next.map_or(f64::NAN, |&(_, id)| (rule_of(list).level)(&self.zones[id]));
    }

    /// Processes the newest bar of `history`; returns (zones formed, transitions logged).
    pub fn step(&mut self, history: &History) -> (usize, usize) {
        let t = history.len() - 1;
        self.journal.clear();
        self.zones_before = self.zones.len();
        self.transitions_before = self.transitions.len();
        let bar = history.bars[t];
        for side in 0..2 {
            let rules = if side == 0 { &BULLISH } else { &BEARISH };
            for (stage, r) in rules.iter().enumerate() {
                let list = side * 5 + stage;
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
                    if let Some(next_rule) = rules.get(stage + 1) {
                        let level = (next_rule.level)(&self.zones[entry.1]);
                        self.insert(list + 1, entry.1, level);
                    }
                }
                self.refresh(list);
            }
        }
        if t >= 2 {
            self.detect(history, t);
        }
        (
            self.zones.len() - self.zones_before,
            self.transitions.len() - self.transitions_before,
        )
    }

    fn detect(&mut self, history: &History, t: usize) {
        let [first, middle, last] = [history.bars[t - 2], history.bars[t - 1], history.bars[t]];
        let (direction, top, bottom) = if last.low > first.high {
            (1i8, last.low, first.high)
        } else if last.high < first.low {
            (-1i8, first.low, last.high)
        } else {
            return;
        };
        let atr = history.atr[t];
        let size_atr = (top - bottom) / atr;
        // NaN (no ATR yet) is not big enough.
        let big_enough = size_atr >= self.params.min_size_atr;
        if self.params.min_size_atr > 0.0 && !big_enough {
            return;
        }
        let volume = first.volume + middle.volume + last.volume;
        let id = self.zones.len();
        let zone = Zone {
            id,
            direction,
            anchor: t - 1,
            known_at: t,
            top,
            bottom,
            ce: bottom + (top - bottom) / 2.0,
            size_atr,
            displacement: middle.body() / history.atr[t - 2],
            volume_share: if volume > 0.0 {
                middle.volume / volume
            } else {
                f64::NAN
            },
            state: State::Formed,
        };
        self.zones.push(zone);
        self.transitions.push(Transition {
            id,
            state: State::Formed,
            bar: t,
        });
        let (list, rules) = if direction > 0 {
            (0, &BULLISH)
        } else {
            (5, &BEARISH)
        };
        self.insert(list, id, (rules[0].level)(&zone));
    }

    /// Undoes the last [`Fvg::step`].
    pub fn undo(&mut self) {
        let mut touched = [false; 10];
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
            touched[list] = true;
        }
        for tr in self.transitions.drain(self.transitions_before..).rev() {
            if let Some(zone) = self.zones.get_mut(tr.id) {
                zone.state = previous(tr.state);
            }
        }
        self.zones.truncate(self.zones_before);
        for (list, &changed) in touched.iter().enumerate() {
            if changed {
                self.refresh(list);
            }
        }
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
