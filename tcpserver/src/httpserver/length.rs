//! A handler's own `Content-Length`, held to its body. Tornado refuses a response whose
//! body is longer or shorter than its `Content-Length` says (`HTTPOutputError`: the
//! connection is closed); hyper would send it as it is (a body of known length under the
//! header's claim, a stream cut silently at it), and a client would read a response whose
//! framing lies.
//!
//! - A body whose length is known before anything is sent (`String`, `Full`, `Bytes`):
//!   a `Content-Length` that is not one number, or not its length, refuses the response:
//!   the connection closes with nothing sent.
//! - A stream: each piece is counted; the piece that would go past the length, or an end
//!   short of it, closes the connection there (what was sent stays sent: the client sees
//!   a response cut short, never a complete one with the wrong bytes). A stream that
//!   reaches its length exactly has sent a whole response, and hyper reads it no further:
//!   whatever it would have sent next is never asked for (checking would mean holding
//!   back its last piece until it ends).
//!
//! Either way it is logged at ERROR with the client's address: a handler bug, as an error
//! it returns. Responses that carry no body (`1xx`, `204`, `304`) are not checked; a
//! response to `HEAD` sends no body and its `Content-Length` may describe the `GET`'s, so
//! only a body the handler made anyway (of known, non-zero length) must agree with it.
#![forbid(unsafe_code)]

use std::net::IpAddr;

use http::{Response, StatusCode, header};
use hyper::body::Body as HttpBody;

/// What a response's `Content-Length` asks of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declared {
    /// Nothing to check: no header, no body sent, or a known length that matches it.
    Nothing,
    /// A stream that must come to exactly this many bytes.
    Stream(u64),
}

/// Checks `response`'s `Content-Length` against its body (`head`: the request was `HEAD`).
///
/// # Errors
///
/// Why the response must not be sent.
pub(crate) fn check<B: HttpBody>(response: &Response<B>, head: bool) -> Result<Declared, String> {
    let status = response.status();
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Declared::Nothing);
    }
    let mut declared = None;
    for value in response.headers().get_all(header::CONTENT_LENGTH) {
        let n = parse(value.as_bytes()).ok_or_else(|| {
            format!(
                "invalid response Content-Length: \"{}\"",
                value.as_bytes().escape_ascii()
            )
        })?;
        match declared {
            Some(earlier) if earlier != n => {
                return Err(format!(
                    "two different response Content-Length values: {earlier} and {n}"
                ));
            }
            _ => declared = Some(n),
        }
    }
    let Some(declared) = declared else {
        return Ok(Declared::Nothing);
    };
    match response.body().size_hint().exact() {
        Some(len) if len == declared => Ok(Declared::Nothing),
        // Not sent: the length of the `GET`'s body.
        Some(0) | None if head => Ok(Declared::Nothing),
        Some(len) => Err(format!(
            "response body of {len} bytes does not match its Content-Length: {declared}"
        )),
        None => Ok(Declared::Stream(declared)),
    }
}

/// A `Content-Length` value: digits only (no sign, no `_`, no white space), as Tornado's
/// `parse_int` reads it.
fn parse(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Counts a streamed response body against its `Content-Length`.
#[derive(Debug)]
pub(crate) struct Counter {
    declared: u64,
    sent: u64,
    remote_ip: IpAddr,
}

impl Counter {
    pub(crate) fn new(declared: u64, remote_ip: IpAddr) -> Self {
        Counter {
            declared,
            sent: 0,
            remote_ip,
        }
    }

    /// A piece of `len` bytes is about to go out; an error (logged) if it must not.
    pub(crate) fn piece(&mut self, len: usize) -> Result<(), String> {
        self.sent += len as u64;
        if self.sent > self.declared {
            return Err(self.refuse(format!(
                "response body longer than its Content-Length: {}",
                self.declared
            )));
        }
        Ok(())
    }

    /// The body has ended; an error (logged) if it is short.
    pub(crate) fn end(&self) -> Result<(), String> {
        if self.sent < self.declared {
            return Err(self.refuse(format!(
                "response body {} bytes short of its Content-Length: {}",
                self.declared - self.sent,
                self.declared
            )));
        }
        Ok(())
    }

    fn refuse(&self, message: String) -> String {
        refused(self.remote_ip, &message);
        message
    }
}

/// Logs a response refused for its `Content-Length`.
pub(crate) fn refused(remote_ip: IpAddr, message: &str) {
    tracing::error!("error in the response to {remote_ip}: {message}; closing the connection");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(values: &[&str], body: &'static str, head: bool) -> Result<Declared, String> {
        let mut response = Response::new(body.to_owned());
        for v in values {
            response
                .headers_mut()
                .append(header::CONTENT_LENGTH, v.parse().unwrap());
        }
        check(&response, head)
    }

    #[test]
    fn known_lengths() {
        assert_eq!(declared(&[], "hello", false), Ok(Declared::Nothing));
        assert_eq!(declared(&["5"], "hello", false), Ok(Declared::Nothing));
        assert_eq!(declared(&["5", "5"], "hello", false), Ok(Declared::Nothing));
        assert_eq!(declared(&["10"], "", true), Ok(Declared::Nothing));
        assert_eq!(declared(&["5"], "hello", true), Ok(Declared::Nothing));
        assert!(declared(&["10"], "hello", true).is_err());
        assert!(declared(&["foo"], "", true).is_err());
        for bad in [
            &["10"][..],
            &["2"],
            &["foo"],
            &["+5"],
            &["1_0"],
            &[" 5"],
            &["5", "6"],
        ] {
            assert!(declared(bad, "hello", false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn streams_are_counted() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let mut counter = Counter::new(5, ip);
        assert!(counter.piece(2).is_ok() && counter.end().is_err());
        assert!(counter.piece(3).is_ok() && counter.end().is_ok());
        assert!(counter.piece(1).is_err());
    }
}
