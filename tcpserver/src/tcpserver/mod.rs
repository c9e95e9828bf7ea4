//! Tornado's `TCPServer`: accept connections on any number of listening sockets and hand
//! each one, as an [`IoStream`], to a [`StreamHandler`].
//!
//! The three Tornado start-up patterns all work:
//!
//! 1. [`TcpServer::listen`] inside a runtime (single process);
//! 2. [`TcpServer::bind`] then [`TcpServer::start`] (which forks), then [`TcpServer::serve`]
//!    in each process's own runtime;
//! 3. [`bind_sockets`](crate::netutil::bind_sockets), then
//!    [`fork_processes`](crate::process::fork_processes), then a runtime per process and
//!    [`TcpServer::add_sockets`].
#![forbid(unsafe_code)]

mod accept;
mod connections;
mod handler;
mod listener;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

#[cfg(feature = "tls")]
use crate::iostream::Transport;
use crate::iostream::idle::{Activity, CoarseClock};
use crate::iostream::{IoStream, StreamOptions};
pub use crate::iostream::{Requested, ShutdownSignal};
use crate::metrics;
use crate::netutil::{self, Family, Listener as StdListener};
#[cfg(feature = "proxy")]
use crate::proxy::{ProxyConfig, ProxyReader};
#[cfg(feature = "tls")]
use crate::tls::handshake::Handshaker;
#[cfg(feature = "tls")]
use crate::tls::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HANDSHAKES, TlsConfig, TlsInfo};
use connections::ConnectionSet;
#[doc(hidden)]
pub use handler::HandlerFailure;
pub use handler::{HandlerResult, StreamHandler};
use listener::{Accepted, Listener};

/// Builds a [`TcpServer`] with non-default options.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// # #[cfg(feature = "tls")]
/// use std::time::Duration;
/// # #[cfg(feature = "tls")]
/// use tcpserver::tls::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HANDSHAKES, TlsConfig};
/// use tcpserver::{IoStream, TcpServer};
///
/// async fn handler(_stream: IoStream, _addr: SocketAddr) {}
///
/// # fn main() -> tcpserver::Result<()> {
/// let builder = TcpServer::builder()
///     .max_buffer_size(1 << 20) // default 100 MiB
///     .read_chunk_size(16 * 1024) // default 64 KiB
///     .max_connections(10_000); // default: no limit
///
/// // With the `tls` feature:
/// # #[cfg(feature = "tls")]
/// # let server_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/certs/server.pem");
/// # #[cfg(feature = "tls")]
/// let builder = builder
///     .tls(TlsConfig::from_pem(server_pem)?) // default: plain TCP
///     .handshake_timeout(Duration::from_secs(5)) // default 10 s
///     .max_handshakes(64); // default 256
/// # #[cfg(feature = "tls")]
/// # {
/// assert_eq!(DEFAULT_HANDSHAKE_TIMEOUT, Duration::from_secs(10));
/// assert_eq!(DEFAULT_MAX_HANDSHAKES, 256);
/// # }
///
/// let server = builder.build(handler);
/// # drop(server);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// `None` until set: a [`Launcher`](crate::Launcher) checks the sizes set against each
    /// other, and leaves the defaults to [`StreamOptions`].
    pub(crate) max_buffer_size: Option<usize>,
    pub(crate) read_chunk_size: Option<usize>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) idle_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
    #[cfg(feature = "tls")]
    pub(crate) handshake_timeout: Duration,
    #[cfg(feature = "tls")]
    pub(crate) max_handshakes: Option<usize>,
    #[cfg(feature = "proxy")]
    pub(crate) proxy: Option<ProxyConfig>,
}

// Derivable only without the `tls` feature.
#[allow(clippy::derivable_impls)]
impl Default for Builder {
    fn default() -> Self {
        Builder {
            max_buffer_size: None,
            read_chunk_size: None,
            max_connections: None,
            idle_timeout: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            #[cfg(feature = "tls")]
            max_handshakes: Some(DEFAULT_MAX_HANDSHAKES),
            #[cfg(feature = "proxy")]
            proxy: None,
        }
    }
}

