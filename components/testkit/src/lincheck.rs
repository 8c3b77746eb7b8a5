//! A linearizability checker for histories of a key-value register (put, get, compare-and-
//! swap), used by the fault-injection tests. Wing & Gong's search with Lowe's memoisation (as
//! in Knossos and Porcupine): find an order of the operations, consistent with real time, in
//! which every result matches a sequential register. Keys are independent (P-compositionality),
//! so each key's sub-history is checked alone.
//!
//! Operations whose outcome the client never learned (timeouts, dropped connections) have no
//! return time and any result: they may have taken effect at any point after their call, or
//! never.

use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Put(String),
    Get,
    Cas { expect: String, new: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Put,
    Get(Option<String>),
    Cas(bool),
    /// The client does not know whether or how the operation took effect.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Op {
    pub key: String,
    pub input: Input,
    pub output: Output,
    /// Invocation and response times (any monotonic unit); `ret` is `u64::MAX` when unknown.
    pub call: u64,
    pub ret: u64,
}

type State = Option<String>;

/// The sequential register: the states an operation may lead to from `s` given its result.
fn step(s: &State, input: &Input, output: &Output) -> Vec<State> {
    match (input, output) {
        (Input::Put(v), Output::Put | Output::Unknown) => vec![Some(v.clone())],
        (Input::Get, Output::Get(r)) => {
            if r == s { vec![s.clone()] } else { vec![] }
        }
        (Input::Get, Output::Unknown) => vec![s.clone()],
        (Input::Cas { expect, new }, Output::Cas(ok)) => {
            let matches = s.as_deref() == Some(expect.as_str());
            match (matches, ok) {
                (true, true) => vec![Some(new.clone())],
                (false, false) => vec![s.clone()],
                _ => vec![],
            }
        }
        (Input::Cas { expect, new }, Output::Unknown) => {
            if s.as_deref() == Some(expect.as_str()) { vec![Some(new.clone())] } else { vec![s.clone()] }
        }
        _ => vec![],
    }
}

/// Checks a whole history; on failure names the first key whose history is not linearizable.
pub fn check(ops: &[Op]) -> Result<(), String> {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(&op.key).or_default().push(op);
    }
    for (key, ops) in by_key {
        if !check_key(&ops) {
            return Err(format!("history of key {key:?} ({} operations) is not linearizable", ops.len()));
        }
    }
    Ok(())
}

struct Search<'a> {
    ops: Vec<&'a Op>,
    /// (remaining set, state) pairs already shown to lead nowhere.
    dead: HashSet<(Vec<u64>, State)>,
}

/// One level of the depth-first search: the choices left at this point.
struct Frame {
    remaining: Vec<u64>,
    /// Pending operations with a known outcome; when none are left the search is done (the
    /// unknown ones may never have happened).
    known_left: usize,
    state: State,
    choices: Vec<(usize, State)>,
    next: usize,
}

fn check_key(ops: &[&Op]) -> bool {
    // A read whose result is unknown constrains nothing.
    let mut ops: Vec<&Op> = ops.iter().copied().filter(|o| !(o.input == Input::Get && o.output == Output::Unknown)).collect();
    // In call order, the operations that may come next form a short window at the front of
    // what is pending (see `choices`).
    ops.sort_by_key(|o| o.call);
    let mut remaining = vec![0u64; ops.len().div_ceil(64)];
    for i in 0..ops.len() {
        remaining[i / 64] |= 1 << (i % 64);
    }
    let mut s = Search { ops, dead: HashSet::new() };
    s.run(remaining)
}

