//! What answers do to a resolver: a message read and checked against the query it answers
//! (`ngx_resolver_process_response` and `ngx_resolver_process_a`), the A and AAAA parts
//! combined once both are in, the result cached and handed to the waiters, or the alias
//! followed for them.

use super::*;

impl<W: Copy> Engine<W> {
    /// A message from a name server (`tcp`: it came over TCP).
    pub fn on_message(&mut self, msg: &[u8], tcp: bool, now: Instant, wire: &mut dyn Wire) {
        let h = match Header::read(msg, tcp) {
            Ok(h) => h,
            Err(dns::Malformed::Flags(flags, tcp)) => {
                let how = if tcp { "TCP" } else { "UDP" };
                let id = msg.first().map_or(0, |&b| u16::from(b) << 8)
                    | msg.get(1).map_or(0, |&b| u16::from(b));
                elog!(
                    LogLevel::Error,
                    "invalid {how} DNS response {id} fl:{flags:04X}"
                );
                return;
            }
            Err(e) => {
                elog!(LogLevel::Error, "{e}");
                return;
            }
        };
        let code = h.rcode();
        if code == dns::RCODE_FORMERR || code > dns::RCODE_REFUSED {
            self.log_dns_error(&h);
            return;
        }
        let q = match dns::read_question(msg, &h, &mut self.qname) {
            Ok(q) => q,
            Err(e) => {
                elog!(LogLevel::Error, "{e}");
                return;
            }
        };
        if q.qclass != dns::CLASS_IN {
            elog!(
                LogLevel::Error,
                "unknown query class {} in DNS response",
                q.qclass
            );
            return;
        }
        if q.qtype != dns::TYPE_A && q.qtype != dns::TYPE_AAAA {
            elog!(
                LogLevel::Error,
                "unknown query type {} in DNS response",
                q.qtype
            );
            return;
        }
        let name = String::from_utf8_lossy(&self.qname).into_owned();
        let Some(&qid) = self.by_name.get(&self.qname[..]) else {
            elog!(LogLevel::Error, "unexpected DNS response for {name}");
            return;
        };
        let Some(query) = self.queries.get_mut(&qid) else {
            return;
        };
        let server = query.server;
        let Some(part) = query
            .parts
            .iter_mut()
            .find(|p| p.qtype == q.qtype && matches!(p.state, PartState::Pending))
        else {
            elog!(LogLevel::Error, "unexpected DNS response for {name}");
            return;
        };
        if h.truncated() && part.tcp {
            return;
        }
        if h.id != part.id {
            elog!(
                LogLevel::Error,
                "wrong ident {} in DNS response for {name}, expect {}",
                h.id,
                part.id
            );
            return;
        }
        if h.truncated() {
            // Asked again over TCP of the same server; the resend timer starts anew.
            part.tcp = true;
            self.msg.clear();
            if dns::encode_query(&query.name, part.id, part.qtype, &mut self.msg).is_ok() {
                wire.send(server, true, &self.msg);
            }
            query.resend_at = now + RESEND_AFTER;
            let at = query.resend_at;
            self.push_timer(at, Timer::Resend(qid));
            return;
        }
        if code != 0 {
            // Only a name error's SOA says how long the name is known not to exist.
            let negative_ttl = (code == dns::RCODE_NXDOMAIN)
                .then(|| {
                    dns::read_answer(
                        msg,
                        &h,
                        &q,
                        &self.qname,
                        &mut self.scratch,
                        &mut self.answer,
                    )
                    .ok()
                    .and(self.answer.negative_ttl)
                })
                .flatten();
            part.state = PartState::Failed { code, negative_ttl };
        } else {
            if let Err(e) = dns::read_answer(
                msg,
                &h,
                &q,
                &self.qname,
                &mut self.scratch,
                &mut self.answer,
            ) {
                elog!(LogLevel::Error, "{e}");
                return;
            }
            query.ttl = query.ttl.min(self.answer.ttl);
            part.state = PartState::Answered {
                addrs: std::mem::take(&mut self.answer.addrs),
                cname: self.answer.cname.take(),
                negative_ttl: self.answer.negative_ttl,
            };
        }
        if query
            .parts
            .iter()
            .all(|p| !matches!(p.state, PartState::Pending))
        {
            self.complete(qid, now, wire);
        }
    }

