//! What `$ssl_client_s_dn`, `$ssl_client_i_dn` (and their `_legacy` forms) and
//! `$ssl_client_v_start`/`_v_end`/`_v_remain` print of a client certificate, written as
//! OpenSSL writes them for nginx:
//! - RFC 2253 (`X509_NAME_print_ex` with `XN_FLAG_RFC2253`, nginx 1.11.6+): the RDNs last
//!   first, `,` between them and `+` inside one, short attribute names, RFC 2253's
//!   backslash escapes, control and non-ASCII bytes (of the UTF-8) as `\XX`, an attribute
//!   OpenSSL does not know as its dotted OID and `#` with the value's DER in hex;
//! - legacy (`X509_NAME_oneline`): `/SN=value` in the certificate's order, bytes outside
//!   printable ASCII as `\xXX`;
//! - validity times as `ASN1_TIME_print`: `Dec  3 19:00:00 2026 GMT`; the days left, `0`
//!   within the last day.

use super::x509::element;

/// OpenSSL's short names of the attributes certificates use (DER contents of the OID).
const NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (&[0x55, 0x04, 0x04], "SN"),
    (&[0x55, 0x04, 0x2a], "GN"),
    (&[0x55, 0x04, 0x0c], "title"),
    (&[0x55, 0x04, 0x09], "street"),
    (&[0x55, 0x04, 0x11], "postalCode"),
    (&[0x55, 0x04, 0x2e], "dnQualifier"),
    (&[0x55, 0x04, 0x41], "pseudonym"),
    (&[0x55, 0x04, 0x2b], "initials"),
    (&[0x55, 0x04, 0x2c], "generationQualifier"),
    (&[0x55, 0x04, 0x0f], "businessCategory"),
    (&[0x55, 0x04, 0x61], "organizationIdentifier"),
    (&[0x55, 0x04, 0x0d], "description"),
    (&[0x55, 0x04, 0x29], "name"),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "emailAddress",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
        "UID",
    ),
];

/// One attribute of a Name: its OID (contents), the value's tag, contents and whole DER.
struct Attribute<'a> {
    oid: &'a [u8],
    tag: u8,
    value: &'a [u8],
    whole: &'a [u8],
}

/// The RDNs of a Name (its whole DER), each a list of attributes; `None`: not a Name.
fn rdns(name: &[u8]) -> Option<Vec<Vec<Attribute<'_>>>> {
    let (_, _, mut set_list, _) = element(name)?;
    let mut out = Vec::new();
    while !set_list.is_empty() {
        let (_, _, mut set, rest) = element(set_list)?;
        set_list = rest;
        let mut rdn = Vec::new();
        while !set.is_empty() {
            let (_, _, atv, rest) = element(set)?;
            set = rest;
            let (_, _, oid, after) = element(atv)?;
            let (tag, whole, value, _) = element(after)?;
            rdn.push(Attribute {
                oid,
                tag,
                value,
                whole,
            });
        }
        out.push(rdn);
    }
    Some(out)
}

/// The dotted form of an OID's contents.
fn dotted(oid: &[u8], out: &mut Vec<u8>) {
    let mut arcs = Vec::new();
    let mut n: u64 = 0;
    for &b in oid {
        n = (n << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(n);
            n = 0;
        }
    }
    let Some(&first) = arcs.first() else {
        return;
    };
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut text = format!("{a}.{b}");
    for arc in arcs.iter().skip(1) {
        text.push_str(&format!(".{arc}"));
    }
    out.extend_from_slice(text.as_bytes());
}

/// The attribute's short name, or `None` for one OpenSSL does not know.
fn short_name(oid: &[u8]) -> Option<&'static str> {
    NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
}

