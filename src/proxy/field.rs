//! The upstream response fields the proxy acts on, named once per parse (nginx's
//! `ngx_http_upstream_headers_in` hash gives each known field its handler the same way).
//! A head's lines carry their [`Field`], so writing the client's head, the range filter and
//! the hidden/hop-by-hop rules compare one byte per line instead of the name's bytes
//! against every list; a cache hit restores the parse, so it does not even classify.

/// A response field the proxy knows by name (`Other`: any other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Field {
    /// Not one of these.
    #[default]
    Other,
    ContentType,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    Te,
    Trailer,
    ProxyConnection,
    Upgrade,
    Date,
    Server,
    XPad,
    XAccelExpires,
    XAccelRedirect,
    XAccelLimitRate,
    XAccelBuffering,
    XAccelCharset,
    Location,
    Refresh,
    SetCookie,
    AcceptRanges,
    Expires,
    CacheControl,
    LastModified,
    Etag,
}

/// Every known field with its lowercase name (the `BY_LENGTH_*` groups index it).
static NAMES: [(Field, &str); 25] = [
    (Field::ContentType, "content-type"),
    (Field::ContentLength, "content-length"),
    (Field::TransferEncoding, "transfer-encoding"),
    (Field::Connection, "connection"),
    (Field::KeepAlive, "keep-alive"),
    (Field::Te, "te"),
    (Field::Trailer, "trailer"),
    (Field::ProxyConnection, "proxy-connection"),
    (Field::Upgrade, "upgrade"),
    (Field::Date, "date"),
    (Field::Server, "server"),
    (Field::XPad, "x-pad"),
    (Field::XAccelExpires, "x-accel-expires"),
    (Field::XAccelRedirect, "x-accel-redirect"),
    (Field::XAccelLimitRate, "x-accel-limit-rate"),
    (Field::XAccelBuffering, "x-accel-buffering"),
    (Field::XAccelCharset, "x-accel-charset"),
    (Field::Location, "location"),
    (Field::Refresh, "refresh"),
    (Field::SetCookie, "set-cookie"),
    (Field::AcceptRanges, "accept-ranges"),
    (Field::Expires, "expires"),
    (Field::CacheControl, "cache-control"),
    (Field::LastModified, "last-modified"),
    (Field::Etag, "etag"),
];

static BY_LENGTH_4: [(Field, &str); 2] = [NAMES[9], NAMES[24]];
static BY_LENGTH_7: [(Field, &str); 4] = [NAMES[6], NAMES[8], NAMES[18], NAMES[21]];
static BY_LENGTH_10: [(Field, &str); 3] = [NAMES[3], NAMES[4], NAMES[19]];
static BY_LENGTH_13: [(Field, &str); 3] = [NAMES[20], NAMES[22], NAMES[23]];
static BY_LENGTH_15: [(Field, &str); 2] = [NAMES[12], NAMES[16]];
static BY_LENGTH_16: [(Field, &str); 2] = [NAMES[7], NAMES[13]];
static BY_LENGTH_17: [(Field, &str); 2] = [NAMES[2], NAMES[15]];

/// Whether header name `name` is `lower` (a lowercase name of the same length, at most 24
/// bytes), any case, eight bytes at a time: setting bit 5 lowercases a letter and leaves `-`
/// alone; only a control byte (which no field name holds) could map onto a letter or `-`.
fn same_token(name: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let n = name.len();
    if n != lower.len() || n > 24 {
        return false;
    }
    if n < 8 {
        return name.iter().zip(lower).all(|(x, y)| x | 0x20 == *y);
    }
    // Three loads cover up to 24 bytes; the last one may overlap the others.
    let load = |s: &[u8], at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let middle = (n - 8).min(8);
    load(name, 0) | CASE == load(lower, 0)
        && load(name, middle) | CASE == load(lower, middle)
        && load(name, n - 8) | CASE == load(lower, n - 8)
}

impl Field {
    /// The field named `name` (any case).
    pub fn of(name: &[u8]) -> Field {
        let Some(first) = name.first().map(u8::to_ascii_lowercase) else {
            return Field::Other;
        };
        // The length leaves at most three names to compare.
        let candidates: &[(Field, &str)] = match name.len() {
            2 => &NAMES[5..6],
            4 => &BY_LENGTH_4,
            5 => &NAMES[11..12],
            6 => &NAMES[10..11],
            7 => &BY_LENGTH_7,
            8 => &NAMES[17..18],
            10 => &BY_LENGTH_10,
            12 => &NAMES[0..1],
            13 => &BY_LENGTH_13,
            14 => &NAMES[1..2],
            15 => &BY_LENGTH_15,
            16 => &BY_LENGTH_16,
            17 => &BY_LENGTH_17,
            18 => &NAMES[14..15],
            _ => &[],
        };
        for &(field, known) in candidates {
            let known = known.as_bytes();
            if known[0] == first && same_token(name, known) {
                return field;
            }
        }
        Field::Other
    }

    /// A hop-by-hop field: never relayed (the proxy frames the client side itself).
    pub fn hop_by_hop(self) -> bool {
        matches!(
            self,
            Field::Connection
                | Field::KeepAlive
                | Field::TransferEncoding
                | Field::Te
                | Field::Trailer
                | Field::ProxyConnection
                | Field::Upgrade
        )
    }

    /// An `X-Accel-*` field (the upstream's instructions to the proxy).
    pub fn accel(self) -> bool {
        matches!(
            self,
            Field::XAccelExpires
                | Field::XAccelRedirect
                | Field::XAccelLimitRate
                | Field::XAccelBuffering
                | Field::XAccelCharset
        )
    }

    /// Hidden unless `proxy_pass_header` names it (nginx's `ngx_http_proxy_hide_headers`).
    pub fn hidden_by_default(self) -> bool {
        matches!(
            self,
            Field::Date
                | Field::Server
                | Field::XPad
                | Field::XAccelExpires
                | Field::XAccelRedirect
                | Field::XAccelLimitRate
                | Field::XAccelBuffering
                | Field::XAccelCharset
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        for (field, name) in NAMES {
            assert_eq!(Field::of(name.as_bytes()), field, "{name}");
            assert_eq!(
                Field::of(name.to_ascii_uppercase().as_bytes()),
                field,
                "{name}"
            );
        }
        for other in [
            "",
            "x",
            "content-typ",
            "content-types",
            "x-custom",
            "etags",
            "tf",
            "content_type",
            "content-typf",
            "xontent-type",
            "last-modifie_",
        ] {
            assert_eq!(Field::of(other.as_bytes()), Field::Other, "{other}");
        }
        assert!(Field::of(b"Transfer-Encoding").hop_by_hop());
        assert!(!Field::of(b"Content-Type").hop_by_hop());
        assert!(Field::of(b"X-Accel-Redirect").hidden_by_default());
        assert!(!Field::of(b"Location").hidden_by_default());
    }
}
