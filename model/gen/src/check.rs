//! Static checks of a loaded machine: every name resolves, ghosts never steer real behaviour,
//! hot-path machines stay `const fn`-able, and typestate groups are total and deterministic.

use crate::expr::{self, Expr, Stmt};
use crate::model::{Machine, Ty};
use std::collections::{BTreeMap, BTreeSet};

pub fn check(m: &Machine) -> Result<(), String> {
    unique_names(m)?;
    let base = base_names(m);
    for t in &m.trans {
        let ev = m.event(&t.event);
        let mut known = base.clone();
        known.extend(ev.args.iter().map(|a| a.name.clone()));
        let ctx = format!("transition {} --{}--> {}", t.from, t.event, t.to);
        let mut reads = BTreeSet::new();
        if let Some(g) = &t.guard {
            expr::names(g, &mut reads, &BTreeSet::new());
            if m.hot_path && expr::has_quant(g) {
                return Err(format!("{ctx}: hot-path guards cannot use quantifiers"));
            }
        }
        for n in &reads {
            if !known.contains(n) {
                return Err(format!("{ctx}: unknown name `{n}`"));
            }
            if m.var(n).is_some_and(|v| v.ghost) {
                return Err(format!("{ctx}: guard reads ghost `{n}`"));
            }
        }
        for s in &t.updates {
            check_stmt(m, s, &known, &ctx)?;
        }
    }
    for p in &m.props {
        let mut reads = BTreeSet::new();
        match &p.kind {
            crate::model::PropKind::Invariant(e) => expr::names(e, &mut reads, &BTreeSet::new()),
            crate::model::PropKind::Stays(a, b) | crate::model::PropKind::LeadsTo(a, b) => {
                expr::names(a, &mut reads, &BTreeSet::new());
                expr::names(b, &mut reads, &BTreeSet::new());
            }
        }
        if let Some(n) = reads.iter().find(|n| !base.contains(*n)) {
            return Err(format!("property {}: unknown name `{n}`", p.name));
        }
    }
    if m.typestate {
        typestate_total(m)?;
    }
    Ok(())
}

fn unique_names(m: &Machine) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    seen.insert("state".to_string());
    let all = m
        .states
        .iter()
        .map(|s| &s.name)
        .chain(m.vars.iter().map(|v| &v.name))
        .chain(m.consts.keys())
        .chain(m.enums.values().flat_map(|e| e.values.iter()));
    for n in all {
        if !seen.insert(n.clone()) {
            return Err(format!("name `{n}` is declared twice (states, vars, consts and enum values share one namespace)"));
        }
    }
    Ok(())
}

fn base_names(m: &Machine) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = m
        .states
        .iter()
        .map(|s| s.name.clone())
        .chain(m.vars.iter().map(|v| v.name.clone()))
        .chain(m.consts.keys().cloned())
        .chain(m.enums.values().flat_map(|e| e.values.iter().cloned()))
        .collect();
    s.insert("state".into());
    s
}

fn check_stmt(m: &Machine, s: &Stmt, known: &BTreeSet<String>, ctx: &str) -> Result<(), String> {
    let mut reads = BTreeSet::new();
    let mut writes = BTreeSet::new();
    expr::stmt_names(s, &mut reads, &mut writes, &BTreeSet::new());
    for w in &writes {
        let v = m.var(w).ok_or(format!(
            "{ctx}: assignment to `{w}`, which is not a variable"
        ))?;
        if v.param {
            return Err(format!("{ctx}: `{w}` is a parameter and cannot change"));
        }
    }
    let writes_ghost = writes.iter().any(|w| m.var(w).is_some_and(|v| v.ghost));
    for r in &reads {
        if !known.contains(r) {
            return Err(format!("{ctx}: unknown name `{r}`"));
        }
        if !writes_ghost && m.var(r).is_some_and(|v| v.ghost) {
            return Err(format!("{ctx}: a real variable's update reads ghost `{r}`"));
        }
    }
    if writes_ghost && writes.iter().any(|w| m.var(w).is_some_and(|v| !v.ghost)) {
        return Err(format!(
            "{ctx}: one statement writes both ghost and real variables"
        ));
    }
    if m.hot_path && matches!(s, Stmt::For { .. }) {
        return Err(format!("{ctx}: hot-path updates cannot loop"));
    }
    Ok(())
}

/// A value of the small evaluator used for the typestate totality check.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Val {
    B(bool),
    I(i64),
}

