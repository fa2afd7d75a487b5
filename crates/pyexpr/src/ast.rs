//! The parsed form of an expression and the recursive-descent parser producing it.
//!
//! Anything outside the supported subset is rejected here, at load time, with the construct
//! and its position, so an operator learns about it when the definition is read and not at
//! the first poll.

use crate::lexer::{tokenize, Tok, Token};
use crate::value::Value;
use crate::ParseError;

/// Binary arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

/// Comparison operators (chainable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
}

/// A parsed expression node; `pos` fields are character offsets (kept for `Debug` output and
/// future runtime diagnostics).
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub(crate) enum Node {
    Const(Value),
    Name(String, usize),
    List(Vec<Node>),
    Tuple(Vec<Node>),
    Dict(Vec<(Node, Node)>),
    Neg(Box<Node>),
    Pos(Box<Node>),
    Not(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>, usize),
    Cmp(Box<Node>, Vec<(CmpOp, Node)>, usize),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    IfElse {
        body: Box<Node>,
        test: Box<Node>,
        orelse: Box<Node>,
    },
    Index(Box<Node>, Box<Node>, usize),
    Slice(Box<Node>, [Option<Box<Node>>; 3], usize),
    Call {
        func: String,
        args: Vec<Node>,
        kwargs: Vec<(String, Node)>,
        pos: usize,
    },
    Method {
        obj: Box<Node>,
        name: String,
        args: Vec<Node>,
        pos: usize,
    },
    ListComp {
        elt: Box<Node>,
        targets: Vec<String>,
        iter: Box<Node>,
        conds: Vec<Node>,
    },
}

/// Builtin functions callable by name.
pub(crate) const BUILTINS: &[&str] = &[
    "int",
    "float",
    "str",
    "bool",
    "len",
    "round",
    "abs",
    "min",
    "max",
    "sum",
    "sorted",
    "list",
    "dict",
    "tuple",
    "any",
    "all",
    "range",
    "enumerate",
    "zip",
    "reversed",
    "repr",
];

/// Method names accepted on some value type (checked against the actual type at run time).
pub(crate) const METHODS: &[&str] = &[
    "split",
    "rsplit",
    "replace",
    "strip",
    "lstrip",
    "rstrip",
    "lower",
    "upper",
    "startswith",
    "endswith",
    "join",
    "format",
    "count",
    "find",
    "rfind",
    "index",
    "title",
    "capitalize",
    "isdigit",
    "get",
    "keys",
    "values",
    "items",
    "zfill",
];

const MAX_DEPTH: usize = 64;

/// Positional and keyword arguments of a call.
type CallArgs = (Vec<Node>, Vec<(String, Node)>);

const FORBIDDEN_KEYWORDS: &[&str] = &[
    "lambda", "import", "from", "def", "class", "return", "yield", "await", "async", "global",
    "nonlocal", "del", "pass", "raise", "try", "except", "finally", "while", "with", "assert",
    "break", "continue", "elif", "as",
];

