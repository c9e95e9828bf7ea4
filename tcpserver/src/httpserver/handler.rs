//! What can answer requests: an async function, a tower `Service` (an axum `Router`), a
//! hyper `Service`, or a streaming [`HttpServerConnectionDelegate`](super::HttpServerConnectionDelegate);
//! all brought to one [`Handler`] shape by [`IntoHttpHandler`].
//!
//! Every adapter keeps the handler's own future type, so serving a request adds no
//! allocation (the delegate adapter excepted: its methods are `async`).
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Body as HttpBody;

use super::Body;

/// A boxed error, as hyper and tower use.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A request handler in the one shape the server runs. Made by [`IntoHttpHandler`]; you
/// normally never implement it.
///
/// # Examples
///
/// ```
/// use tcpserver::httpserver::{Body, Handler, IntoHttpHandler};
///
/// async fn hello(_: http::Request<Body>) -> http::Response<String> {
///     http::Response::new("Hello, world".into())
/// }
/// fn shape<H: Handler>(_: H) {}
/// shape(hello.into_handler());
/// ```
pub trait Handler: Send + Sync + 'static {
    /// The response body.
    type ResBody: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
    /// The response future.
    type Future: Future<Output = Result<Response<Self::ResBody>, BoxError>> + Send + 'static;

    /// Answers one request.
    fn call(&self, request: Request<Body>) -> Self::Future;

    /// Called once when a connection closes, however it ends.
    fn on_close(&self, peer: std::net::SocketAddr) {
        let _ = peer;
    }
}

/// What a handler function may return: `Response<B>`, or `Result<Response<B>, E>` for any
/// error `E` (answered `500 Internal Server Error`, and logged).
///
/// # Examples
///
/// ```
/// use tcpserver::httpserver::HandlerResponse;
/// fn ok(_: impl HandlerResponse) {}
/// ok(http::Response::new(String::from("hi")));
/// ok(Ok::<_, std::io::Error>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new())));
/// ```
pub trait HandlerResponse: Send + 'static {
    /// The response body.
    type Body: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static;

    /// The response, or the handler's error.
    fn into_result(self) -> Result<Response<Self::Body>, BoxError>;
}

impl<B> HandlerResponse for Response<B>
where
    B: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
    type Body = B;

    fn into_result(self) -> Result<Response<B>, BoxError> {
        Ok(self)
    }
}

impl<B, E> HandlerResponse for Result<Response<B>, E>
where
    B: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    type Body = B;

    fn into_result(self) -> Result<Response<B>, BoxError> {
        self.map_err(Into::into)
    }
}

/// Anything that can answer requests: turned into a [`Handler`] when a server is built.
///
/// Implemented for
/// - async functions and closures `Fn(Request<Body>) -> impl Future<Output = R>`, where `R`
///   is a [`HandlerResponse`];
/// - tower services (`tower_service::Service<Request<Body>>`, such as an axum `Router`),
///   cloned for each request as tower expects;
/// - hyper services (`hyper::service::Service<Request<Body>>`, such as `service_fn`);
/// - streaming delegates ([`HttpServerConnectionDelegate`](super::HttpServerConnectionDelegate)),
///   wrapped in [`Delegate`](super::Delegate).
///
/// The `M` parameter only tells these apart; it is always inferred.
///
/// # Examples
///
/// ```
/// use tcpserver::httpserver::{Body, HttpServer};
///
/// async fn hello(_: http::Request<Body>) -> http::Response<String> {
///     http::Response::new("Hello, world".into())
/// }
///
/// let server = HttpServer::new(hello);
/// # drop(server);
/// ```
// Without this, a handler that is almost right (a future that is not `Send`, a response
// body that is not an HTTP body) gets only "the trait `IntoHttpHandler<_>` is not
// implemented", which names neither the rule nor the fix.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot answer HTTP requests",
    label = "not an HTTP handler",
    note = "an async fn handler takes `http::Request<tcpserver::httpserver::Body>` and returns \
            `http::Response<B>` or `Result<http::Response<B>, E>`, where `B` is an HTTP body \
            (`String`, `http_body_util::Full<Bytes>`, ...) and `E` converts into \
            `Box<dyn Error + Send + Sync>`",
    note = "its future must be `Send`: hold no `Rc`, `RefCell` borrow or other non-`Send` value \
            across an `.await`",
    note = "tower services (an axum `Router`), hyper services and `Delegate`s are handlers too"
)]
pub trait IntoHttpHandler<M>: Sized {
    /// The handler it becomes.
    type Handler: Handler;

    /// Makes the handler.
    fn into_handler(self) -> Self::Handler;
}

