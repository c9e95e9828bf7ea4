//! The two attributes, `#[tcp_server]` and `#[http_server]`, share their parser, their
//! validation and their expansion; [`Kind`] is what tells them apart: the keys each
//! accepts, the handler signature each expects, and the name error messages use.

use tcpserver_options::keys::{Group, Key, top_level};

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[tcp_server]`: a connection handler, `async fn(IoStream, SocketAddr)`.
    Tcp,
    /// `#[http_server]`: a request handler, `async fn(Request<Body>) -> Response<B>`.
    Http,
}

/// The groups of options every server has.
const SERVER_GROUPS: &[Group] = &[
    Group::Bind,
    Group::Server,
    Group::Tls,
    Group::Process,
    Group::Admin,
    Group::Proxy,
    Group::App,
    Group::Attribute,
];

/// The server groups, then Tornado's `HTTPServer` options.
const HTTP_SERVER_GROUPS: &[Group] = &[
    Group::Bind,
    Group::Server,
    Group::Tls,
    Group::Process,
    Group::Admin,
    Group::Proxy,
    Group::App,
    Group::Attribute,
    Group::Http,
];

impl Kind {
    /// The attribute as written, with its brackets: `#[tcp_server]`.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Tcp => "#[tcp_server]",
            Kind::Http => "#[http_server]",
        }
    }

    /// Every key the attribute accepts, in the order its documentation lists them: the
    /// table's server keys, and for `#[http_server]` the HTTP options after them.
    pub(crate) fn keys(self) -> impl Iterator<Item = &'static Key> + Clone {
        top_level(match self {
            Kind::Tcp => SERVER_GROUPS,
            Kind::Http => HTTP_SERVER_GROUPS,
        })
    }

    /// The handler signature, quoted in messages as what to write.
    pub(crate) fn signature(self) -> &'static str {
        match self {
            Kind::Tcp => "`async fn handle(stream: IoStream, addr: SocketAddr)`",
            Kind::Http => "`async fn handle(request: Request<Body>) -> Response<String>`",
        }
    }

    /// The attribute with only a port, for the "`port` is missing" message.
    pub(crate) fn minimal(self) -> &'static str {
        match self {
            Kind::Tcp => "#[tcp_server(port = 8888)]",
            Kind::Http => "#[http_server(port = 8080)]",
        }
    }
}