impl Builder {
    /// Tornado's `max_buffer_size` for every connection's stream (default 100 MiB).
    pub fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.max_buffer_size = Some(bytes);
        self
    }

    /// Tornado's `read_chunk_size` (default 64 KiB, at most half of `max_buffer_size`).
    pub fn read_chunk_size(mut self, bytes: usize) -> Self {
        self.read_chunk_size = Some(bytes);
        self
    }

    /// Serve at most `limit` connections at once (default: no limit). At the cap the
    /// server stops accepting; new clients wait in the listen backlog until a connection
    /// closes. `0` means no limit.
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = (limit > 0).then_some(limit);
        self
    }

    /// Close a connection that has neither read nor written for `timeout` (default: never,
    /// as Tornado; `Duration::ZERO` means never). Silent clients, clients that send a byte
    /// now and then and never finish, and clients that stop reading what the server writes
    /// no longer hold a connection forever. Any byte read or written, including part of a
    /// large write, counts as activity; the close happens within 10 ms of the deadline,
    /// with no clock read on the read and write paths (see [`IoStream`]'s `# Timeouts`
    /// for bounding a handler's own waits with `tokio::time::timeout`).
    /// The clock starts when the handler is called (a TLS handshake and a PROXY header
    /// have their own deadlines).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Serve TLS with this configuration (Tornado's `ssl_options`; default: none, plain
    /// TCP). The handshake runs in each connection's own task, before the handler is
    /// called; see [`tls`](crate::tls).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// How long a TLS client has, from the moment it is accepted, to complete its
    /// handshake; then it is closed (default 10 s; Tornado has no such deadline). Ignored
    /// without [`tls`](Builder::tls).
    #[cfg(feature = "tls")]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The most TLS handshakes in progress at once (default 256,
    /// [`DEFAULT_MAX_HANDSHAKES`]; `0` means no cap). A client over the cap waits, under
    /// its deadline, for a handshake to finish. A client takes a slot only once its first
    /// bytes arrive, so silent clients never hold one. Ignored without
    /// [`tls`](Builder::tls).
    #[cfg(feature = "tls")]
    pub fn max_handshakes(mut self, limit: usize) -> Self {
        self.max_handshakes = (limit > 0).then_some(limit);
        self
    }

    /// Require a PROXY protocol header on every connection (default: off); see
    /// [`proxy`](crate::proxy). The handler's `SocketAddr` is then the client's address
    /// from the header.
    #[cfg(feature = "proxy")]
    pub fn proxy_protocol(mut self, config: ProxyConfig) -> Self {
        self.proxy = Some(config);
        self
    }

    /// The buffer limits every stream gets.
    pub(crate) fn stream_options(&self) -> StreamOptions {
        let mut options = StreamOptions::new();
        if let Some(bytes) = self.max_buffer_size {
            options = options.max_buffer_size(bytes);
        }
        if let Some(bytes) = self.read_chunk_size {
            options = options.read_chunk_size(bytes);
        }
        options
    }

    /// Builds the server around `handler`. It listens on nothing yet.
    pub fn build<H: StreamHandler>(self, handler: H) -> TcpServer {
        let handler = Arc::new(handler);
        let serve: ServeFn = Box::new(move |shared, conn, permit| {
            spawn_connection(handler.clone(), shared, conn, permit);
        });
        TcpServer {
            shared: Arc::new(Shared {
                serve,
                stream: self.stream_options(),
                #[cfg(feature = "tls")]
                tls: self
                    .tls
                    .map(|c| Handshaker::new(c, self.handshake_timeout, self.max_handshakes)),
                #[cfg(feature = "proxy")]
                proxy: self.proxy.map(ProxyReader::new),
                max_connections: self.max_connections,
                idle: self.idle_timeout.map(|t| (t, CoarseClock::new())),
                limit: self
                    .max_connections
                    .map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS)))),
                connections: ConnectionSet::default(),
                stopping: CancellationToken::new(),
                listeners: Mutex::new(ListenerSet::default()),
                stopped: AtomicBool::new(false),
                started: AtomicBool::new(false),
                accept_paused: AtomicBool::new(false),
                connection_closed: Notify::new(),
            }),
        }
    }
}

type ServeFn = Box<dyn Fn(&Arc<Shared>, Accepted, Option<OwnedSemaphorePermit>) + Send + Sync>;

