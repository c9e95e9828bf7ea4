//! The crate's error type: one opaque [`Error`] with a [`kind`](Error::kind), in hyper's style.
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

/// `Result<T, tcpserver::Error>`, the return type of stream operations and of handlers.
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

/// The error type of this crate.
///
/// It is opaque, so new cases can be added without breaking users: ask it what it is with
/// [`kind`](Error::kind) or the `is_*` predicates, and walk [`source`](StdError::source) for
/// the underlying cause.
///
/// # Examples
///
/// ```
/// use tcpserver::Error;
///
/// let err = Error::other("no such user");
/// assert!(!err.is_closed());
/// assert_eq!(err.to_string(), "no such user");
/// ```
pub struct Error {
    kind: ErrorKind,
    message: Option<Box<str>>,
    source: Option<BoxError>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            message: None,
            source: None,
        }
    }

    pub(crate) fn with_message(mut self, message: impl Into<Box<str>>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
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
    /// their own error types.
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
    /// assert!(parse(b"x").is_err());
    /// ```
    pub fn other(error: impl Into<BoxError>) -> Self {
        let source = error.into();
        Error::new(ErrorKind::Other)
            .with_message(source.to_string())
            .with_source(source)
    }

    /// What kind of error this is.
    ///
    /// # Examples
    ///
    /// ```
    /// use tcpserver::{Error, ErrorKind};
    /// assert_eq!(Error::other("x").kind(), ErrorKind::Other);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// True if the stream is closed (Tornado's `StreamClosedError`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// let err = tcpserver::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
    /// assert!(err.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.kind == ErrorKind::StreamClosed
    }

    /// True if a delimiter read exceeded its `max_bytes` (Tornado's `UnsatisfiableReadError`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tcpserver::Error::other("x").is_unsatisfiable_read());
    /// ```
    pub fn is_unsatisfiable_read(&self) -> bool {
        self.kind == ErrorKind::UnsatisfiableRead
    }

    /// True if the read buffer reached `max_buffer_size` (Tornado's `StreamBufferFullError`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tcpserver::Error::other("x").is_buffer_full());
    /// ```
    pub fn is_buffer_full(&self) -> bool {
        self.kind == ErrorKind::BufferFull
    }

    /// True if an operation timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tcpserver::Error::other("x").is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The I/O error that closed the stream, if this error carries one (Tornado's
    /// `StreamClosedError.real_error`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// let err = tcpserver::Error::from(io::Error::from(io::ErrorKind::ConnectionReset));
    /// assert_eq!(err.io_error().unwrap().kind(), io::ErrorKind::ConnectionReset);
    /// ```
    pub fn io_error(&self) -> Option<&io::Error> {
        let source = self.source.as_deref()?;
        if let Some(shared) = source.downcast_ref::<SharedIoError>() {
            return Some(&shared.0);
        }
        source.downcast_ref::<io::Error>()
    }

    /// True if this error only says the peer went away: a clean end of stream or a
    /// reset-class I/O error. Such endings are logged at debug level, not as errors.
    pub(crate) fn is_peer_gone(&self) -> bool {
        match self.kind {
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
        d.field("kind", &self.kind);
        if let Some(message) = &self.message {
            d.field("message", message);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(message) = &self.message {
            // `Other` errors print exactly what the application said.
            return f.write_str(message);
        }
        let what = match self.kind {
            ErrorKind::StreamClosed => "stream is closed",
            ErrorKind::UnsatisfiableRead => "unsatisfiable read",
            ErrorKind::BufferFull => "reached maximum read buffer size",
            ErrorKind::Timeout => "operation timed out",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Io => "I/O error",
            ErrorKind::Other => "error",
        };
        match &self.source {
            Some(source) => write!(f, "{what}: {source}"),
            None => f.write_str(what),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<io::Error> for Error {
    /// Reset-class errors (`ECONNRESET`, `EPIPE`, ...) become [`ErrorKind::StreamClosed`],
    /// as in Tornado; a timeout becomes [`ErrorKind::Timeout`]; anything else is
    /// [`ErrorKind::Io`].
    fn from(err: io::Error) -> Self {
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
    fn from(err: Error) -> Self {
        let kind = match err.kind {
            ErrorKind::StreamClosed => match err.io_error() {
                Some(e) => e.kind(),
                None => io::ErrorKind::UnexpectedEof,
            },
            ErrorKind::UnsatisfiableRead | ErrorKind::Config => io::ErrorKind::InvalidData,
            ErrorKind::BufferFull => io::ErrorKind::OutOfMemory,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Io => match err.io_error() {
                Some(e) => e.kind(),
                None => io::ErrorKind::Other,
            },
            ErrorKind::Tls | ErrorKind::Other => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
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
