//! The JMS `LIKE` operator: a compiled pattern and a matcher whose work is linear in the text
//! for patterns without `_`, and always charged to the selector's step budget.
//!
//! A pattern is cut at its `%` wildcards into *segments* (runs of literal characters and `_`).
//! The text matches when the first segment matches at its start (unless the pattern begins
//! with `%`), the last one at its end (unless it ends with `%`), and every segment in between
//! can be found, in order, without overlapping. Taking the leftmost occurrence of each middle
//! segment is always right (it leaves the most text for the rest), so there is no backtracking:
//! `'%a%a%a…%b'` against 10,000 `a`s costs one pass, not 10,000 × pattern length as the
//! classic retry-at-the-last-`%` matcher did. A literal segment is found with the standard
//! library's substring search (Two-Way: linear in text + segment); a segment holding `_` is
//! tried at each position in turn, which can cost text × segment — that is where the budget
//! ([`Budget`]) stops a hostile pattern.
//!
//! Characters are Unicode scalar values (`_` matches one), compared exactly (JMS LIKE is
//! case-sensitive).

use super::selector::Budget;

/// One element of a segment.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Elem {
    One,
    Char(char),
}

/// A run of a pattern between two `%`.
#[derive(Debug, Clone)]
struct Segment {
    elems: Vec<Elem>,
    /// The segment as a string when it holds no `_` (found by substring search).
    literal: Option<String>,
}

/// A compiled LIKE pattern.
#[derive(Debug, Clone)]
pub(super) struct Like {
    segments: Vec<Segment>,
    /// The pattern starts with `%` (the first segment may start anywhere).
    open_start: bool,
    /// The pattern ends with `%`.
    open_end: bool,
}

/// How many characters a LIKE compares one by one (a segment with `_`) for one budget step.
const CHARS_PER_STEP: usize = 8;
/// How many bytes of text the substring search (a literal segment) covers for one step.
const BYTES_PER_STEP: usize = 64;

impl Like {
    /// Compiles `pattern` with an optional ESCAPE character.
    pub(super) fn compile(pattern: &str, escape: Option<char>) -> Result<Like, String> {
        let mut runs = vec![Vec::new()];
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let elem = match c {
                _ if Some(c) == escape => match chars.next() {
                    Some(next) => Elem::Char(next),
                    None => return Err("the LIKE pattern ends with its escape character".into()),
                },
                '%' => {
                    runs.push(Vec::new());
                    continue;
                }
                '_' => Elem::One,
                _ => Elem::Char(c),
            };
            runs.last_mut().expect("never empty").push(elem);
        }
        let wild = runs.len() > 1;
        let open_start = wild && runs[0].is_empty();
        let open_end = wild && runs.last().is_some_and(Vec::is_empty);
        let segments = runs
            .into_iter()
            .filter(|r| !r.is_empty())
            .map(|elems| {
                let literal = elems
                    .iter()
                    .map(|e| match e {
                        Elem::Char(c) => Some(*c),
                        Elem::One => None,
                    })
                    .collect();
                Segment { elems, literal }
            })
            .collect();
        Ok(Like { segments, open_start, open_end })
    }

    /// Whether the whole of `text` matches; `None` when the budget ran out first.
    pub(super) fn matches(&self, text: &str, budget: &Budget) -> Option<bool> {
        let segs = &self.segments;
        let Some(last) = segs.len().checked_sub(1) else {
            // No segments: `%` matches anything, the empty pattern only the empty text.
            return Some(self.open_start || text.is_empty());
        };
        let (mut from, mut to) = (0, text.len());
        let mut middle = &segs[..];
        if !self.open_start {
            match match_charged(&segs[0], text, 0, to, budget)? {
                Some(end) => from = end,
                None => return Some(false),
            }
            if last == 0 && !self.open_end {
                return Some(from == text.len());
            }
            middle = &middle[1..];
        }
        if !self.open_end && !middle.is_empty() {
            let seg = &segs[last];
            // The last segment's start: as many characters from the end as it has elements.
            let Some((start, _)) = text.char_indices().rev().nth(seg.elems.len() - 1) else { return Some(false) };
            if start < from || match_charged(seg, text, start, to, budget)? != Some(text.len()) {
                return Some(false);
            }
            to = start;
            middle = &middle[..middle.len() - 1];
        }
        for seg in middle {
            match find(seg, text, from, to, budget)? {
                Some(end) => from = end,
                None => return Some(false),
            }
        }
        Some(true)
    }
}

/// The end of `seg` matched at byte `at` of `text` (not beyond `to`), if it matches there,
/// and how many characters that examined.
fn match_at(seg: &Segment, text: &str, at: usize, to: usize) -> (Option<usize>, usize) {
    let mut chars = text[at..to].char_indices();
    for (n, e) in seg.elems.iter().enumerate() {
        match (chars.next(), e) {
            (Some(_), Elem::One) => {}
            (Some((_, c)), Elem::Char(want)) if c == *want => {}
            _ => return (None, n + 1),
        }
    }
    (Some(chars.next().map_or(to, |(i, _)| at + i)), seg.elems.len())
}

/// [`match_at`], charged to the budget.
fn match_charged(seg: &Segment, text: &str, at: usize, to: usize, budget: &Budget) -> Option<Option<usize>> {
    let (end, examined) = match_at(seg, text, at, to);
    budget.spend(examined / CHARS_PER_STEP + 1)?;
    Some(end)
}

/// The end of the leftmost occurrence of `seg` within `text[from..to]`.
fn find(seg: &Segment, text: &str, from: usize, to: usize, budget: &Budget) -> Option<Option<usize>> {
    let hay = &text[from..to];
    if let Some(lit) = &seg.literal {
        let (found, examined) = match hay.find(lit.as_str()) {
            Some(i) => (Some(from + i + lit.len()), i + lit.len()),
            None => (None, hay.len()),
        };
        budget.spend(examined / BYTES_PER_STEP + 1)?;
        return Some(found);
    }
    // A segment with `_`: tried at each character, the examined characters charged as it goes.
    let mut examined = 0;
    for (i, _) in hay.char_indices() {
        let (end, n) = match_at(seg, text, from + i, to);
        examined += n;
        if examined >= CHARS_PER_STEP {
            budget.spend(examined / CHARS_PER_STEP)?;
            examined %= CHARS_PER_STEP;
        }
        if end.is_some() {
            return Some(end);
        }
    }
    budget.spend(1)?;
    Some(None)
}
