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
