//! The crate's error type: one opaque [`Error`] with a [`kind`](Error::kind), in hyper's style.
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

/// `Result<T, tcpserver::Error>`, the return type of stream operations and of handlers.
///
/// The `# Errors` section of a function returning it names the [`ErrorKind`]s it fails
/// with; [`Error`] explains what an error displays and where its cause is.
///
/// # Examples
///
/// ```
/// async fn greet(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
///     stream.write(b"hello\n").await
/// }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What went wrong, in the terms of Tornado's `iostream` errors plus our own.
///
/// # Examples
///
/// ```
/// use tcpserver::{Error, ErrorKind};
///
/// let err = Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
/// assert_eq!(err.kind(), ErrorKind::StreamClosed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The stream is closed: the peer went away, the stream was closed locally, or an I/O
    /// error closed it (Tornado's `StreamClosedError`). The real error, when there was one,
    /// is the [`source`](std::error::Error::source).
    StreamClosed,
    /// A delimiter read found no delimiter within `max_bytes` (Tornado's
    /// `UnsatisfiableReadError`); the stream has been closed.
    UnsatisfiableRead,
    /// The read buffer would exceed `max_buffer_size` (Tornado's `StreamBufferFullError`);
    /// the stream has been closed.
    BufferFull,
    /// An operation did not finish before its deadline.
    Timeout,
    /// A TLS configuration or handshake failure.
    Tls,
    /// A configuration value is invalid.
    Config,
    /// Any other I/O error.
    Io,
    /// An error raised by application code (see [`Error::other`]).
    Other,
}

