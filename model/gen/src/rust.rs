//! Rust emission: the reference model (every machine), the hot-path `const fn` (waiter), the
//! typestate (connection).

use crate::expr::{self, Expr, Names, Stmt};
use crate::model::{Arg, Machine, PropKind, Trans, Ty};
use std::collections::BTreeSet;
use std::fmt::Write;

pub fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn doc(out: &mut String, ind: &str, text: &str) {
    for line in text.trim().lines() {
        if line.trim().is_empty() {
            let _ = writeln!(out, "{ind}///");
        } else {
            let _ = writeln!(out, "{ind}/// {}", line.trim_end());
        }
    }
}

pub fn rust_ty(m: &Machine, ty: &Ty) -> String {
    let _ = m;
    match ty {
        Ty::Bool => "bool".into(),
        Ty::Int => "i32".into(),
        Ty::Enum(e) => camel(e),
    }
}

/// Names in transition code: variables live in `v`, event arguments are locals.
pub struct RustNames<'a> {
    pub m: &'a Machine,
    pub locals: BTreeSet<String>,
}

impl Names for RustNames<'_> {
    fn ident(&self, n: &str) -> Result<String, String> {
        let m = self.m;
        if self.locals.contains(n) || n == "state" {
            Ok(n.to_string())
        } else if m.var(n).is_some() {
            Ok(format!("v.{n}"))
        } else if m.state(n).is_some() {
            Ok(format!("State::{}", camel(n)))
        } else if m.consts.contains_key(n) {
            Ok(n.to_string())
        } else if let Some(e) = m.enum_of_value(n) {
            Ok(format!("{}::{}", camel(e), camel(n)))
        } else {
            Err(format!("unknown name `{n}`"))
        }
    }
    fn array(&self, n: &str) -> Result<String, String> {
        self.ident(n)
    }
    fn konst(&self, e: &Expr) -> Result<i64, String> {
        expr::eval_const(e, &|n| self.m.consts.get(n).copied())
    }
}

fn is_ghost_stmt(m: &Machine, s: &Stmt) -> bool {
    let mut r = BTreeSet::new();
    let mut w = BTreeSet::new();
    expr::stmt_names(s, &mut r, &mut w, &BTreeSet::new());
    w.iter().any(|x| m.var(x).is_some_and(|v| v.ghost))
}

fn args_pattern(ev: &crate::model::Event) -> String {
    if ev.args.is_empty() {
        format!("Event::{}", camel(&ev.name))
    } else {
        let a: Vec<&str> = ev.args.iter().map(|a| a.name.as_str()).collect();
        format!("Event::{} {{ {} }}", camel(&ev.name), a.join(", "))
    }
}

fn updates(m: &Machine, t: &Trans, n: &RustNames, ind: &str) -> Result<String, String> {
    let mut out = String::new();
    for s in t.updates.iter().filter(|s| !is_ghost_stmt(m, s)) {
        out.push_str(&expr::rust_stmt(s, n, &BTreeSet::new(), ind)?);
    }
    Ok(out)
}

fn arg_range_check(a: &Arg) -> Option<String> {
    a.upto
        .as_ref()
        .map(|(src, _)| format!("(0 <= {n} && {n} < {src})", n = a.name))
}

pub fn emit(m: &Machine) -> Result<String, String> {
    let mut o = String::new();
    header(m, &mut o);
    consts_and_enums(m, &mut o);
    states(m, &mut o);
    vars(m, &mut o)?;
    events(m, &mut o);
    effects_and_illegal(m, &mut o);
    next_fn(m, &mut o)?;
    if m.hot_path {
        hot_path(m, &mut o);
    }
    model(m, &mut o)?;
    strategy(m, &mut o);
    if m.typestate {
        crate::typestate::emit(m, &mut o)?;
    }
    tests(m, &mut o);
    Ok(o)
}