/// A TCP (and Unix-socket) server: Tornado's `TCPServer`.
///
/// Cloning gives another handle to the same server.
///
/// # Examples
///
/// Tornado's first start-up pattern, `listen` in a single process:
///
/// ```
/// use std::net::SocketAddr;
/// use tcpserver::{IoStream, TcpServer};
///
/// async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     loop {
///         let line = stream.read_until(b"\n", None).await?;
///         stream.write(&line).await?;
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> tcpserver::Result<()> {
/// let server = TcpServer::new(echo);
/// let addrs = server.listen(0, Some("127.0.0.1"))?;
///
/// let mut client = tcpserver::IoStream::connect(addrs[0]).await?;
/// client.write(b"hello\n").await?;
/// assert_eq!(client.read_until(b"\n", None).await?, b"hello\n");
///
/// server.shutdown(std::time::Duration::from_secs(1)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TcpServer {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    serve: ServeFn,
    stream: StreamOptions,
    /// TLS handshakes, when the server speaks TLS.
    #[cfg(feature = "tls")]
    tls: Option<Handshaker>,
    /// PROXY headers, when the server requires them.
    #[cfg(feature = "proxy")]
    proxy: Option<ProxyReader>,
    max_connections: Option<usize>,
    /// The idle timeout and the coarse clock connections stamp their activity with.
    idle: Option<(Duration, Arc<CoarseClock>)>,
    limit: Option<Arc<Semaphore>>,
    connections: ConnectionSet,
    /// Cancelled by `stop()`: the accept loop ends.
    stopping: CancellationToken,
    listeners: Mutex<ListenerSet>,
    stopped: AtomicBool,
    /// `start()` or `serve()` was called: later `bind()`s are served at once.
    started: AtomicBool,
    /// The accept loop is backing off after `EMFILE` and friends.
    accept_paused: AtomicBool,
    /// Signalled when a connection closes while accepting is paused.
    connection_closed: Notify,
}

#[derive(Default)]
struct ListenerSet {
    active: Vec<Listener>,
    /// Sockets from `bind()` waiting for `start()` / `serve()`.
    pending: Vec<StdListener>,
    /// Where the accept loop resumes its round-robin over `active`.
    next: usize,
    /// The accept loop, to wake when a listener is added.
    waker: Option<Waker>,
    accept_task: bool,
}

impl fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpServer");
        d.field("local_addrs", &self.local_addrs())
            .field("connections", &self.connection_count())
            .field("stopped", &self.shared.stopped.load(Ordering::Relaxed))
            .field("stream_options", &self.shared.stream)
            .field("max_connections", &self.shared.max_connections);
        #[cfg(feature = "tls")]
        d.field("tls", &self.shared.tls.as_ref().map(Handshaker::config));
        d.finish()
    }
}

impl TcpServer {
    /// A server with Tornado's defaults around `handler`.
    pub fn new<H: StreamHandler>(handler: H) -> Self {
        Builder::default().build(handler)
    }

    /// Options beyond the defaults; see [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Binds `port` on `address` (`None`: all interfaces) and starts accepting at once
    /// (Tornado's `listen`). Call it several times to serve several ports. Returns the
    /// bound addresses (with the real port when `port` is 0).
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// let addrs = server.listen(0, Some("localhost"))?;
    /// assert!(addrs.iter().all(|a| a.port() == addrs[0].port()));
    /// # Ok(()) }
    /// ```
    pub fn listen(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        self.listen_with(
            port,
            address,
            Family::Unspec,
            netutil::DEFAULT_BACKLOG,
            false,
        )
    }

    /// [`listen`](TcpServer::listen) with every argument of
    /// [`bind_sockets`](netutil::bind_sockets).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// use tcpserver::netutil::Family;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// server.listen_with(0, None, Family::V4, 1024, false)?;
    /// # Ok(()) }
    /// ```
    pub fn listen_with(
        &self,
        port: u16,
        address: Option<&str>,
        family: Family,
        backlog: u32,
        reuse_port: bool,
    ) -> io::Result<Vec<SocketAddr>> {
        let sockets = netutil::bind_sockets(port, address, family, backlog, reuse_port)?;
        let addrs = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
        self.add_sockets(sockets)?;
        Ok(addrs)
    }