/// The error type of this crate, in hyper's style: opaque, one pointer wide, one level
/// per error.
///
/// - **What it is**: ask [`kind`](Error::kind), or the predicates [`is_closed`](Error::is_closed),
///   [`is_unsatisfiable_read`](Error::is_unsatisfiable_read),
///   [`is_buffer_full`](Error::is_buffer_full) and [`is_timeout`](Error::is_timeout). The
///   type is opaque, so new cases can be added without breaking users.
/// - **`Display`** describes this level only (`stream is closed`, `unsatisfiable read:
///   delimiter b"\n" not found within 1024 bytes`), never its cause, so that a printer
///   that walks the chain (anyhow's `{:#}`, a logger, the launcher's start-up line) prints
///   every cause once.
/// - **[`source`](StdError::source)** is the cause: the I/O error that closed the stream,
///   or the error that made a stream unusable. [`io_error`](Error::io_error) finds the
///   real I/O error directly.
/// - **[`Error::other`]** is transparent: it displays the wrapped error and has its source,
///   so wrapping an application error adds no level to the chain.
///
/// Every fallible function of this crate returns it (or an [`io::Error`], for the socket
/// and process functions that mirror the standard library's) and names under `# Errors`
/// the [`ErrorKind`]s it fails with.
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// use std::io;
///
/// // A reset connection: the stream is closed, and the reset is the cause.
/// let err = tcpserver::Error::from(io::Error::from(io::ErrorKind::ConnectionReset));
/// assert!(err.is_closed());
/// assert_eq!(err.to_string(), "stream is closed");
/// assert_eq!(err.source().unwrap().to_string(), "connection reset");
/// assert_eq!(err.io_error().unwrap().kind(), io::ErrorKind::ConnectionReset);
///
/// // A broken pipe (a write to a peer that left) closes the stream too.
/// let err = tcpserver::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
/// assert!(err.is_closed());
///
/// // An application error passes through unchanged.
/// let err = tcpserver::Error::other("no such user");
/// assert_eq!(err.kind(), tcpserver::ErrorKind::Other);
/// assert_eq!(err.to_string(), "no such user");
/// assert!(err.source().is_none());
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    /// What this level says, when the kind alone does not say enough.
    message: Option<Box<str>>,
    /// The cause; for [`ErrorKind::Other`], the application's error itself.
    cause: Option<BoxError>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: None,
                cause: None,
            }),
        }
    }

    /// Says what this level is in words of its own (naming the delimiter, the file...);
    /// without a message it displays its kind.
    pub(crate) fn with_message(mut self, message: impl Into<Box<str>>) -> Self {
        self.inner.message = Some(message.into());
        self
    }

    /// Sets the cause, the error's [`source`](StdError::source).
    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.cause = Some(source.into());
        self
    }

    /// A "stream is closed" error, carrying the error that closed it, if any.
    pub(crate) fn closed(real_error: Option<Arc<io::Error>>) -> Self {
        let err = Error::new(ErrorKind::StreamClosed);
        match real_error {
            Some(e) => err.with_source(SharedIoError(e)),
            None => err,
        }
    }

    /// Wraps an application error, so handlers can return `tcpserver::Result` while using
    /// their own error types. The result is of kind [`ErrorKind::Other`] and transparent:
    /// it displays as `error` does, and its [`source`](StdError::source) is `error`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// fn parse(line: &[u8]) -> tcpserver::Result<u32> {
    ///     std::str::from_utf8(line)
    ///         .map_err(tcpserver::Error::other)?
    ///         .trim()
    ///         .parse()
    ///         .map_err(tcpserver::Error::other)
    /// }
    /// assert_eq!(parse(b"42\n").unwrap(), 42);
    /// assert_eq!(parse(b"x").unwrap_err().to_string(), "invalid digit found in string");
    /// ```
    pub fn other(error: impl Into<BoxError>) -> Self {
        Error::new(ErrorKind::Other).with_source(error)
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// True if the stream is closed: [`ErrorKind::StreamClosed`] (Tornado's
    /// `StreamClosedError`), and also [`UnsatisfiableRead`](ErrorKind::UnsatisfiableRead)
    /// and [`BufferFull`](ErrorKind::BufferFull), which close the stream. In Tornado the
    /// pending read then fails with `StreamClosedError` whose `real_error` is the specific
    /// one; here [`kind`](Self::kind) says which, and this method answers "is the stream
    /// still usable?" the same way for all three.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) {
    /// match stream.read_until(b"\n", Some(1024)).await {
    ///     Ok(_line) => { /* ... */ }
    ///     // No newline within 1 KiB: the read closed the stream, and the kind says why.
    ///     Err(e) if e.is_unsatisfiable_read() => assert!(e.is_closed() && stream.closed()),
    ///     Err(e) => assert!(e.is_closed()),
    /// }
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::StreamClosed | ErrorKind::UnsatisfiableRead | ErrorKind::BufferFull
        )
    }

    /// True if a delimiter read exceeded its `max_bytes` (Tornado's `UnsatisfiableReadError`).
    pub fn is_unsatisfiable_read(&self) -> bool {
        self.inner.kind == ErrorKind::UnsatisfiableRead
    }

    /// True if the read buffer reached `max_buffer_size` (Tornado's `StreamBufferFullError`).
    pub fn is_buffer_full(&self) -> bool {
        self.inner.kind == ErrorKind::BufferFull
    }

    /// True if an operation timed out.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// The I/O error that closed the stream, if this error carries one (Tornado's
    /// `StreamClosedError.real_error`); for an [`Error::other`] made from an
    /// [`io::Error`], that error.
    pub fn io_error(&self) -> Option<&io::Error> {
        let cause = self.inner.cause.as_deref()?;
        if let Some(shared) = cause.downcast_ref::<SharedIoError>() {
            return Some(&shared.0);
        }
        cause.downcast_ref::<io::Error>()
    }

    /// True if this error only says the peer went away: a clean end of stream or a
    /// reset-class I/O error. Such endings are logged at debug level, not as errors.
    pub(crate) fn is_peer_gone(&self) -> bool {
        match self.inner.kind {
            ErrorKind::StreamClosed => self.io_error().is_none_or(is_reset_class),
            ErrorKind::Io => self.io_error().is_some_and(is_reset_class),
            _ => false,
        }
    }
}

/// True for the errors Tornado treats as a quiet close (`_ERRNO_CONNRESET`), plus EOF.
pub(crate) fn is_reset_class(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::TimedOut
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("tcpserver::Error");
        d.field("kind", &self.inner.kind);
        if let Some(message) = &self.inner.message {
            d.field("message", message);
        }
        if let Some(cause) = &self.inner.cause {
            d.field("cause", cause);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(message) = &self.inner.message {
            return f.write_str(message);
        }
        let what = match self.inner.kind {
            ErrorKind::StreamClosed => "stream is closed",
            ErrorKind::UnsatisfiableRead => "unsatisfiable read",
            ErrorKind::BufferFull => "reached maximum read buffer size",
            ErrorKind::Timeout => "operation timed out",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Io => "I/O error",
            ErrorKind::Other => match &self.inner.cause {
                // Transparent: the application's error speaks for itself.
                Some(error) => return fmt::Display::fmt(error, f),
                None => "error",
            },
        };
        f.write_str(what)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let cause = self.inner.cause.as_deref()?;
        match self.inner.kind {
            // Transparent: the wrapped error is this level, its cause is ours.
            ErrorKind::Other => cause.source(),
            _ => Some(cause),
        }
    }
}

