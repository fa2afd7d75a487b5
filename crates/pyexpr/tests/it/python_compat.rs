//! Every case in `python_cases.json` was evaluated by CPython 3.11 (`gen_python_cases.py`,
//! re-run it to regenerate); the Rust evaluator must print the same `repr()` or raise the
//! same exception type.

use pyexpr::{EvalError, Expr, Scope, Value};

fn exc_name(e: &EvalError) -> &'static str {
    match e {
        EvalError::Type(_) => "TypeError",
        EvalError::Value(_) => "ValueError",
        EvalError::Key(_) => "KeyError",
        EvalError::Index(_) => "IndexError",
        EvalError::ZeroDivision(_) => "ZeroDivisionError",
        EvalError::Name(_) => "NameError",
        EvalError::Attribute(_) => "AttributeError",
        EvalError::Overflow(_) => "OverflowError",
        EvalError::StepLimit(_) => "StepLimit",
        EvalError::SizeLimit(_) => "SizeLimit",
    }
}

#[test]
fn matches_cpython() {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../python_cases.json")).unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let src = c["src"].as_str().unwrap();
        let mut scope = Scope::with_value(Value::from_json(&c["value"]));
        for (k, v) in c["globals"].as_object().unwrap() {
            scope.set(k, Value::from_json(v));
        }
        let expr = match Expr::parse(src) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{src}: parse error {e}"));
                continue;
            }
        };
        let got = expr.eval(&scope);
        match (
            c.get("ok").and_then(|v| v.as_str()),
            c.get("err").and_then(|v| v.as_str()),
            got,
        ) {
            (Some(want), _, Ok(v)) if v.py_repr() == want => {}
            (_, Some(want), Err(e)) if exc_name(&e) == want => {}
            (want, werr, got) => {
                failures.push(format!("{src}: want {want:?}/{werr:?}, got {got:?}"))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() > 180);
}
