//! Computed variables: a name the configuration declares (`map ... $name`, `geo ... $name`,
//! `split_clients ... $name`) whose value is computed per request from other variables.
//!
//! - At load, every declared name is known before any template is compiled (the loader
//!   collects them with the `set` names into [`crate::vars::UserVars`]), so a template may use
//!   one declared later in the file, as in nginx; `$name` compiles to
//!   [`Var::Computed`]`(i)`. The blocks' setters then fill the [`ComputedTable`]: one
//!   [`ComputedDef`] per name, with its lookup structure built once.
//! - Per request, [`ComputedValues`] (kept in the request's script state) holds each
//!   variable's value once computed: nginx caches a variable for the rest of the request,
//!   internal redirects included, unless it is `volatile`. A literal value is kept as a
//!   reference into the configuration, so choosing one copies nothing; an evaluated one
//!   is kept in a buffer that lives as long as the connection.
//! - Evaluation takes the request's whole [`VarSource`] (the script state in front of the
//!   request's own variables), so a source may use `set` variables, captures and other
//!   computed variables. A variable met again while it is being computed is a cycle:
//!   it has no value there, and the worker logs nginx's `cycle while evaluating variable`.
//!
//! Other modules that make variables from the request (realip, limit keys, ...) add a
//! [`ComputedKind`].

use std::cell::Cell;

pub mod addr;
pub mod geo;
pub mod hostnames;
pub mod intervals;
pub mod map;
pub mod referer;
pub mod split_clients;

use crate::regex::Captures;
use crate::vars::{Var, VarSource};
use geo::GeoVar;
use map::{Chosen, MapVar};
use split_clients::SplitVar;

/// How a computed variable gets its value.
#[derive(Clone, Debug)]
pub enum ComputedKind {
    /// `map`.
    Map(MapVar),
    /// `geo`.
    Geo(GeoVar),
    /// `split_clients`.
    Split(SplitVar),
}

/// One computed variable.
#[derive(Clone, Debug)]
pub struct ComputedDef {
    /// Its name, lowercase, without `$`.
    pub name: String,
    /// `volatile`: computed again at each use instead of once per request.
    pub volatile: bool,
    /// What computes it.
    pub kind: ComputedKind,
}

/// A value as computed: borrowed from the configuration, or in the slot's buffer.
enum Computed<'c> {
    Literal(&'c [u8]),
    Written,
}

impl ComputedDef {
    fn compute<'c>(
        &'c self,
        src: &dyn VarSource,
        scratch: &mut Vec<u8>,
        captures: &mut Captures,
        out: &mut Vec<u8>,
    ) -> Computed<'c> {
        match &self.kind {
            ComputedKind::Map(map) => match map.value(src, scratch, captures, out) {
                Chosen::Literal(text) => Computed::Literal(text),
                Chosen::Written => Computed::Written,
            },
            ComputedKind::Geo(geo) => Computed::Literal(geo.value(src, scratch)),
            ComputedKind::Split(split) => Computed::Literal(split.value(src, scratch)),
        }
    }
}

/// The configuration's computed variables, indexed by [`Var::Computed`].
#[derive(Clone, Debug, Default)]
pub struct ComputedTable {
    defs: Vec<Option<ComputedDef>>,
    /// For a name `set` assigns too, its `set` variable (nginx's `set` stores into the
    /// variable's per-request value, which then stands instead of the computed one).
    set_by: Vec<Option<usize>>,
}

impl ComputedTable {
    /// Defines variable `index` (declared in [`crate::vars::UserVars`]); a later definition of
    /// the same name replaces an earlier one, as nginx's last `map` for a name wins.
    pub fn define(&mut self, index: usize, def: ComputedDef) {
        if self.defs.len() <= index {
            self.defs.resize_with(index + 1, || None);
        }
        self.defs[index] = Some(def);
    }

    /// Notes which computed variables `set` assigns too (call once every name is known).
    pub fn link_set_variables(&mut self, user: &crate::vars::UserVars) {
        self.set_by = self
            .defs
            .iter()
            .map(|d| d.as_ref().and_then(|d| user.index(&d.name)))
            .collect();
    }

    /// The `set` variable that assigns variable `index`, if any.
    pub fn set_by(&self, index: usize) -> Option<usize> {
        self.set_by.get(index).copied().flatten()
    }

