//! The model files' schema (TOML, read with serde) and its validation.

use crate::expr::{self, Expr, Stmt};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One machine file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub machine: Header,
    #[serde(default)]
    pub consts: BTreeMap<String, i64>,
    #[serde(default)]
    pub enums: BTreeMap<String, EnumDef>,
    #[serde(default)]
    pub state: Vec<StateDef>,
    #[serde(default)]
    pub var: Vec<VarDef>,
    #[serde(default)]
    pub effect: Vec<Named>,
    #[serde(default)]
    pub event: Vec<EventDef>,
    #[serde(default)]
    pub transition: Vec<TransDef>,
    #[serde(default)]
    pub property: Vec<PropDef>,
    #[serde(default)]
    pub compile_fail: Vec<CompileFail>,
}

/// An illegal use of the typestate that must not compile (emitted as a `compile_fail` doctest).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CompileFail {
    /// The state the connection is in.
    pub state: String,
    /// Calling this event's transition must fail (E0599: no such method in that state)...
    #[serde(default)]
    pub event: Option<String>,
    /// ...or passing the connection where this state is expected must fail (E0308).
    #[serde(default)]
    pub as_state: Option<String>,
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    pub title: String,
    pub doc: String,
    pub initial: String,
    #[serde(default)]
    pub hot_path: bool,
    #[serde(default)]
    pub typestate: bool,
    /// Proof bounds, stated in words for the docs and proofs/README.md.
    #[serde(default)]
    pub bounds: String,
    /// Parameter sets the proofs run with (default: one set, each param's `proof` value).
    #[serde(default)]
    pub proof_configs: Vec<BTreeMap<String, i64>>,
    /// States of the Rust reference model reachable from `Model::default()`; a generated test
    /// checks it by breadth-first search.
    #[serde(default)]
    pub reachable: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumDef {
    pub values: Vec<String>,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    pub name: String,
    #[serde(default)]
    pub doc: String,
    #[serde(default)]
    pub terminal: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VarDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// Array length: a constant name or a number.
    #[serde(default)]
    pub len: Option<toml::Value>,
    #[serde(default)]
    pub init: Option<String>,
    #[serde(default)]
    pub range: Option<(i64, i64)>,
    #[serde(default)]
    pub ghost: bool,
    /// A parameter: `Model::new` takes it; the proofs use `proof`.
    #[serde(default)]
    pub param: bool,
    #[serde(default)]
    pub proof: Option<i64>,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub name: String,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventDef {
    pub name: String,
    #[serde(default)]
    pub doc: String,
    #[serde(default)]
    pub args: Vec<ArgDef>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ArgDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// For `int` arguments: values `0 .. upto` (a constant name or a number).
    #[serde(default)]
    pub upto: Option<toml::Value>,
    /// In the proofs, one process per value of this argument performs the event.
    #[serde(default)]
    pub actor: bool,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum From {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransDef {
    pub from: From,
    pub event: String,
    pub to: String,
    #[serde(default)]
    pub guard: Option<String>,
    #[serde(default, rename = "do")]
    pub updates: Vec<String>,
    #[serde(default)]
    pub effects: Vec<String>,
    #[serde(default)]
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropDef {
    pub name: String,
    /// `invariant` ([] expr), `stays` ([] (when -> [] then)), `leads_to` ([] (when -> <> then)).
    pub kind: String,
    #[serde(default)]
    pub expr: Option<String>,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub then: Option<String>,
    #[serde(default)]
    pub doc: String,
}

// ---------------------------------------------------------------------------------------------
// The checked model the emitters use.

#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Bool,
    Int,
    Enum(String),
}

#[derive(Debug)]
pub struct Var {
    pub name: String,
    pub ty: Ty,
    pub len: Option<(String, i64)>,
    pub init: Expr,
    pub range: Option<(i64, i64)>,
    pub ghost: bool,
    pub param: bool,
    pub proof: Option<i64>,
    pub doc: String,
}

#[derive(Debug, Clone)]
pub struct Arg {
    pub name: String,
    pub ty: Ty,
    /// Exclusive upper bound of an int argument: (as written, value).
    pub upto: Option<(String, i64)>,
    pub actor: bool,
    pub doc: String,
}

#[derive(Debug)]
pub struct Event {
    pub name: String,
    pub doc: String,
    pub args: Vec<Arg>,
}

#[derive(Debug)]
pub struct Trans {
    /// Which `[[transition]]` table (by position) this came from: one table with several `from`
    /// states yields one `Trans` per state, all with the same `def`.
    pub def: usize,
    pub from: String,
    pub event: String,
    pub to: String,
    pub guard: Option<Expr>,
    pub guard_src: Option<String>,
    pub updates: Vec<Stmt>,
    pub update_src: Vec<String>,
    pub effects: Vec<String>,
    pub doc: String,
}

#[derive(Debug)]
pub enum PropKind {
    Invariant(Expr),
    Stays(Expr, Expr),
    LeadsTo(Expr, Expr),
}

#[derive(Debug)]
pub struct Prop {
    pub name: String,
    pub kind: PropKind,
    pub src: String,
    pub doc: String,
}

#[derive(Debug)]
pub struct Machine {
    pub name: String,
    pub title: String,
    pub doc: String,
    pub initial: String,
    pub hot_path: bool,
    pub typestate: bool,
    pub bounds: String,
    pub proof_configs: Vec<BTreeMap<String, i64>>,
    pub reachable: Option<usize>,
    pub consts: BTreeMap<String, i64>,
    pub enums: BTreeMap<String, EnumDef>,
    pub states: Vec<StateDef>,
    pub vars: Vec<Var>,
    pub effects: Vec<Named>,
    pub events: Vec<Event>,
    pub trans: Vec<Trans>,
    pub props: Vec<Prop>,
    pub compile_fail: Vec<CompileFail>,
}

impl Machine {
    pub fn event(&self, name: &str) -> &Event {
        self.events
            .iter()
            .find(|e| e.name == name)
            .expect("checked")
    }
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|v| v.name == name)
    }
    pub fn state(&self, name: &str) -> Option<&StateDef> {
        self.states.iter().find(|s| s.name == name)
    }
    pub fn real_vars(&self) -> impl Iterator<Item = &Var> {
        self.vars.iter().filter(|v| !v.ghost)
    }
    pub fn params(&self) -> impl Iterator<Item = &Var> {
        self.vars.iter().filter(|v| v.param)
    }
    /// The enum an identifier names as a value, if any.
    pub fn enum_of_value(&self, ident: &str) -> Option<&str> {
        self.enums
            .iter()
            .find(|(_, e)| e.values.iter().any(|v| v == ident))
            .map(|(n, _)| n.as_str())
    }
    /// Transitions grouped by (from, event), in file order.
    pub fn groups(&self) -> Vec<(&str, &str, Vec<&Trans>)> {
        let mut out: Vec<(&str, &str, Vec<&Trans>)> = Vec::new();
        for t in &self.trans {
            match out
                .iter_mut()
                .find(|(f, e, _)| *f == t.from && *e == t.event)
            {
                Some(g) => g.2.push(t),
                None => out.push((&t.from, &t.event, vec![t])),
            }
        }
        out
    }
    pub fn eval_const(&self, v: &toml::Value) -> Result<(String, i64), String> {
        match v {
            toml::Value::Integer(n) => Ok((n.to_string(), *n)),
            toml::Value::String(s) => match self.consts.get(s) {
                Some(n) => Ok((s.clone(), *n)),
                None => Err(format!("unknown constant `{s}`")),
            },
            other => Err(format!("expected a number or a constant name, got {other}")),
        }
    }
}

fn parse_ty(m_enums: &BTreeMap<String, EnumDef>, s: &str) -> Result<Ty, String> {
    match s {
        "bool" => Ok(Ty::Bool),
        "int" => Ok(Ty::Int),
        e if m_enums.contains_key(e) => Ok(Ty::Enum(e.to_string())),
        e => Err(format!("unknown type `{e}`")),
    }
}

/// Parses and checks one machine file.
pub fn load(text: &str) -> Result<Machine, String> {
    let f: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut m = Machine {
        name: f.machine.name,
        title: f.machine.title,
        doc: f.machine.doc,
        initial: f.machine.initial,
        hot_path: f.machine.hot_path,
        typestate: f.machine.typestate,
        bounds: f.machine.bounds,
        proof_configs: f.machine.proof_configs,
        reachable: f.machine.reachable,
        consts: f.consts,
        enums: f.enums,
        states: f.state,
        vars: Vec::new(),
        effects: f.effect,
        events: Vec::new(),
        trans: Vec::new(),
        props: Vec::new(),
        compile_fail: f.compile_fail,
    };
    if m.state(&m.initial).is_none() {
        return Err(format!("initial state `{}` is not declared", m.initial));
    }
    for v in f.var {
        let ty = parse_ty(&m.enums, &v.ty)?;
        let len = match &v.len {
            Some(l) => Some(m.eval_const(l)?),
            None => None,
        };
        let init_src = v.init.clone().unwrap_or_else(|| match &ty {
            Ty::Bool => "false".into(),
            Ty::Int => "0".into(),
            Ty::Enum(e) => m.enums[e].values[0].clone(),
        });
        let init = expr::parse_expr(&init_src).map_err(|e| format!("var {}: {e}", v.name))?;
        if v.param && (v.proof.is_none() || v.len.is_some() || ty != Ty::Int) {
            return Err(format!(
                "param {} must be a scalar int with a `proof` value",
                v.name
            ));
        }
        m.vars.push(Var {
            name: v.name,
            ty,
            len,
            init,
            range: v.range,
            ghost: v.ghost,
            param: v.param,
            proof: v.proof,
            doc: v.doc,
        });
    }
    for e in f.event {
        let mut args = Vec::new();
        for a in e.args {
            let ty = parse_ty(&m.enums, &a.ty)?;
            let upto = match &a.upto {
                Some(u) => Some(m.eval_const(u)?),
                None => None,
            };
            if ty == Ty::Int && upto.is_none() {
                return Err(format!("event {}: int arg {} needs `upto`", e.name, a.name));
            }
            args.push(Arg {
                name: a.name,
                ty,
                upto,
                actor: a.actor,
                doc: a.doc,
            });
        }
        m.events.push(Event {
            name: e.name,
            doc: e.doc,
            args,
        });
    }
    let names: Vec<String> = m.states.iter().map(|s| s.name.clone()).collect();
    for (def, t) in f.transition.into_iter().enumerate() {
        if !m.events.iter().any(|e| e.name == t.event) {
            return Err(format!("transition on unknown event `{}`", t.event));
        }
        let froms: Vec<String> = match &t.from {
            From::One(s) if s == "*" => m
                .states
                .iter()
                .filter(|s| !s.terminal)
                .map(|s| s.name.clone())
                .collect(),
            From::One(s) => vec![s.clone()],
            From::Many(v) => v.clone(),
        };
        let guard = match &t.guard {
            Some(g) => Some(expr::parse_expr(g).map_err(|e| format!("guard `{g}`: {e}"))?),
            None => None,
        };
        let mut updates = Vec::new();
        for u in &t.updates {
            updates.push(expr::parse_stmt(u).map_err(|e| format!("update `{u}`: {e}"))?);
        }
        for eff in &t.effects {
            if !m.effects.iter().any(|x| &x.name == eff) {
                return Err(format!("unknown effect `{eff}`"));
            }
        }
        for from in froms {
            if !names.contains(&from) {
                return Err(format!("unknown state `{from}`"));
            }
            let to = if t.to == "=" {
                from.clone()
            } else {
                t.to.clone()
            };
            if !names.contains(&to) {
                return Err(format!("unknown state `{to}`"));
            }
            m.trans.push(Trans {
                def,
                from,
                event: t.event.clone(),
                to,
                guard: guard.clone(),
                guard_src: t.guard.clone(),
                updates: updates.clone(),
                update_src: t.updates.clone(),
                effects: t.effects.clone(),
                doc: t.doc.clone(),
            });
        }
    }
    for p in f.property {
        let get = |o: &Option<String>, what: &str| -> Result<(Expr, String), String> {
            let s = o
                .clone()
                .ok_or(format!("property {}: missing `{what}`", p.name))?;
            Ok((
                expr::parse_expr(&s).map_err(|e| format!("property {}: {e}", p.name))?,
                s,
            ))
        };
        let (kind, src) = match p.kind.as_str() {
            "invariant" => {
                let (e, s) = get(&p.expr, "expr")?;
                (PropKind::Invariant(e), format!("[] ({s})"))
            }
            "stays" => {
                let (a, sa) = get(&p.when, "when")?;
                let (b, sb) = get(&p.then, "then")?;
                (PropKind::Stays(a, b), format!("[] (({sa}) -> [] ({sb}))"))
            }
            "leads_to" => {
                let (a, sa) = get(&p.when, "when")?;
                let (b, sb) = get(&p.then, "then")?;
                (PropKind::LeadsTo(a, b), format!("[] (({sa}) -> <> ({sb}))"))
            }
            k => return Err(format!("property {}: unknown kind `{k}`", p.name)),
        };
        m.props.push(Prop {
            name: p.name,
            kind,
            src,
            doc: p.doc,
        });
    }
    if m.proof_configs.is_empty() {
        m.proof_configs.push(
            m.params()
                .map(|p| (p.name.clone(), p.proof.unwrap_or(0)))
                .collect(),
        );
    }
    for c in &m.proof_configs {
        if let Some(k) = c.keys().find(|k| !m.params().any(|p| &p.name == *k)) {
            return Err(format!("proof_configs: `{k}` is not a parameter"));
        }
    }
    crate::check::check(&m)?;
    Ok(m)
}