/// The value's characters as UTF-8, by its string type; `None`: not a string type.
fn as_utf8(tag: u8, value: &[u8]) -> Option<Vec<u8>> {
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString
        0x0c | 0x13 | 0x16 | 0x12 | 0x1a => Some(value.to_vec()),
        // T61String: OpenSSL reads it as Latin-1.
        0x14 => Some(
            value
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>()
                .into_bytes(),
        ),
        // BMPString (UCS-2) and UniversalString (UCS-4), big-endian.
        0x1e | 0x1c => {
            let width = if tag == 0x1e { 2 } else { 4 };
            let text: String = value
                .chunks(width)
                .map(|c| c.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)))
                .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            Some(text.into_bytes())
        }
        _ => None,
    }
}

/// Appends `name` (a Name's whole DER) as RFC 2253; nothing where it is not a Name.
pub fn rfc2253(name: &[u8], out: &mut Vec<u8>) {
    let Some(rdns) = rdns(name) else {
        return;
    };
    // OpenSSL reverses the entries, not the RDNs: a multi-valued RDN's parts come last first too.
    let entries: Vec<(usize, &Attribute<'_>)> = rdns
        .iter()
        .enumerate()
        .flat_map(|(set, rdn)| rdn.iter().map(move |a| (set, a)))
        .collect();
    let mut previous = None;
    for &(set, a) in entries.iter().rev() {
        match previous {
            Some(p) if p == set => out.push(b'+'),
            Some(_) => out.push(b','),
            None => {}
        }
        previous = Some(set);
        let known = short_name(a.oid);
        match known {
            Some(sn) => out.extend_from_slice(sn.as_bytes()),
            None => dotted(a.oid, out),
        }
        out.push(b'=');
        match (known, as_utf8(a.tag, a.value)) {
            (Some(_), Some(text)) => escape_2253(&text, out),
            _ => {
                out.push(b'#');
                hex_upper(a.whole, out);
            }
        }
    }
}

fn hex_upper(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// RFC 2253 escaping as OpenSSL's `ASN1_STRFLGS_RFC2253` does it.
fn escape_2253(text: &[u8], out: &mut Vec<u8>) {
    let last = text.len().saturating_sub(1);
    for (i, &c) in text.iter().enumerate() {
        let special = matches!(c, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';')
            || (i == 0 && matches!(c, b'#' | b' '))
            || (i == last && c == b' ');
        if special {
            out.push(b'\\');
            out.push(c);
        } else if !(0x20..0x7f).contains(&c) {
            out.push(b'\\');
            hex_upper(&[c], out);
        } else {
            out.push(c);
        }
    }
}

/// Appends `name` as `X509_NAME_oneline` writes it; nothing where it is not a Name.
pub fn legacy(name: &[u8], out: &mut Vec<u8>) {
    let Some(rdns) = rdns(name) else {
        return;
    };
    for rdn in &rdns {
        for (j, a) in rdn.iter().enumerate() {
            legacy_entry(a, j > 0, out);
        }
    }
}

/// One entry of `X509_NAME_oneline`: `/SN=value`, `+SN=value` inside a multi-valued RDN.
fn legacy_entry(a: &Attribute<'_>, same_set: bool, out: &mut Vec<u8>) {
    out.push(if same_set { b'+' } else { b'/' });
    match short_name(a.oid) {
        Some(sn) => out.extend_from_slice(sn.as_bytes()),
        None => dotted(a.oid, out),
    }
    out.push(b'=');
    // OpenSSL drops the zero bytes of a wide string that holds only ASCII.
    let wide = match a.tag {
        0x1e => 2,
        0x1c => 4,
        _ => 1,
    };
    let ascii_wide = wide > 1
        && a.value
            .chunks(wide)
            .all(|c| c.len() == wide && c[..wide - 1].iter().all(|&b| b == 0));
    let bytes: Vec<u8> = if ascii_wide {
        a.value.chunks(wide).map(|c| c[wide - 1]).collect()
    } else {
        a.value.to_vec()
    };
    for b in bytes {
        if (b' '..=b'~').contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(b"\\x");
            hex_upper(&[b], out);
        }
    }
}

/// A Validity's notBefore and notAfter as seconds since the epoch.
pub fn validity(validity: &[u8]) -> Option<(i64, i64)> {
    let (_, _, inner, _) = element(validity)?;
    let (t1, _, start, rest) = element(inner)?;
    let (t2, _, end, _) = element(rest)?;
    Some((asn1_time(t1, start)?, asn1_time(t2, end)?))
}

/// An ASN.1 UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
pub(super) fn asn1_time(tag: u8, v: &[u8]) -> Option<i64> {
    let num = |s: &[u8]| -> Option<i64> {
        s.iter().try_fold(0i64, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let (year, rest) = match tag {
        0x17 => {
            let y = num(v.get(..2)?)?;
            (if y < 50 { 2000 + y } else { 1900 + y }, v.get(2..)?)
        }
        0x18 => (num(v.get(..4)?)?, v.get(4..)?),
        _ => return None,
    };
    let month = num(rest.get(..2)?)?;
    let day = num(rest.get(2..4)?)?;
    let hour = num(rest.get(4..6)?)?;
    let min = num(rest.get(6..8)?)?;
    let sec = num(rest.get(8..10)?)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Appends `secs` as `ASN1_TIME_print` writes it: `Dec  3 19:00:00 2026 GMT`.
pub fn asn1_time_print(secs: i64, out: &mut Vec<u8>) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = MONTHS
        .get(usize::try_from(month - 1).unwrap_or(0))
        .unwrap_or(&"Jan");
    out.extend_from_slice(
        format!(
            "{name} {day:2} {:02}:{:02}:{:02} {year} GMT",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
        .as_bytes(),
    );
}

/// `$ssl_client_v_remain`: whole days until `end`, `0` within its last day.
pub fn days_left(end: i64, now: i64, out: &mut Vec<u8>) {
    if end < now + 86400 {
        out.push(b'0');
    } else {
        out.extend_from_slice(((end - now) / 86400).to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attribute for [`name`]: OID contents, value tag, value.
    type Atv<'a> = (&'a [u8], u8, &'a [u8]);

    /// A Name of the given RDNs.
    fn name(rdns: &[&[Atv<'_>]]) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut v = vec![tag, body.len() as u8];
            v.extend_from_slice(body);
            v
        }
        let mut seq = Vec::new();
        for rdn in rdns {
            let mut set = Vec::new();
            for (oid, tag, value) in *rdn {
                let mut atv = tlv(0x06, oid);
                atv.extend(tlv(*tag, value));
                set.extend(tlv(0x30, &atv));
            }
            seq.extend(tlv(0x31, &set));
        }
        tlv(0x30, &seq)
    }

    #[test]
    fn names_as_openssl_prints_them() {
        let cn: &[u8] = &[0x55, 4, 3];
        let o: &[u8] = &[0x55, 4, 10];
        let unknown: &[u8] = &[0x2b, 6, 1, 4, 1, 1];
        let n = name(&[
            &[(o, 0x13, b"Acme, Inc")],
            &[(cn, 0x0c, "#caf\u{e9} ".as_bytes()), (unknown, 0x0c, b"x")],
        ]);
        let mut out = Vec::new();
        rfc2253(&n, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1.3.6.1.4.1.1=#0C0178+CN=\\#caf\\C3\\A9\\ ,O=Acme\\, Inc"
        );
        let mut out = Vec::new();
        legacy(&n, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "/O=Acme, Inc/CN=#caf\\xC3\\xA9 +1.3.6.1.4.1.1=x"
        );
    }

    #[test]
    fn times() {
        // 2026-12-03 19:00:00 UTC
        let t = asn1_time(0x17, b"261203190000Z").unwrap();
        assert_eq!(t, 1_796_324_400);
        assert_eq!(asn1_time(0x18, b"20261203190000Z"), Some(t));
        let mut out = Vec::new();
        asn1_time_print(t, &mut out);
        assert_eq!(out, b"Dec  3 19:00:00 2026 GMT");
        let mut out = Vec::new();
        days_left(t + 2 * 86400 + 5, t, &mut out);
        assert_eq!(out, b"2");
        let mut out = Vec::new();
        days_left(t + 100, t, &mut out);
        assert_eq!(out, b"0");
    }
}
