//! JMS 1.1 message selectors (the SQL-92 subset of JMS §3.8.1.1): parsing and evaluation, no I/O.
//!
//! A tokenizer turns the text into tokens (keywords case-insensitive; identifiers may contain
//! `.` as in ActiveMQ), a recursive-descent parser builds an AST with one function per
//! precedence level (OR, AND, NOT, predicate, `+ -`, `* /`, unary), and [`Selector::matches`]
//! evaluates it with SQL's three-valued logic: a missing identifier is NULL, NULL makes
//! comparisons and arithmetic UNKNOWN (and an UNKNOWN `IS NULL`), and only TRUE matches.
//! AND/OR and arithmetic chains are n-ary nodes and the parser refuses more than
//! 50 levels (`MAX_NESTING`) of parentheses, NOT and signs, so a selector, however long or
//! hostile, cannot exhaust the stack while being parsed or evaluated.
//!
//! Caveats: string ordering (`<`, `BETWEEN` on strings, as ActiveMQ allows) is by code point,
//! not Java's UTF-16 units; comparisons do not chain (`a = b = c` is an error); integer literals
//! with a leading zero are decimal (no octal); any division by zero is UNKNOWN (Java would give
//! Infinity for doubles); `IN` lists take string literals only, as in JMS. `LIKE` works on
//! chars (`like.rs`: linear for patterns without `_`). With `convert_strings` a string meeting
//! a number is read as a number (integer if it parses as one, else double) and a string
//! meeting a boolean as `true`/`false` (case-insensitive); a string that does not convert is
//! UNKNOWN.
//!
//! **Bounded work.** The text is at most [`limits::MAX_SELECTOR`] bytes, and evaluating it
//! against one message may take at most a budget of steps ([`limits::SELECTOR_STEPS`] for
//! [`Selector::matches`]): a step is one expression node evaluated, 64 bytes of text a `LIKE`
//! searches for a literal run, or 8 characters it compares one by one (a run with `_`), so
//! 10,000 steps are about 0.1 ms of a release build's time. A selector that runs out is
//! [`Verdict::OverBudget`], which counts as not matching; the broker logs it once per
//! consumer. So a client's selector costs the broker (which evaluates under its lock) a
//! bounded, small amount of work per message, however long the message's properties are.

/// A value a selector reads from a message (a header field or a property).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Long(i64),
    Double(f64),
    Str(String),
}

use std::cell::Cell;

use super::like::Like;
use crate::limits;

/// What evaluating a selector against one message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Match,
    NoMatch,
    /// It ran out of steps before it was decided (treated as no match).
    OverBudget,
}

/// The steps an evaluation may still take; `spend` is `None` once they run out.
pub(super) struct Budget {
    left: Cell<usize>,
    exhausted: Cell<bool>,
}

impl Budget {
    pub(super) fn new(steps: usize) -> Budget {
        Budget { left: Cell::new(steps), exhausted: Cell::new(false) }
    }

    pub(super) fn spend(&self, steps: usize) -> Option<()> {
        let left = self.left.get();
        self.left.set(left.saturating_sub(steps));
        self.exhausted.set(self.exhausted.get() || left < steps);
        (!self.exhausted.get()).then_some(())
    }
}

/// A parsed selector.
#[derive(Debug, Clone)]
pub struct Selector {
    text: String,
    expr: Expr,
    convert: bool,
}

/// How deeply parentheses, NOT and unary signs may nest (about 10 KiB of stack a level in a
/// debug build, much less in release).
const MAX_NESTING: usize = 50;

