//! HTTP upgrades (`101 Switching Protocols`, as WebSockets use): the handler answers 101
//! and gets the connection back as an [`IoStream`], with whatever the client already sent
//! after its request.
//!
//! The server runs hyper's connections with upgrades on, so hyper's own
//! `hyper::upgrade::on` works too (axum's `WebSocketUpgrade` uses it); [`on`] is the same
//! hand-over returning an `IoStream`, with Tornado's read API, the connection's TLS details
//! and its shutdown signal.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};
use crate::iostream::IoStream;
use crate::iostream::latch::Latch;

/// Whether the response to an upgrade request switched protocols, decided when the
/// handler's response comes. hyper keeps a request's pending upgrade until the connection
/// ends, even after a response other than 101, and then hands the spent connection over;
/// this tells [`OnUpgrade`] at once that no upgrade is coming.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    decided: Latch,
    switched: AtomicBool,
}

impl Decision {
    /// Records the response's status.
    pub(crate) fn decide(&self, switched: bool) {
        self.switched.store(switched, Ordering::Release);
        self.decided.set();
    }
}

/// The request extension that carries the [`Decision`] to [`on`].
#[derive(Debug, Clone)]
pub(crate) struct PendingDecision(pub(crate) Arc<Decision>);

/// The connection of `request`, once the response to it said `101 Switching Protocols`.
///
/// Call it while handling the request, answer 101 (with the headers the new protocol
/// needs), and await the returned future in a task of its own: it resolves after the
/// server has written the 101 response. The connection then belongs to that task: the
/// server counts it as open until the stream is dropped, and its
/// [`shutdown_signal`](IoStream::shutdown_signal) tells it when the server shuts down.
///
/// `request` is a [`Request`](http::Request) or its head ([`Parts`](http::request::Parts),
/// as a [delegate](super::HttpMessageDelegate::headers_received) sees it).
///
/// # Examples
///
/// A bare upgrade to a line echo protocol:
///
/// ```
/// use http::{Request, Response, StatusCode, header};
/// use tcpserver::httpserver::{Body, upgrade};
///
/// async fn handler(request: Request<Body>) -> Response<String> {
///     let upgraded = upgrade::on(&request);
///     tokio::spawn(async move {
///         let mut stream = upgraded.await?;
///         loop {
///             let line = stream.read_until(b"\n", Some(4096)).await?;
///             stream.write(&line).await?;
///         }
///         #[allow(unreachable_code)]
///         Ok::<_, tcpserver::Error>(())
///     });
///     Response::builder()
///         .status(StatusCode::SWITCHING_PROTOCOLS)
///         .header(header::CONNECTION, "upgrade")
///         .header(header::UPGRADE, "echo")
///         .body(String::new())
///         .unwrap()
/// }
/// ```
pub fn on(request: &impl Upgradable) -> OnUpgrade {
    let extensions = request.extensions();
    let upgrade = extensions.get::<hyper::upgrade::OnUpgrade>().cloned();
    let decision = extensions.get::<PendingDecision>().map(|p| p.0.clone());
    OnUpgrade {
        requested: upgrade.is_some(),
        future: Box::pin(take_over(upgrade, decision)),
    }
}

/// The connection once hyper hands it over, or an error as soon as the response is known
/// not to switch protocols.
async fn take_over(
    upgrade: Option<hyper::upgrade::OnUpgrade>,
    decision: Option<Arc<Decision>>,
) -> Result<IoStream> {
    let Some(mut upgrade) = upgrade else {
        return Err(no_upgrade("the request did not ask for one"));
    };
    let mut decided = Latch::wait(decision.as_deref().map(|d| &d.decided));
    let upgraded = std::future::poll_fn(|cx| {
        if let Poll::Ready(upgraded) = Pin::new(&mut upgrade).poll(cx) {
            return Poll::Ready(upgraded.map_err(|e| no_upgrade(&e.to_string())));
        }
        ready!(Pin::new(&mut decided).poll(cx));
        match decision.as_deref() {
            Some(d) if !d.switched.load(Ordering::Acquire) => Poll::Ready(Err(no_upgrade(
                "the response was not 101 Switching Protocols",
            ))),
            // Switched: hyper hands the connection over once the 101 is written.
            _ => Poll::Pending,
        }
    })
    .await?;
    match upgraded.downcast::<TokioIo<IoStream>>() {
        Ok(parts) => Ok(parts.io.into_inner().with_unread(&parts.read_buf)),
        Err(_) => Err(no_upgrade("not a tcpserver connection")),
    }
}

fn no_upgrade(why: &str) -> Error {
    Error::other(format!("no upgrade: {why}"))
}

/// Requests whose connection can be taken over: [`http::Request`] and
/// [`http::request::Parts`]. Sealed.
pub trait Upgradable: sealed::Sealed {
    #[doc(hidden)]
    fn extensions(&self) -> &http::Extensions;
}

impl<B> Upgradable for http::Request<B> {
    fn extensions(&self) -> &http::Extensions {
        self.extensions()
    }
}

impl Upgradable for http::request::Parts {
    fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }
}

mod sealed {
    pub trait Sealed {}
    impl<B> Sealed for http::Request<B> {}
    impl Sealed for http::request::Parts {}
}

/// The future returned by [`on`]: the upgraded connection.
///
/// # Errors
///
/// [`ErrorKind::Other`](crate::ErrorKind::Other), at once, if there is no upgrade: the
/// request did not ask for one (no `Upgrade` header on HTTP/1.1), or the response was not
/// 101; and if the connection ended first.
#[must_use = "futures do nothing unless polled"]
pub struct OnUpgrade {
    requested: bool,
    future: Pin<Box<dyn Future<Output = Result<IoStream>> + Send>>,
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade")
            .field("requested", &self.requested)
            .finish_non_exhaustive()
    }
}

impl Future for OnUpgrade {
    type Output = Result<IoStream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<IoStream>> {
        self.future.as_mut().poll(cx)
    }
}
