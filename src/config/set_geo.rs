//! `geo [$address] $variable { ... }` (`ngx_http_geo_module.c`): networks or, after
//! `ranges`, IPv4 ranges with their values, `default`, `delete`, `proxy`,
//! `proxy_recursive`; `include` is expanded by the parser. nginx's warnings (duplicate
//! networks, meaningless low bits, nothing to delete) are logged with the line.
//!
//! Not reproduced: nginx's binary range bases (`FILE.bin` next to an included file, made
//! for over 100,000 ranges): they cache a parse for nginx's own start-up, so Portico reads
//! the text file itself.

use std::collections::HashMap;

use super::directives::block;
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_map::{computed_var, warn};
use crate::computed::addr::{Cidr, CidrNote, inet_addr, parse_cidr};
use crate::computed::geo::{GeoTable, GeoVar};
use crate::computed::intervals::{PrefixSet, RangeSet};
use crate::computed::{ComputedDef, ComputedKind};
use crate::vars::resolve;

/// A `geo` block while its lines are read.
struct GeoBuilder {
    ranges: bool,
    /// A network line was read (nginx's radix trees exist): `ranges` is too late.
    networks_started: bool,
    recursive: bool,
    proxies: Vec<Cidr>,
    v4: PrefixSet,
    v6: PrefixSet,
    spans: RangeSet,
    range_default: Option<u32>,
    values: Vec<Box<[u8]>>,
    by_text: HashMap<Box<[u8]>, u32>,
}

fn warn_at(line: &Directive, message: String) {
    warn(&ConfError::at(line, message).to_string());
}

/// `ngx_http_geo_cidr_value`: a network, `255.255.255.255` included.
fn network(line: &Directive, text: &str) -> Result<Cidr, ConfError> {
    if text == "255.255.255.255" {
        return Ok(Cidr::V4(u32::MAX, 32));
    }
    match parse_cidr(text.as_bytes()) {
        Some((cidr, note)) => {
            if note == CidrNote::LowBitsDropped {
                warn_at(line, format!("low address bits of {text} are meaningless"));
            }
            Ok(cidr)
        }
        None => Err(ConfError::at(line, format!("invalid network \"{text}\""))),
    }
}

impl GeoBuilder {
    fn new() -> GeoBuilder {
        GeoBuilder {
            ranges: false,
            networks_started: false,
            recursive: false,
            proxies: Vec::new(),
            v4: PrefixSet::new(32),
            v6: PrefixSet::new(128),
            spans: RangeSet::default(),
            range_default: None,
            values: Vec::new(),
            by_text: HashMap::new(),
        }
    }

    fn value(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.by_text.get(text.as_bytes()) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(text.as_bytes().into());
        self.by_text.insert(text.as_bytes().into(), i);
        i
    }

    fn text(&self, i: u32) -> String {
        let value = self.values.get(i as usize).map_or(&[][..], |v| v);
        String::from_utf8_lossy(value).into_owned()
    }

    fn line(&mut self, line: &Directive) -> Result<(), ConfError> {
        if line.block.is_some() {
            return Err(ConfError::at(line, "unexpected \"{\""));
        }
        let key = line.name.as_str();
        match (key, line.args.len()) {
            ("ranges", 0) => {
                if self.networks_started {
                    let message =
                        "the \"ranges\" directive must be the first directive inside \"geo\" block";
                    return Err(ConfError::at(line, message));
                }
                self.ranges = true;
                Ok(())
            }
            ("proxy_recursive", 0) => {
                self.recursive = true;
                Ok(())
            }
            (_, 1) if key == "proxy" => {
                let cidr = network(line, line.arg(0))?;
                self.proxies.push(cidr);
                Ok(())
            }
            (_, 1) if self.ranges => self.range(line),
            (_, 1) => self.network(line),
            _ => Err(ConfError::at(line, "invalid number of the geo parameters")),
        }
    }

