//! Evaluation of a parsed selector ([`super::Selector::evaluate`]): `None` is SQL NULL (for
//! values) or UNKNOWN (for truth); every node evaluated spends a step of the budget.

use super::{Budget, Expr, Value};

pub(super) struct Ctx<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<Value>,
    pub(super) convert: bool,
    pub(super) budget: &'a Budget,
}

fn float(v: &Value) -> f64 {
    match v {
        Value::Long(n) => *n as f64,
        Value::Double(d) => *d,
        _ => f64::NAN,
    }
}

fn parse_number(s: &str) -> Option<Value> {
    let s = s.trim();
    s.parse().map(Value::Long).or_else(|_| s.parse().map(Value::Double)).ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    ["false", "true"].iter().position(|b| b.eq_ignore_ascii_case(s)).map(|i| i == 1)
}

/// SQL AND of two truth values.
fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

impl Ctx<'_> {
    fn value(&self, e: &Expr) -> Option<Value> {
        self.budget.spend(1)?;
        match e {
            Expr::Lit(v) => Some(v.clone()),
            Expr::Null => None,
            Expr::Ident(name) => (self.lookup)(name),
            Expr::Neg(x) => match self.number(self.value(x)?)? {
                Value::Long(n) => Some(Value::Long(n.wrapping_neg())),
                v => Some(Value::Double(-float(&v))),
            },
            Expr::Arith(first, rest) => {
                let mut acc = self.value(first)?;
                for (op, x) in rest {
                    acc = self.arith(op, acc, self.value(x)?)?;
                }
                Some(acc)
            }
            _ => self.truth(e).map(Value::Bool),
        }
    }

    pub(super) fn truth(&self, e: &Expr) -> Option<bool> {
        self.budget.spend(1)?;
        match e {
            Expr::Not(x) => self.truth(x).map(|b| !b),
            // Both stop at the first operand that decides.
            Expr::And(items) => items
                .iter()
                .try_fold(Some(true), |acc, x| match self.truth(x) {
                    Some(false) => Err(()),
                    r => Ok(and3(acc, r)),
                })
                .unwrap_or(Some(false)),
            Expr::Or(items) => items
                .iter()
                .try_fold(Some(false), |acc, x| match self.truth(x) {
                    Some(true) => Err(()),
                    r => Ok(acc.and(r)),
                })
                .unwrap_or(Some(true)),
            Expr::Cmp(op, l, r) => self.compare(op, self.value(l), self.value(r)),
            Expr::Between(x, lo, hi) => {
                let v = self.value(x);
                and3(self.compare("<=", self.value(lo), v.clone()), self.compare("<=", v, self.value(hi)))
            }
            Expr::In(x, list) => match self.value(x)? {
                Value::Str(s) => {
                    self.budget.spend(list.len() / 8)?;
                    Some(list.contains(&s))
                }
                _ => None,
            },
            Expr::Like(x, pattern) => match self.value(x)? {
                Value::Str(s) => pattern.matches(&s, self.budget),
                _ => None,
            },
            Expr::IsNull(x) => Some(self.value(x).is_none()),
            Expr::Lit(_) | Expr::Null | Expr::Ident(_) | Expr::Neg(_) | Expr::Arith(..) => match self.value(e)? {
                Value::Bool(b) => Some(b),
                Value::Str(s) if self.convert => parse_bool(&s),
                _ => None,
            },
        }
    }

    /// A number, or a string read as one in `convert` mode.
    fn number(&self, v: Value) -> Option<Value> {
        match v {
            Value::Long(_) | Value::Double(_) => Some(v),
            Value::Str(s) if self.convert => parse_number(&s),
            _ => None,
        }
    }

    fn arith(&self, op: &str, l: Value, r: Value) -> Option<Value> {
        match (self.number(l)?, self.number(r)?) {
            (Value::Long(a), Value::Long(b)) => Some(Value::Long(match op {
                "+" => a.wrapping_add(b),
                "-" => a.wrapping_sub(b),
                "*" => a.wrapping_mul(b),
                _ if b == 0 => return None,
                _ => a.wrapping_div(b), // Java's: truncating, and MIN / -1 == MIN
            })),
            (l, r) => {
                let (a, b) = (float(&l), float(&r));
                Some(Value::Double(match op {
                    "+" => a + b,
                    "-" => a - b,
                    "*" => a * b,
                    _ if b == 0.0 => return None,
                    _ => a / b,
                }))
            }
        }
    }

    fn compare(&self, op: &str, l: Option<Value>, r: Option<Value>) -> Option<bool> {
        use Value::*;
        let (mut l, mut r) = (l?, r?);
        if self.convert {
            match (&l, &r) {
                (Str(s), Long(_) | Double(_)) => l = parse_number(s)?,
                (Long(_) | Double(_), Str(s)) => r = parse_number(s)?,
                (Str(s), Bool(_)) => l = Bool(parse_bool(s)?),
                (Bool(_), Str(s)) => r = Bool(parse_bool(s)?),
                _ => {}
            }
        }
        let ord = match (&l, &r) {
            (Long(a), Long(b)) => a.cmp(b),
            (Long(_) | Double(_), Long(_) | Double(_)) => float(&l).partial_cmp(&float(&r))?,
            (Str(a), Str(b)) => a.cmp(b),
            (Bool(a), Bool(b)) if matches!(op, "=" | "<>") => a.cmp(b),
            _ => return None,
        };
        Some(match op {
            "=" => ord.is_eq(),
            "<>" => ord.is_ne(),
            "<" => ord.is_lt(),
            "<=" => ord.is_le(),
            ">" => ord.is_gt(),
            _ => ord.is_ge(),
        })
    }
}
