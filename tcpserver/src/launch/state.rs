//! Application state ([`Launcher::state`]): created once in every process that serves (each
//! worker after the fork, inside its own runtime, before it accepts), shared by every
//! connection of that process, and handed to a shutdown hook once the connections are
//! done. What `#[tcp_server(state = init, on_shutdown = close)]` expands to.
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use super::{Chain, Launcher, StartupError};
use crate::iostream::IoStream;
use crate::tcpserver::{HandlerResult, StreamHandler};

type BoxError = Box<dyn StdError + Send + Sync>;
type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;
/// The shutdown hook, waiting for the state.
type ShutdownHook<S> = Box<dyn FnOnce(Arc<S>) -> LocalFuture<()>>;

/// A function that creates the state: synchronous (`fn() -> Result<S, E>`) or async
/// (`async fn() -> Result<S, E>`), with any error that converts into a boxed error
/// (`std::io::Error`, `String`, `anyhow::Error`, ...). Implemented for every such function
/// and closure; `M` tells the two forms apart.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot create the application's state",
    label = "not a state constructor",
    note = "the state is made by a function without arguments, `fn() -> Result<State, E>` or \
            `async fn() -> Result<State, E>`, where `E` converts into \
            `Box<dyn Error + Send + Sync>` (`std::io::Error`, `String`, `anyhow::Error`, ...)"
)]
pub trait StateInit<S, M>: 'static {
    #[doc(hidden)]
    fn create(self) -> LocalFuture<Result<S, BoxError>>;
}

/// [`StateInit`]'s marker for a synchronous function.
#[doc(hidden)]
#[derive(Debug)]
pub enum Synchronous {}

/// [`StateInit`]'s marker for an async function.
#[doc(hidden)]
#[derive(Debug)]
pub enum Asynchronous {}

impl<F, S, E> StateInit<S, (Synchronous, E)> for F
where
    F: FnOnce() -> Result<S, E> + 'static,
    S: 'static,
    E: Into<BoxError>,
{
    fn create(self) -> LocalFuture<Result<S, BoxError>> {
        Box::pin(std::future::ready(self().map_err(Into::into)))
    }
}

impl<F, Fut, S, E> StateInit<S, (Asynchronous, E)> for F
where
    F: FnOnce() -> Fut + 'static,
    Fut: Future<Output = Result<S, E>> + 'static,
    E: Into<BoxError>,
{
    fn create(self) -> LocalFuture<Result<S, BoxError>> {
        Box::pin(async move { self().await.map_err(Into::into) })
    }
}

/// A function that creates the state from the application's flags `A` (see
/// [`Launcher::state_with`]): `fn(A) -> Result<S, E>` or `async fn(A) -> Result<S, E>`.
#[cfg(feature = "args")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot create the application's state from its flags",
    label = "not a state constructor taking the flags",
    note = "with `args`, the state is made by a function of the parsed flags, \
            `fn(args: Args) -> Result<State, E>` or `async fn(args: Args) -> Result<State, E>`"
)]
pub trait ArgsInit<A, S, M>: 'static {
    #[doc(hidden)]
    fn create(self, args: A) -> LocalFuture<Result<S, BoxError>>;
}

#[cfg(feature = "args")]
impl<F, A, S, E> ArgsInit<A, S, (Synchronous, E)> for F
where
    F: FnOnce(A) -> Result<S, E> + 'static,
    S: 'static,
    E: Into<BoxError>,
{
    fn create(self, args: A) -> LocalFuture<Result<S, BoxError>> {
        Box::pin(std::future::ready(self(args).map_err(Into::into)))
    }
}

#[cfg(feature = "args")]
impl<F, A, Fut, S, E> ArgsInit<A, S, (Asynchronous, E)> for F
where
    F: FnOnce(A) -> Fut + 'static,
    Fut: Future<Output = Result<S, E>> + 'static,
    E: Into<BoxError>,
{
    fn create(self, args: A) -> LocalFuture<Result<S, BoxError>> {
        let state = self(args);
        Box::pin(async move { state.await.map_err(Into::into) })
    }
}

/// A [`Launcher`] with application state of type `S`: made by [`Launcher::state`], run
/// with [`run`](WithState::run).
///
/// # Examples
///
/// A counter per process, created before the process accepts, read by every connection,
/// and reported at shutdown:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use std::process::ExitCode;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tcpserver::{IoStream, Launcher};
///
/// struct Hits(AtomicU64);
///
/// async fn open() -> std::io::Result<Hits> {
///     Ok(Hits(AtomicU64::new(0)))
/// }
///
/// async fn count(mut stream: IoStream, _addr: SocketAddr, hits: Arc<Hits>) -> tcpserver::Result<()> {
///     let n = hits.0.fetch_add(1, Ordering::Relaxed) + 1;
///     stream.write(format!("visitor {n}\n").as_bytes()).await
/// }
///
/// fn main() -> ExitCode {
///     Launcher::new(8888)
///         .processes(2)
///         .state(open)
///         .on_shutdown(|hits: Arc<Hits>| async move {
///             eprintln!("{} visitors", hits.0.load(Ordering::Relaxed));
///         })
///         .run(count)
/// }
/// ```
pub struct WithState<S> {
    launcher: Launcher,
    init: Box<dyn FnOnce() -> LocalFuture<Result<S, BoxError>>>,
    on_shutdown: Option<ShutdownHook<S>>,
}