    /// Starts accepting on sockets bound elsewhere, for example by
    /// [`bind_sockets`](netutil::bind_sockets) before
    /// [`fork_processes`](crate::process::fork_processes), or inherited from systemd.
    /// Each socket is made non-blocking here, whatever it was.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// use tcpserver::netutil::{bind_sockets, Family, DEFAULT_BACKLOG};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let sockets = bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, false)?;
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// server.add_sockets(sockets)?;
    /// # Ok(()) }
    /// ```
    pub fn add_sockets<L: Into<StdListener>>(
        &self,
        sockets: impl IntoIterator<Item = L>,
    ) -> io::Result<()> {
        let registered = sockets
            .into_iter()
            .map(|s| Listener::register(s.into()))
            .collect::<io::Result<Vec<_>>>()?;
        let spawn = {
            let mut set = self.lock_listeners();
            for l in registered {
                tracing::debug!("accepting connections on {}", l.describe());
                set.active.push(l);
            }
            if let Some(w) = set.waker.take() {
                w.wake();
            }
            !std::mem::replace(&mut set.accept_task, true)
        };
        if spawn {
            tokio::spawn(accept::accept_loop(self.shared.clone()));
            if let Some((_, clock)) = &self.shared.idle {
                tokio::spawn(clock.ticker());
            }
        }
        Ok(())
    }

    /// [`add_sockets`](TcpServer::add_sockets) for one socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// server.add_socket(socket)?;
    /// # Ok(()) }
    /// ```
    pub fn add_socket(&self, socket: impl Into<StdListener>) -> io::Result<()> {
        self.add_sockets([socket.into()])
    }

    /// Binds `port` on `address` now, to start accepting at [`start`](TcpServer::start)
    /// (Tornado's second start-up pattern, for forking after binding). Bind errors
    /// surface here. Returns the bound addresses.
    ///
    /// # Examples
    ///
    /// Tornado's `bind` + `start`: bind, fork, then serve in each process's own runtime.
    ///
    /// ```no_run
    /// use std::net::SocketAddr;
    /// use tcpserver::{IoStream, TcpServer};
    ///
    /// async fn handler(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    ///     stream.write(b"hello\n").await
    /// }
    ///
    /// fn main() -> std::io::Result<()> {
    ///     let server = TcpServer::new(handler);
    ///     server.bind(8888, None)?;
    ///     server.start(0, None)?; // forks one worker per CPU
    ///     let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    ///     runtime.block_on(server.serve())
    /// }
    /// ```
    pub fn bind(&self, port: u16, address: Option<&str>) -> io::Result<Vec<SocketAddr>> {
        self.bind_with(
            port,
            address,
            Family::Unspec,
            netutil::DEFAULT_BACKLOG,
            false,
        )
    }

