//! The typestate emitter: unconstructible state markers, `Connection<S, T>`, one method per legal
//! (state, event), branching transitions returning an enum of typed next states, every transition
//! reported to `crate::trace`, and `compile_fail` doctests for the illegal uses the model lists.

use crate::expr;
use crate::model::{Machine, Ty};
use crate::rust::{camel, rust_ty, RustNames};
use std::collections::BTreeSet;
use std::fmt::Write;

fn ty_name(m: &Machine) -> String {
    camel(&m.name)
}

fn dummy(m: &Machine, ty: &Ty) -> String {
    match ty {
        Ty::Bool => "false".into(),
        Ty::Int => "0".into(),
        Ty::Enum(e) => format!("{}::{}", camel(e), camel(&m.enums[e].values[0])),
    }
}

fn call(m: &Machine, event: &str) -> String {
    let ev = m.event(event);
    let args: Vec<String> = ev.args.iter().map(|a| dummy(m, &a.ty)).collect();
    format!("on_{}({})", event, args.join(", "))
}

fn uses(m: &Machine) -> String {
    let mut u = vec!["state".to_string(), ty_name(m)];
    u.extend(m.enums.keys().map(|e| camel(e)));
    format!("use weir::generated::{}::{{{}}};", m.name, u.join(", "))
}

/// Branch outcome enum name for a group, if it branches.
fn outcome_name(m: &Machine, from: &str, event: &str) -> Option<String> {
    let groups = m.groups();
    let branching = |f: &str| {
        let g = groups.iter().find(|(gf, ge, _)| *gf == f && *ge == event);
        g.map(|(_, _, ts)| targets(ts).len() > 1).unwrap_or(false)
    };
    if !branching(from) {
        return None;
    }
    let n = groups
        .iter()
        .filter(|(f, e, _)| *e == event && branching(f))
        .count();
    Some(if n > 1 {
        format!("{}{}", camel(from), camel(event))
    } else {
        camel(event)
    })
}

fn targets(ts: &[&crate::model::Trans]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in ts {
        if !out.contains(&t.to) {
            out.push(t.to.clone());
        }
    }
    out
}

pub fn module_doc(m: &Machine) -> String {
    let tn = ty_name(m);
    let mut o = String::new();
    let _ = writeln!(o, "//!\n//! # Typestate\n//!");
    let _ = writeln!(o, "//! [`{tn}<S, T>`]({tn}) carries its state `S` as a type: one of the uninhabited markers in");
    let _ = writeln!(
        o,
        "//! [`state`], which nothing can construct. `T` is the hand-written I/O part. Each legal"
    );
    let _ = writeln!(o, "//! (state, event) of the model is one `on_<event>` method that consumes the connection and");
    let _ = writeln!(o, "//! returns it in its next state; where the model branches (on its variables or the event's");
    let _ = writeln!(o, "//! arguments) the method returns an enum of typed next states. Every transition is reported to");
    let _ = writeln!(o, "//! [`crate::trace`]. The methods are public so that the doctests below exercise them; the");
    let _ = writeln!(
        o,
        "//! only constructor is crate-private, so a `{tn}` exists only where weir made one."
    );
    let _ = writeln!(o, "//!\n//! Every legal transition compiles:\n//!\n//! ```");
    let _ = writeln!(o, "//! {}", uses(m));
    for (i, (from, event, _)) in m.groups().iter().enumerate() {
        let _ = writeln!(
            o,
            "//! fn t{i}<T>(c: {tn}<state::{}, T>) {{ let _ = c.{}; }}",
            camel(from),
            call(m, event)
        );
    }
    let _ = writeln!(
        o,
        "//! ```\n//!\n//! ## Illegal transitions do not compile\n//!"
    );
    for cf in &m.compile_fail {
        let _ = writeln!(o, "//! {}:\n//!", cf.why.trim());
        match (&cf.event, &cf.as_state) {
            (Some(ev), _) => {
                let _ = writeln!(o, "//! ```compile_fail,E0599\n//! {}", uses(m));
                let _ = writeln!(
                    o,
                    "//! fn f<T>(c: {tn}<state::{}, T>) {{ let _ = c.{}; }}",
                    camel(&cf.state),
                    call(m, ev)
                );
            }
            (None, Some(to)) => {
                let _ = writeln!(o, "//! ```compile_fail,E0308\n//! {}", uses(m));
                let _ = writeln!(
                    o,
                    "//! fn expects<T>(c: {tn}<state::{}, T>) {{ drop(c) }}",
                    camel(to)
                );
                let _ = writeln!(
                    o,
                    "//! fn f<T>(c: {tn}<state::{}, T>) {{ expects(c) }}",
                    camel(&cf.state)
                );
            }
            _ => {}
        }
        let _ = writeln!(o, "//! ```\n//!");
    }
    o
}

