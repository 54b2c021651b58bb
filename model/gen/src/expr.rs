//! The guard and update language: a tiny expression language whose surface syntax is valid in
//! both Rust and Promela (`&& || ! == != < <= > >= + - * / %`, integer and bool literals, names,
//! `a[i]`), plus bounded quantifiers `all(i in N: e)`, `any(..)`, `count(..)`, `sum(..)` and the
//! update statements `x = e`, `a[i] = e`, `if c: s`, `for i in N [when c]: s`, which the
//! emitters expand (Rust iterators; unrolled in Promela since `N` is a constant).

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Int(i64),
    Bool(bool),
    Ident(String),
    Index(String, Box<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Quant {
        kind: &'static str,
        var: String,
        bound: Box<Expr>,
        body: Box<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Assign {
        target: String,
        index: Option<Expr>,
        value: Expr,
    },
    If {
        cond: Expr,
        body: Box<Stmt>,
    },
    For {
        var: String,
        bound: Expr,
        when: Option<Expr>,
        body: Box<Stmt>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Ident(String),
    Op(&'static str),
}

const OPS: [&str; 22] = [
    "&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[", "]",
    ":", ",", "=", ";",
];

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    'outer: while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && (b[i] as char).is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Int(s[st..i].parse().map_err(|e| format!("{e}"))?));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let st = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(s[st..i].to_string()));
            continue;
        }
        for op in OPS {
            if s[i..].starts_with(op) {
                out.push(Tok::Op(op));
                i += op.len();
                continue 'outer;
            }
        }
        return Err(format!("unexpected character `{c}`"));
    }
    Ok(out)
}