    /// [`bind`](TcpServer::bind) with every argument of
    /// [`bind_sockets`](netutil::bind_sockets).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// use tcpserver::netutil::Family;
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// let addrs = server.bind_with(0, Some("127.0.0.1"), Family::V4, 128, false)?;
    /// assert_eq!(server.local_addrs(), addrs);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_with(
        &self,
        port: u16,
        address: Option<&str>,
        family: Family,
        backlog: u32,
        reuse_port: bool,
    ) -> io::Result<Vec<SocketAddr>> {
        let sockets = netutil::bind_sockets(port, address, family, backlog, reuse_port)?;
        let addrs = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
        if self.shared.started.load(Ordering::Acquire) && in_runtime() {
            self.add_sockets(sockets)?;
        } else {
            let mut set = self.lock_listeners();
            set.pending
                .extend(sockets.into_iter().map(StdListener::Tcp));
        }
        Ok(addrs)
    }

    /// Forks `num_processes` workers (0: one per CPU; 1: no fork) and, in each worker,
    /// gets ready to serve the sockets from [`bind`](TcpServer::bind) (Tornado's
    /// `start`). Returns the task id in a worker, `None` without fork; the supervisor
    /// never returns (see [`fork_processes`](crate::process::fork_processes)).
    ///
    /// Call it before building the runtime when forking; then call
    /// [`serve`](TcpServer::serve) inside the runtime. Calling it twice is an error.
    ///
    /// # Examples
    ///
    /// See [`bind`](TcpServer::bind).
    pub fn start(
        &self,
        num_processes: usize,
        max_restarts: Option<usize>,
    ) -> io::Result<Option<usize>> {
        if self.shared.started.swap(true, Ordering::AcqRel) {
            return Err(io::Error::other("TcpServer::start() was already called"));
        }
        let task_id = if num_processes == 1 {
            None
        } else if in_runtime() {
            return Err(io::Error::other(
                "TcpServer::start() cannot fork inside a tokio runtime: \
                 call it before building the runtime",
            ));
        } else {
            Some(crate::process::fork_processes(num_processes, max_restarts)?)
        };
        if in_runtime() {
            self.add_pending()?;
        }
        Ok(task_id)
    }

    /// Serves the sockets from [`bind`](TcpServer::bind) (if not served yet) and waits
    /// until the server is stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// server.bind(0, Some("127.0.0.1"))?;
    /// let stopper = server.clone();
    /// tokio::spawn(async move { stopper.stop() });
    /// server.serve().await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve(&self) -> io::Result<()> {
        self.shared.started.store(true, Ordering::Release);
        self.add_pending()?;
        self.shared.stopping.cancelled().await;
        Ok(())
    }

    fn add_pending(&self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.lock_listeners().pending);
        if pending.is_empty() {
            return Ok(());
        }
        self.add_sockets(pending)
    }

    /// Stops accepting (Tornado's `stop`): the listening sockets are closed at once, so new
    /// connects are refused; connections in progress carry on. Calling it again does
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// server.stop();
    /// server.stop();
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # Ok(()) }
    /// ```
    pub fn stop(&self) {
        if self.shared.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shared.stopping.cancel();
        let mut set = self.lock_listeners();
        // Dropping the listeners closes their descriptors now, not when the accept task
        // next runs, so a connect right after `stop()` is refused.
        set.active.clear();
        if let Some(w) = set.waker.take() {
            w.wake();
        }
    }

    /// Begins a drain, the first half of a rolling update's stop: tells every connection,
    /// present and future, that the server is going away (their [`ShutdownSignal`] fires)
    /// while it goes on accepting. The HTTP server then answers each request in progress
    /// with `Connection: close` and closes idle keep-alive connections; a connection
    /// accepted during the drain is served one request, then closed. Call
    /// [`shutdown`](TcpServer::shutdown) when the load balancer has stopped sending new
    /// clients. Calling it again does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// let addr = server.listen(0, Some("127.0.0.1"))?[0];
    /// server.drain();
    /// // Still accepting while the load balancer takes this server out of rotation.
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    /// server.shutdown(Duration::from_secs(30)).await;
    /// # Ok(()) }
    /// ```
    pub fn drain(&self) {
        self.shared.connections.request_shutdown();
    }

    /// Graceful shutdown: [`stop`](TcpServer::stop) accepting, tell every connection (see
    /// [`ShutdownSignal`]), wait up to `timeout` for the connections in progress to finish,
    /// then close those still open. Returns true if every connection finished on its own.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// server.listen(0, Some("127.0.0.1"))?;
    /// assert!(server.shutdown(Duration::from_secs(30)).await);
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.stop();
        let connections = &self.shared.connections;
        connections.request_shutdown();
        if tokio::time::timeout(timeout, connections.wait_empty())
            .await
            .is_ok()
        {
            return true;
        }
        let left = connections.len();
        tracing::info!("shutdown deadline reached; closing {left} connection(s)");
        connections.abort_all();
        connections.wait_empty().await;
        false
    }

    /// The local addresses of the TCP sockets being served (with their real ports).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// server.listen(0, Some("127.0.0.1"))?;
    /// assert_eq!(server.local_addrs().len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        let set = self.lock_listeners();
        let active = set.active.iter().filter_map(Listener::tcp_addr);
        let pending = set.pending.iter().filter_map(|l| match l {
            StdListener::Tcp(t) => t.local_addr().ok(),
            StdListener::Unix(_) => None,
        });
        active.chain(pending).collect()
    }

    /// How many connections are being served now.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.len()
    }

    /// True once [`stop`](TcpServer::stop) (or [`shutdown`](TcpServer::shutdown)) was called.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    /// The TLS configuration, if the server speaks TLS.
    #[cfg(feature = "tls")]
    pub fn tls_config(&self) -> Option<&TlsConfig> {
        self.shared.tls.as_ref().map(Handshaker::config)
    }

    /// Reads the TLS certificate files again ([`TlsConfig::reload`]) and logs the outcome:
    /// new connections get the new certificates, open ones keep theirs; if a file is
    /// broken, the error is logged (at warning level) and returned, and the certificates
    /// in use stay. A [`Launcher`](crate::Launcher) binary calls this on SIGHUP.
    ///
    /// # Errors
    ///
    /// The file's error, or an error of kind [`Config`](crate::ErrorKind::Config) if the
    /// server has no TLS configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// let server = tcpserver::TcpServer::new(|_s: tcpserver::IoStream, _a: SocketAddr| async {});
    /// assert!(server.reload_tls().is_err()); // no TLS here
    /// ```
    #[cfg(feature = "tls")]
    pub fn reload_tls(&self) -> crate::error::Result<()> {
        let Some(tls) = self.tls_config() else {
            return Err(crate::error::Error::new(crate::error::ErrorKind::Config)
                .with_message("this server has no TLS configuration to reload"));
        };
        match tls.reload() {
            Ok(()) => {
                tracing::info!("reloaded TLS certificates {}", tls.describe_files());
                Ok(())
            }
            Err(e) => {
                tracing::warn!("TLS reload failed; keeping the certificates in use: {e}");
                Err(e)
            }
        }
    }

    fn lock_listeners(&self) -> std::sync::MutexGuard<'_, ListenerSet> {
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Shared {
    /// Backs off after a resource error, waking early when a connection closes (which
    /// frees a descriptor) or the server stops.
    async fn pause_accepting(&self, wait: Duration) {
        self.accept_paused.store(true, Ordering::Release);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = self.connection_closed.notified() => {}
            () = self.stopping.cancelled() => {}
        }
        self.accept_paused.store(false, Ordering::Release);
    }

    /// True if a connection reads a PROXY header or makes a TLS handshake before its
    /// handler runs.
    fn opens_with_handshake(&self) -> bool {
        #[cfg(feature = "proxy")]
        if self.proxy.is_some() {
            return true;
        }
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return true;
        }
        false
    }
}