    /// Variable `index`, once defined.
    pub fn get(&self, index: usize) -> Option<&ComputedDef> {
        self.defs.get(index).and_then(Option::as_ref)
    }

    /// The number of slots a request needs.
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// Whether the configuration has no computed variable.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }
}

/// Where a variable stands in this request.
#[derive(Clone, Copy, Debug, Default)]
enum State<'c> {
    /// Not computed yet.
    #[default]
    Unset,
    /// Being computed: meeting it again is a cycle.
    Busy,
    /// A literal value of the configuration.
    Literal(&'c [u8]),
    /// The value is in the slot's buffer.
    Written,
}

/// One variable's per-request state. The buffers are taken out of their cells while in
/// use, so a nested evaluation of another variable never touches them.
#[derive(Default)]
struct Slot<'c> {
    state: Cell<State<'c>>,
    value: Cell<Vec<u8>>,
    scratch: Cell<Vec<u8>>,
    captures: Cell<Captures>,
}

impl std::fmt::Debug for Slot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("state", &self.state.get())
            .finish()
    }
}

/// A request's computed values (see the module comment).
#[derive(Debug, Default)]
pub struct ComputedValues<'c> {
    table: Option<&'c ComputedTable>,
    slots: Vec<Slot<'c>>,
    /// The last variable met while being computed, for the worker to log.
    cycle: Cell<Option<usize>>,
}

impl<'c> ComputedValues<'c> {
    /// Starts a request of a configuration with `table`: every value unset, buffers kept.
    pub fn reset(&mut self, table: &'c ComputedTable) {
        self.table = Some(table);
        self.slots.resize_with(table.len(), Slot::default);
        self.clear();
    }

    /// Forgets every value (buffers kept).
    pub fn clear(&mut self) {
        for slot in &mut self.slots {
            slot.state.set(State::Unset);
        }
        self.cycle.set(None);
    }

    /// The `set` variable that assigns variable `index`, if any (see
    /// [`ComputedTable::link_set_variables`]).
    pub fn set_by(&self, index: usize) -> Option<usize> {
        self.table?.set_by(index)
    }

    /// Takes the variable (by name) last found in a cycle, if any.
    pub fn take_cycle(&self) -> Option<&'c str> {
        let i = self.cycle.take()?;
        self.table?.get(i).map(|d| d.name.as_str())
    }

    /// Appends variable `index`'s value to `out`, computing it with `src` (the request's
    /// whole variable view) unless this request has it already. False when it has no
    /// value: not defined, or met again while being computed.
    pub fn get(&self, index: usize, src: &dyn VarSource, out: &mut Vec<u8>) -> bool {
        let (Some(def), Some(slot)) =
            (self.table.and_then(|t| t.get(index)), self.slots.get(index))
        else {
            return false;
        };
        match slot.state.get() {
            State::Busy => {
                self.cycle.set(Some(index));
                return false;
            }
            State::Literal(text) if !def.volatile => {
                out.extend_from_slice(text);
                return true;
            }
            State::Written if !def.volatile => {
                let value = slot.value.take();
                out.extend_from_slice(&value);
                slot.value.set(value);
                return true;
            }
            _ => {}
        }
        slot.state.set(State::Busy);
        let mut scratch = slot.scratch.take();
        let mut captures = slot.captures.take();
        let mut value = slot.value.take();
        value.clear();
        let state = match def.compute(src, &mut scratch, &mut captures, &mut value) {
            Computed::Literal(text) => {
                out.extend_from_slice(text);
                State::Literal(text)
            }
            Computed::Written => {
                out.extend_from_slice(&value);
                State::Written
            }
        };
        slot.scratch.set(scratch);
        slot.captures.set(captures);
        slot.value.set(value);
        slot.state.set(state);
        true
    }
}

/// A request's variables for evaluating a computed variable alone (tests and tools): the
/// values are kept in `values`.
pub struct WithComputed<'a, 'c> {
    /// The computed values.
    pub values: &'a ComputedValues<'c>,
    /// Every other variable.
    pub inner: &'a dyn VarSource,
}

impl VarSource for WithComputed<'_, '_> {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        match var {
            Var::Computed(i) => self.values.get(*i, self, out),
            _ => self.inner.var(var, out),
        }
    }
}

#[cfg(test)]
mod tests;