fn header(m: &Machine, o: &mut String) {
    let _ = writeln!(
        o,
        "//! {}: the reference model{}.",
        m.title,
        if m.typestate {
            " and the typestate"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "//!\n//! Generated from `model/{}.toml` by `model/generate`; do not edit.",
        m.name
    );
    let _ = writeln!(o, "//!");
    for l in m.doc.trim().lines() {
        let _ = writeln!(o, "//! {}", l.trim_end());
    }
    let _ = writeln!(
        o,
        "//!\n//! The transition table and state diagram are in the [model reference](super)."
    );
    if m.typestate {
        o.push_str(&crate::typestate::module_doc(m));
    }
    o.push_str(
        "#![allow(unused_parens, unused_mut, unused_variables, unused_imports, unreachable_patterns, clippy::all)]\n\n",
    );
    o.push_str("use core::fmt;\n\n");
    let _ = writeln!(
        o,
        "/// The machine's name in traces.\npub const MACHINE: &str = \"{}\";\n",
        m.name
    );
}

fn consts_and_enums(m: &Machine, o: &mut String) {
    for (k, v) in &m.consts {
        let _ = writeln!(o, "/// Model constant `{k}`.\npub const {k}: i32 = {v};\n");
    }
    for (name, e) in &m.enums {
        if e.doc.is_empty() {
            let _ = writeln!(o, "/// Values of `{name}`.");
        } else {
            doc(o, "", &e.doc);
        }
        let _ = writeln!(
            o,
            "#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub enum {} {{",
            camel(name)
        );
        for v in &e.values {
            let _ = writeln!(o, "    /// `{v}`\n    {},", camel(v));
        }
        let _ = writeln!(o, "}}\n\nimpl {} {{", camel(name));
        let all: Vec<String> = e
            .values
            .iter()
            .map(|v| format!("{}::{}", camel(name), camel(v)))
            .collect();
        let _ = writeln!(
            o,
            "    /// Every value, in declaration order.\n    pub const ALL: [{}; {}] = [{}];",
            camel(name),
            all.len(),
            all.join(", ")
        );
        let _ = writeln!(o, "}}\n");
    }
}

fn states(m: &Machine, o: &mut String) {
    o.push_str("/// The control states.\n#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub enum State {\n");
    for s in &m.states {
        doc(o, "    ", &s.doc);
        let _ = writeln!(o, "    {},", camel(&s.name));
    }
    o.push_str("}\n\nimpl State {\n");
    let all: Vec<String> = m
        .states
        .iter()
        .map(|s| format!("State::{}", camel(&s.name)))
        .collect();
    let _ = writeln!(
        o,
        "    /// Every state, in declaration order.\n    pub const ALL: [State; {}] = [{}];",
        all.len(),
        all.join(", ")
    );
    o.push_str("    /// The state's name in the model file.\n    pub const fn name(self) -> &'static str {\n        match self {\n");
    for s in &m.states {
        let _ = writeln!(
            o,
            "            State::{} => \"{}\",",
            camel(&s.name),
            s.name
        );
    }
    o.push_str("        }\n    }\n    /// Whether no transition leaves this state but self-loops.\n    pub const fn is_terminal(self) -> bool {\n        match self {\n");
    for s in &m.states {
        let _ = writeln!(
            o,
            "            State::{} => {},",
            camel(&s.name),
            s.terminal
        );
    }
    o.push_str("        }\n    }\n}\n\n");
}

fn params_sig(m: &Machine) -> String {
    m.params()
        .map(|p| format!("{}: i32", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn params_proof(m: &Machine) -> String {
    m.params()
        .map(|p| p.proof.unwrap_or(0).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn vars(m: &Machine, o: &mut String) -> Result<(), String> {
    o.push_str("/// The model variables (proof-only ghost variables are left out).\n");
    o.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub struct Vars {\n");
    for v in m.real_vars() {
        doc(o, "    ", &v.doc);
        let ty = rust_ty(m, &v.ty);
        match &v.len {
            Some((src, _)) => {
                let _ = writeln!(o, "    pub {}: [{ty}; {src} as usize],", v.name);
            }
            None => {
                let _ = writeln!(o, "    pub {}: {ty},", v.name);
            }
        }
    }
    o.push_str("}\n\nimpl Vars {\n");
    let names = RustNames {
        m,
        locals: m.params().map(|p| p.name.clone()).collect(),
    };
    let _ = writeln!(
        o,
        "    /// The initial values.\n    pub const fn new({}) -> Vars {{\n        Vars {{",
        params_sig(m)
    );
    for v in m.real_vars() {
        let init = if v.param {
            v.name.clone()
        } else {
            expr::rust(&v.init, &names, &BTreeSet::new())?
        };
        match &v.len {
            Some((src, _)) => {
                let _ = writeln!(o, "            {}: [{init}; {src} as usize],", v.name);
            }
            None => {
                let _ = writeln!(o, "            {}: {init},", v.name);
            }
        }
    }
    o.push_str("        }\n    }\n}\n\n");
    Ok(())
}

fn events(m: &Machine, o: &mut String) {
    o.push_str("/// The events, with their arguments.\n#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub enum Event {\n");
    for e in &m.events {
        doc(o, "    ", &e.doc);
        if e.args.is_empty() {
            let _ = writeln!(o, "    {},", camel(&e.name));
        } else {
            let _ = writeln!(o, "    {} {{", camel(&e.name));
            for a in &e.args {
                let d = if a.doc.is_empty() {
                    format!("Argument `{}`.", a.name)
                } else {
                    a.doc.clone()
                };
                let d = match &a.upto {
                    Some((src, _)) => format!("{d} In `0..{src}`."),
                    None => d,
                };
                doc(o, "        ", &d);
                let _ = writeln!(o, "        {}: {},", a.name, rust_ty(m, &a.ty));
            }
            let _ = writeln!(o, "    }},");
        }
    }
    o.push_str("}\n\n");
    let max_args = m.events.iter().map(|e| e.args.len()).max().unwrap_or(0);
    let _ = writeln!(
        o,
        "/// The most arguments any event has.\npub const MAX_ARGS: usize = {max_args};\n"
    );
    o.push_str("impl Event {\n    /// The event's name in the model file.\n    pub const fn name(&self) -> &'static str {\n        match self {\n");
    for e in &m.events {
        let pat = if e.args.is_empty() {
            format!("Event::{}", camel(&e.name))
        } else {
            format!("Event::{} {{ .. }}", camel(&e.name))
        };
        let _ = writeln!(o, "            {pat} => \"{}\",", e.name);
    }
    o.push_str("        }\n    }\n\n");
    // args as integers (traces)
    let _ = writeln!(o, "    /// The arguments as integers, in declaration order, zero-padded (bools as 0/1, enums by\n    /// position): what the trace hook reports.\n    pub const fn arg_values(&self) -> [i32; MAX_ARGS] {{\n        let mut out = [0; MAX_ARGS];\n        match *self {{");
    for e in &m.events {
        if e.args.is_empty() {
            continue;
        }
        let _ = writeln!(o, "            {} => {{", args_pattern(e));
        for (i, a) in e.args.iter().enumerate() {
            let _ = writeln!(o, "                out[{i}] = {} as i32;", a.name);
        }
        let _ = writeln!(o, "            }}");
    }
    o.push_str("            _ => {}\n        }\n        out\n    }\n\n");
    // decode
    o.push_str("    /// The inverse of [`Event::name`] and [`Event::arg_values`] (replaying a trace).\n    pub fn decode(name: &str, args: &[i32]) -> Option<Event> {\n        let arg = |i: usize| args.get(i).copied().unwrap_or(0);\n        let e = match name {\n");
    for e in &m.events {
        if e.args.is_empty() {
            let _ = writeln!(
                o,
                "            \"{}\" => Event::{},",
                e.name,
                camel(&e.name)
            );
            continue;
        }
        let fields: Vec<String> = e
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| match &a.ty {
                Ty::Bool => format!("{}: arg({i}) != 0", a.name),
                Ty::Int => format!("{}: arg({i})", a.name),
                Ty::Enum(en) => format!("{}: *{}::ALL.get(arg({i}) as usize)?", a.name, camel(en)),
            })
            .collect();
        let _ = writeln!(
            o,
            "            \"{}\" => Event::{} {{ {} }},",
            e.name,
            camel(&e.name),
            fields.join(", ")
        );
    }
    o.push_str("            _ => return None,\n        };\n        Some(e)\n    }\n\n");
    // all events
    o.push_str("    /// Every event with every argument value (int arguments over their declared range).\n    pub fn all() -> Vec<Event> {\n        let mut out = Vec::new();\n");
    for e in &m.events {
        let mut ind = String::from("        ");
        let mut closes = 0;
        for a in &e.args {
            let iter = match &a.ty {
                Ty::Bool => "[false, true]".to_string(),
                Ty::Int => format!(
                    "0..{}",
                    a.upto.as_ref().map(|u| u.0.clone()).unwrap_or_default()
                ),
                Ty::Enum(en) => format!("{}::ALL", camel(en)),
            };
            let _ = writeln!(o, "{ind}for {} in {iter} {{", a.name);
            ind.push_str("    ");
            closes += 1;
        }
        let _ = writeln!(o, "{ind}out.push({});", args_pattern(e));
        for _ in 0..closes {
            ind.truncate(ind.len() - 4);
            let _ = writeln!(o, "{ind}}}");
        }
    }
    o.push_str("        out\n    }\n}\n\n");
}

fn effects_and_illegal(m: &Machine, o: &mut String) {
    o.push_str("/// What the caller must do besides changing state.\n#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]\npub struct Effects {\n");
    for e in &m.effects {
        doc(o, "    ", &e.doc);
        let _ = writeln!(o, "    pub {}: bool,", e.name);
    }
    o.push_str("}\n\nimpl Effects {\n    /// No effect.\n    pub const NONE: Effects = Effects {");
    let f: Vec<String> = m
        .effects
        .iter()
        .map(|e| format!(" {}: false", e.name))
        .collect();
    o.push_str(&f.join(","));
    o.push_str(" };\n}\n\n");
    o.push_str("/// An event the model does not allow in a state (or with these variable values).\n#[derive(Clone, Copy, Debug, PartialEq, Eq)]\npub struct Illegal {\n    /// The state the event arrived in.\n    pub state: State,\n    /// The refused event.\n    pub event: Event,\n}\n\n");
    let _ = writeln!(o, "impl fmt::Display for Illegal {{\n    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\n        write!(f, \"{}: event `{{}}` is illegal in state `{{}}`\", self.event.name(), self.state.name())\n    }}\n}}\n\nimpl std::error::Error for Illegal {{}}\n", m.name);
}

/// Whether every transition of one `[[transition]]` table stays in its own state (`to = "="`
/// with several `from` states), so the arm returns the state it matched.
fn stays(arm: &[&Trans]) -> bool {
    arm.len() > 1 && arm.iter().all(|t| t.to == t.from)
}

/// The match pattern of one `[[transition]]` table: its `from` states, rebinding `state` if it stays.
fn arm_pattern(arm: &[&Trans]) -> String {
    let froms: Vec<String> = arm
        .iter()
        .map(|t| format!("State::{}", camel(&t.from)))
        .collect();
    match (arm.len(), stays(arm)) {
        (1, _) => froms[0].clone(),
        (_, true) => format!("state @ ({})", froms.join(" | ")),
        (_, false) => froms.join(" | "),
    }
}

/// The state one `[[transition]]` table's arm goes to.
fn arm_target(arm: &[&Trans]) -> String {
    if stays(arm) {
        "state".into()
    } else {
        format!("State::{}", camel(&arm[0].to))
    }
}

fn next_fn(m: &Machine, o: &mut String) -> Result<(), String> {
    let cst = if m.hot_path { "const " } else { "" };
    o.push_str("/// The transition function: the next state, variables and effects, or [`Illegal`].\n/// Guards of one (state, event) are tried in model-file order.\n");
    let _ = writeln!(o, "pub {cst}fn next(state: State, v: Vars, event: Event) -> Result<(State, Vars, Effects), Illegal> {{");
    o.push_str("    let mut v = v;\n    let mut fx = Effects::NONE;\n    let to = match event {\n");
    for ev in &m.events {
        let names = RustNames {
            m,
            locals: ev.args.iter().map(|a| a.name.clone()).collect(),
        };
        let _ = writeln!(o, "        {} => {{", args_pattern(ev));
        let checks: Vec<String> = ev.args.iter().filter_map(arg_range_check).collect();
        if !checks.is_empty() {
            let _ = writeln!(o, "            if !({}) {{\n                return Err(Illegal {{ state, event }});\n            }}", checks.join(" && "));
        }
        o.push_str("            match state {\n");
        let on_event: Vec<&Trans> = m.trans.iter().filter(|t| t.event == ev.name).collect();
        for arm in on_event.chunk_by(|a, b| a.def == b.def) {
            let t = arm[0];
            let guard = match &t.guard {
                Some(g) => format!(" if {}", expr::rust(g, &names, &BTreeSet::new())?),
                None => String::new(),
            };
            let _ = writeln!(o, "                {}{guard} => {{", arm_pattern(arm));
            o.push_str(&updates(m, t, &names, "                    ")?);
            for e in &t.effects {
                let _ = writeln!(o, "                    fx.{e} = true;");
            }
            let _ = writeln!(
                o,
                "                    {}\n                }}",
                arm_target(arm)
            );
        }
        o.push_str("                _ => return Err(Illegal { state, event }),\n            }\n        }\n");
    }
    o.push_str("    };\n    Ok((to, v, fx))\n}\n\n");
    Ok(())
}

fn hot_path(m: &Machine, o: &mut String) {
    o.push_str("/// One hot-path step: the next state, the variables (flattened) and the effects.\n#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub struct Step {\n    /// The next state.\n    pub state: State,\n");
    for v in m.real_vars() {
        doc(o, "    ", &format!("The next `{}`.", v.name));
        let _ = writeln!(o, "    pub {}: {},", v.name, rust_ty(m, &v.ty));
    }
    for e in &m.effects {
        doc(o, "    ", &e.doc);
        let _ = writeln!(o, "    pub {}: bool,", e.name);
    }
    o.push_str("}\n\n");
    let sig: Vec<String> = m
        .real_vars()
        .map(|v| format!("{}: {}", v.name, rust_ty(m, &v.ty)))
        .collect();
    let fields: Vec<String> = m.real_vars().map(|v| v.name.clone()).collect();
    o.push_str("/// The hot-path transition: a `const fn`, no allocation, one match. Same table as [`next`].\n");
    let _ = writeln!(
        o,
        "pub const fn transition(state: State, event: Event, {}) -> Result<Step, Illegal> {{",
        sig.join(", ")
    );
    let _ = writeln!(
        o,
        "    match next(state, Vars {{ {} }}, event) {{",
        fields.join(", ")
    );
    let vf: Vec<String> = m
        .real_vars()
        .map(|v| format!("{n}: v.{n}", n = v.name))
        .collect();
    let ef: Vec<String> = m
        .effects
        .iter()
        .map(|e| format!("{n}: fx.{n}", n = e.name))
        .collect();
    let _ = writeln!(
        o,
        "        Ok((state, v, fx)) => Ok(Step {{ state, {}, {} }}),",
        vf.join(", "),
        ef.join(", ")
    );
    o.push_str("        Err(e) => Err(e),\n    }\n}\n\n");
}

fn model(m: &Machine, o: &mut String) -> Result<(), String> {
    o.push_str("/// The reference model: a control state and the variables.\n#[derive(Clone, Debug, PartialEq, Eq, Hash)]\npub struct Model {\n    /// The control state.\n    pub state: State,\n    /// The model variables.\n    pub vars: Vars,\n}\n\n");
    let args: Vec<String> = m.params().map(|p| p.name.clone()).collect();
    let _ = writeln!(
        o,
        "impl Model {{\n    /// The initial model{}.",
        if args.is_empty() {
            String::new()
        } else {
            format!(
                " for parameters {}",
                args.iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let _ = writeln!(o, "    pub const fn new({}) -> Self {{\n        Model {{ state: State::{}, vars: Vars::new({}) }}\n    }}\n", params_sig(m), camel(&m.initial), args.join(", "));
    o.push_str("    /// Applies `event`: the next model, or [`Illegal`] (self is unchanged).\n    pub fn step(&self, event: Event) -> Result<Model, Illegal> {\n        self.step_effects(event).map(|(m, _)| m)\n    }\n\n");
    o.push_str("    /// Like [`Model::step`], also returning the effects.\n    pub fn step_effects(&self, event: Event) -> Result<(Model, Effects), Illegal> {\n        let (state, vars, fx) = next(self.state, self.vars, event)?;\n        Ok((Model { state, vars }, fx))\n    }\n\n");
    o.push_str("    /// Applies `event` in place; on [`Illegal`] nothing changes.\n    pub fn apply(&mut self, event: Event) -> Result<Effects, Illegal> {\n        let (m, fx) = self.step_effects(event)?;\n        *self = m;\n        Ok(fx)\n    }\n\n");
    o.push_str("    /// Whether `event` is allowed now.\n    pub fn allows(&self, event: Event) -> bool {\n        next(self.state, self.vars, event).is_ok()\n    }\n\n");
    // invariants
    o.push_str("    /// Checks the model's invariants that do not involve proof-only ghost variables; the name of\n    /// the first one violated.\n    pub fn check(&self) -> Result<(), &'static str> {\n        let state = self.state;\n        let v = self.vars;\n");
    let names = RustNames {
        m,
        locals: BTreeSet::new(),
    };
    for p in &m.props {
        let PropKind::Invariant(e) = &p.kind else {
            continue;
        };
        let mut r = BTreeSet::new();
        expr::names(e, &mut r, &BTreeSet::new());
        if r.iter().any(|n| m.var(n).is_some_and(|v| v.ghost)) {
            continue;
        }
        let _ = writeln!(
            o,
            "        if !{} {{\n            return Err(\"{}\");\n        }}",
            expr::rust(e, &names, &BTreeSet::new())?,
            p.name
        );
    }
    o.push_str("        Ok(())\n    }\n}\n\n");
    let _ = writeln!(o, "impl Default for Model {{\n    /// The initial model with the parameters the proofs use.\n    fn default() -> Self {{\n        Model::new({})\n    }}\n}}\n", params_proof(m));
    o.push_str("impl super::support::Reference for Model {\n    type Event = Event;\n    type Illegal = Illegal;\n    fn events() -> Vec<Event> {\n        Event::all()\n    }\n    fn apply(&mut self, event: Event) -> Result<(), Illegal> {\n        Model::apply(self, event).map(|_| ())\n    }\n    fn allows(&self, event: Event) -> bool {\n        Model::allows(self, event)\n    }\n    fn check(&self) -> Result<(), &'static str> {\n        Model::check(self)\n    }\n}\n\n");
    Ok(())
}

fn strategy(_m: &Machine, o: &mut String) {
    o.push_str(r#"/// proptest strategies of events, for conformance tests of the real code against [`Model`].
#[cfg(test)]
#[allow(dead_code)]
pub(crate) mod strategy {
    use super::super::support::strategy as any_machine;
    use super::{Event, Model};
    use proptest::strategy::Strategy;

    /// Up to `max_len` arbitrary events (the real code must refuse what the model refuses).
    pub(crate) fn events(max_len: usize) -> impl Strategy<Value = Vec<Event>> {
        any_machine::events::<Model>(max_len)
    }

    /// Up to `max_len` events, each legal when it comes, starting from `start`. Shrinks well: the
    /// choices shrink toward the first enabled event and the run toward shorter.
    pub(crate) fn legal_run(start: Model, max_len: usize) -> impl Strategy<Value = Vec<Event>> {
        any_machine::legal_run(start, max_len)
    }
}

"#);
}

fn tests(m: &Machine, o: &mut String) {
    o.push_str(
        r#"#[cfg(test)]
mod tests {
    use super::super::support::checks;
    use super::*;

    #[test]
    fn legal_runs_keep_the_invariants() {
        checks::legal_runs_keep_the_invariants(Model::default());
    }

    #[test]
    fn illegal_events_change_nothing() {
        checks::illegal_events_change_nothing(Model::default());
    }

    #[test]
    fn events_round_trip_through_trace_encoding() {
        for e in Event::all() {
            assert_eq!(Event::decode(e.name(), &e.arg_values()), Some(e));
        }
    }
"#,
    );
    if let Some(n) = m.reachable {
        let _ = write!(
            o,
            r#"
    /// Every state reachable from the default model, by breadth-first search: the count the model
    /// file states (proofs/README.md compares it with spin's state count).
    #[test]
    fn reachable_states() {{
        assert_eq!(checks::reachable_count(Model::default()), {n});
    }}
"#
        );
    }
    o.push_str("}\n");
}