    /// nginx's "DNS error" line: FORMERR names the query when its id is one of ours.
    fn log_dns_error(&self, h: &Header) {
        let code = h.rcode();
        let name = (code == dns::RCODE_FORMERR)
            .then(|| {
                self.queries.values().find(|q| {
                    q.parts
                        .iter()
                        .any(|p| p.id == h.id && matches!(p.state, PartState::Pending))
                })
            })
            .flatten();
        let text = crate::resolver::rcode_text(code);
        match name {
            Some(q) => elog!(
                LogLevel::Error,
                "DNS error ({code}: {text}), query id:{}, name:\"{}\"",
                h.id,
                String::from_utf8_lossy(&q.name)
            ),
            None => elog!(
                LogLevel::Error,
                "DNS error ({code}: {text}), query id:{}",
                h.id
            ),
        }
    }

    /// Every part of query `qid` is in: cache the result and tell the waiters, or follow
    /// the alias for them.
    fn complete(&mut self, qid: u64, now: Instant, wire: &mut dyn Wire) {
        let Some(query) = self.queries.remove(&qid) else {
            return;
        };
        self.by_name.remove(&query.name);
        let ttl = self.settings.valid.unwrap_or(query.ttl);
        match outcome(&query) {
            Outcome::Addrs(list) => {
                let list: Rc<[IpAddr]> = list.into();
                self.cache
                    .put(&query.name, Cached::Addrs(list.clone()), ttl, now);
                for id in query.waiters {
                    self.finish(id, Ok(Addrs::new(list.clone(), 0)));
                }
            }
            Outcome::Fail { code, negative_ttl } => {
                if let Some(t) = negative_ttl {
                    let t = self.settings.valid.unwrap_or(t.min(MAX_NEGATIVE_TTL));
                    self.cache.put(&query.name, Cached::Negative(code), t, now);
                }
                for id in query.waiters {
                    self.finish(id, Err(ResolveError::Dns(code)));
                }
            }
            Outcome::Alias(target) => {
                let target: Rc<[u8]> = target.into();
                self.cache
                    .put(&query.name, Cached::Cname(target.clone()), ttl, now);
                for id in query.waiters {
                    self.follow_alias(id, &target, now, wire);
                }
            }
        }
    }

    fn follow_alias(&mut self, id: u64, target: &[u8], now: Instant, wire: &mut dyn Wire) {
        let Some(w) = self.waiters.get_mut(&id) else {
            return;
        };
        if w.recursion >= MAX_RECURSION {
            self.finish(id, Err(ResolveError::Dns(dns::RCODE_NXDOMAIN)));
            return;
        }
        let mut recursion = w.recursion + 1;
        self.key.clear();
        self.key.extend_from_slice(target);
        let hit = self.follow_cache(&mut recursion, now);
        if let Some(w) = self.waiters.get_mut(&id) {
            w.recursion = recursion;
        }
        let result = match hit {
            Some(r) => Some(r),
            None => self.wait_on_key(id, now, wire),
        };
        if let Some(r) = result {
            self.finish(id, r);
        }
    }
}

/// nginx's way of combining the A and AAAA answers (`ngx_resolver_process_a`), made
/// independent of which came first: any error fails the name; else every address (IPv4
/// first); else the last part's alias; else the name has no address ("Host not found"),
/// cacheable when each part carried an SOA.
fn outcome(query: &Query) -> Outcome {
    for part in &query.parts {
        if let PartState::Failed { code, .. } = part.state {
            let negative_ttl = negative_ttl(query, code);
            return Outcome::Fail { code, negative_ttl };
        }
    }
    let addrs: Vec<IpAddr> = query
        .parts
        .iter()
        .flat_map(|p| match &p.state {
            PartState::Answered { addrs, .. } => addrs.as_slice(),
            _ => &[],
        })
        .copied()
        .collect();
    if !addrs.is_empty() {
        return Outcome::Addrs(addrs);
    }
    if let Some(PartState::Answered {
        cname: Some(target),
        ..
    }) = query.parts.last().map(|p| &p.state)
    {
        return Outcome::Alias(target.clone());
    }
    Outcome::Fail {
        code: dns::RCODE_NXDOMAIN,
        negative_ttl: negative_ttl(query, dns::RCODE_NXDOMAIN),
    }
}

/// How long "no such name" may be kept: only for a name error or an empty answer, and only
/// when every part says so with an SOA.
fn negative_ttl(query: &Query, code: u8) -> Option<u32> {
    if code != dns::RCODE_NXDOMAIN {
        return None;
    }
    query.parts.iter().try_fold(u32::MAX, |ttl, p| {
        let t = match &p.state {
            PartState::Failed {
                code: dns::RCODE_NXDOMAIN,
                negative_ttl,
            } => (*negative_ttl)?,
            PartState::Answered {
                addrs,
                cname: None,
                negative_ttl,
            } if addrs.is_empty() => (*negative_ttl)?,
            _ => return None,
        };
        Some(ttl.min(t))
    })
}