impl From<io::Error> for Error {
    /// Reset-class errors (`ECONNRESET`, `EPIPE`, ...) become [`ErrorKind::StreamClosed`],
    /// as in Tornado; a timeout becomes [`ErrorKind::Timeout`]; anything else is
    /// [`ErrorKind::Io`]. The `io::Error` is the [`source`](StdError::source).
    ///
    /// An `io::Error` that carries a `tcpserver::Error` (as [`IoStream`](crate::IoStream)'s
    /// `AsyncRead` and `AsyncWrite` errors do) gives that error back, so the chain does
    /// not say "stream is closed" twice.
    fn from(err: io::Error) -> Self {
        if err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let inner = err.into_inner().expect("checked: it carries an error");
            return *inner.downcast::<Error>().expect("checked: it is ours");
        }
        let kind = if is_reset_class(&err) && err.kind() != io::ErrorKind::TimedOut {
            ErrorKind::StreamClosed
        } else if err.kind() == io::ErrorKind::TimedOut {
            ErrorKind::Timeout
        } else {
            ErrorKind::Io
        };
        Error::new(kind).with_source(err)
    }
}

impl From<tokio::time::error::Elapsed> for Error {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Error::new(ErrorKind::Timeout)
    }
}

impl From<Error> for io::Error {
    /// An `io::Error` of the kind a caller of `std::io` expects, carrying the
    /// `tcpserver::Error` (its `Display` and `source` are the error's):
    ///
    /// | [`ErrorKind`] | [`io::ErrorKind`] |
    /// |---|---|
    /// | `StreamClosed` | the kind of the I/O error that closed the stream; `UnexpectedEof` if the peer closed it or it was closed locally |
    /// | `UnsatisfiableRead` | `InvalidData`: the peer sent a longer message than the read accepts |
    /// | `BufferFull` | `InvalidData`: the peer sent more than `max_buffer_size` (nothing ran out of memory) |
    /// | `Timeout` | `TimedOut` |
    /// | `Config` | `InvalidData` |
    /// | `Io` | the kind of the I/O error (`Other` without one) |
    /// | `Other` | the kind of the wrapped error if it is an `io::Error`, else `Other` |
    /// | `Tls` | `Other` |
    fn from(err: Error) -> Self {
        let kind = match err.inner.kind {
            ErrorKind::StreamClosed => match err.io_error() {
                Some(e) => e.kind(),
                None => io::ErrorKind::UnexpectedEof,
            },
            ErrorKind::UnsatisfiableRead | ErrorKind::BufferFull | ErrorKind::Config => {
                io::ErrorKind::InvalidData
            }
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Io | ErrorKind::Other => match err.io_error() {
                Some(e) => e.kind(),
                None => io::ErrorKind::Other,
            },
            ErrorKind::Tls => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// Displays `error` and its causes on one line, `level: cause: cause`, as the launcher
/// prints a start-up failure and the server logs a handler's error.
///
/// A cause that its parent's message already ends with (an error in the old style, that
/// repeats its source) is not printed again, and line breaks become spaces.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        write_one_line(f, &previous)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !previous.ends_with(&text) {
                f.write_str(": ")?;
                write_one_line(f, &text)?;
            }
            previous = text;
            next = cause.source();
        }
        Ok(())
    }
}

fn write_one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if let Some(first) = lines.next() {
        f.write_str(first)?;
    }
    for line in lines {
        f.write_str(" ")?;
        f.write_str(line)?;
    }
    Ok(())
}

/// An `io::Error` that several later errors can point back to (the error that closed a
/// stream is reported by every operation attempted after it).
#[derive(Debug, Clone)]
pub(crate) struct SharedIoError(pub(crate) Arc<io::Error>);

