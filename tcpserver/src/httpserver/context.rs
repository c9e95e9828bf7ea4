//! What a request knows about where it came from: [`RequestContext`], [`Protocol`], and
//! the [`RequestExt`] accessors.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
use crate::tls::TlsInfo;

/// The scheme a request arrived over (Tornado's `request.protocol`).
///
/// # Examples
///
/// ```
/// use tcpserver::httpserver::Protocol;
/// assert_eq!("https".parse::<Protocol>(), Ok(Protocol::Https));
/// assert_eq!(Protocol::Http.as_str(), "http");
/// assert_eq!(Protocol::Https.as_str(), "https");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Protocol {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
        }
    }

    /// Exactly `http` or `https` (case-sensitive, as Tornado's xheaders are), else `None`.
    pub(crate) fn from_bytes(value: &[u8]) -> Option<Self> {
        match value {
            b"http" => Some(Protocol::Http),
            b"https" => Some(Protocol::Https),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::from_bytes(s.as_bytes())
            .ok_or_else(|| format!("`{s}` is not a protocol (use http or https)"))
    }
}

/// Where a request came from, after [`xheaders`](super::HttpOptions::xheaders): in every
/// request's [extensions](http::Request::extensions) (Tornado's `request.remote_ip` and
/// `request.protocol`).
///
/// An axum handler takes it with `Extension<RequestContext>`; any other handler with
/// [`RequestExt`] or `request.extensions().get::<RequestContext>()`.
///
/// # Examples
///
/// ```
/// use http::{Request, Response};
/// use tcpserver::httpserver::{Body, RequestContext};
///
/// async fn whoami(request: Request<Body>) -> Response<String> {
///     let ctx = request.extensions().get::<RequestContext>().cloned();
///     let text = match ctx {
///         Some(ctx) => format!("{} over {}\n", ctx.remote_ip(), ctx.protocol()),
///         None => "unknown\n".to_owned(),
///     };
///     Response::new(text)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub(crate) remote_ip: IpAddr,
    pub(crate) protocol: Protocol,
    pub(crate) peer: SocketAddr,
    /// What the connection's TLS handshake negotiated; shared by its requests.
    #[cfg(feature = "tls")]
    tls: Option<Arc<TlsInfo>>,
}

impl RequestContext {
    /// A context for a request from `peer` over `protocol`, for calling handlers in tests.
    ///
    /// # Examples
    ///
    /// ```
    /// use tcpserver::httpserver::{Protocol, RequestContext};
    /// let ctx = RequestContext::new("127.0.0.1:5000".parse().unwrap(), Protocol::Http);
    /// assert_eq!(ctx.remote_ip().to_string(), "127.0.0.1");
    /// assert_eq!(ctx.peer().port(), 5000);
    /// ```
    pub fn new(peer: SocketAddr, protocol: Protocol) -> Self {
        RequestContext {
            remote_ip: peer.ip(),
            protocol,
            peer,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The context with the TLS details of its connection.
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls(mut self, tls: Option<Arc<TlsInfo>>) -> Self {
        self.tls = tls;
        self
    }

    /// What the TLS handshake of the request's connection negotiated (Tornado's
    /// `request.get_ssl_certificate()`, and more): the client's certificate chain, the
    /// ALPN protocol, the SNI name, the version and the cipher suite. `None` for a request
    /// over plain HTTP, also when a proxy in front ended TLS (its headers say only the
    /// scheme, see [`protocol`](Self::protocol)).
    ///
    /// # Examples
    ///
    /// An mTLS service that greets the client by its certificate's subject (parsed with a
    /// crate of your choice, such as `x509-parser`):
    ///
    /// ```
    /// use http::{Request, Response, StatusCode};
    /// use tcpserver::httpserver::{Body, RequestExt};
    ///
    /// async fn whoami(request: Request<Body>) -> Response<String> {
    ///     let tls = request.context().and_then(|ctx| ctx.tls());
    ///     match tls.and_then(|tls| tls.peer_certificates().first()) {
    ///         Some(cert) => Response::new(format!("a client certificate of {} bytes\n", cert.len())),
    ///         None => {
    ///             let mut response = Response::new("no client certificate\n".to_owned());
    ///             *response.status_mut() = StatusCode::FORBIDDEN;
    ///             response
    ///         }
    ///     }
    /// }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_deref()
    }

    /// The client's address: the peer's, or the one a trusted proxy named with
    /// [`xheaders`](super::HttpOptions::xheaders). `0.0.0.0` for a Unix-socket peer.
    pub fn remote_ip(&self) -> IpAddr {
        self.remote_ip
    }

    /// `http` or `https`: from the stream, [`protocol`](super::HttpOptions::protocol), or
    /// a trusted proxy's header.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The socket address of the peer that sent the request (the proxy, behind one).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

/// Shortcuts to a request's [`RequestContext`].
///
/// # Examples
///
/// ```
/// use http::{Request, Response};
/// use tcpserver::httpserver::{Body, RequestExt};
///
/// async fn hello(request: Request<Body>) -> Response<String> {
///     Response::new(format!("hello, {:?}\n", request.remote_ip()))
/// }
/// ```
pub trait RequestExt {
    /// The request's [`RequestContext`], if a server made the request.
    fn context(&self) -> Option<&RequestContext>;

    /// [`RequestContext::remote_ip`], if a server made the request.
    fn remote_ip(&self) -> Option<IpAddr> {
        self.context().map(RequestContext::remote_ip)
    }

    /// [`RequestContext::protocol`], if a server made the request.
    fn protocol(&self) -> Option<Protocol> {
        self.context().map(RequestContext::protocol)
    }
}

impl<B> RequestExt for http::Request<B> {
    fn context(&self) -> Option<&RequestContext> {
        self.extensions().get()
    }
}

impl RequestExt for http::request::Parts {
    fn context(&self) -> Option<&RequestContext> {
        self.extensions.get()
    }
}