/// Lives as long as a connection task (even one aborted before it first ran): releases
/// the connection's slot and wakes a paused accept loop.
struct ConnectionGuard {
    shared: Arc<Shared>,
    id: u64,
    _permit: Option<OwnedSemaphorePermit>,
    /// Why the connection ended, for the metrics: until the task says otherwise, the
    /// shutdown deadline aborted it (or it ended before its handler: refused).
    closed: metrics::ConnectionEnd,
    /// With an idle timeout, once the handler runs: its watchdog, which ends with it.
    watchdog: Option<(Arc<Activity>, tokio::task::AbortHandle)>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some((activity, watchdog)) = self.watchdog.take() {
            watchdog.abort();
            if activity.timed_out() {
                self.closed = metrics::ConnectionEnd::Timeout;
            }
        }
        metrics::closed(self.closed);
        self.shared.connections.remove(self.id);
        if self.shared.accept_paused.load(Ordering::Acquire) {
            self.shared.connection_closed.notify_waiters();
        }
    }
}

fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// After a drain or shutdown begins, how long a TLS handshake or a PROXY header already
/// under way (or an HTTP connection's first request) may still take to arrive, within its
/// own deadline: ample for a real client, short enough that a silent one does not hold the
/// shutdown.
#[cfg(any(feature = "tls", feature = "proxy", feature = "http"))]
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Completes [`SHUTDOWN_GRACE`] after `shutdown` is requested.
#[cfg(any(feature = "tls", feature = "proxy"))]
async fn after_grace(shutdown: &ShutdownSignal) {
    shutdown.requested().await;
    tokio::time::sleep(SHUTDOWN_GRACE).await;
}

const UNIX_PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

