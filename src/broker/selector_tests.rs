//! Tests of [`super`]: the selector grammar, three-valued logic, LIKE, conversions, errors.

use super::*;
use Value::{Bool, Double, Long, Str};

fn s(v: &str) -> Value {
    Str(v.into())
}

fn lookup(props: &[(&str, Value)]) -> impl Fn(&str) -> Option<Value> + use<> {
    let props: Vec<(String, Value)> = props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    move |name| props.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The three-valued result of `text` against `props`; also checks that `matches` agrees.
fn eval(text: &str, convert: bool, props: &[(&str, Value)]) -> Option<bool> {
    let sel = Selector::parse(text, convert).unwrap_or_else(|e| panic!("{e}"));
    let f = lookup(props);
    let budget = Budget::new(usize::MAX);
    let r = Ctx { lookup: &f, convert, budget: &budget }.truth(&sel.expr);
    assert_eq!(sel.matches(&f), r == Some(true), "{text}");
    r
}

/// Cases separated by `;` or newlines: `selector => R` or `selector => R C`, with R (and C
/// under `convert_strings`, R when absent) one of T, F, U (UNKNOWN).
fn table(props: &[(&str, Value)], cases: &str) {
    let truth = |s| [("T", Some(true)), ("F", Some(false)), ("U", None)].into_iter().find(|(k, _)| *k == s).unwrap().1;
    for case in cases.split([';', '\n']).map(str::trim).filter(|c| !c.is_empty()) {
        let (text, want) = case.rsplit_once(" => ").expect(case);
        let mut want = want.split_whitespace().map(truth);
        let plain = want.next().unwrap();
        assert_eq!(eval(text, false, props), plain, "{text}");
        assert_eq!(eval(text, true, props), want.next().unwrap_or(plain), "{text} (convert_strings)");
    }
}

fn error(text: &str) -> String {
    let e = Selector::parse(text, false).expect_err(text);
    assert!(e.starts_with(&format!("invalid selector {text:?}: ")) && !e.contains('\n'), "{e}");
    e
}

#[test]
fn comparisons_and_precedence() {
    let props = [("a", Bool(true)), ("b", Bool(false)), ("c", Bool(false)), ("n", Long(5)), ("s", s("m"))];
    table(
        &props,
        "a OR b AND c => T; (a OR b) AND c => F; NOT b AND a => T; NOT n = 4 => T
        n = 5 => T; n <> 5 => F; n < 6 => T; n <= 5 => T; n > 5 => F; n >= 5 => T
        s = 'm' => T; s <> 'm' => F; s < 'n' => T; s > 'N' => T; s >= 'm' => T; s <= 'l' => F
        a = TRUE => T; b <> FALSE => F; a > b => U; (n > 1) = TRUE => T
        1 + 2 * 3 = 7 => T; (1 + 2) * 3 = 9 => T; 10 - 2 - 3 = 5 => T; 12 / 2 / 3 = 2 => T
        -n + 10 = 5 => T; +n = 5 => T; +s = 'm' => U; +1.5 = 1.5 => T; - -n = 5 => T; n * 2 > 9 AND n / 2 = 2 => T",
    );
}

#[test]
fn three_valued_logic() {
    table(
        &[("n", Long(1))],
        "x = 1 => U; NOT x = 1 => U; NOT (x = 1) => U; x <> 1 => U; x + 1 = 2 => U; -x = -1 => U
        FALSE AND x = 1 => F; x = 1 AND FALSE => F; TRUE AND x = 1 => U
        TRUE OR x = 1 => T; x = 1 OR TRUE => T; FALSE OR x = 1 => U; x = 1 OR n = 1 => T
        x IS NULL => T; x IS NOT NULL => F; n IS NULL => F; n IS NOT NULL => T; NOT x IS NULL => F
        (x = 1) IS NULL => T; n = NULL => U; NULL IS NULL => T",
    );
}

#[test]
fn between() {
    for (age, want) in [(14, false), (15, true), (17, true), (19, true), (20, false)] {
        assert_eq!(eval("age BETWEEN 15 AND 19", false, &[("age", Long(age))]), Some(want), "{age}");
        assert_eq!(eval("age NOT BETWEEN 15 AND 19", false, &[("age", Long(age))]), Some(!want), "{age}");
    }
    table(
        &[("s", s("b")), ("d", Double(2.5))],
        "x BETWEEN 1 AND 2 => U; x NOT BETWEEN 1 AND 2 => U; s BETWEEN 1 AND 2 => U
        s BETWEEN 'a' AND 'c' => T; s NOT BETWEEN 'c' AND 'd' => T; d BETWEEN NULL AND 2 => F
        d BETWEEN 2 AND 3 AND s = 'b' => T; d BETWEEN 1 + 1 AND 6 / 2 => T",
    );
}

#[test]
fn in_list() {
    table(
        &[("country", s("UK")), ("n", Long(1))],
        "country IN ('UK', 'US', 'France') => T; country IN ('US') => F; country IN ('uk') => F
        country NOT IN ('UK', 'US') => F; country NOT IN ('US') => T
        x IN ('UK') => U; x NOT IN ('UK') => U; n IN ('1') => U",
    );
}

#[test]
fn like() {
    // pattern (with its ESCAPE clause) | text | whether it matches
    let cases = r"'12%3' | 123 | T; '12%3' | 12993 | T; '12%3' | 1234 | F; 'l_se' | lose | T; 'l_se' | loose | F
        '%' | | T; '_' | | F; '' | | T; 'a%' | A | F; '%a%b' | xaxxb | T; '%a%b' | xaxxbc | F
        '\_%' ESCAPE '\' | _foo | T; '\_%' ESCAPE '\' | bar | F; 'a\%' ESCAPE '\' | a% | T
        'a\%' ESCAPE '\' | ab | F; 'a\\b' ESCAPE '\' | a\b | T; 'a!_b' ESCAPE '!' | a_b | T
        'a!_b' ESCAPE '!' | axb | F; 'gr_n%' | grün-tee | T; '%ü' | menü | T; '日_語' | 日本語 | T
        '%.%' | a.b | T; '%.%' | ab | F; 'it''s%' | it's here | T";
    for case in cases.split([';', '\n']) {
        let [pattern, s, want]: [&str; 3] = case.split('|').map(str::trim).collect::<Vec<_>>().try_into().unwrap();
        let (props, want) = ([("p", Str(s.to_string()))], want == "T");
        assert_eq!(eval(&format!("p LIKE {pattern}"), false, &props), Some(want), "{s:?} LIKE {pattern}");
        assert_eq!(eval(&format!("p NOT LIKE {pattern}"), false, &props), Some(!want), "{s:?} NOT LIKE {pattern}");
    }
    table(&[("n", Long(1))], "x LIKE 'a%' => U; x NOT LIKE 'a%' => U; n LIKE '1' => U");
}

#[test]
fn like_with_underscores_and_anchors() {
    let cases = r"'a_c' | abc | T; 'a_c' | abcc | F; '%a_c' | xxabc | T; '%a_c' | xxabcx | F
        'a_c%' | abcxx | T; 'a%_' | a | F; 'a%_' | ab | T; '_%_' | a | F; '_%_' | ab | T
        '%ab%ab%' | abab | T; '%ab%ab%' | aba | F; 'ab%ba' | aba | F; 'ab%ba' | abba | T
        '%%' | xyz | T; '%_%' | | F; '%_%' | ü | T; 'x%y%z' | xyz | T; 'x%y%z' | xzy | F";
    for case in cases.split([';', '\n']) {
        let [pattern, s, want]: [&str; 3] = case.split('|').map(str::trim).collect::<Vec<_>>().try_into().unwrap();
        let props = [("p", Str(s.to_string()))];
        assert_eq!(eval(&format!("p LIKE {pattern}"), false, &props), Some(want == "T"), "{s:?} LIKE {pattern}");
    }
}

#[test]
fn like_pathological_pattern_is_fast() {
    let props = [("p", Str("a".repeat(20_000)))];
    let start = std::time::Instant::now();
    assert_eq!(eval("p LIKE '%a%a%a%a%a%a%a%b'", false, &props), Some(false));
    assert_eq!(eval("p LIKE '%a%a%a%a%a%a%a%'", false, &props), Some(true));
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn literals() {
    table(
        &[("name", s("O'Brien"))],
        "name = 'O''Brien' => T; 'it''s' = 'it''s' => T; '''' <> '''''' => T; '' = '' => T
        57 = 57 => T; -957 < 0 => T; 57L = 57 => T; 57l = 57 => T; 0x1F = 31 => T; 0X1fL = 31 => T
        7. = 7 => T; .5 = 0.5 => T; -95.7 < -95 => T; 6.2E5 = 620000 => T; 1e-3 = 0.001 => T
        1E+2 = 100 => T; 1.5F = 1.5 => T; 2D = 2 => T; 2d / 4 = 0.5 => T; 007 = 7 => T
        -9223372036854775808 < -9223372036854775807 => T; 5-3 = 2 => T; 0x10-1 = 15 => T",
    );
}

#[test]
fn long_double_and_arithmetic() {
    table(
        &[("l", Long(9_007_199_254_740_993)), ("d", Double(2.0)), ("two", Long(2))],
        "d = 2 => T; two = 2.0 => T; two > 1.5 => T; d < two => F; d + two = 4 => T
        l = 9007199254740993 => T; l = 9007199254740992 => F; l - 1 = 9007199254740992 => T
        7 / 2 = 3 => T; -7 / 2 = -3 => T; 7 / 2.0 = 3.5 => T; 7 / two * 2 = 6 => T
        1 / 0 = 0 => U; NOT (1 / 0 = 0) => U; 1.0 / 0 > 1 => U; two / (two - 2) IS NULL => T
        9223372036854775807 + 1 < 0 => T",
    );
}

#[test]
fn type_mismatch_and_convert_strings() {
    let props = [("price", s("20")), ("rate", s("1.5")), ("flag", s("TRUE")), ("name", s("abc")), ("on", Bool(true))];
    table(
        &props,
        "price > 10 => U T; price = 20 => U T; 10 < price => U T; price + 1 = 21 => U T
        -price = -20 => U T; rate * 2 = 3 => U T; rate > 1 => U T; price BETWEEN 10 AND 30 => U T
        price = '20' => T; 1 = '1' => U T; flag = TRUE => U T; TRUE = flag => U T; flag => U T
        name = 5 => U; name = TRUE => U; on = 1 => U; 1 = TRUE => U",
    );
}

#[test]
fn bare_values() {
    table(
        &[("yes", Bool(true)), ("no", Bool(false)), ("n", Long(1)), ("s", s("true"))],
        "yes => T; no => F; NOT no => T; TRUE => T; FALSE => F; n => U; s => U T; x => U
        yes AND n => U; no AND n => F; NOT x => U",
    );
}

#[test]
fn keywords_and_identifiers() {
    let names = ["my.prop", "$x", "_y", "JMSPriority", "Größe", "ANDroid"];
    let props: Vec<_> = names.into_iter().map(|k| (k, Long(1))).chain([("Color", s("red"))]).collect();
    table(
        &props,
        "Color = 'red' => T; color = 'red' => U; my.prop = 1 => T; $x = 1 and _y = 1 => T
        JMSPriority between 1 and 4 or Color is not null => T; not Color like 'r%' => F
        Color nOt In ('blue') => T; Color IS nuLL => F; Größe = 1 => T; ANDroid = 1 => T",
    );
    assert_eq!(Selector::parse("  Color = 'red'  ", false).unwrap().text(), "  Color = 'red'  ");
}

#[test]
fn parse_errors() {
    let exact = r#"invalid selector "color = ": expected a value, found end of text at character 9"#;
    assert_eq!(error("color = "), exact);
    assert_eq!(error(""), r#"invalid selector "": the selector is empty"#);
    let cases = [
        ("   ", "the selector is empty"),
        ("(a = 1", "expected ')', found end of text at character 7"),
        ("a = 1)", "unexpected ')' at character 6"),
        ("a = 1 b", "unexpected identifier 'b' at character 7"),
        ("a = 'abc", "unterminated string at character 5"),
        ("a = = 1", "expected a value, found '=' at character 5"),
        ("a = 1 = 2", "unexpected '=' at character 7"),
        ("a NOT = 1", "expected BETWEEN, IN or LIKE after NOT, found '='"),
        ("a IN (1)", "expected a string literal, found a number at character 7"),
        ("a IN ()", "expected a string literal"),
        ("a IN ('x'", "expected ',' or ')'"),
        ("a IN 'x'", "expected '('"),
        ("a BETWEEN 1 OR 2", "expected AND, found OR"),
        ("a LIKE b", "expected a string pattern"),
        ("a LIKE 'x' ESCAPE 'ab'", "exactly one character at character 19"),
        (r"a LIKE 'x\' ESCAPE '\'", "ends with its escape character at character 8"),
        ("a IS 5", "expected NULL"),
        ("a = 1e", "malformed number at character 5"),
        ("a = 57abc", "malformed number"),
        ("a = 1.2.3", "malformed number"),
        ("a = 9223372036854775808", "number out of range at character 5"),
        ("a = 99999999999999999999", "number out of range"),
        ("a = 0x1FFFFFFFFFFFFFFFF", "number out of range"),
        ("a != 1", "unexpected character '!' at character 3"),
        ("a = \"x\"\n", "unexpected character '\"'"),
        ("AND", "expected a value, found AND at character 1"),
        ("a OR", "expected a value, found end of text"),
        ("NOT", "expected a value"),
    ];
    for (text, want) in cases {
        let e = error(text);
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn nesting_is_bounded_and_long_chains_are_fine() {
    // Built by hand: parse() refuses texts over MAX_SELECTOR before nesting matters.
    let deep = |text: String| {
        let mut p = Parser { toks: tokenize(&text).unwrap(), i: 0, nesting: 0 };
        p.or().map(|_| ()).unwrap_err().0
    };
    assert!(deep(format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000))).contains("nested too deeply"));
    assert!(deep(format!("{}a", "NOT ".repeat(10_000))).contains("nested too deeply"));
    assert!(deep(format!("{}1 = 1", "- ".repeat(10_000))).contains("nested too deeply"));
    assert_eq!(eval(&format!("{}a = 1{}", "(".repeat(50), ")".repeat(50)), false, &[("a", Long(1))]), Some(true));
    let ors: Vec<String> = (0..400).map(|i| format!("id={i}")).collect();
    assert_eq!(eval(&ors.join(" OR "), false, &[("id", Long(399))]), Some(true));
    let sum = vec!["n"; 1_000].join("+");
    assert_eq!(eval(&format!("{sum} = 1000"), false, &[("n", Long(1))]), Some(true));
}

#[test]
fn the_text_is_bounded() {
    let ors: Vec<String> = (0..1_000).map(|i| format!("id = {i}")).collect();
    let e = Selector::parse(&ors.join(" OR "), false).unwrap_err();
    assert!(e.contains("the limit is 4096 bytes"), "{e}");
    let just = format!("a = '{}'", "x".repeat(crate::limits::MAX_SELECTOR - 6));
    assert!(Selector::parse(&just, false).is_ok());
}

/// The row-5 attack of issue 11: long LIKE patterns against long property values.
#[test]
fn a_pathological_like_against_a_long_value_is_fast_and_does_not_match() {
    let long = "a".repeat(10_000);
    let f = lookup(&[("p", Str(long.clone()))]);
    let start = std::time::Instant::now();
    // '%a%a%…%b': no backtracking, so a linear pass (it was text × pattern).
    let alternating = Selector::parse(&format!("p LIKE '{}%b'", "%a".repeat(1_500)), false).unwrap();
    assert_eq!(alternating.evaluate(&f, 10_000).0, Verdict::NoMatch);
    // One long literal run: the standard substring search, linear too.
    let run = Selector::parse(&format!("p LIKE '%{}b%'", "a".repeat(3_000)), false).unwrap();
    assert_eq!(run.evaluate(&f, 10_000).0, Verdict::NoMatch);
    // A run with `_` is tried at every position (text × run): the budget stops it.
    let hostile = Selector::parse(&format!("p LIKE '%{}b%'", "a_".repeat(1_500)), false).unwrap();
    let (verdict, used) = hostile.evaluate(&f, 10_000);
    assert_eq!(verdict, Verdict::OverBudget);
    assert!(used >= 10_000);
    assert!(!hostile.matches(&f), "over budget is no match");
    // Ten subscriptions' worth (a debug build is ~30 times slower than a release one).
    for _ in 0..10 {
        for sel in [&alternating, &run, &hostile] {
            assert!(!sel.matches(&f));
        }
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(2), "took {:?}", start.elapsed());
    // The same patterns still match what they should.
    let f = lookup(&[("p", Str(format!("{long}b")))]);
    assert_eq!(alternating.evaluate(&f, 10_000).0, Verdict::Match);
    assert_eq!(run.evaluate(&f, 10_000).0, Verdict::Match);
}

#[test]
fn the_step_budget_counts_nodes_and_like_scans() {
    let f = lookup(&[("p", Str("a".repeat(10_000))), ("n", Long(1))]);
    let sel = Selector::parse("n = 1", false).unwrap();
    assert_eq!(sel.evaluate(&f, 3), (Verdict::Match, 3), "truth, value, value");
    assert_eq!(sel.evaluate(&f, 2).0, Verdict::OverBudget);
    // Each '%z%' searches all 10,000 characters (157 steps): 100 of them exhaust 10,000 steps
    // before the last term (which matches) is reached.
    let many: Vec<&str> = vec!["p LIKE '%z%'"; 100];
    let sel = Selector::parse(&format!("{} OR n = 1", many.join(" OR ")), false).unwrap();
    assert_eq!(sel.evaluate(&f, 10_000).0, Verdict::OverBudget);
    assert!(!sel.matches(&f));
    assert_eq!(sel.evaluate(&f, 100_000).0, Verdict::Match, "with more steps it is decided");
}