    fn network(&mut self, line: &Directive) -> Result<(), ConfError> {
        self.networks_started = true;
        let (key, value) = (line.name.as_str(), line.arg(0));
        if key == "default" {
            self.add_network(line, Cidr::V4(0, 0), value, key);
            self.add_network(line, Cidr::V6(0, 0), value, key);
            return Ok(());
        }
        let (net, delete) = match key {
            "delete" => (value, true),
            _ => (key, false),
        };
        let cidr = network(line, net)?;
        if !delete {
            self.add_network(line, cidr, value, net);
            return Ok(());
        }
        let removed = match cidr {
            Cidr::V4(addr, bits) => self.v4.remove(u128::from(addr), bits),
            Cidr::V6(addr, bits) => self.v6.remove(addr, bits),
        };
        if !removed {
            warn_at(line, format!("no network \"{net}\" to delete"));
        }
        Ok(())
    }

    fn add_network(&mut self, line: &Directive, cidr: Cidr, value: &str, net: &str) {
        let i = self.value(value);
        let replaced = match cidr {
            Cidr::V4(addr, bits) => self.v4.insert(u128::from(addr), bits, i),
            Cidr::V6(addr, bits) => self.v6.insert(addr, bits, i),
        };
        if let Err(old) = replaced {
            let old = self.text(old);
            warn_at(
                line,
                format!("duplicate network \"{net}\", value: \"{value}\", old value: \"{old}\""),
            );
        }
    }

    fn range(&mut self, line: &Directive) -> Result<(), ConfError> {
        let (key, value) = (line.name.as_str(), line.arg(0));
        if key == "default" {
            if let Some(old) = self.range_default {
                let old = self.text(old);
                warn_at(
                    line,
                    format!("duplicate default geo range value: \"{value}\", old value: \"{old}\""),
                );
            }
            self.range_default = Some(self.value(value));
            return Ok(());
        }
        let (net, delete) = match key {
            "delete" => (value, true),
            _ => (key, false),
        };
        let invalid = || ConfError::at(line, format!("invalid range \"{net}\""));
        let (start, end) = net.split_once('-').ok_or_else(invalid)?;
        let start = inet_addr(start.as_bytes()).ok_or_else(invalid)?;
        let end = inet_addr(end.as_bytes()).ok_or_else(invalid)?;
        if start > end {
            return Err(invalid());
        }
        if delete {
            if !self.spans.remove(start, end) {
                warn_at(line, format!("no address range \"{net}\" to delete"));
            }
            return Ok(());
        }
        let i = self.value(value);
        match self.spans.add(start, end, i) {
            Ok(replaced) => {
                for old in replaced {
                    let old = self.text(old);
                    warn_at(
                        line,
                        format!(
                            "duplicate range \"{net}\", value: \"{value}\", old value: \"{old}\""
                        ),
                    );
                }
                Ok(())
            }
            Err(overlapped) => Err(ConfError::at(
                line,
                format!("range \"{net}\" overlaps \"{overlapped}\""),
            )),
        }
    }

    fn table(&self) -> GeoTable {
        if self.ranges {
            GeoTable::Ranges {
                table: self.spans.build(),
                default: self.range_default,
            }
        } else {
            GeoTable::Networks {
                v4: self.v4.build(),
                v6: self.v6.build(),
            }
        }
    }
}

/// `geo [$address] $variable { ... }`
pub(crate) fn geo(_: &mut Level<'_>, d: &Directive, shared: &mut Shared) -> Result<(), ConfError> {
    let (source, made) = if d.args.len() == 2 {
        let word = d.arg(0);
        let name = match word.strip_prefix('$') {
            Some(name) if !name.is_empty() => name.to_ascii_lowercase(),
            _ => {
                let message = format!("invalid variable name \"{word}\"");
                return Err(ConfError::at(d, message));
            }
        };
        let var = resolve(&name, &shared.user_vars).map_err(|m| ConfError::at(d, m))?;
        (Some(var), d.arg(1))
    } else {
        (None, d.arg(0))
    };
    let (index, name) = computed_var(d, made, shared)?;
    let mut builder = GeoBuilder::new();
    for line in block(d) {
        builder.line(line)?;
    }
    let geo = GeoVar {
        source,
        table: builder.table(),
        proxies: builder.proxies,
        forwarded_for: crate::computed::geo::forwarded_for(),
        recursive: builder.recursive,
        values: builder.values,
    };
    shared.computed.define(
        index,
        ComputedDef {
            name,
            volatile: false,
            kind: ComputedKind::Geo(geo),
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests;
