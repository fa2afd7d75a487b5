//! Arbitrary text fed to parse + eval never panics and always terminates within the budget.

use proptest::prelude::*;
use pyexpr::{Expr, Limits, Scope, Value};

fn scope() -> Scope {
    Scope::with_value(Value::from_json(&serde_json::json!({
        "a": [1, 2.5, "x", null, {"b": true}], "s": "hello_world", "n": -7
    })))
}

const ATOMS: &[&str] = &[
    "value",
    "1",
    "-2",
    "2.5",
    "'a_b'",
    "None",
    "True",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    ":",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "==",
    "<",
    ">=",
    " in ",
    " not ",
    " is ",
    " and ",
    " or ",
    " if ",
    " else ",
    " for x in ",
    "x",
    "value['a']",
    "value['s']",
    "value['n']",
    ".split('_')",
    ".get('a')",
    ".replace('l', 'LL')",
    "len(",
    "str(",
    "int(",
    "sorted(",
    "range(",
    "[0]",
    "[1:]",
    "[::-1]",
    "'%s'",
    " % ",
    "'{}'.format(",
    "*1000",
    "**62",
    "sum(",
];

fn assert_terminates(src: &str) {
    let limits = Limits {
        max_steps: 20_000,
        max_len: 1 << 16,
    };
    if let Ok(e) = Expr::parse(src) {
        let _ = e.eval_with(&scope(), limits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(src in "\\PC{0,60}") {
        assert_terminates(&src);
    }

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(prop::sample::select(ATOMS), 0..25)) {
        let src: String = parts.concat();
        assert_terminates(&src);
    }
}

/// Syntactically valid expressions, so evaluation (not just parsing) is exercised.
fn valid_expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "value",
        "value['a']",
        "value['s']",
        "value['n']",
        "1",
        "-2",
        "0",
        "2.5",
        "'a_b'",
        "''",
        "None",
        "True",
        "[1, 'x', 2.5]",
        "{'k': [1, 2]}",
        "(1, 2)",
        "62",
        "x",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(5, 64, 3, |inner| {
        let ops = prop::sample::select(vec![
            "+", "-", "*", "/", "//", "%", "**", "==", "<", ">=", "in", "not in", "is", "and", "or",
        ]);
        let funcs = prop::sample::select(vec![
            "len",
            "str",
            "int",
            "float",
            "bool",
            "abs",
            "round",
            "sorted",
            "list",
            "sum",
            "min",
            "max",
            "any",
            "all",
            "range",
            "repr",
            "tuple",
            "dict",
            "enumerate",
            "reversed",
        ]);
        let methods = prop::sample::select(vec![
            "split('_')",
            "upper()",
            "strip()",
            "replace('a', 'bb')",
            "get('k', 0)",
            "keys()",
            "items()",
            "count(1)",
            "index(1)",
            "join(['p', 'q'])",
            "format(1, 2)",
            "find('b')",
            "startswith('a')",
            "zfill(3)",
        ]);
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(a, o, b)| format!("({a} {o} {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("{a}[{b}:{c}]")),
            (funcs, inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), methods).prop_map(|(a, m)| format!("({a}).{m}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[x for x in {a} if {b}]")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} if {b} else {c})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("('%s-%r' % ({a}, {b}))")),
            inner.prop_map(|a| format!("(not {a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn valid_expressions_parse_and_evaluate_within_budget(src in valid_expr()) {
        let e = Expr::parse(&src).map_err(|e| TestCaseError::fail(format!("{src}: {e}")))?;
        let limits = Limits { max_steps: 20_000, max_len: 1 << 16 };
        let _ = e.eval_with(&scope(), limits);
    }
}