pub fn validate(m: &Machine) -> Result<(), String> {
    for cf in &m.compile_fail {
        if m.state(&cf.state).is_none() {
            return Err(format!("compile_fail: unknown state `{}`", cf.state));
        }
        match (&cf.event, &cf.as_state) {
            (Some(ev), None) => {
                if m.groups().iter().any(|(f, e, _)| *f == cf.state && e == ev) {
                    return Err(format!("compile_fail: `{ev}` is legal in `{}`", cf.state));
                }
            }
            (None, Some(to)) => {
                if m.state(to).is_none() || *to == cf.state {
                    return Err(format!("compile_fail: bad as_state `{to}`"));
                }
            }
            _ => return Err("compile_fail: give exactly one of `event`, `as_state`".into()),
        }
    }
    Ok(())
}

pub fn emit(m: &Machine, o: &mut String) -> Result<(), String> {
    validate(m)?;
    let tn = ty_name(m);
    markers(m, o);
    let _ = writeln!(o, "/// A {} whose lifecycle state is the type `S` (see the module docs); `T` is the I/O part.", m.name);
    let _ = writeln!(o, "pub struct {tn}<S, T> {{\n    /// The hand-written I/O part.\n    pub(crate) inner: T,\n    /// The model variables, carried so that branching transitions decide as the model does.\n    vars: Vars,\n    /// `fn() -> S`: the marker is never stored and does not affect `Send`/`Sync`.\n    _state: PhantomData<fn() -> S>,\n}}\n");
    let _ = writeln!(o, "impl<S: state::ConnState, T: fmt::Debug> fmt::Debug for {tn}<S, T> {{\n    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {{\n        f.debug_struct(\"{tn}\").field(\"state\", &S::STATE).field(\"vars\", &self.vars).field(\"inner\", &self.inner).finish()\n    }}\n}}\n");
    let _ = writeln!(o, "impl<S: state::ConnState, T> {tn}<S, T> {{\n    /// The model variables.\n    pub fn vars(&self) -> &Vars {{\n        &self.vars\n    }}\n\n    /// The reference model's view of this connection (conformance tests compare it).\n    pub fn model(&self) -> Model {{\n        Model {{ state: S::STATE, vars: self.vars }}\n    }}\n}}\n");
    let _ = writeln!(o, "fn retag<N, T>(inner: T, vars: Vars) -> {tn}<N, T> {{\n    {tn} {{ inner, vars, _state: PhantomData }}\n}}\n");
    let _ = writeln!(o, "#[inline]\nfn traced(from: State, event: Event, to: State) {{\n    if crate::trace::enabled() {{\n        crate::trace::record(&crate::trace::Transition {{\n            machine: MACHINE,\n            from: from.name(),\n            event: event.name(),\n            args: &event.arg_values(),\n            to: to.name(),\n        }});\n    }}\n}}\n");
    let init = camel(&m.initial);
    let _ = writeln!(o, "impl<T> {tn}<state::{init}, T> {{\n    /// A new {} in the initial state `{}`, over `inner`.\n    #[allow(dead_code)]\n    pub(crate) fn new(inner: T) -> Self {{\n        retag(inner, Vars::new())\n    }}\n}}\n", m.name, m.initial);
    for s in m.states.iter().filter(|s| s.terminal) {
        let _ = writeln!(o, "impl<T> {tn}<state::{}, T> {{\n    /// The I/O part, out of the finished machine.\n    pub fn into_inner(self) -> T {{\n        self.inner\n    }}\n}}\n", camel(&s.name));
    }
    for (from, event, ts) in m.groups() {
        method(m, from, event, &ts, o)?;
    }
    Ok(())
}

fn markers(m: &Machine, o: &mut String) {
    o.push_str("/// The state markers: uninhabited types, one per model state; nothing can construct them.\npub mod state {\n    mod sealed {\n        pub trait Sealed {}\n    }\n\n");
    o.push_str("    /// Implemented by the markers in this module only (sealed).\n    pub trait ConnState: sealed::Sealed {\n        /// The model state this marker stands for.\n        const STATE: super::State;\n    }\n\n");
    for s in &m.states {
        let c = camel(&s.name);
        let d = if s.doc.is_empty() {
            format!("`{}`.", s.name)
        } else {
            format!("`{}`: {}", s.name, s.doc)
        };
        for l in d.lines() {
            let _ = writeln!(o, "    /// {l}");
        }
        let _ = writeln!(o, "    #[derive(Debug)]\n    pub enum {c} {{}}\n    impl sealed::Sealed for {c} {{}}\n    impl ConnState for {c} {{\n        const STATE: super::State = super::State::{c};\n    }}\n");
    }
    o.push_str("}\n\nuse core::marker::PhantomData;\n\n");
}