fn spawn_connection<H: StreamHandler>(
    handler: Arc<H>,
    shared: &Arc<Shared>,
    conn: Accepted,
    permit: Option<OwnedSemaphorePermit>,
) {
    let (id, shutdown) = shared.connections.register();
    metrics::add(metrics::ACCEPTED, 1);
    metrics::gauge_add(metrics::ACTIVE, 1);
    let mut guard = ConnectionGuard {
        shared: shared.clone(),
        id,
        _permit: permit,
        closed: metrics::ConnectionEnd::Shutdown,
        watchdog: None,
    };
    // With an idle timeout, the connection's activity, and where its watchdog finds the
    // task to abort.
    let activity = shared
        .idle
        .as_ref()
        .map(|(timeout, clock)| (*timeout, Activity::new(clock.clone())));
    let opening: Opening = if shared.opens_with_handshake() {
        Box::pin(open_with_handshake(guard, conn, shutdown, activity.clone()))
    } else {
        // Nothing to wait for: the stream is ready now.
        let Accepted { transport, peer } = conn;
        let mut stream = IoStream::from_transport(transport, shared.stream, peer);
        let addr = peer.unwrap_or(UNIX_PEER);
        watch_stream(&mut guard, &mut stream, addr, shutdown, activity.clone());
        Box::pin(std::future::ready(Some((guard, stream, addr))))
    };
    let task = tokio::spawn(serve_connection(handler, opening));
    if let Some((_, activity)) = &activity {
        activity.set_connection(task.abort_handle());
    }
    shared.connections.attach(id, task.abort_handle());
}

/// Reads the connection's PROXY header and runs its TLS handshake (whichever the server
/// has), then makes its stream; `None` if either failed, or the server shut down first.
///
/// Both run in the connection's task, never in the accept loop; the handler only ever sees
/// a stream whose handshake succeeded. A drain or a graceful shutdown gives a handshake in
/// progress (and a PROXY header) a grace to finish: that client's connection was accepted
/// and is served like any other (an upgrade's old process, or a drain, would otherwise
/// reset it), while a silent client does not hold the shutdown until its deadline.
async fn open_with_handshake(
    mut guard: ConnectionGuard,
    conn: Accepted,
    shutdown: ShutdownSignal,
    activity: Option<(Duration, Arc<Activity>)>,
) -> Option<(ConnectionGuard, IoStream, SocketAddr)> {
    // Anything that ends the connection before its handler runs refused it.
    guard.closed = metrics::ConnectionEnd::Refused;
    let shared = &*guard.shared;
    let options = shared.stream;
    #[cfg_attr(not(feature = "proxy"), allow(unused_mut))]
    let Accepted {
        mut transport,
        peer,
    } = conn;
    // With the PROXY protocol: the header's client, what it said, and the bytes read
    // after it (for the TLS handshake or the handler).
    #[cfg(feature = "proxy")]
    let (peer, proxy_header, early) = match &shared.proxy {
        None => (peer, None, Vec::new()),
        Some(proxy) => {
            let read = tokio::select! {
                read = proxy.accept(&mut transport, peer) => read,
                () = after_grace(&shutdown) => None,
            };
            let (mut header, early) = read?;
            if header.is_local() {
                // Only a header without addresses needs the socket's own (a syscall).
                header.set_socket_local(transport.tcp().and_then(|t| t.local_addr().ok()));
            }
            (header.client(), Some(header), early)
        }
    };
    #[cfg(not(feature = "proxy"))]
    let early: Vec<u8> = Vec::new();
    let addr = peer.unwrap_or(UNIX_PEER);
    #[cfg(not(feature = "tls"))]
    let mut stream = IoStream::from_transport(transport, options, peer).with_unread(&early);
    #[cfg(feature = "tls")]
    let mut stream = match &shared.tls {
        None => IoStream::from_transport(transport, options, peer).with_unread(&early),
        Some(tls) => {
            let handshake = tokio::select! {
                done = tls_handshake(tls, transport, &early, peer) => done,
                () = after_grace(&shutdown) => {
                    tracing::debug!("closing {addr} mid-handshake: the server is shutting down");
                    None
                }
            };
            let (transport, info) = handshake?;
            IoStream::from_transport(transport, options, peer).with_tls_info(info)
        }
    };
    #[cfg(feature = "proxy")]
    if let Some(header) = proxy_header {
        stream.set_proxy_header(header);
    }
    watch_stream(&mut guard, &mut stream, addr, shutdown, activity);
    Some((guard, stream, addr))
}

