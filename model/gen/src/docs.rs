//! docs/model.md: per machine the states, variables, events, transition table, a mermaid state
//! diagram and the properties the proofs check.

use crate::model::{Machine, PropKind, Ty};
use std::fmt::Write;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("`{}`", cell(s))
    }
}

fn ty(m: &Machine, t: &Ty, len: Option<&(String, i64)>) -> String {
    let _ = m;
    let base = match t {
        Ty::Bool => "bool".to_string(),
        Ty::Int => "int".to_string(),
        Ty::Enum(e) => e.clone(),
    };
    match len {
        Some((src, _)) => format!("{base}[{src}]"),
        None => base,
    }
}

pub fn emit(ms: &[Machine]) -> String {
    let mut o = String::new();
    o.push_str("# weir's formal state model\n\n");
    o.push_str("<!-- Generated from model/*.toml by model/generate; do not edit. -->\n\n");
    o.push_str("Generated from the model files under `model/` by `model/generate`; do not edit. The same\n");
    o.push_str("files generate the Rust reference models and typestate in `src/generated/` and the Promela in\n");
    o.push_str("`proofs/`, which `proofs/run` checks exhaustively with spin. Guards and updates use a tiny\n");
    o.push_str("expression language valid in Rust and Promela; updates run in order. Ghost variables exist\n");
    o.push_str("only in the proofs, to state properties (they never steer a transition).\n\n");
    for m in ms {
        let _ = writeln!(o, "- [{}](#{})", m.title, anchor(&m.title));
    }
    o.push('\n');
    for m in ms {
        machine(m, &mut o);
    }
    o
}

fn anchor(title: &str) -> String {
    title
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn machine(m: &Machine, o: &mut String) {
    let _ = writeln!(o, "## {}\n", m.title);
    let _ = writeln!(
        o,
        "Model file: `model/{}.toml`; Rust: `weir::generated::{}`; Promela: `proofs/{}.pml`.\n",
        m.name, m.name, m.name
    );
    let _ = writeln!(o, "{}\n", m.doc.trim());
    if !m.bounds.is_empty() {
        let _ = writeln!(o, "Proof bounds: {}\n", m.bounds.trim());
    }
    if !m.consts.is_empty() {
        let c: Vec<String> = m
            .consts
            .iter()
            .map(|(k, v)| format!("`{k} = {v}`"))
            .collect();
        let _ = writeln!(o, "Constants: {}.\n", c.join(", "));
    }
    for (name, e) in &m.enums {
        let _ = writeln!(
            o,
            "Enum `{name}`: {}. {}\n",
            e.values
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", "),
            e.doc.trim()
        );
    }
    o.push_str("### States\n\n| state | meaning |\n|---|---|\n");
    for s in &m.states {
        let init = if s.name == m.initial {
            " (initial)"
        } else {
            ""
        };
        let term = if s.terminal { " (terminal)" } else { "" };
        let _ = writeln!(o, "| `{}`{init}{term} | {} |", s.name, cell(&s.doc));
    }
    if !m.vars.is_empty() {
        o.push_str(
            "\n### Variables\n\n| variable | type | initial | meaning |\n|---|---|---|---|\n",
        );
        for v in &m.vars {
            let mut kind = String::new();
            if v.ghost {
                kind.push_str(" (ghost)");
            }
            if v.param {
                kind.push_str(&format!(" (parameter; proofs: {})", v.proof.unwrap_or(0)));
            }
            let _ = writeln!(
                o,
                "| `{}`{kind} | `{}` | {} | {} |",
                v.name,
                ty(m, &v.ty, v.len.as_ref()),
                initial(m, v),
                cell(&v.doc)
            );
        }
    }
    o.push_str("\n### Events\n\n| event | arguments | meaning |\n|---|---|---|\n");
    for e in &m.events {
        let args: Vec<String> = e
            .args
            .iter()
            .map(|a| {
                let t = match (&a.ty, &a.upto) {
                    (Ty::Int, Some((src, _))) => format!("0..{src}"),
                    (t, _) => ty(m, t, None),
                };
                format!("`{}: {t}`{}", a.name, if a.actor { " (actor)" } else { "" })
            })
            .collect();
        let _ = writeln!(
            o,
            "| `{}` | {} | {} |",
            e.name,
            args.join(", "),
            cell(&e.doc)
        );
    }
    if !m.effects.is_empty() {
        o.push_str("\n### Effects\n\n| effect | meaning |\n|---|---|\n");
        for e in &m.effects {
            let _ = writeln!(o, "| `{}` | {} |", e.name, cell(&e.doc));
        }
    }
    o.push_str("\n### Transitions\n\n| from | event | guard | to | updates | effects | note |\n|---|---|---|---|---|---|---|\n");
    for t in &m.trans {
        let _ = writeln!(
            o,
            "| `{}` | `{}` | {} | `{}` | {} | {} | {} |",
            t.from,
            t.event,
            code(t.guard_src.as_deref().unwrap_or("")),
            t.to,
            t.update_src
                .iter()
                .map(|u| code(u))
                .collect::<Vec<_>>()
                .join("; "),
            t.effects.join(", "),
            cell(&t.doc)
        );
    }
    o.push_str("\nAny (state, event) not listed is illegal: the reference model returns `Illegal`");
    o.push_str(if m.typestate {
        " and the typestate has no such method.\n"
    } else {
        ".\n"
    });
    o.push_str("\n### Diagram\n\n```mermaid\nstateDiagram-v2\n");
    let _ = writeln!(o, "    [*] --> {}", m.initial);
    let mut edges: Vec<(String, String, Vec<String>)> = Vec::new();
    for t in &m.trans {
        match edges
            .iter_mut()
            .find(|(f, to, _)| *f == t.from && *to == t.to)
        {
            Some(e) => {
                if !e.2.contains(&t.event) {
                    e.2.push(t.event.clone());
                }
            }
            None => edges.push((t.from.clone(), t.to.clone(), vec![t.event.clone()])),
        }
    }
    for (f, to, evs) in edges {
        let _ = writeln!(o, "    {f} --> {to} : {}", evs.join(", "));
    }
    o.push_str("```\n\n### Properties (proved by `proofs/run`)\n\n| property | kind | formula | meaning |\n|---|---|---|---|\n");
    for p in &m.props {
        let k = match p.kind {
            PropKind::Invariant(_) => "invariant",
            PropKind::Stays(..) => "stays",
            PropKind::LeadsTo(..) => "leads-to (weak fairness)",
        };
        let _ = writeln!(
            o,
            "| `{}` | {k} | {} | {} |",
            p.name,
            code(&p.src),
            cell(&p.doc)
        );
    }
    o.push('\n');
}

fn initial(m: &Machine, v: &crate::model::Var) -> String {
    let _ = m;
    if v.param {
        return format!("`{}`", v.name);
    }
    match &v.init {
        crate::expr::Expr::Int(i) => format!("`{i}`"),
        crate::expr::Expr::Bool(b) => format!("`{b}`"),
        crate::expr::Expr::Ident(i) => format!("`{i}`"),
        other => format!("`{other:?}`"),
    }
}
