//! Tornado's `xheaders`: the client address and scheme as a trusted reverse proxy reports
//! them, computed per request from the connection's own values (so nothing one request
//! claims leaks into the next on the same connection).
#![forbid(unsafe_code)]

use std::net::IpAddr;

use http::HeaderMap;
use http::header::HeaderName;

use super::{Protocol, RequestContext};

static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_SCHEME: HeaderName = HeaderName::from_static("x-scheme");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The context of a request with these `headers` on a connection whose own context is
/// `conn`.
///
/// - Address: a valid `X-Real-Ip`; else the right-most `X-Forwarded-For` entry that is
///   not a `trusted` proxy (the left-most one if all are), if valid; else the peer's.
/// - Scheme: the last comma-separated item of `X-Scheme`, else of `X-Forwarded-Proto`,
///   if it is exactly `http` or `https`; else the connection's.
///
/// Repeated lines of a header read as one comma-separated list, as Tornado joins them
/// (so two `X-Real-Ip` lines name no address).
pub(crate) fn apply(
    headers: &HeaderMap,
    conn: RequestContext,
    trusted: &[IpAddr],
) -> RequestContext {
    let mut ctx = conn;
    if let Some(ip) = real_ip(headers).or_else(|| forwarded_for(headers, trusted)) {
        ctx.remote_ip = ip;
    }
    if let Some(protocol) = scheme(headers) {
        ctx.protocol = protocol;
    }
    ctx
}

fn parse_ip(value: &[u8]) -> Option<IpAddr> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

fn real_ip(headers: &HeaderMap) -> Option<IpAddr> {
    let mut values = headers.get_all(&X_REAL_IP).iter();
    let value = values.next()?;
    // Two X-Real-Ip lines name no single address.
    if values.next().is_some() {
        return None;
    }
    parse_ip(value.as_bytes())
}

fn forwarded_for(headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let mut candidate = None;
    // Several header lines read as one comma-separated list, in order.
    let lines = headers.get_all(&X_FORWARDED_FOR).iter().rev();
    for entry in lines.flat_map(|line| line.as_bytes().rsplit(|&b| b == b',')) {
        candidate = Some(entry);
        match parse_ip(entry) {
            Some(ip) if trusted.contains(&ip) => continue,
            _ => break,
        }
    }
    parse_ip(candidate?)
}

fn scheme(headers: &HeaderMap) -> Option<Protocol> {
    // Tornado joins repeated lines with `,` and takes the last item: the last item of the
    // last line.
    let last_line = |name| headers.get_all(name).iter().next_back();
    let value = last_line(&X_SCHEME).or_else(|| last_line(&X_FORWARDED_PROTO))?;
    let last = value.as_bytes().rsplit(|&b| b == b',').next()?;
    Protocol::from_bytes(last.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn ctx(headers: &[(&str, &str)], trusted: &[&str]) -> RequestContext {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        apply(&map, RequestContext::new(peer, Protocol::Http), &trusted)
    }

    fn ip(headers: &[(&str, &str)]) -> String {
        ctx(headers, &["5.5.5.5"]).remote_ip.to_string()
    }

    fn proto(headers: &[(&str, &str)]) -> &'static str {
        ctx(headers, &[]).protocol.as_str()
    }

    // Tornado's XHeaderTest.test_ip_headers and test_trusted_downstream.
    #[test]
    fn addresses() {
        assert_eq!(ip(&[]), "127.0.0.1");
        assert_eq!(ip(&[("X-Real-IP", "4.4.4.4")]), "4.4.4.4");
        assert_eq!(ip(&[("X-Forwarded-For", "127.0.0.1, 4.4.4.4")]), "4.4.4.4");
        assert_eq!(
            ip(&[("X-Real-IP", "2620:0:1cfe:face:b00c::3")]),
            "2620:0:1cfe:face:b00c::3"
        );
        assert_eq!(
            ip(&[("X-Forwarded-For", "::1, 2620:0:1cfe:face:b00c::3")]),
            "2620:0:1cfe:face:b00c::3"
        );
        assert_eq!(ip(&[("X-Real-IP", "4.4.4.4<script>")]), "127.0.0.1");
        assert_eq!(
            ip(&[("X-Forwarded-For", "4.4.4.4, 5.5.5.5<script>")]),
            "127.0.0.1"
        );
        assert_eq!(ip(&[("X-Real-IP", "www.google.com")]), "127.0.0.1");
        assert_eq!(
            ip(&[("X-Forwarded-For", "127.0.0.1, 4.4.4.4, 5.5.5.5")]),
            "4.4.4.4"
        );
        // All trusted: the left-most entry.
        assert_eq!(ip(&[("X-Forwarded-For", "5.5.5.5, 5.5.5.5")]), "5.5.5.5");
        // Several lines are one list, read from the right.
        assert_eq!(
            ip(&[
                ("X-Forwarded-For", "1.1.1.1"),
                ("X-Forwarded-For", "2.2.2.2, 5.5.5.5")
            ]),
            "2.2.2.2"
        );
        // X-Real-Ip wins over X-Forwarded-For; an invalid one falls back to it.
        assert_eq!(
            ip(&[("X-Real-IP", "3.3.3.3"), ("X-Forwarded-For", "4.4.4.4")]),
            "3.3.3.3"
        );
        assert_eq!(
            ip(&[("X-Real-IP", "nonsense"), ("X-Forwarded-For", "4.4.4.4")]),
            "4.4.4.4"
        );
    }

    // Tornado's XHeaderTest.test_scheme_headers.
    #[test]
    fn schemes() {
        assert_eq!(proto(&[]), "http");
        assert_eq!(proto(&[("X-Scheme", "https")]), "https");
        assert_eq!(proto(&[("X-Forwarded-Proto", "https")]), "https");
        assert_eq!(proto(&[("X-Forwarded-Proto", "https , http")]), "http");
        assert_eq!(proto(&[("X-Forwarded-Proto", "http,https")]), "https");
        assert_eq!(proto(&[("X-Forwarded-Proto", "unknown")]), "http");
        assert_eq!(proto(&[("X-Forwarded-Proto", "HTTPS")]), "http");
        assert_eq!(
            proto(&[("X-Scheme", "http"), ("X-Forwarded-Proto", "https")]),
            "http"
        );
        // Repeated lines are one list: `http,https`.
        assert_eq!(
            proto(&[("X-Scheme", "http"), ("X-Scheme", "https")]),
            "https"
        );
        assert_eq!(
            proto(&[
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Proto", "http")
            ]),
            "http"
        );
    }
}