impl Selector {
    /// Parses `text`. `convert_strings`: ActiveMQ's STOMP mode ("convert_string_expressions"):
    /// a string value compared with a number (or in arithmetic) is read as a number when it
    /// parses as one, and a string compared with TRUE/FALSE as a boolean ("true"/"false",
    /// case-insensitive). Without it, JMS typing applies: mismatched types give UNKNOWN.
    /// An empty or all-whitespace text is an error here (callers treat "no selector" themselves).
    pub fn parse(text: &str, convert_strings: bool) -> Result<Selector, String> {
        let fail = |(msg, pos): (String, usize)| format!("invalid selector {text:?}: {msg} at character {pos}");
        if text.trim().is_empty() {
            return Err(format!("invalid selector {text:?}: the selector is empty"));
        }
        if let Err(e) = limits::check(limits::NameKind::Selector, text) {
            let head: String = text.chars().take(40).collect();
            return Err(format!("invalid selector {head:?}…: {e}"));
        }
        let mut p = Parser { toks: tokenize(text).map_err(fail)?, i: 0, nesting: 0 };
        let expr = p.or().map_err(fail)?;
        if p.peek() != &Tok::End {
            return Err(fail((format!("unexpected {}", describe(p.peek())), p.pos())));
        }
        Ok(Selector { text: text.to_string(), expr, convert: convert_strings })
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a message matches: the expression evaluates to TRUE (UNKNOWN and FALSE do not match).
    /// `lookup(identifier)` gives the value of an identifier, `None` when the message has no such
    /// field/property (SQL NULL). Identifiers are case-sensitive, passed through as written.
    /// At most [`limits::SELECTOR_STEPS`] steps; running out counts as not matching.
    pub fn matches(&self, lookup: &dyn Fn(&str) -> Option<Value>) -> bool {
        self.evaluate(lookup, limits::SELECTOR_STEPS as usize).0 == Verdict::Match
    }

    /// [`Selector::matches`] with a budget of `steps`; also returns the steps it took.
    pub fn evaluate(&self, lookup: &dyn Fn(&str) -> Option<Value>, steps: usize) -> (Verdict, usize) {
        let budget = Budget::new(steps);
        let truth = Ctx { lookup, convert: self.convert, budget: &budget }.truth(&self.expr);
        let used = steps - budget.left.get();
        let verdict = match truth {
            _ if budget.exhausted.get() => Verdict::OverBudget,
            Some(true) => Verdict::Match,
            _ => Verdict::NoMatch,
        };
        (verdict, used)
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

const KEYWORDS: [&str; 11] = ["NOT", "AND", "OR", "BETWEEN", "LIKE", "ESCAPE", "IN", "IS", "NULL", "TRUE", "FALSE"];
const SYMBOLS: [&str; 13] = ["<>", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "(", ")", ","];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    /// An exact numeric, up to 2^63 (which is valid only right after a unary minus).
    Int(u64),
    Float(f64),
    /// A keyword, upper-cased.
    Kw(&'static str),
    Sym(&'static str),
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("identifier '{s}'"),
        Tok::Str(_) => "a string".into(),
        Tok::Int(_) | Tok::Float(_) => "a number".into(),
        Tok::Kw(k) => (*k).into(),
        Tok::Sym(s) => format!("'{s}'"),
        Tok::End => "end of text".into(),
    }
}

fn ident_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '.'
}

type PResult<T> = Result<T, (String, usize)>;

/// Tokens with their 1-based character positions; always ends with [`Tok::End`].
fn tokenize(text: &str) -> PResult<Vec<(Tok, usize)>> {
    let cs: Vec<char> = text.chars().collect();
    let at = |i: usize| cs.get(i).copied().unwrap_or('\0');
    let (mut out, mut i) = (Vec::new(), 0);
    while i < cs.len() {
        let (c, start) = (cs[i], i);
        let err = |msg: &str| Err((msg.to_string(), start + 1));
        i += 1;
        let tok = if c.is_whitespace() {
            continue;
        } else if c == '\'' {
            let mut s = String::new();
            loop {
                match cs.get(i) {
                    None => return err("unterminated string"),
                    Some('\'') if at(i + 1) != '\'' => break,
                    Some(&ch) => s.push(ch),
                }
                i += 1 + usize::from(cs[i] == '\''); // `''` is one quote
            }
            i += 1;
            Tok::Str(s)
        } else if c.is_ascii_digit() || (c == '.' && at(i).is_ascii_digit()) {
            // The whole run of identifier characters, so that `57abc` is an error, not `57 abc`.
            let hex = c == '0' && matches!(at(i), 'x' | 'X');
            while ident_part(at(i)) || (!hex && matches!(at(i), '+' | '-') && matches!(cs[i - 1], 'e' | 'E')) {
                i += 1;
            }
            number(&cs[start..i].iter().collect::<String>()).map_err(|m| (m.to_string(), start + 1))?
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            while ident_part(at(i)) {
                i += 1;
            }
            let word: String = cs[start..i].iter().collect();
            match KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(&word)) {
                Some(k) => Tok::Kw(k),
                None => Tok::Ident(word),
            }
        } else {
            let pair: String = [c, at(i)].iter().collect();
            let Some(sym) = SYMBOLS.iter().find(|s| pair.starts_with(**s)) else {
                return Err((format!("unexpected character '{c}'"), start + 1));
            };
            i += sym.len() - 1;
            Tok::Sym(sym)
        };
        out.push((tok, start + 1));
    }
    out.push((Tok::End, cs.len() + 1));
    Ok(out)
}

/// A numeric literal: decimal or `0x` hex integers with an optional `L`, or approximate
/// numerics (a `.` or an exponent, or an `F`/`D` suffix).
fn number(text: &str) -> Result<Tok, &'static str> {
    let s = text.to_ascii_lowercase();
    let int = |digits: &str, radix: u32| match u64::from_str_radix(digits, radix) {
        Ok(n) if n <= 1 << 63 => Ok(Tok::Int(n)),
        _ if !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)) => Err("number out of range"),
        _ => Err("malformed number"),
    };
    if let Some(hex) = s.strip_prefix("0x") {
        int(hex.strip_suffix('l').unwrap_or(hex), 16)
    } else if let Some(digits) = s.strip_suffix('l') {
        int(digits, 10)
    } else if s.contains(['.', 'e']) || s.ends_with(['f', 'd']) {
        s.strip_suffix(['f', 'd']).unwrap_or(&s).parse().map(Tok::Float).map_err(|_| "malformed number")
    } else {
        int(&s, 10)
    }
}