fn eval(e: &Expr, env: &BTreeMap<String, Val>) -> Result<Val, String> {
    use Val::*;
    Ok(match e {
        Expr::Int(i) => I(*i),
        Expr::Bool(b) => B(*b),
        Expr::Ident(id) => *env.get(id).ok_or(format!("cannot evaluate `{id}`"))?,
        Expr::Unary("!", x) => match eval(x, env)? {
            B(b) => B(!b),
            _ => return Err("`!` on an int".into()),
        },
        Expr::Unary(_, x) => match eval(x, env)? {
            I(i) => I(-i),
            _ => return Err("`-` on a bool".into()),
        },
        Expr::Binary(op, a, b) => {
            let (a, b) = (eval(a, env)?, eval(b, env)?);
            match (*op, a, b) {
                ("&&", B(x), B(y)) => B(x && y),
                ("||", B(x), B(y)) => B(x || y),
                ("==", x, y) => B(x == y),
                ("!=", x, y) => B(x != y),
                ("<", I(x), I(y)) => B(x < y),
                ("<=", I(x), I(y)) => B(x <= y),
                (">", I(x), I(y)) => B(x > y),
                (">=", I(x), I(y)) => B(x >= y),
                ("+", I(x), I(y)) => I(x + y),
                ("-", I(x), I(y)) => I(x - y),
                ("*", I(x), I(y)) => I(x * y),
                _ => return Err(format!("cannot evaluate `{op}` here")),
            }
        }
        _ => return Err("arrays and quantifiers are not allowed in typestate guards".into()),
    })
}

/// Every value a variable or argument can take, for the brute-force check.
fn domain(m: &Machine, ty: &Ty, range: Option<(i64, i64)>) -> Result<Vec<(Val, i64)>, String> {
    Ok(match ty {
        Ty::Bool => vec![(Val::B(false), 0), (Val::B(true), 1)],
        Ty::Int => {
            let (lo, hi) = range.ok_or("typestate int variables need a `range`")?;
            (lo..=hi).map(|i| (Val::I(i), i)).collect()
        }
        Ty::Enum(e) => (0..m.enums[e].values.len() as i64)
            .map(|i| (Val::I(i), i))
            .collect(),
    })
}

/// For a typestate machine each (state, event) group must have exactly one enabled transition for
/// every valuation of the real variables and event arguments, since the typed transition function
/// returns a typed next state and cannot fail.
fn typestate_total(m: &Machine) -> Result<(), String> {
    let mut names: Vec<(String, Vec<(Val, i64)>)> = Vec::new();
    for v in m.real_vars() {
        if v.len.is_some() {
            return Err("typestate machines cannot have array variables".into());
        }
        names.push((v.name.clone(), domain(m, &v.ty, v.range)?));
    }
    for (from, event, group) in m.groups() {
        let ev = m.event(event);
        let mut space = names.clone();
        for a in &ev.args {
            let range = a.upto.as_ref().map(|(_, n)| (0, n - 1));
            space.push((a.name.clone(), domain(m, &a.ty, range)?));
        }
        let mut fixed: BTreeMap<String, Val> = BTreeMap::new();
        for s in &m.states {
            fixed.insert(
                s.name.clone(),
                Val::I(m.states.iter().position(|x| x.name == s.name).unwrap_or(0) as i64),
            );
        }
        fixed.insert("state".into(), fixed[from]);
        for (k, v) in &m.consts {
            fixed.insert(k.clone(), Val::I(*v));
        }
        for e in m.enums.values() {
            for (i, v) in e.values.iter().enumerate() {
                fixed.insert(v.clone(), Val::I(i as i64));
            }
        }
        let total: usize = space.iter().map(|(_, d)| d.len()).product();
        for mut k in 0..total {
            let mut env = fixed.clone();
            for (n, d) in &space {
                env.insert(n.clone(), d[k % d.len()].0);
                k /= d.len();
            }
            let mut enabled = 0;
            for t in group.iter() {
                let on = match &t.guard {
                    None => true,
                    Some(g) => eval(g, &env)? == Val::B(true),
                };
                enabled += on as usize;
            }
            if enabled != 1 {
                let vals: Vec<String> = space
                    .iter()
                    .map(|(n, _)| format!("{n}={:?}", env[n]))
                    .collect();
                return Err(format!(
                    "typestate group ({from}, {event}): {enabled} transitions enabled at {}; guards must be exhaustive and exclusive",
                    vals.join(", ")
                ));
            }
        }
    }
    Ok(())
}