impl<S> fmt::Debug for WithState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithState")
            .field("launcher", &self.launcher)
            .field("on_shutdown", &self.on_shutdown.is_some())
            .finish_non_exhaustive()
    }
}

impl Launcher {
    /// Gives the server application state, created by `init` once in every process that
    /// serves: in each worker after the fork (restarted ones included), inside that
    /// worker's runtime, before it accepts; in the only process when there is no fork.
    /// A database pool, a cache or a loaded model goes here rather than in a `static`.
    ///
    /// `init` is a synchronous or an async function returning `Result<S, E>`. An `Err`
    /// stops that process's start-up with one line naming the cause: the only process
    /// exits with status 1; a worker exits, and when every worker fails at start-up the
    /// main process stops and exits 1 (a worker that fails after the server served is
    /// restarted like any worker that dies).
    ///
    /// # Examples
    ///
    /// See [`WithState`].
    pub fn state<S, M>(self, init: impl StateInit<S, M>) -> WithState<S>
    where
        S: Send + Sync + 'static,
    {
        WithState {
            launcher: self,
            init: Box::new(move || init.create()),
            on_shutdown: None,
        }
    }
}

impl<S> WithState<S> {
    /// A launcher whose processes create their state with `init`.
    #[cfg(feature = "args")]
    pub(super) fn from_init(
        launcher: Launcher,
        init: Box<dyn FnOnce() -> LocalFuture<Result<S, BoxError>>>,
    ) -> Self {
        WithState {
            launcher,
            init,
            on_shutdown: None,
        }
    }
}

impl<S: Send + Sync + 'static> WithState<S> {
    /// Runs `hook` with the state in every process that created it, once its connections
    /// are done (finished, or closed at the shutdown deadline), before the process exits:
    /// after a stop signal and after an upgrade's hand-over alike.
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce(Arc<S>) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.on_shutdown = Some(Box::new(move |state| Box::pin(hook(state))));
        self
    }

    /// Runs the server binary with `handler` serving every connection, given the
    /// connection, the peer's address and the process's state; returns the process's exit
    /// status. [`Launcher::run`] with state.
    pub fn run<H, Fut>(self, handler: H) -> ExitCode
    where
        H: Fn(IoStream, SocketAddr, Arc<S>) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        self.run_with(move |state| move |stream, addr| handler(stream, addr, Arc::clone(&state)))
    }

    /// Runs the server binary with the connection handler `make` builds from the state,
    /// once the state exists.
    pub(super) fn run_with<H: StreamHandler>(
        self,
        make: impl FnOnce(Arc<S>) -> H + 'static,
    ) -> ExitCode {
        self.serve(move |_, builder, state| builder.build(make(state)))
    }

    /// Runs the server `make` builds, in each process that serves, once that process's
    /// state exists; the shutdown hook gets the state back once the connections are done.
    fn serve(
        self,
        make: impl FnOnce(
            &mut Launcher,
            crate::tcpserver::Builder,
            Arc<S>,
        ) -> crate::tcpserver::TcpServer
        + 'static,
    ) -> ExitCode {
        let WithState {
            launcher,
            init,
            on_shutdown,
        } = self;
        launcher.run_server(move |launcher, builder, runtime| {
            let state = Arc::new(create(init, runtime)?);
            let shutdown = after_serve(on_shutdown, &state);
            Ok((make(launcher, builder, state), shutdown))
        })
    }
}

#[cfg(feature = "http")]
impl<S: Send + Sync + 'static> WithState<S> {
    /// Runs an HTTP server binary whose handler gets each request and the process's state:
    /// [`Launcher::run_http`] with state.
    pub fn run_http<H, Fut>(
        mut self,
        options: crate::httpserver::HttpOptions,
        handler: H,
    ) -> ExitCode
    where
        H: Fn(http::Request<crate::httpserver::Body>, Arc<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output: crate::httpserver::HandlerResponse> + Send + 'static,
    {
        self.launcher.http = Some(options);
        self.serve(move |launcher, builder, state| {
            let handler = move |request| handler(request, Arc::clone(&state));
            super::http::http_server(launcher, builder, handler)
        })
    }
}

/// The shutdown hook, bound to the state.
fn after_serve<S: 'static>(
    hook: Option<ShutdownHook<S>>,
    state: &Arc<S>,
) -> Option<super::AfterServe> {
    let state = Arc::clone(state);
    hook.map(|hook| Box::new(move || hook(state)) as super::AfterServe)
}

/// Runs `init` to its end on this process's runtime.
fn create<S>(
    init: Box<dyn FnOnce() -> LocalFuture<Result<S, BoxError>>>,
    runtime: &tokio::runtime::Runtime,
) -> Result<S, StartupError> {
    runtime.block_on(init()).map_err(|e| {
        StartupError(
            format!(
                "cannot create the application's state: {}",
                Chain(&*e as &(dyn StdError + 'static))
            )
            .into(),
        )
    })
}