// ---------------------------------------------------------------------------------------------
// AST and parser

/// `NOT BETWEEN`, `NOT IN`, `NOT LIKE` and `IS NOT NULL` are parsed as `Not` around the
/// positive form, which is the same thing in three-valued logic.
#[derive(Debug, Clone)]
enum Expr {
    Lit(Value),
    Null,
    Ident(String),
    Neg(Box<Expr>),
    /// `first op1 e1 op2 e2 ...` with ops from `+ - * /`, left-associative.
    Arith(Box<Expr>, Vec<(&'static str, Expr)>),
    /// A comparison operator from [`SYMBOLS`] and its operands.
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<String>),
    Like(Box<Expr>, Box<Like>),
    IsNull(Box<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    nesting: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }

    fn pos(&self) -> usize {
        self.toks[self.i].1
    }

    fn bump(&mut self) {
        self.i = (self.i + 1).min(self.toks.len() - 1);
    }

    fn eat(&mut self, t: &Tok) -> bool {
        let hit = self.peek() == t;
        if hit {
            self.bump();
        }
        hit
    }

    fn expect(&mut self, t: &Tok, what: &str) -> PResult<()> {
        if self.eat(t) { Ok(()) } else { self.fail(what) }
    }

    fn string(&mut self, what: &str) -> PResult<String> {
        let Tok::Str(s) = self.peek().clone() else { return self.fail(what) };
        self.bump();
        Ok(s)
    }

    fn fail<T>(&self, expected: &str) -> PResult<T> {
        Err((format!("expected {expected}, found {}", describe(self.peek())), self.pos()))
    }

    /// Runs `f` one nesting level deeper, refusing to go beyond [`MAX_NESTING`].
    fn nested(&mut self, f: fn(&mut Self) -> PResult<Expr>) -> PResult<Expr> {
        if self.nesting >= MAX_NESTING {
            return Err(("expression nested too deeply".into(), self.pos()));
        }
        self.nesting += 1;
        let r = f(self);
        self.nesting -= 1;
        r
    }

    fn chain(
        &mut self,
        kw: &'static str,
        next: fn(&mut Self) -> PResult<Expr>,
        make: fn(Vec<Expr>) -> Expr,
    ) -> PResult<Expr> {
        let mut items = vec![next(self)?];
        while self.eat(&Tok::Kw(kw)) {
            items.push(next(self)?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { make(items) })
    }

    fn or(&mut self) -> PResult<Expr> {
        self.chain("OR", Self::and, Expr::Or)
    }

    fn and(&mut self) -> PResult<Expr> {
        self.chain("AND", Self::not, Expr::And)
    }

    fn not(&mut self) -> PResult<Expr> {
        if self.eat(&Tok::Kw("NOT")) { Ok(Expr::Not(Box::new(self.nested(Self::not)?))) } else { self.predicate() }
    }

    fn predicate(&mut self) -> PResult<Expr> {
        let e = Box::new(self.additive()?);
        let negated = self.eat(&Tok::Kw("NOT"));
        let positive = match self.peek().clone() {
            Tok::Sym(op @ ("=" | "<>" | "<" | "<=" | ">" | ">=")) if !negated => {
                self.bump();
                return Ok(Expr::Cmp(op, e, Box::new(self.additive()?)));
            }
            Tok::Kw("BETWEEN") => {
                self.bump();
                let lo = Box::new(self.additive()?);
                self.expect(&Tok::Kw("AND"), "AND")?;
                Expr::Between(e, lo, Box::new(self.additive()?))
            }
            Tok::Kw("IN") => {
                self.bump();
                self.expect(&Tok::Sym("("), "'('")?;
                let mut list = vec![self.string("a string literal")?];
                while self.eat(&Tok::Sym(",")) {
                    list.push(self.string("a string literal")?);
                }
                self.expect(&Tok::Sym(")"), "',' or ')'")?;
                Expr::In(e, list)
            }
            Tok::Kw("LIKE") => {
                self.bump();
                let at = self.pos();
                let pattern = self.string("a string pattern")?;
                let mut escape = None;
                if self.eat(&Tok::Kw("ESCAPE")) {
                    let esc_at = self.pos();
                    let mut chars = self.string("an escape string")?.chars().collect::<Vec<_>>();
                    if chars.len() != 1 {
                        return Err(("the ESCAPE string must be exactly one character".into(), esc_at));
                    }
                    escape = chars.pop();
                }
                Expr::Like(e, Box::new(Like::compile(&pattern, escape).map_err(|m| (m, at))?))
            }
            Tok::Kw("IS") if !negated => {
                self.bump();
                let negated = self.eat(&Tok::Kw("NOT"));
                self.expect(&Tok::Kw("NULL"), "NULL")?;
                let e = Expr::IsNull(e);
                return Ok(if negated { Expr::Not(Box::new(e)) } else { e });
            }
            _ if negated => return self.fail("BETWEEN, IN or LIKE after NOT"),
            _ => return Ok(*e),
        };
        Ok(if negated { Expr::Not(Box::new(positive)) } else { positive })
    }

    fn arith(&mut self, ops: [&str; 2], next: fn(&mut Self) -> PResult<Expr>) -> PResult<Expr> {
        let first = next(self)?;
        let mut rest = Vec::new();
        while let Tok::Sym(op) = *self.peek()
            && ops.contains(&op)
        {
            self.bump();
            rest.push((op, next(self)?));
        }
        Ok(if rest.is_empty() { first } else { Expr::Arith(Box::new(first), rest) })
    }

    fn additive(&mut self) -> PResult<Expr> {
        self.arith(["+", "-"], Self::multiplicative)
    }

    fn multiplicative(&mut self) -> PResult<Expr> {
        self.arith(["*", "/"], Self::unary)
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.eat(&Tok::Sym("+")) {
            // Numeric identity: `0 + x` keeps x's type and rejects non-numbers like `-x` does.
            let x = self.nested(Self::unary)?;
            return Ok(Expr::Arith(Box::new(Expr::Lit(Value::Long(0))), vec![("+", x)]));
        } else if !self.eat(&Tok::Sym("-")) {
            return self.primary();
        }
        // A negative literal is folded, which is also how -9223372036854775808 can be written.
        let folded = match *self.peek() {
            Tok::Int(n) => Value::Long((n as i64).wrapping_neg()),
            Tok::Float(f) => Value::Double(-f),
            _ => return Ok(Expr::Neg(Box::new(self.nested(Self::unary)?))),
        };
        self.bump();
        Ok(Expr::Lit(folded))
    }

    fn primary(&mut self) -> PResult<Expr> {
        let e = match self.peek().clone() {
            Tok::Str(s) => Expr::Lit(Value::Str(s)),
            Tok::Int(n) => match i64::try_from(n) {
                Ok(n) => Expr::Lit(Value::Long(n)),
                Err(_) => return Err(("number out of range".into(), self.pos())),
            },
            Tok::Float(f) => Expr::Lit(Value::Double(f)),
            Tok::Kw("TRUE") => Expr::Lit(Value::Bool(true)),
            Tok::Kw("FALSE") => Expr::Lit(Value::Bool(false)),
            Tok::Kw("NULL") => Expr::Null,
            Tok::Ident(s) => Expr::Ident(s),
            Tok::Sym("(") => {
                self.bump();
                let e = self.nested(Self::or)?;
                self.expect(&Tok::Sym(")"), "')'")?;
                return Ok(e);
            }
            _ => return self.fail("a value"),
        };
        self.bump();
        Ok(e)
    }
}

#[path = "selector_eval.rs"]
mod eval;
use eval::Ctx;

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;