struct P {
    toks: Vec<Tok>,
    pos: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == kw)
    }
    fn eat(&mut self, op: &str) -> Result<(), String> {
        if self.is_op(op) || self.is_kw(op) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{op}`, found {:?}", self.peek()))
        }
    }
    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Ident(i)) => {
                self.pos += 1;
                Ok(i)
            }
            t => Err(format!("expected a name, found {t:?}")),
        }
    }
    fn binary(&mut self, level: usize) -> Result<Expr, String> {
        const LEVELS: [&[&str]; 5] = [
            &["||"],
            &["&&"],
            &["==", "!=", "<=", ">=", "<", ">"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        let mut chained = false;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(o)) if LEVELS[level].contains(o) => *o,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.binary(level + 1)?;
            if level == 2 && chained {
                return Err("comparisons do not chain; add parentheses".into());
            }
            chained = true;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.is_op("!") || self.is_op("-") {
            let op = if self.is_op("!") { "!" } else { "-" };
            self.pos += 1;
            return Ok(Expr::Unary(op, Box::new(self.unary()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Tok::Int(n)) => {
                self.pos += 1;
                Ok(Expr::Int(n))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let e = self.binary(0)?;
                self.eat(")")?;
                Ok(e)
            }
            Some(Tok::Ident(id)) => {
                self.pos += 1;
                match id.as_str() {
                    "true" => return Ok(Expr::Bool(true)),
                    "false" => return Ok(Expr::Bool(false)),
                    "all" | "any" | "count" | "sum" if self.is_op("(") => {
                        let kind = match id.as_str() {
                            "all" => "all",
                            "any" => "any",
                            "count" => "count",
                            _ => "sum",
                        };
                        self.eat("(")?;
                        let var = self.ident()?;
                        self.eat("in")?;
                        let bound = self.binary(3)?;
                        self.eat(":")?;
                        let body = self.binary(0)?;
                        self.eat(")")?;
                        return Ok(Expr::Quant {
                            kind,
                            var,
                            bound: Box::new(bound),
                            body: Box::new(body),
                        });
                    }
                    _ => {}
                }
                if self.is_op("[") {
                    self.pos += 1;
                    let ix = self.binary(0)?;
                    self.eat("]")?;
                    return Ok(Expr::Index(id, Box::new(ix)));
                }
                Ok(Expr::Ident(id))
            }
            t => Err(format!("unexpected {t:?}")),
        }
    }
    fn stmt(&mut self) -> Result<Stmt, String> {
        if self.is_kw("if") {
            self.pos += 1;
            let cond = self.binary(0)?;
            self.eat(":")?;
            return Ok(Stmt::If {
                cond,
                body: Box::new(self.stmt()?),
            });
        }
        if self.is_kw("for") {
            self.pos += 1;
            let var = self.ident()?;
            self.eat("in")?;
            let bound = self.binary(3)?;
            let when = if self.is_kw("when") {
                self.pos += 1;
                Some(self.binary(0)?)
            } else {
                None
            };
            self.eat(":")?;
            return Ok(Stmt::For {
                var,
                bound,
                when,
                body: Box::new(self.stmt()?),
            });
        }
        let target = self.ident()?;
        let index = if self.is_op("[") {
            self.pos += 1;
            let ix = self.binary(0)?;
            self.eat("]")?;
            Some(ix)
        } else {
            None
        };
        self.eat("=")?;
        let value = self.binary(0)?;
        Ok(Stmt::Assign {
            target,
            index,
            value,
        })
    }
    fn done(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(format!("trailing {t:?}")),
        }
    }
}

pub fn parse_expr(s: &str) -> Result<Expr, String> {
    let mut p = P {
        toks: lex(s)?,
        pos: 0,
    };
    let e = p.binary(0)?;
    p.done()?;
    Ok(e)
}

pub fn parse_stmt(s: &str) -> Result<Stmt, String> {
    let mut p = P {
        toks: lex(s)?,
        pos: 0,
    };
    let st = p.stmt()?;
    p.done()?;
    Ok(st)
}

/// How names resolve for one emitter.
pub trait Names {
    /// A name that is not a quantifier variable.
    fn ident(&self, name: &str) -> Result<String, String>;
    /// An array variable being indexed.
    fn array(&self, name: &str) -> Result<String, String>;
    /// A constant expression's value (quantifier bounds).
    fn konst(&self, e: &Expr) -> Result<i64, String>;
}

/// Rust emission: quantifiers become iterator chains over `0..N` (i32).
pub fn rust(e: &Expr, n: &dyn Names, bound: &BTreeSet<String>) -> Result<String, String> {
    Ok(match e {
        Expr::Int(i) => format!("{i}"),
        Expr::Bool(b) => format!("{b}"),
        Expr::Ident(id) if bound.contains(id) => id.clone(),
        Expr::Ident(id) => n.ident(id)?,
        Expr::Index(a, ix) => format!("{}[({}) as usize]", n.array(a)?, rust(ix, n, bound)?),
        Expr::Unary(op, x) => format!("{op}{}", paren(rust(x, n, bound)?)),
        Expr::Binary(op, a, b) => format!("({} {op} {})", rust(a, n, bound)?, rust(b, n, bound)?),
        Expr::Quant {
            kind,
            var,
            bound: lim,
            body,
        } => {
            let mut inner = bound.clone();
            inner.insert(var.clone());
            let lim = rust(lim, n, bound)?;
            let body = rust(body, n, &inner)?;
            match *kind {
                "all" => format!("(0..{lim}).all(|{var}: i32| {body})"),
                "any" => format!("(0..{lim}).any(|{var}: i32| {body})"),
                "count" => format!("((0..{lim}).filter(|&{var}: &i32| {body}).count() as i32)"),
                _ => format!("(0..{lim}).map(|{var}: i32| {body}).sum::<i32>()"),
            }
        }
    })
}

fn paren(s: String) -> String {
    if s.starts_with('(') {
        s
    } else {
        format!("({s})")
    }
}

/// Rust statements operating on `v` (the variables being updated), sequentially.
pub fn rust_stmt(
    s: &Stmt,
    n: &dyn Names,
    bound: &BTreeSet<String>,
    ind: &str,
) -> Result<String, String> {
    Ok(match s {
        Stmt::Assign {
            target,
            index,
            value,
        } => {
            let val = rust(value, n, bound)?;
            match index {
                None => format!("{ind}{} = {val};\n", n.ident(target)?),
                // An assignment evaluates its right side before the indexed place, so the value
                // may read the same array.
                Some(ix) => format!(
                    "{ind}{}[({}) as usize] = {val};\n",
                    n.array(target)?,
                    rust(ix, n, bound)?
                ),
            }
        }
        Stmt::If { cond, body } => format!(
            "{ind}if {} {{\n{}{ind}}}\n",
            rust(cond, n, bound)?,
            rust_stmt(body, n, bound, &format!("{ind}    "))?
        ),
        Stmt::For {
            var,
            bound: lim,
            when,
            body,
        } => {
            let mut inner = bound.clone();
            inner.insert(var.clone());
            let ind2 = format!("{ind}    ");
            let body_s = match when {
                Some(c) => rust_stmt(
                    &Stmt::If {
                        cond: c.clone(),
                        body: body.clone(),
                    },
                    n,
                    &inner,
                    &ind2,
                )?,
                None => rust_stmt(body, n, &inner, &ind2)?,
            };
            format!(
                "{ind}for {var} in 0..{} {{\n{body_s}{ind}}}\n",
                rust(lim, n, bound)?
            )
        }
    })
}

/// Replaces a quantifier variable by a constant.
pub fn subst(e: &Expr, var: &str, val: i64) -> Expr {
    let s = |x: &Expr| Box::new(subst(x, var, val));
    match e {
        Expr::Ident(id) if id == var => Expr::Int(val),
        Expr::Index(a, ix) => Expr::Index(a.clone(), s(ix)),
        Expr::Unary(op, x) => Expr::Unary(op, s(x)),
        Expr::Binary(op, a, b) => Expr::Binary(op, s(a), s(b)),
        Expr::Quant {
            kind,
            var: v,
            bound,
            body,
        } if v != var => Expr::Quant {
            kind,
            var: v.clone(),
            bound: s(bound),
            body: s(body),
        },
        other => other.clone(),
    }
}

fn subst_stmt(st: &Stmt, var: &str, val: i64) -> Stmt {
    match st {
        Stmt::Assign {
            target,
            index,
            value,
        } => Stmt::Assign {
            target: target.clone(),
            index: index.as_ref().map(|i| subst(i, var, val)),
            value: subst(value, var, val),
        },
        Stmt::If { cond, body } => Stmt::If {
            cond: subst(cond, var, val),
            body: Box::new(subst_stmt(body, var, val)),
        },
        Stmt::For {
            var: v,
            bound,
            when,
            body,
        } if v != var => Stmt::For {
            var: v.clone(),
            bound: subst(bound, var, val),
            when: when.as_ref().map(|w| subst(w, var, val)),
            body: Box::new(subst_stmt(body, var, val)),
        },
        other => other.clone(),
    }
}

/// Promela emission: quantifiers unrolled (their bound is a constant).
pub fn pml(e: &Expr, n: &dyn Names) -> Result<String, String> {
    Ok(match e {
        Expr::Int(i) => format!("{i}"),
        Expr::Bool(b) => format!("{b}"),
        Expr::Ident(id) => n.ident(id)?,
        Expr::Index(a, ix) => format!("{}[{}]", n.array(a)?, pml(ix, n)?),
        Expr::Unary(op, x) => format!("{op}{}", paren(pml(x, n)?)),
        Expr::Binary(op, a, b) => format!("({} {op} {})", pml(a, n)?, pml(b, n)?),
        Expr::Quant {
            kind,
            var,
            bound,
            body,
        } => {
            let lim = n.konst(bound)?;
            let parts: Vec<String> = (0..lim)
                .map(|k| pml(&subst(body, var, k), n))
                .collect::<Result<_, _>>()?;
            let (join, empty) = match *kind {
                "all" => (" && ", "true"),
                "any" => (" || ", "false"),
                _ => (" + ", "0"),
            };
            if parts.is_empty() {
                empty.to_string()
            } else if *kind == "count" {
                // A Promela comparison is 0 or 1; `(c -> 1 : 0)` would clash with LTL's `->`.
                let c: Vec<String> = parts.iter().map(|p| format!("({p})")).collect();
                format!("({})", c.join(join))
            } else {
                format!("({})", parts.join(join))
            }
        }
    })
}

/// Promela statements, `;`-terminated, sequential.
pub fn pml_stmt(s: &Stmt, n: &dyn Names) -> Result<String, String> {
    Ok(match s {
        Stmt::Assign {
            target,
            index,
            value,
        } => match index {
            None => format!("{} = {}; ", n.ident(target)?, pml(value, n)?),
            Some(ix) => format!(
                "{}[{}] = {}; ",
                n.array(target)?,
                pml(ix, n)?,
                pml(value, n)?
            ),
        },
        Stmt::If { cond, body } => {
            format!(
                "if :: {} -> {}:: else -> skip fi; ",
                pml(cond, n)?,
                pml_stmt(body, n)?
            )
        }
        Stmt::For {
            var,
            bound,
            when,
            body,
        } => {
            let lim = n.konst(bound)?;
            let mut out = String::new();
            for k in 0..lim {
                let b = subst_stmt(body, var, k);
                let st = match when {
                    Some(c) => Stmt::If {
                        cond: subst(c, var, k),
                        body: Box::new(b),
                    },
                    None => b,
                };
                out.push_str(&pml_stmt(&st, n)?);
            }
            out
        }
    })
}

/// Every name an expression mentions (quantifier variables excluded).
pub fn names(e: &Expr, out: &mut BTreeSet<String>, bound: &BTreeSet<String>) {
    match e {
        Expr::Ident(id) if !bound.contains(id) => {
            out.insert(id.clone());
        }
        Expr::Index(a, ix) => {
            out.insert(a.clone());
            names(ix, out, bound);
        }
        Expr::Unary(_, x) => names(x, out, bound),
        Expr::Binary(_, a, b) => {
            names(a, out, bound);
            names(b, out, bound);
        }
        Expr::Quant {
            var,
            bound: lim,
            body,
            ..
        } => {
            names(lim, out, bound);
            let mut inner = bound.clone();
            inner.insert(var.clone());
            names(body, out, &inner);
        }
        _ => {}
    }
}

/// Names a statement reads, and the variables it writes.
pub fn stmt_names(
    s: &Stmt,
    reads: &mut BTreeSet<String>,
    writes: &mut BTreeSet<String>,
    bound: &BTreeSet<String>,
) {
    match s {
        Stmt::Assign {
            target,
            index,
            value,
        } => {
            writes.insert(target.clone());
            if let Some(ix) = index {
                names(ix, reads, bound);
            }
            names(value, reads, bound);
        }
        Stmt::If { cond, body } => {
            names(cond, reads, bound);
            stmt_names(body, reads, writes, bound);
        }
        Stmt::For {
            var,
            bound: lim,
            when,
            body,
        } => {
            names(lim, reads, bound);
            let mut inner = bound.clone();
            inner.insert(var.clone());
            if let Some(c) = when {
                names(c, reads, &inner);
            }
            stmt_names(body, reads, writes, &inner);
        }
    }
}

pub fn has_quant(e: &Expr) -> bool {
    match e {
        Expr::Quant { .. } => true,
        Expr::Index(_, x) | Expr::Unary(_, x) => has_quant(x),
        Expr::Binary(_, a, b) => has_quant(a) || has_quant(b),
        _ => false,
    }
}

/// Evaluates a constant integer expression given constant values.
pub fn eval_const(e: &Expr, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, String> {
    let r = |x: &Expr| eval_const(x, lookup);
    match e {
        Expr::Int(i) => Ok(*i),
        Expr::Ident(id) => lookup(id).ok_or(format!("`{id}` is not a constant")),
        Expr::Unary("-", x) => Ok(-r(x)?),
        Expr::Binary(op, a, b) => {
            let (a, b) = (r(a)?, r(b)?);
            Ok(match *op {
                "+" => a + b,
                "-" => a - b,
                "*" => a * b,
                "/" if b != 0 => a / b,
                "%" if b != 0 => a % b,
                _ => return Err(format!("`{op}` in a constant")),
            })
        }
        _ => Err("not a constant expression".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_quantifiers() {
        let e = parse_expr("!a && b[i + 1] == 2 || count(j in N: x[j] > 0) <= 1").unwrap();
        match e {
            Expr::Binary("||", _, _) => {}
            other => panic!("{other:?}"),
        }
        assert!(parse_expr("a == b == c").is_err());
        let s = parse_stmt("for i in N when p[i] > p[t]: p[i] = p[i] - 1").unwrap();
        assert!(matches!(s, Stmt::For { .. }));
    }
}
