//! Promela emission: global variables, one `ltl` claim per property, and a closed harness in
//! which every enabled transition may fire. Transitions whose event has an `actor` argument run
//! in one process per actor value (so `pan -f` weak fairness means "every actor keeps taking its
//! steps"); the rest run in the `env` process. Event arguments are unrolled into one branch per
//! value; every branch is a `d_step` (a transition is atomic, as in the Rust model).

use crate::expr::{self, Expr, Names};
use crate::model::{Arg, Machine, PropKind, Trans, Ty};
use std::collections::BTreeMap;
use std::fmt::Write;

struct PmlNames<'a> {
    m: &'a Machine,
    /// Event arguments substituted by their values in this branch.
    args: BTreeMap<String, i64>,
}

impl Names for PmlNames<'_> {
    fn ident(&self, n: &str) -> Result<String, String> {
        let m = self.m;
        if let Some(v) = self.args.get(n) {
            Ok(v.to_string())
        } else if n == "state" {
            Ok("state".into())
        } else if m.var(n).is_some_and(|v| v.param) {
            // Parameters are macros so that one model runs with several (`spin -DP_<name>=N`).
            Ok(format!("P_{n}"))
        } else if m.var(n).is_some() {
            Ok(format!("v_{n}"))
        } else if m.state(n).is_some() {
            Ok(format!("S_{n}"))
        } else if let Some(k) = m.consts.get(n) {
            Ok(k.to_string())
        } else if let Some(e) = m.enum_of_value(n) {
            Ok(format!("{e}_{n}"))
        } else {
            Err(format!("unknown name `{n}`"))
        }
    }
    fn array(&self, n: &str) -> Result<String, String> {
        self.ident(n)
    }
    fn konst(&self, e: &Expr) -> Result<i64, String> {
        expr::eval_const(e, &|n| {
            self.args
                .get(n)
                .copied()
                .or_else(|| self.m.consts.get(n).copied())
        })
    }
}

/// The proof configurations as `name=value,..` (or `-` without parameters).
pub fn configs(m: &Machine) -> Vec<String> {
    m.proof_configs
        .iter()
        .map(|c| {
            let parts: Vec<String> = c.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if parts.is_empty() {
                "-".to_string()
            } else {
                parts.join(",")
            }
        })
        .collect()
}

fn pml_type(v: &crate::model::Var) -> &'static str {
    match (&v.ty, v.range) {
        (Ty::Bool, _) => "bool",
        (Ty::Enum(_), _) => "byte",
        (Ty::Int, Some((lo, hi))) if lo >= 0 && hi <= 255 => "byte",
        (Ty::Int, _) => "short",
    }
}

fn domain(m: &Machine, a: &Arg) -> Vec<i64> {
    match &a.ty {
        Ty::Bool => vec![0, 1],
        Ty::Int => (0..a.upto.as_ref().map(|u| u.1).unwrap_or(0)).collect(),
        Ty::Enum(e) => (0..m.enums[e].values.len() as i64).collect(),
    }
}

/// Every assignment of values to `args`.
fn combos(m: &Machine, args: &[&Arg]) -> Vec<BTreeMap<String, i64>> {
    let mut out = vec![BTreeMap::new()];
    for a in args {
        let mut next = Vec::new();
        for c in &out {
            for v in domain(m, a) {
                let mut c2 = c.clone();
                c2.insert(a.name.clone(), v);
                next.push(c2);
            }
        }
        out = next;
    }
    out
}

pub fn prop_expr(m: &Machine, e: &Expr) -> Result<String, String> {
    expr::pml(
        e,
        &PmlNames {
            m,
            args: BTreeMap::new(),
        },
    )
}

/// (property name, kind) for proofs/properties.txt: kind is `safety` or `liveness`.
pub fn prop_kinds(m: &Machine) -> Vec<(String, &'static str)> {
    m.props
        .iter()
        .map(|p| {
            let k = match p.kind {
                PropKind::Invariant(_) => "safety",
                PropKind::Stays(..) => "temporal",
                PropKind::LeadsTo(..) => "liveness",
            };
            (p.name.clone(), k)
        })
        .collect()
}