impl fmt::Display for SharedIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for SharedIoError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pointer_wide() {
        assert_eq!(size_of::<Error>(), size_of::<usize>());
        assert_eq!(size_of::<Result<()>>(), size_of::<usize>());
    }

    #[test]
    fn closed_displays_this_level_and_keeps_the_real_error_as_source() {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "Connection reset by peer");
        let err = Error::closed(Some(Arc::new(reset)));
        assert_eq!(err.to_string(), "stream is closed");
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("Connection reset by peer")
        );
        assert_eq!(
            err.io_error().map(io::Error::kind),
            Some(io::ErrorKind::ConnectionReset)
        );
        assert_eq!(
            Chain(&err).to_string(),
            "stream is closed: Connection reset by peer"
        );
        assert!(err.is_peer_gone());
    }

    #[test]
    fn io_errors_become_the_cause() {
        let err = Error::from(io::Error::new(io::ErrorKind::PermissionDenied, "no"));
        assert_eq!(err.kind(), ErrorKind::Io);
        assert_eq!(err.to_string(), "I/O error");
        assert_eq!(Chain(&err).to_string(), "I/O error: no");
        assert_eq!(
            err.io_error().map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
    }

    #[test]
    fn other_is_transparent() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("cannot load users")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let err = Error::other(Outer(io::Error::other("disk on fire")));
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.to_string(), "cannot load users");
        assert_eq!(err.source().unwrap().to_string(), "disk on fire");
        assert_eq!(Chain(&err).to_string(), "cannot load users: disk on fire");

        let err = Error::other(io::Error::new(io::ErrorKind::NotFound, "no such user"));
        assert_eq!(err.to_string(), "no such user");
        assert!(err.source().is_none());
        assert_eq!(
            err.io_error().map(io::Error::kind),
            Some(io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn a_stream_closed_by_an_unsatisfiable_read_says_why() {
        let err = Error::new(ErrorKind::StreamClosed)
            .with_source(Error::new(ErrorKind::UnsatisfiableRead));
        assert_eq!(
            Chain(&err).to_string(),
            "stream is closed: unsatisfiable read"
        );
        assert!(err.is_peer_gone());
    }

    #[test]
    fn io_errors_carrying_ours_give_it_back() {
        let reset = Arc::new(io::Error::from(io::ErrorKind::BrokenPipe));
        let wrapped = io::Error::new(io::ErrorKind::BrokenPipe, Error::closed(Some(reset)));
        assert_eq!(wrapped.to_string(), "stream is closed");
        let err = Error::from(wrapped);
        assert!(err.is_closed());
        assert_eq!(
            err.io_error().map(io::Error::kind),
            Some(io::ErrorKind::BrokenPipe)
        );
        assert_eq!(Chain(&err).to_string(), "stream is closed: broken pipe");
    }

    #[test]
    fn io_error_kinds() {
        let kind_of = |err: Error| io::Error::from(err).kind();
        let closed_by = |kind| Error::closed(Some(Arc::new(io::Error::from(kind))));
        assert_eq!(
            kind_of(closed_by(io::ErrorKind::ConnectionReset)),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(kind_of(Error::closed(None)), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            kind_of(Error::new(ErrorKind::UnsatisfiableRead)),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            kind_of(Error::new(ErrorKind::BufferFull)),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            kind_of(Error::new(ErrorKind::Timeout)),
            io::ErrorKind::TimedOut
        );
        assert_eq!(
            kind_of(Error::new(ErrorKind::Config)),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            kind_of(Error::from(io::Error::from(
                io::ErrorKind::PermissionDenied
            ))),
            io::ErrorKind::PermissionDenied
        );
        assert_eq!(kind_of(Error::new(ErrorKind::Io)), io::ErrorKind::Other);
        assert_eq!(
            kind_of(Error::other(io::Error::from(io::ErrorKind::NotFound))),
            io::ErrorKind::NotFound
        );
        assert_eq!(kind_of(Error::other("x")), io::ErrorKind::Other);
        assert_eq!(kind_of(Error::new(ErrorKind::Tls)), io::ErrorKind::Other);

        // The io::Error displays and chains as the error it carries.
        let io = io::Error::from(
            Error::new(ErrorKind::BufferFull)
                .with_message("reached maximum read buffer size (8 bytes)"),
        );
        assert_eq!(io.to_string(), "reached maximum read buffer size (8 bytes)");
    }

    #[test]
    fn chains_print_on_one_line_without_repeating_causes() {
        #[derive(Debug)]
        struct OldStyle(io::Error);
        impl fmt::Display for OldStyle {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "cannot bind: {}", self.0)
            }
        }
        impl StdError for OldStyle {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let err = Error::new(ErrorKind::Config)
            .with_message("bad listener")
            .with_source(OldStyle(io::Error::other(
                "address in use\n  (os error 98)",
            )));
        assert_eq!(
            Chain(&err).to_string(),
            "bad listener: cannot bind: address in use (os error 98)"
        );
    }
}
