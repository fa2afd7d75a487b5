//! Unsupported constructs are rejected at parse (load) time, naming the construct and column.

use pyexpr::{eval_str, EvalError, Expr, Limits, Scope, Value};

fn err(src: &str) -> String {
    match Expr::parse(src) {
        Ok(_) => panic!("{src} parsed"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn rejects_unsupported_constructs_with_position() {
    let cases: &[(&str, &str)] = &[
        ("lambda x: x", "column 1: 'lambda'"),
        ("__import__('os')", "column 1: dunder name '__import__'"),
        ("value.__class__", "column 7: dunder attribute '__class__'"),
        (
            "value.real",
            "column 7: attribute access '.real' is not supported",
        ),
        (
            "value.system()",
            "column 7: method '.system()' is not supported",
        ),
        (
            "open('/etc/passwd')",
            "column 1: function 'open()' is not supported",
        ),
        ("x = 1", "column 3: assignment ('=')"),
        ("(x := 1)", "column 4: assignment expressions (':=')"),
        ("f'{value}'", "column 1: f-strings are not supported"),
        ("value | 1", "column 7: the '|' operator is not supported"),
        ("import os", "column 1: 'import' is not supported"),
        ("[x for x in a for y in b]", "nested comprehensions"),
        ("sum(x for x in value)", "generator expressions"),
        (
            "value[0](1)",
            "only builtin functions and methods can be called",
        ),
        ("'abc", "unterminated string literal"),
        ("1 +", "column 4: unexpected end of expression"),
        ("value if value", "expected 'else'"),
        ("{1, 2}", "sets and dict comprehensions are not supported"),
        (
            "sorted(value, key=len)",
            "keyword argument 'key' is not supported",
        ),
        ("value  # comment", "column 8: comments"),
        ("99999999999999999999", "does not fit in 64 bits"),
    ];
    for (src, want) in cases {
        let got = err(src);
        assert!(got.contains(want), "{src}: got {got:?}, want {want:?}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let src = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&src).contains("nested too deeply"));
    let src = format!("{}1", "-".repeat(10_000));
    assert!(err(&src).contains("nested too deeply"));
    let src = format!("{}1", "not ".repeat(10_000));
    assert!(err(&src).contains("nested too deeply"));
}

#[test]
fn names_lists_free_names_only() {
    let e = Expr::parse("[x['id'] for x in value if x != other]").unwrap();
    assert_eq!(e.names(), ["value", "other"]);
}

#[test]
fn step_and_size_limits() {
    let scope = Scope::new();
    let r = eval_str("[[x for x in range(1000)] for y in range(1000)]", &scope);
    assert!(r.is_err()); // nested comprehension: parse error
    let e = Expr::parse("[x * 2 for x in range(1000000)]").unwrap();
    assert!(matches!(e.eval(&scope), Err(EvalError::StepLimit(100_000))));
    let e = Expr::parse("'x' * 100000000").unwrap();
    assert!(matches!(e.eval(&scope), Err(EvalError::SizeLimit(_))));
    let e = Expr::parse("'%0999999999d' % 1").unwrap();
    assert!(matches!(e.eval(&scope), Err(EvalError::SizeLimit(_))));
    // Lists cost a step per element, so the step budget bounds memory too.
    let e = Expr::parse("range(4000000)").unwrap();
    assert!(matches!(e.eval(&scope), Err(EvalError::StepLimit(_))));
    let e = Expr::parse("[0] * 4000000").unwrap();
    assert!(matches!(e.eval(&scope), Err(EvalError::StepLimit(_))));
    let e = Expr::parse("2 ** 64").unwrap();
    assert!(matches!(e.eval(&scope), Err(EvalError::Overflow(_))));
    let small = Limits {
        max_steps: 10,
        max_len: 100,
    };
    let e = Expr::parse("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]").unwrap();
    assert!(matches!(
        e.eval_with(&scope, small),
        Err(EvalError::StepLimit(10))
    ));
}

#[test]
fn json_round_trip_keeps_order_and_types() {
    let j = serde_json::json!({"z": 1, "a": [1.5, null, true, "s", {"k": {}}]});
    let v = Value::from_json(&j);
    assert_eq!(v.to_json(), j);
    assert_eq!(
        v.py_repr(),
        "{'z': 1, 'a': [1.5, None, True, 's', {'k': {}}]}"
    );
    let t = eval_str("(1, {2: 'x'})", &Scope::new()).unwrap();
    assert_eq!(t.to_json(), serde_json::json!([1, {"2": "x"}]));
}

#[test]
fn url_path_templating_with_base_metadata_globals() {
    let meta = serde_json::json!({"resource_id": "h1", "project_id": "p1"});
    let scope = Scope::from_json_object(meta.as_object().unwrap());
    assert_eq!(
        eval_str("'/v1/' + project_id", &scope).unwrap(),
        Value::str("/v1/p1")
    );
    // A plain path is not a valid expression: upstream then uses it literally (caller's job).
    assert!(Expr::parse("/v2/servers").is_err());
}