pub(crate) fn parse(src: &str) -> Result<Node, ParseError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    let node = p.expr_list()?;
    let t = p.peek();
    if t.tok != Tok::End {
        return Err(p.unexpected(t.pos, &t.tok.clone()));
    }
    Ok(node)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Int(i) => format!("number {i}"),
        Tok::Float(f) => format!("number {f}"),
        Tok::Str(_) => "string literal".into(),
        Tok::Name(n) => format!("name '{n}'"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::End => "end of expression".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(&self.peek().tok, Tok::Op(o) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Name(n) if n == kw)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            let t = self.peek().clone();
            let special = self.unexpected(t.pos, &t.tok);
            if special.message.starts_with("unexpected ") {
                Err(ParseError::new(
                    t.pos,
                    format!("expected '{op}', found {}", describe(&t.tok)),
                ))
            } else {
                Err(special)
            }
        }
    }
    fn unexpected(&self, pos: usize, t: &Tok) -> ParseError {
        match t {
            Tok::Op("=") => ParseError::new(pos, "assignment ('=') is not supported"),
            Tok::Op(":=") => ParseError::new(pos, "assignment expressions (':=') are not supported"),
            Tok::Op(op) if op.len() >= 2 && op.ends_with('=') && !matches!(*op, "==" | "!=" | "<=" | ">=") => {
                ParseError::new(pos, format!("augmented assignment ('{op}') is not supported"))
            }
            Tok::Op(op @ ("&" | "|" | "^" | "~" | "<<" | ">>" | "@")) => ParseError::new(
                pos,
                format!("the '{op}' operator is not supported (in value_attribute, '|' separates operations)"),
            ),
            Tok::Op(";") => ParseError::new(pos, "statements (';') are not supported"),
            Tok::Name(n) if FORBIDDEN_KEYWORDS.contains(&n.as_str()) => {
                ParseError::new(pos, format!("'{n}' is not supported in expressions"))
            }
            other => ParseError::new(pos, format!("unexpected {}", describe(other))),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                self.peek().pos,
                "expression nested too deeply",
            ));
        }
        Ok(())
    }

    /// `a, b` at the top level or in parentheses makes a tuple.
    fn expr_list(&mut self) -> Result<Node, ParseError> {
        let first = self.expr()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.ends_list() {
                break;
            }
            items.push(self.expr()?);
        }
        Ok(Node::Tuple(items))
    }

    fn ends_list(&self) -> bool {
        matches!(self.peek().tok, Tok::End | Tok::Op(")" | "]" | "}"))
    }

    fn expr(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let r = self.ternary();
        self.depth -= 1;
        r
    }

    fn ternary(&mut self) -> Result<Node, ParseError> {
        if self.is_kw("lambda") {
            return Err(ParseError::new(
                self.peek().pos,
                "'lambda' is not supported in expressions",
            ));
        }
        let body = self.or_expr()?;
        if self.eat_kw("if") {
            let test = self.or_expr()?;
            if !self.eat_kw("else") {
                let t = self.peek().clone();
                return Err(ParseError::new(
                    t.pos,
                    format!(
                        "expected 'else' in conditional expression, found {}",
                        describe(&t.tok)
                    ),
                ));
            }
            let orelse = self.expr()?;
            return Ok(Node::IfElse {
                body: Box::new(body),
                test: Box::new(test),
                orelse: Box::new(orelse),
            });
        }
        Ok(body)
    }

    fn or_expr(&mut self) -> Result<Node, ParseError> {
        let mut l = self.and_expr()?;
        while self.eat_kw("or") {
            let r = self.and_expr()?;
            l = Node::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and_expr(&mut self) -> Result<Node, ParseError> {
        let mut l = self.not_expr()?;
        while self.eat_kw("and") {
            let r = self.not_expr()?;
            l = Node::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn not_expr(&mut self) -> Result<Node, ParseError> {
        if self.eat_kw("not") {
            self.enter()?;
            let r = self.not_expr();
            self.depth -= 1;
            return Ok(Node::Not(Box::new(r?)));
        }
        self.comparison()
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        let op = match &self.peek().tok {
            Tok::Op("==") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            Tok::Name(n) if n == "in" => CmpOp::In,
            Tok::Name(n) if n == "is" => {
                self.i += 1;
                return Some(if self.eat_kw("not") {
                    CmpOp::IsNot
                } else {
                    CmpOp::Is
                });
            }
            Tok::Name(n) if n == "not" => {
                if matches!(&self.toks.get(self.i + 1).map(|t| &t.tok), Some(Tok::Name(n)) if n == "in")
                {
                    self.i += 2;
                    return Some(CmpOp::NotIn);
                }
                return None;
            }
            _ => return None,
        };
        self.i += 1;
        Some(op)
    }

    fn comparison(&mut self) -> Result<Node, ParseError> {
        let pos = self.peek().pos;
        let first = self.arith()?;
        let mut rest = Vec::new();
        while let Some(op) = self.cmp_op() {
            rest.push((op, self.arith()?));
        }
        if rest.is_empty() {
            Ok(first)
        } else {
            Ok(Node::Cmp(Box::new(first), rest, pos))
        }
    }

    fn arith(&mut self) -> Result<Node, ParseError> {
        let mut l = self.term()?;
        loop {
            let pos = self.peek().pos;
            let op = if self.eat_op("+") {
                BinOp::Add
            } else if self.eat_op("-") {
                BinOp::Sub
            } else {
                return Ok(l);
            };
            let r = self.term()?;
            l = Node::Bin(op, Box::new(l), Box::new(r), pos);
        }
    }

    fn term(&mut self) -> Result<Node, ParseError> {
        let mut l = self.unary()?;
        loop {
            let pos = self.peek().pos;
            let op = if self.eat_op("*") {
                BinOp::Mul
            } else if self.eat_op("/") {
                BinOp::Div
            } else if self.eat_op("//") {
                BinOp::FloorDiv
            } else if self.eat_op("%") {
                BinOp::Mod
            } else {
                return Ok(l);
            };
            let r = self.unary()?;
            l = Node::Bin(op, Box::new(l), Box::new(r), pos);
        }
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        if self.eat_op("-") {
            self.enter()?;
            let r = self.unary();
            self.depth -= 1;
            return Ok(Node::Neg(Box::new(r?)));
        }
        if self.eat_op("+") {
            self.enter()?;
            let r = self.unary();
            self.depth -= 1;
            return Ok(Node::Pos(Box::new(r?)));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Node, ParseError> {
        let base = self.postfix()?;
        let pos = self.peek().pos;
        if self.eat_op("**") {
            self.enter()?;
            let exp = self.unary();
            self.depth -= 1;
            return Ok(Node::Bin(BinOp::Pow, Box::new(base), Box::new(exp?), pos));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Node, ParseError> {
        let mut node = self.atom()?;
        loop {
            let pos = self.peek().pos;
            if self.eat_op("[") {
                node = self.subscript(node, pos)?;
            } else if self.eat_op(".") {
                let t = self.next();
                let Tok::Name(name) = t.tok else {
                    return Err(ParseError::new(t.pos, "expected a method name after '.'"));
                };
                if name.starts_with("__") {
                    return Err(ParseError::new(
                        t.pos,
                        format!("dunder attribute '{name}' is not supported"),
                    ));
                }
                if !self.is_op("(") {
                    return Err(ParseError::new(
                        t.pos,
                        format!("attribute access '.{name}' is not supported (only method calls such as .split(...)); use value['{name}'] for dict keys"),
                    ));
                }
                if !METHODS.contains(&name.as_str()) {
                    return Err(ParseError::new(
                        t.pos,
                        format!("method '.{name}()' is not supported"),
                    ));
                }
                self.i += 1;
                let (args, kwargs) = self.call_args()?;
                if let Some((k, _)) = kwargs.first() {
                    return Err(ParseError::new(
                        t.pos,
                        format!("keyword argument '{k}' is not supported for '.{name}()'"),
                    ));
                }
                node = Node::Method {
                    obj: Box::new(node),
                    name,
                    args,
                    pos: t.pos,
                };
            } else if self.is_op("(") {
                return Err(ParseError::new(
                    pos,
                    "only builtin functions and methods can be called",
                ));
            } else {
                return Ok(node);
            }
        }
    }

    fn subscript(&mut self, obj: Node, pos: usize) -> Result<Node, ParseError> {
        let mut parts: [Option<Box<Node>>; 3] = [None, None, None];
        let mut is_slice = false;
        let mut k = 0;
        loop {
            if self.is_op(":") {
                is_slice = true;
                self.i += 1;
                k += 1;
                if k > 2 {
                    return Err(ParseError::new(self.peek().pos, "invalid slice"));
                }
                continue;
            }
            if self.is_op("]") {
                self.i += 1;
                break;
            }
            if parts[k].is_some() {
                let t = self.peek().clone();
                return Err(ParseError::new(
                    t.pos,
                    format!("expected ']', found {}", describe(&t.tok)),
                ));
            }
            parts[k] = Some(Box::new(if is_slice {
                self.expr()?
            } else {
                self.expr_list()?
            }));
        }
        if is_slice {
            Ok(Node::Slice(Box::new(obj), parts, pos))
        } else {
            let [Some(idx), None, None] = parts else {
                return Err(ParseError::new(pos, "empty subscript"));
            };
            Ok(Node::Index(Box::new(obj), idx, pos))
        }
    }

    fn call_args(&mut self) -> Result<CallArgs, ParseError> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        loop {
            if self.eat_op(")") {
                return Ok((args, kwargs));
            }
            if self.is_op("*") || self.is_op("**") {
                return Err(ParseError::new(
                    self.peek().pos,
                    "argument unpacking is not supported",
                ));
            }
            let is_kw = matches!(self.peek().tok, Tok::Name(_))
                && matches!(
                    self.toks.get(self.i + 1).map(|t| &t.tok),
                    Some(Tok::Op("="))
                );
            if is_kw {
                let Tok::Name(k) = self.next().tok else {
                    return Err(ParseError::new(0, "internal parser error"));
                };
                self.i += 1;
                kwargs.push((k, self.expr()?));
            } else {
                if !kwargs.is_empty() {
                    return Err(ParseError::new(
                        self.peek().pos,
                        "positional argument follows keyword argument",
                    ));
                }
                let a = self.expr()?;
                if self.is_kw("for") {
                    return Err(ParseError::new(
                        self.peek().pos,
                        "generator expressions are not supported; use a list comprehension [...]",
                    ));
                }
                args.push(a);
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                return Ok((args, kwargs));
            }
        }
    }

    fn atom(&mut self) -> Result<Node, ParseError> {
        let t = self.next();
        match t.tok {
            Tok::Int(i) => Ok(Node::Const(Value::Int(i))),
            Tok::Float(f) => Ok(Node::Const(Value::Float(f))),
            Tok::Str(mut s) => {
                // Adjacent literals concatenate, as in Python.
                while let Tok::Str(more) = &self.peek().tok {
                    s.push_str(more);
                    self.i += 1;
                }
                Ok(Node::Const(Value::str(s)))
            }
            Tok::Name(n) => match n.as_str() {
                "None" => Ok(Node::Const(Value::None)),
                "True" => Ok(Node::Const(Value::Bool(true))),
                "False" => Ok(Node::Const(Value::Bool(false))),
                "and" | "or" | "not" | "in" | "is" | "if" | "else" | "for" => {
                    Err(ParseError::new(t.pos, format!("unexpected keyword '{n}'")))
                }
                _ if FORBIDDEN_KEYWORDS.contains(&n.as_str()) => Err(ParseError::new(
                    t.pos,
                    format!("'{n}' is not supported in expressions"),
                )),
                _ if n.starts_with("__") => Err(ParseError::new(
                    t.pos,
                    format!("dunder name '{n}' is not supported"),
                )),
                _ if self.is_op("(") => {
                    if !BUILTINS.contains(&n.as_str()) {
                        return Err(ParseError::new(
                            t.pos,
                            format!("function '{n}()' is not supported"),
                        ));
                    }
                    self.i += 1;
                    let (args, kwargs) = self.call_args()?;
                    for (k, _) in &kwargs {
                        let ok = matches!(
                            (n.as_str(), k.as_str()),
                            ("sorted", "reverse")
                                | ("round", "ndigits")
                                | ("int", "base")
                                | ("sum", "start")
                        );
                        if !ok {
                            return Err(ParseError::new(
                                t.pos,
                                format!("keyword argument '{k}' is not supported for '{n}()'"),
                            ));
                        }
                    }
                    Ok(Node::Call {
                        func: n,
                        args,
                        kwargs,
                        pos: t.pos,
                    })
                }
                _ => Ok(Node::Name(n, t.pos)),
            },
            Tok::Op("(") => {
                self.enter()?;
                if self.eat_op(")") {
                    self.depth -= 1;
                    return Ok(Node::Tuple(Vec::new()));
                }
                let first = self.expr()?;
                if self.is_kw("for") {
                    return Err(ParseError::new(
                        self.peek().pos,
                        "generator expressions are not supported; use a list comprehension [...]",
                    ));
                }
                let node = if self.is_op(",") {
                    let mut items = vec![first];
                    while self.eat_op(",") {
                        if self.is_op(")") {
                            break;
                        }
                        items.push(self.expr()?);
                    }
                    Node::Tuple(items)
                } else {
                    first
                };
                self.expect_op(")")?;
                self.depth -= 1;
                Ok(node)
            }
            Tok::Op("[") => {
                self.enter()?;
                if self.eat_op("]") {
                    self.depth -= 1;
                    return Ok(Node::List(Vec::new()));
                }
                let first = self.expr()?;
                if self.eat_kw("for") {
                    let node = self.comprehension(first)?;
                    self.depth -= 1;
                    return Ok(node);
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.is_op("]") {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect_op("]")?;
                self.depth -= 1;
                Ok(Node::List(items))
            }
            Tok::Op("{") => {
                self.enter()?;
                let mut items = Vec::new();
                loop {
                    if self.eat_op("}") {
                        break;
                    }
                    let k = self.expr()?;
                    if !self.eat_op(":") {
                        return Err(ParseError::new(self.peek().pos, "sets and dict comprehensions are not supported; expected ':' of a dict literal"));
                    }
                    let v = self.expr()?;
                    if self.is_kw("for") {
                        return Err(ParseError::new(
                            self.peek().pos,
                            "dict comprehensions are not supported",
                        ));
                    }
                    items.push((k, v));
                    if !self.eat_op(",") {
                        self.expect_op("}")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Node::Dict(items))
            }
            other => Err(self.unexpected(t.pos, &other)),
        }
    }

    /// `[elt for target in iter if cond ...]`, one `for`, any number of `if`s.
    fn comprehension(&mut self, elt: Node) -> Result<Node, ParseError> {
        let mut targets = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Name(n)
                    if !n.starts_with("__") && !FORBIDDEN_KEYWORDS.contains(&n.as_str()) =>
                {
                    targets.push(n)
                }
                other => {
                    return Err(ParseError::new(
                        t.pos,
                        format!("expected a loop variable name, found {}", describe(&other)),
                    ))
                }
            }
            if !self.eat_op(",") {
                break;
            }
        }
        if !self.eat_kw("in") {
            let t = self.peek().clone();
            return Err(ParseError::new(
                t.pos,
                format!("expected 'in', found {}", describe(&t.tok)),
            ));
        }
        let iter = self.or_expr()?;
        let mut conds = Vec::new();
        while self.eat_kw("if") {
            // Python's grammar: the condition is an `or`-level expression (no bare ternary).
            conds.push(self.or_expr()?);
        }
        if self.is_kw("for") {
            return Err(ParseError::new(
                self.peek().pos,
                "nested comprehensions (more than one 'for') are not supported",
            ));
        }
        self.expect_op("]")?;
        Ok(Node::ListComp {
            elt: Box::new(elt),
            targets,
            iter: Box::new(iter),
            conds,
        })
    }
}

/// Free names the expression reads (not comprehension variables), in first-seen order.
pub(crate) fn free_names(node: &Node, bound: &mut Vec<String>, out: &mut Vec<String>) {
    let mut go = |n: &Node, bound: &mut Vec<String>| free_names(n, bound, out);
    match node {
        Node::Const(_) => {}
        Node::Name(n, _) => {
            if !bound.contains(n) && !out.contains(n) {
                out.push(n.clone());
            }
        }
        Node::List(v) | Node::Tuple(v) => v.iter().for_each(|n| go(n, bound)),
        Node::Dict(v) => v.iter().for_each(|(k, x)| {
            go(k, bound);
            go(x, bound);
        }),
        Node::Neg(a) | Node::Pos(a) | Node::Not(a) => go(a, bound),
        Node::Bin(_, a, b, _) | Node::And(a, b) | Node::Or(a, b) | Node::Index(a, b, _) => {
            go(a, bound);
            go(b, bound);
        }
        Node::Cmp(a, rest, _) => {
            go(a, bound);
            rest.iter().for_each(|(_, n)| go(n, bound));
        }
        Node::IfElse { body, test, orelse } => {
            go(test, bound);
            go(body, bound);
            go(orelse, bound);
        }
        Node::Slice(o, parts, _) => {
            go(o, bound);
            parts.iter().flatten().for_each(|n| go(n, bound));
        }
        Node::Call { args, kwargs, .. } => {
            args.iter().for_each(|n| go(n, bound));
            kwargs.iter().for_each(|(_, n)| go(n, bound));
        }
        Node::Method { obj, args, .. } => {
            go(obj, bound);
            args.iter().for_each(|n| go(n, bound));
        }
        Node::ListComp {
            elt,
            targets,
            iter,
            conds,
        } => {
            go(iter, bound);
            let before = bound.len();
            bound.extend(targets.iter().cloned());
            go(elt, bound);
            conds.iter().for_each(|n| go(n, bound));
            bound.truncate(before);
        }
    }
}