/// Gives a connection's stream its shutdown signal and, with an idle timeout, its
/// activity stamp and a watchdog task of its own that aborts the connection's task when
/// the stream has been idle that long: polled only when its timer fires, it costs the
/// handler's reads and writes nothing but their stamps.
fn watch_stream(
    guard: &mut ConnectionGuard,
    stream: &mut IoStream,
    addr: SocketAddr,
    shutdown: ShutdownSignal,
    activity: Option<(Duration, Arc<Activity>)>,
) {
    stream.set_shutdown_signal(shutdown);
    if let Some((timeout, activity)) = activity {
        activity.touch();
        stream.set_activity(activity.clone());
        let watchdog = tokio::spawn(activity.clone().watch(timeout, addr));
        guard.watchdog = Some((activity, watchdog.abort_handle()));
    }
}

/// A connection's stream once it is open (its PROXY header read, its TLS handshake done),
/// with its guard and peer address; `None` if it never opened.
///
/// Boxed, and freed once the handler starts: the connection's task then holds the handler's
/// future and little else. Passed into the task any other way (a capture of its `async`
/// block, an argument of an `async fn`), the stream and the set-up's state would keep
/// storage of their own beside the handler's future for the connection's whole life
/// (rustc never overlaps an `async` block's captures, nor a moved-from local still in
/// scope, with a later future): an idle echo connection's task cell was 1,280 bytes for a
/// 384-byte handler future, and is 640.
type Opening =
    Pin<Box<dyn Future<Output = Option<(ConnectionGuard, IoStream, SocketAddr)>> + Send>>;

/// The connection's task: waits for the stream to open, runs the handler on it, and
/// records how the connection ended when the guard drops. A function returning an `async
/// move` block, which holds each argument once (an `async fn` holds two copies,
/// rust-lang/rust#62958).
#[allow(clippy::manual_async_fn)]
fn serve_connection<H: StreamHandler>(
    handler: Arc<H>,
    opening: Opening,
) -> impl Future<Output = ()> + Send {
    async move {
        // In a block: `stream` keeps no slot of its own beside the handler's future.
        let (mut guard, work, addr) = {
            let Some((guard, stream, addr)) = opening.await else {
                return;
            };
            let work = CatchUnwind {
                inner: AssertUnwindSafe(handler.handle_stream(stream, addr)),
            };
            (guard, work, addr)
        };
        // The deadline's abort drops the task in the middle of the handler: shutdown.
        guard.closed = metrics::ConnectionEnd::Shutdown;
        guard.closed = match work.await {
            Ok(result) => match result.into_failure() {
                Some(failure) => {
                    failure.log(addr);
                    failure.reason
                }
                None => metrics::ConnectionEnd::HandlerReturned,
            },
            Err(panic) => {
                let message = panic_message(&*panic);
                tracing::error!("connection handler for {addr} panicked: {message}");
                metrics::ConnectionEnd::HandlerPanic
            }
        };
        drop(guard);
    }
}

#[cfg(feature = "tls")]
/// Runs the TLS handshake of a fresh plain connection (see [`Handshaker::accept`]); `None`
/// if it failed, which `accept` has logged.
async fn tls_handshake(
    tls: &Handshaker,
    transport: Transport,
    early: &[u8],
    peer: Option<SocketAddr>,
) -> Option<(Transport, TlsInfo)> {
    match transport {
        Transport::Tcp(tcp) => {
            let (tls, info) = tls.accept(tcp, early, peer).await?;
            Some((Transport::Tls(Box::new(tls)), info))
        }
        Transport::Unix(unix) => {
            let (tls, info) = tls.accept(unix, early, peer).await?;
            Some((Transport::TlsUnix(Box::new(tls)), info))
        }
        Transport::Tls(_) | Transport::TlsUnix(_) | Transport::TlsClient(_) | Transport::Closed => {
            unreachable!("a connection fresh from accept is a plain socket")
        }
    }
}

pin_project_lite::pin_project! {
    /// Turns a panic while polling `inner` into an `Err`, so that one connection's panic
    /// is logged with its peer address and never reaches the runtime.
    struct CatchUnwind<F> {
        #[pin]
        inner: F,
    }
}

impl<F: std::future::Future + std::panic::UnwindSafe> std::future::Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.project().inner;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}