fn method(
    m: &Machine,
    from: &str,
    event: &str,
    ts: &[&crate::model::Trans],
    o: &mut String,
) -> Result<(), String> {
    let tn = ty_name(m);
    let ev = m.event(event);
    let tos = targets(ts);
    let outcome = outcome_name(m, from, event);
    let ret = match &outcome {
        Some(n) => {
            let _ = writeln!(o, "/// The typed outcomes of `{from} --{event}-->`.\n#[derive(Debug)]\npub enum {n}<T> {{");
            for to in &tos {
                let _ = writeln!(
                    o,
                    "    /// Now `{to}`.\n    {}({tn}<state::{}, T>),",
                    camel(to),
                    camel(to)
                );
            }
            o.push_str("}\n\n");
            format!("{n}<T>")
        }
        None => format!("{tn}<state::{}, T>", camel(&tos[0])),
    };
    let _ = writeln!(o, "impl<T> {tn}<state::{}, T> {{", camel(from));
    let _ = writeln!(
        o,
        "    /// `{from} --{event}--> {}`{}",
        tos.join(" | "),
        if ev.doc.is_empty() {
            String::new()
        } else {
            format!(": {}", ev.doc.trim())
        }
    );
    for t in ts {
        let g = t
            .guard_src
            .clone()
            .map(|g| format!(" when `{g}`"))
            .unwrap_or_default();
        let d = if t.doc.is_empty() {
            String::new()
        } else {
            format!(" {}", t.doc.trim())
        };
        let _ = writeln!(o, "    ///\n    /// - to `{}`{g}.{d}", t.to);
    }
    let params: Vec<String> = ev
        .args
        .iter()
        .map(|a| format!("{}: {}", a.name, rust_ty(m, &a.ty)))
        .collect();
    let _ = writeln!(
        o,
        "    pub fn on_{event}(self{}{}) -> {ret} {{",
        if params.is_empty() { "" } else { ", " },
        params.join(", ")
    );
    let ev_val = if ev.args.is_empty() {
        format!("Event::{}", camel(event))
    } else {
        let a: Vec<&str> = ev.args.iter().map(|a| a.name.as_str()).collect();
        format!("Event::{} {{ {} }}", camel(event), a.join(", "))
    };
    let _ = writeln!(o, "        let state = State::{};\n        let {tn} {{ inner, vars, .. }} = self;\n        let mut v = vars;", camel(from));
    let names = RustNames {
        m,
        locals: ev.args.iter().map(|a| a.name.clone()).collect(),
    };
    for (i, t) in ts.iter().enumerate() {
        let last = i + 1 == ts.len();
        let mut body = String::new();
        for s in &t.updates {
            let mut r = BTreeSet::new();
            let mut w = BTreeSet::new();
            expr::stmt_names(s, &mut r, &mut w, &BTreeSet::new());
            if w.iter().any(|x| m.var(x).is_some_and(|v| v.ghost)) {
                continue;
            }
            body.push_str(&expr::rust_stmt(
                s,
                &names,
                &BTreeSet::new(),
                "            ",
            )?);
        }
        let _ = writeln!(
            body,
            "            traced(state, {ev_val}, State::{});",
            camel(&t.to)
        );
        let wrap = match &outcome {
            Some(n) => format!("{n}::{}(retag(inner, v))", camel(&t.to)),
            None => "retag(inner, v)".to_string(),
        };
        match (&t.guard, last) {
            (Some(g), false) => {
                let _ = writeln!(
                    o,
                    "        if {} {{\n{body}            return {wrap};\n        }}",
                    expr::rust(g, &names, &BTreeSet::new())?
                );
            }
            _ => {
                if let Some(g) = &t.guard {
                    let _ = writeln!(o, "        // The generator checked the guards are exhaustive: here `{}` holds.", t.guard_src.clone().unwrap_or_default());
                    let _ = g;
                }
                let _ = writeln!(o, "        {{\n{body}            {wrap}\n        }}");
            }
        }
    }
    o.push_str("    }\n}\n\n");
    Ok(())
}
