//! Streaming handlers in Tornado's shape: [`HttpServerConnectionDelegate`] starts one
//! [`HttpMessageDelegate`] per request, which sees the head, then the body piece by piece
//! (each at most `chunk_size` long), then answers.
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Body as HttpBody;

use super::handler::{BoxError, Handler};
use super::{Body, BodyLimits, RequestContext};

/// Tornado's `HTTPServerConnectionDelegate`: makes a [`HttpMessageDelegate`] for every
/// request. Serve one by wrapping it in [`Delegate`].
///
/// # Examples
///
/// A server that answers with the sizes of the body pieces it received:
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use tcpserver::httpserver::{
///     Delegate, HttpMessageDelegate, HttpOptions, HttpServer, HttpServerConnectionDelegate,
///     RequestContext,
/// };
///
/// struct ChunkSizes;
///
/// impl HttpServerConnectionDelegate for ChunkSizes {
///     type Message = Sizes;
///     fn start_request(&self, _ctx: &RequestContext) -> Sizes {
///         Sizes(Vec::new())
///     }
/// }
///
/// struct Sizes(Vec<usize>);
///
/// impl HttpMessageDelegate for Sizes {
///     type Body = String;
///     async fn data_received(&mut self, chunk: Bytes) {
///         self.0.push(chunk.len());
///     }
///     async fn finish(self) -> Response<String> {
///         Response::new(format!("{:?}", self.0))
///     }
/// }
///
/// let server = HttpServer::builder()
///     .options(HttpOptions::new().chunk_size(16))
///     .build(Delegate(ChunkSizes));
/// # drop(server);
/// ```
pub trait HttpServerConnectionDelegate: Send + Sync + 'static {
    /// The per-request delegate.
    type Message: HttpMessageDelegate;

    /// Called when a request's head has been received, before
    /// [`headers_received`](HttpMessageDelegate::headers_received).
    fn start_request(&self, context: &RequestContext) -> Self::Message;

    /// Called once when a connection closes, however it ends (Tornado's `on_close`).
    fn on_close(&self, peer: SocketAddr) {
        let _ = peer;
    }
}

/// Tornado's `HTTPMessageDelegate`: one request, seen as it arrives. Either
/// [`finish`](Self::finish) or [`on_connection_close`](Self::on_connection_close) is
/// called, not both (unless `headers_received` answered early: then neither is).
///
/// See [`HttpServerConnectionDelegate`] for an example.
pub trait HttpMessageDelegate: Send + 'static {
    /// The response body.
    type Body: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static;

    /// The request head has arrived. `limits` may be changed for this request's body
    /// (Tornado's `set_max_body_size` / `set_body_timeout`). Returning a response answers
    /// at once, without reading the body (the connection then closes if the client sent
    /// one anyway). Body reading waits for this future.
    ///
    /// # Examples
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use http::{request::Parts, Response, StatusCode};
    /// # use tcpserver::httpserver::{BodyLimits, HttpMessageDelegate};
    /// struct Upload;
    /// impl HttpMessageDelegate for Upload {
    ///     type Body = String;
    ///     async fn headers_received(&mut self, head: &Parts, limits: &mut BodyLimits) -> Option<Response<String>> {
    ///         if head.uri.path() != "/upload" {
    ///             let mut not_found = Response::new(String::new());
    ///             *not_found.status_mut() = StatusCode::NOT_FOUND;
    ///             return Some(not_found);
    ///         }
    ///         limits.set_max_body_size(1 << 30);
    ///         None
    ///     }
    ///     async fn data_received(&mut self, _chunk: Bytes) {}
    ///     async fn finish(self) -> Response<String> { Response::new("stored\n".into()) }
    /// }
    /// ```
    fn headers_received(
        &mut self,
        head: &Parts,
        limits: &mut BodyLimits,
    ) -> impl Future<Output = Option<Response<Self::Body>>> + Send {
        let _ = (head, limits);
        std::future::ready(None)
    }

    /// A piece of the body, at most [`chunk_size`](super::HttpOptions::chunk_size) bytes
    /// (decompressed, with [`decompress_request`](super::HttpOptions::decompress_request)).
    /// The next piece is not read until this future completes.
    fn data_received(&mut self, chunk: Bytes) -> impl Future<Output = ()> + Send;

    /// The whole body has arrived: answer.
    fn finish(self) -> impl Future<Output = Response<Self::Body>> + Send;

    /// The request will not complete: the client went away, or its body was refused (too
    /// large, malformed, too slow). The server answers the client itself, if at all.
    fn on_connection_close(self)
    where
        Self: Sized,
    {
    }
}

/// Serves an [`HttpServerConnectionDelegate`] (see there for an example).
#[derive(Debug, Clone)]
pub struct Delegate<D>(pub D);

impl<D: HttpServerConnectionDelegate> Handler for Delegate<D> {
    type ResBody = <D::Message as HttpMessageDelegate>::Body;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<Self::ResBody>, BoxError>> + Send + 'static>>;

    fn call(&self, request: Request<Body>) -> Self::Future {
        let context = request
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(|| {
                RequestContext::new(SocketAddr::from(([0, 0, 0, 0], 0)), super::Protocol::Http)
            });
        let message = self.0.start_request(&context);
        Box::pin(run(message, request))
    }

    fn on_close(&self, peer: SocketAddr) {
        self.0.on_close(peer);
    }
}

async fn run<M: HttpMessageDelegate>(
    mut message: M,
    request: Request<Body>,
) -> Result<Response<M::Body>, BoxError> {
    let (head, mut body) = request.into_parts();
    if let Some(response) = message.headers_received(&head, body.limits_mut()).await {
        return Ok(response);
    }
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    message.data_received(data).await;
                }
            }
            Err(e) => {
                message.on_connection_close();
                // The server answers for the failed body; this error is not shown.
                return Err(e.into());
            }
        }
    }
    Ok(message.finish().await)
}