/// Markers telling the [`IntoHttpHandler`] implementations apart.
#[doc(hidden)]
pub mod marker {
    /// An async function.
    #[derive(Debug)]
    pub enum AsyncFn {}
    /// A tower service.
    #[derive(Debug)]
    pub enum Tower {}
    /// A hyper service.
    #[derive(Debug)]
    pub enum Hyper {}
    /// A handler already.
    #[derive(Debug)]
    pub enum Ready {}
}

impl<H: Handler> IntoHttpHandler<marker::Ready> for H {
    type Handler = H;

    fn into_handler(self) -> H {
        self
    }
}

// ----- async functions -----

impl<F, Fut> IntoHttpHandler<marker::AsyncFn> for F
where
    F: Fn(Request<Body>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output: HandlerResponse> + Send + 'static,
{
    type Handler = FnHandler<F>;

    fn into_handler(self) -> FnHandler<F> {
        FnHandler(self)
    }
}

/// An async function as a [`Handler`].
#[derive(Debug, Clone)]
pub struct FnHandler<F>(F);

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Request<Body>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output: HandlerResponse> + Send + 'static,
{
    type ResBody = <Fut::Output as HandlerResponse>::Body;
    type Future = FnFuture<Fut>;

    fn call(&self, request: Request<Body>) -> FnFuture<Fut> {
        FnFuture {
            inner: (self.0)(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of an [`FnHandler`].
    #[derive(Debug)]
    pub struct FnFuture<Fut> {
        #[pin]
        inner: Fut,
    }
}

impl<Fut> Future for FnFuture<Fut>
where
    Fut: Future<Output: HandlerResponse>,
{
    type Output = Result<Response<<Fut::Output as HandlerResponse>::Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(ready!(self.project().inner.poll(cx)).into_result())
    }
}

// ----- tower services -----

impl<S, B> IntoHttpHandler<marker::Tower> for S
where
    S: tower_service::Service<Request<Body>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
    type Handler = TowerHandler<S>;

    fn into_handler(self) -> TowerHandler<S> {
        TowerHandler(self)
    }
}

/// A tower service as a [`Handler`].
#[derive(Debug, Clone)]
pub struct TowerHandler<S>(S);

impl<S, B> Handler for TowerHandler<S>
where
    S: tower_service::Service<Request<Body>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
    type ResBody = B;
    type Future = TowerFuture<S>;

    fn call(&self, request: Request<Body>) -> TowerFuture<S> {
        // tower's contract: `poll_ready` before `call`, on the instance that is called.
        TowerFuture {
            state: TowerState::NotReady {
                service: self.0.clone(),
                request: Some(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`TowerHandler`].
    pub struct TowerFuture<S: tower_service::Service<Request<Body>>> {
        #[pin]
        state: TowerState<S>,
    }
}

pin_project_lite::pin_project! {
    #[project = TowerStateProj]
    enum TowerState<S: tower_service::Service<Request<Body>>> {
        NotReady { service: S, request: Option<Request<Body>> },
        Called { #[pin] future: S::Future },
    }
}

impl<S> std::fmt::Debug for TowerFuture<S>
where
    S: tower_service::Service<Request<Body>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TowerFuture").finish_non_exhaustive()
    }
}

impl<S, B> Future for TowerFuture<S>
where
    S: tower_service::Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                TowerStateProj::NotReady { service, request } => {
                    if let Err(e) = ready!(service.poll_ready(cx)) {
                        return Poll::Ready(Err(e.into()));
                    }
                    let request = request.take().expect("polled after completion");
                    let future = service.call(request);
                    state.set(TowerState::Called { future });
                }
                TowerStateProj::Called { future } => {
                    return Poll::Ready(ready!(future.poll(cx)).map_err(Into::into));
                }
            }
        }
    }
}

// ----- hyper services -----

impl<S, B> IntoHttpHandler<marker::Hyper> for S
where
    S: hyper::service::Service<Request<Body>, Response = Response<B>> + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
    type Handler = HyperHandler<S>;

    fn into_handler(self) -> HyperHandler<S> {
        HyperHandler(self)
    }
}

/// A hyper service as a [`Handler`].
#[derive(Debug, Clone)]
pub struct HyperHandler<S>(S);

impl<S, B> Handler for HyperHandler<S>
where
    S: hyper::service::Service<Request<Body>, Response = Response<B>> + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
    type ResBody = B;
    type Future = HyperFuture<S::Future>;

    fn call(&self, request: Request<Body>) -> HyperFuture<S::Future> {
        HyperFuture {
            inner: self.0.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`HyperHandler`].
    #[derive(Debug)]
    pub struct HyperFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, B, E> Future for HyperFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(ready!(self.project().inner.poll(cx)).map_err(Into::into))
    }
}
