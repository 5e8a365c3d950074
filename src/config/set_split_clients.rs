//! `split_clients STRING $variable { PERCENT VALUE; ... * VALUE; }`
//! (`ngx_http_split_clients_module.c`).

use super::directives::block;
use super::error::ConfError;
use super::parser::Directive;
use super::raw::{Level, Shared};
use super::set_map::computed_var;
use super::set_rewrite::template;
use crate::computed::split_clients::{SplitPart, SplitVar, bounds, parse_hundredths};
use crate::computed::{ComputedDef, ComputedKind};

/// `split_clients STRING $variable { ... }`
pub(crate) fn split_clients(
    _: &mut Level<'_>,
    d: &Directive,
    shared: &mut Shared,
) -> Result<(), ConfError> {
    let source = template(d, d.arg(0), shared)?;
    let (index, name) = computed_var(d, d.arg(1), shared)?;
    let mut shares = Vec::new();
    let mut values = Vec::new();
    for line in block(d) {
        if line.block.is_some() {
            return Err(ConfError::at(line, "unexpected \"{\""));
        }
        let percent = line.name.as_str();
        let share = if percent == "*" {
            None
        } else {
            let hundredths = percent
                .strip_suffix('%')
                .and_then(|p| parse_hundredths(p.as_bytes()))
                .filter(|&n| n > 0);
            match hundredths {
                Some(n) => Some(n),
                None => {
                    let message = format!("invalid percent value \"{percent}\"");
                    return Err(ConfError::at(line, message));
                }
            }
        };
        // nginx reads the value without counting the words (a missing one is whatever
        // its parser left there); a line without one is refused here.
        let Some(value) = line.args.first() else {
            let message = "invalid number of arguments in \"split_clients\" block";
            return Err(ConfError::at(line, message));
        };
        shares.push(share);
        values.push(value.text.as_bytes().into());
    }
    let Some(bounds) = bounds(&shares) else {
        return Err(ConfError::at(d, "percent total is greater than 100%"));
    };
    let parts = bounds
        .into_iter()
        .zip(values)
        .map(|(below, value)| SplitPart { below, value })
        .collect();
    shared.computed.define(
        index,
        ComputedDef {
            name,
            volatile: false,
            kind: ComputedKind::Split(SplitVar { source, parts }),
        },
    );
    Ok(())
}