fn branch(m: &Machine, t: &Trans, args: BTreeMap<String, i64>) -> Result<String, String> {
    let n = PmlNames { m, args };
    let mut guard = format!("state == S_{}", t.from);
    if let Some(g) = &t.guard {
        guard = format!("{guard} && {}", expr::pml(g, &n)?);
    }
    let mut body = String::new();
    for s in &t.updates {
        body.push_str(&expr::pml_stmt(s, &n)?);
    }
    let _ = write!(body, "state = S_{}", t.to);
    let argtxt: Vec<String> = n.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(format!(
        "    :: d_step {{ ({guard}) -> {body} }} /* {} {} */\n",
        t.event,
        argtxt.join(" ")
    ))
}

pub fn emit(m: &Machine) -> Result<String, String> {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "/* {}: generated from model/{}.toml by model/generate; do not edit. */",
        m.title, m.name
    );
    if !m.bounds.is_empty() {
        let _ = writeln!(o, "/* Bounds: {} */", m.bounds.trim());
    }
    o.push('\n');
    for (i, s) in m.states.iter().enumerate() {
        let _ = writeln!(o, "#define S_{} {i}", s.name);
    }
    for (name, e) in &m.enums {
        for (i, v) in e.values.iter().enumerate() {
            let _ = writeln!(o, "#define {name}_{v} {i}");
        }
    }
    for p in m.params() {
        let _ = writeln!(
            o,
            "#ifndef P_{n}\n#define P_{n} {}\n#endif",
            p.proof.unwrap_or(0),
            n = p.name
        );
    }
    let _ = writeln!(o, "\nbyte state = S_{};", m.initial);
    let names = PmlNames {
        m,
        args: BTreeMap::new(),
    };
    for v in m.vars.iter().filter(|v| !v.param) {
        let init = expr::pml(&v.init, &names)?;
        match &v.len {
            Some((_, len)) => {
                let _ = writeln!(o, "{} v_{}[{len}] = {init};", pml_type(v), v.name);
            }
            None => {
                let _ = writeln!(o, "{} v_{} = {init};", pml_type(v), v.name);
            }
        }
    }
    o.push('\n');
    for p in &m.props {
        let f = match &p.kind {
            PropKind::Invariant(e) => format!("[] ({})", prop_expr(m, e)?),
            PropKind::Stays(a, b) => {
                format!("[] (({}) -> [] ({}))", prop_expr(m, a)?, prop_expr(m, b)?)
            }
            PropKind::LeadsTo(a, b) => {
                format!("[] (({}) -> <> ({}))", prop_expr(m, a)?, prop_expr(m, b)?)
            }
        };
        let _ = writeln!(
            o,
            "/* {} */\nltl {} {{ {f} }}",
            p.doc.trim().replace("*/", "* /"),
            p.name
        );
    }
    o.push('\n');
    // Processes: env plus one per actor value.
    let mut procs: BTreeMap<String, String> = BTreeMap::new();
    for t in &m.trans {
        let ev = m.event(&t.event);
        let actor = ev.args.iter().find(|a| a.actor);
        let others: Vec<&Arg> = ev.args.iter().filter(|a| !a.actor).collect();
        match actor {
            None => {
                for c in combos(m, &others) {
                    procs
                        .entry("env".into())
                        .or_default()
                        .push_str(&branch(m, t, c)?);
                }
            }
            Some(a) => {
                for k in domain(m, a) {
                    for mut c in combos(m, &others) {
                        c.insert(a.name.clone(), k);
                        let name = format!("{}_{k}", a.name);
                        procs.entry(name).or_default().push_str(&branch(m, t, c)?);
                    }
                }
            }
        }
    }
    for (name, body) in &procs {
        let _ = writeln!(
            o,
            "active proctype {name}() {{\nend:\n    do\n{body}    od\n}}\n"
        );
    }
    Ok(o)
}
