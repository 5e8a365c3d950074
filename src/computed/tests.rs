use std::cell::Cell;

use super::hostnames::HostTable;
use super::map::{MapValue, MapVar};
use super::*;
use crate::vars::{Template, UserVars};

/// `$arg_NAME` from a fixed list; counts how often `$arg_n` is read.
struct Args {
    args: Vec<(&'static str, &'static str)>,
    reads: Cell<usize>,
}

impl VarSource for Args {
    fn var(&self, var: &Var, out: &mut Vec<u8>) -> bool {
        let Var::Arg(name) = var else { return false };
        if name == "n" {
            self.reads.set(self.reads.get() + 1);
        }
        match self.args.iter().find(|(n, _)| n == name) {
            Some((_, v)) => {
                out.extend_from_slice(v.as_bytes());
                true
            }
            None => false,
        }
    }
}

fn args(list: &[(&'static str, &'static str)]) -> Args {
    Args {
        args: list.to_vec(),
        reads: Cell::new(0),
    }
}

/// A map of `source` with `(key, value)` lines (`~` keys are regexes, `default` the
/// default), compiled knowing the computed names `names`.
fn map(source: &str, hostnames: bool, lines: &[(&str, &str)], names: &UserVars) -> MapVar {
    let mut m = MapVar {
        source: Template::compile_with(source, names).unwrap(),
        hostnames,
        keys: HostTable::default(),
        regexes: Vec::new(),
        default: None,
        values: Vec::new(),
    };
    for (key, value) in lines {
        let i = m.values.len() as u32;
        m.values
            .push(MapValue::new(Template::compile_with(value, names).unwrap()));
        if *key == "default" {
            m.default = Some(i);
        } else if let Some(re) = key.strip_prefix("~*") {
            m.regexes
                .push((crate::regex::Regex::new(re, true).unwrap(), i));
        } else if let Some(re) = key.strip_prefix('~') {
            m.regexes
                .push((crate::regex::Regex::new(re, false).unwrap(), i));
        } else {
            m.keys.add(key.as_bytes(), i, hostnames).unwrap();
        }
    }
    m
}

fn def(name: &str, volatile: bool, kind: ComputedKind) -> ComputedDef {
    ComputedDef {
        name: name.into(),
        volatile,
        kind,
    }
}

fn value(values: &ComputedValues<'_>, index: usize, src: &dyn VarSource) -> Option<String> {
    let mut out = Vec::new();
    let src = WithComputed { values, inner: src };
    values
        .get(index, &src, &mut out)
        .then(|| String::from_utf8(out).unwrap())
}

#[test]
fn map_strings_ignore_case_then_regexes_in_order_then_default() {
    let names = UserVars::default();
    let mut table = ComputedTable::default();
    let lines = [
        ("Foo", "exact"),
        ("~^f", "regex-1"),
        ("~*^F", "regex-2"),
        ("~^(\\w+)-(\\w+)$", "$2-$1"),
        ("default", "none"),
    ];
    table.define(
        0,
        def(
            "m",
            true,
            ComputedKind::Map(map("$arg_a", false, &lines, &names)),
        ),
    );
    let mut values = ComputedValues::default();
    values.reset(&table);
    let get = |a: &'static str| value(&values, 0, &args(&[("a", a)]));
    assert_eq!(get("fOO").as_deref(), Some("exact"));
    assert_eq!(get("fx").as_deref(), Some("regex-1"));
    assert_eq!(get("Fx").as_deref(), Some("regex-2"));
    assert_eq!(get("ab-cd").as_deref(), Some("cd-ab"));
    assert_eq!(get("zzz").as_deref(), Some("none"));
    // An empty source tries no regex (`~^$` would match it otherwise).
    let mut table = ComputedTable::default();
    let lines = [("~^$", "regex"), ("default", "dflt")];
    table.define(
        0,
        def(
            "m",
            false,
            ComputedKind::Map(map("$arg_a", false, &lines, &names)),
        ),
    );
    values.reset(&table);
    assert_eq!(value(&values, 0, &args(&[])).as_deref(), Some("dflt"));
}

#[test]
fn map_without_default_is_empty_and_hostnames_drop_one_trailing_dot() {
    let names = UserVars::default();
    let mut table = ComputedTable::default();
    let lines = [("*.example.com", "wild"), ("example.com", "exact")];
    table.define(
        0,
        def(
            "h",
            true,
            ComputedKind::Map(map("$arg_a", true, &lines, &names)),
        ),
    );
    let mut values = ComputedValues::default();
    values.reset(&table);
    let get = |a: &'static str| value(&values, 0, &args(&[("a", a)]));
    assert_eq!(get("WWW.Example.com.").as_deref(), Some("wild"));
    assert_eq!(get("example.com.").as_deref(), Some("exact"));
    assert_eq!(get("example.com..").as_deref(), Some(""));
    assert_eq!(get("other").as_deref(), Some(""));
}

#[test]
fn a_value_is_computed_once_per_request_unless_volatile() {
    let names = UserVars::default();
    let lines = [("1", "one"), ("default", "$arg_n-other")];
    for volatile in [false, true] {
        let mut table = ComputedTable::default();
        let m = map("$arg_n", false, &lines, &names);
        table.define(0, def("m", volatile, ComputedKind::Map(m)));
        let mut values = ComputedValues::default();
        values.reset(&table);
        let src = args(&[("n", "2")]);
        for _ in 0..3 {
            assert_eq!(value(&values, 0, &src).as_deref(), Some("2-other"));
        }
        // The source and the chosen value each read `$arg_n`.
        assert_eq!(
            src.reads.get(),
            if volatile { 6 } else { 2 },
            "volatile {volatile}"
        );
        // A new request computes again, into the buffers the last one left.
        values.reset(&table);
        assert_eq!(value(&values, 0, &src).as_deref(), Some("2-other"));
        assert!(values.slots[0].value.take().capacity() > 0);
    }
}

#[test]
fn literal_values_are_borrowed_not_copied() {
    let names = UserVars::default();
    let mut table = ComputedTable::default();
    let m = map("$arg_a", false, &[("x", "literal")], &names);
    table.define(0, def("m", false, ComputedKind::Map(m)));
    let mut values = ComputedValues::default();
    values.reset(&table);
    let src = args(&[("a", "x")]);
    assert_eq!(value(&values, 0, &src).as_deref(), Some("literal"));
    assert_eq!(value(&values, 0, &src).as_deref(), Some("literal"));
    assert_eq!(values.slots[0].value.take().capacity(), 0);
}

#[test]
fn a_cycle_has_no_value_where_it_closes_and_is_reported() {
    let mut names = UserVars::default();
    names.declare_computed("a");
    names.declare_computed("b");
    let mut table = ComputedTable::default();
    let a = map("$arg_x", false, &[("default", "a:$b")], &names);
    let b = map("$arg_x", false, &[("default", "b:$a")], &names);
    table.define(0, def("a", false, ComputedKind::Map(a)));
    table.define(1, def("b", false, ComputedKind::Map(b)));
    let mut values = ComputedValues::default();
    values.reset(&table);
    let src = args(&[]);
    assert_eq!(value(&values, 0, &src).as_deref(), Some("a:b:"));
    assert_eq!(values.take_cycle(), Some("a"));
    assert_eq!(values.take_cycle(), None);
    // Both values are kept for the request, as nginx keeps what it computed.
    assert_eq!(value(&values, 1, &src).as_deref(), Some("b:"));
    assert_eq!(values.take_cycle(), None);
    // Undefined or out-of-range variables have no value.
    assert_eq!(value(&values, 7, &src), None);
}