impl Search<'_> {
    fn is_pending(remaining: &[u64], i: usize) -> bool {
        remaining[i / 64] & (1 << (i % 64)) != 0
    }


    /// Every (operation, resulting state) that can come next: an operation can come next only
    /// if it was called before every other pending operation returned. Walking pending
    /// operations in call order while tracking the smallest return seen, the walk can stop at
    /// the first call after that return: no later operation can return earlier than it is
    /// called.
    fn choices(&self, remaining: &[u64], state: &State) -> Vec<(usize, State)> {
        let first = remaining.iter().position(|w| *w != 0).map_or(self.ops.len(), |w| w * 64 + remaining[w].trailing_zeros() as usize);
        let mut window = Vec::new();
        let mut min_ret = u64::MAX;
        for i in first..self.ops.len() {
            if !Self::is_pending(remaining, i) {
                continue;
            }
            if self.ops[i].call >= min_ret {
                break;
            }
            min_ret = min_ret.min(self.ops[i].ret);
            window.push(i);
        }
        let mut out = Vec::new();
        for i in window {
            let op = self.ops[i];
            if op.call < min_ret {
                out.extend(step(state, &op.input, &op.output).into_iter().map(|s| (i, s)));
            }
        }
        out
    }

    /// Iterative depth-first search (histories of thousands of operations would overflow the
    /// stack if recursive).
    fn run(&mut self, remaining: Vec<u64>) -> bool {
        let known_left = self.ops.iter().filter(|o| o.output != Output::Unknown).count();
        if known_left == 0 {
            return true;
        }
        let choices = self.choices(&remaining, &None);
        let mut stack = vec![Frame { remaining, known_left, state: None, choices, next: 0 }];
        while let Some(top) = stack.last_mut() {
            if top.next == top.choices.len() {
                let f = stack.pop().expect("non-empty");
                self.dead.insert((f.remaining, f.state));
                continue;
            }
            let (i, state) = top.choices[top.next].clone();
            top.next += 1;
            let mut rest = top.remaining.clone();
            rest[i / 64] &= !(1 << (i % 64));
            let known_left = top.known_left - usize::from(self.ops[i].output != Output::Unknown);
            if known_left == 0 {
                return true;
            }
            if self.dead.contains(&(rest.clone(), state.clone())) {
                continue;
            }
            let choices = self.choices(&rest, &state);
            stack.push(Frame { remaining: rest, known_left, state, choices, next: 0 });
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(input: Input, output: Output, call: u64, ret: u64) -> Op {
        Op { key: "k".into(), input, output, call, ret }
    }
    fn put(v: &str, call: u64, ret: u64) -> Op {
        op(Input::Put(v.into()), Output::Put, call, ret)
    }
    fn get(v: Option<&str>, call: u64, ret: u64) -> Op {
        op(Input::Get, Output::Get(v.map(String::from)), call, ret)
    }
    fn cas(expect: &str, new: &str, ok: bool, call: u64, ret: u64) -> Op {
        op(Input::Cas { expect: expect.into(), new: new.into() }, Output::Cas(ok), call, ret)
    }

    #[test]
    fn accepts_sequential_and_overlapping_histories() {
        assert!(check(&[put("a", 0, 1), get(Some("a"), 2, 3), cas("a", "b", true, 4, 5), get(Some("b"), 6, 7)]).is_ok());
        // A read overlapping a write may see either value.
        assert!(check(&[put("a", 0, 1), put("b", 2, 6), get(Some("a"), 3, 4), get(Some("b"), 5, 7)]).is_ok());
        // Reads of a missing key see nothing.
        assert!(check(&[get(None, 0, 1), put("a", 2, 3)]).is_ok());
    }

    #[test]
    fn rejects_a_stale_read() {
        let h = [put("a", 0, 1), put("b", 2, 3), get(Some("a"), 4, 5)];
        assert!(check(&h).is_err());
    }

    #[test]
    fn rejects_a_read_going_back_in_time() {
        // Both writes overlap the reads, but once a read saw b, a later read cannot see a.
        let h = [put("a", 0, 10), put("b", 0, 10), get(Some("b"), 1, 2), get(Some("a"), 3, 4), get(Some("b"), 5, 6)];
        assert!(check(&h).is_err());
    }

    #[test]
    fn rejects_two_successful_cas_from_the_same_value() {
        let h = [put("a", 0, 1), cas("a", "b", true, 2, 3), cas("a", "c", true, 4, 5)];
        assert!(check(&h).is_err());
        // Concurrent ones too: only one can win.
        let h = [put("a", 0, 1), cas("a", "b", true, 2, 5), cas("a", "c", true, 3, 6)];
        assert!(check(&h).is_err());
        let h = [put("a", 0, 1), cas("a", "b", true, 2, 5), cas("a", "c", false, 3, 6)];
        assert!(check(&h).is_ok());
    }

    #[test]
    fn rejects_a_value_nobody_wrote() {
        assert!(check(&[put("a", 0, 1), get(Some("zzz"), 2, 3)]).is_err());
    }

    #[test]
    fn unknown_outcomes_may_or_may_not_have_happened() {
        let unknown_put = op(Input::Put("x".into()), Output::Unknown, 0, u64::MAX);
        // Seen later: it happened.
        assert!(check(&[unknown_put.clone(), get(Some("x"), 5, 6)]).is_ok());
        // Never seen: it did not happen (or happened after everything).
        assert!(check(&[unknown_put.clone(), put("a", 1, 2), get(Some("a"), 3, 4)]).is_ok());
        // But it cannot have happened before it was called.
        let late_unknown = op(Input::Put("x".into()), Output::Unknown, 10, u64::MAX);
        assert!(check(&[get(Some("x"), 0, 1), late_unknown]).is_err());
    }

    #[test]
    fn long_histories_are_accepted_or_rejected() {
        // 3 000 overlapping writes and reads (pairs overlap their neighbours), then a stale read.
        let mut h = Vec::new();
        for i in 0..3000u64 {
            h.push(put(&format!("v{i}"), i * 10, i * 10 + 15));
            h.push(get(Some(&format!("v{i}")), i * 10 + 16, i * 10 + 18));
        }
        assert!(check(&h).is_ok());
        h.push(get(Some("v10"), 40_000, 40_001));
        assert!(check(&h).is_err());
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut other = put("z", 0, 1);
        other.key = "other".into();
        let mut stale = get(Some("q"), 2, 3);
        stale.key = "other".into();
        let err = check(&[put("a", 0, 1), other, stale]).unwrap_err();
        assert!(err.contains("\"other\""), "{err}");
    }
}
