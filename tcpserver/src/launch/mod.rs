//! The whole `main` of a server binary, as a builder: what `#[tcp_server(...)]` expands to.
//!
//! [`Launcher::run`] does, in order: parse command-line overrides (`--port 0`,
//! `--processes 2`, ... ; `--help` lists them with their compiled-in defaults); install
//! logging (`RUST_LOG`, default `info`, to stderr); bind the listening sockets and log one
//! `listening on ADDR` line for each; fork the workers when `processes != 1`; build one
//! tokio runtime per process, after the fork; serve; and on SIGTERM or SIGINT stop
//! accepting, let connections finish for up to `shutdown_timeout`, and exit 0. A second
//! signal exits at once. SIGHUP reloads the TLS certificate files (new connections get the
//! new certificates; a broken file is logged and the old certificates stay).
//!
//! A start-up failure prints one line naming the cause and exits with status 1; a bad
//! flag exits with status 2.
#![forbid(unsafe_code)]

mod cli;
mod http;
mod logging;
mod signals;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::iostream::{DEFAULT_MAX_BUFFER_SIZE, DEFAULT_READ_CHUNK_SIZE};
use crate::netutil::{self, Family};
use crate::tcpserver::{Builder as ServerBuilder, StreamHandler, TcpServer};
use crate::tls::{ClientAuth, TlsConfig};
pub(crate) use cli::{format_duration, format_size, parse_duration, parse_size};
use signals::{ReloadSignal, StopSignals};

/// Default of [`Launcher::shutdown_timeout`]: 30 seconds.
///
/// # Examples
///
/// ```
/// assert_eq!(tcpserver::launch::DEFAULT_SHUTDOWN_TIMEOUT.as_secs(), 30);
/// ```
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

pub use crate::process::DEFAULT_MAX_RESTARTS;

/// Which tokio runtime each server process runs.
///
/// # Examples
///
/// ```
/// use tcpserver::launch::RuntimeFlavor;
/// assert_eq!(RuntimeFlavor::CurrentThread.as_str(), "current-thread");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFlavor {
    /// One thread per CPU (or [`Launcher::worker_threads`]); the default for one process.
    MultiThread,
    /// Everything on the process's main thread; the default for forked workers, as in
    /// Tornado (one event loop per process).
    CurrentThread,
}

impl RuntimeFlavor {
    /// The flag spelling: `multi-thread` or `current-thread`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tcpserver::launch::RuntimeFlavor::MultiThread.as_str(), "multi-thread");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeFlavor::MultiThread => "multi-thread",
            RuntimeFlavor::CurrentThread => "current-thread",
        }
    }
}

/// Certificate files named by the configuration; loaded and checked at start-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFiles {
    pub(crate) pem: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) client_ca: Option<PathBuf>,
}

impl TlsFiles {
    pub(crate) fn is_configured(&self) -> bool {
        self.pem.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// Reads and checks the files (`None` without TLS). Run before forking, so that a bad
    /// certificate is one start-up error, not one per worker.
    fn load(&self) -> Result<Option<TlsConfig>, StartupError> {
        let builder = match (&self.pem, &self.cert, &self.key) {
            (Some(pem), _, _) => TlsConfig::builder().pem(pem),
            (None, Some(cert), Some(key)) => TlsConfig::builder().cert_key(cert, key),
            _ => return Ok(None),
        };
        let builder = match &self.client_ca {
            Some(ca) => builder.client_ca(ca, ClientAuth::Required),
            None => builder,
        };
        Ok(Some(builder.build()?))
    }
}

/// Configures and runs a whole server binary; see the [module documentation](self).
///
/// Every setter sets a compiled-in default that the matching `--kebab-case` flag
/// overrides at run time.
///
/// # Examples
///
/// The runtime-API equivalent of `#[tcp_server(port = 8888, processes = 0)]`:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use std::process::ExitCode;
/// use tcpserver::{IoStream, Launcher};
///
/// async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     loop {
///         let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
///         stream.write(&line).await?;
///     }
/// }
///
/// fn main() -> ExitCode {
///     Launcher::new(8888).processes(0).run(echo)
/// }
/// ```
pub struct Launcher {
    pub(crate) name: String,
    pub(crate) about: String,
    pub(crate) port: u16,
    pub(crate) address: Option<String>,
    pub(crate) family: Family,
    pub(crate) backlog: u32,
    pub(crate) reuse_port: bool,
    pub(crate) processes: usize,
    pub(crate) max_restarts: usize,
    pub(crate) tls: TlsFiles,
    pub(crate) max_buffer_size: usize,
    pub(crate) read_chunk_size: usize,
    pub(crate) max_connections: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) runtime: Option<RuntimeFlavor>,
    pub(crate) worker_threads: Option<usize>,
    args: Option<Vec<OsString>>,
    /// Flags of a protocol layered on top (the HTTP server's options).
    pub(crate) extra_args: Vec<clap::Arg>,
    pub(crate) extra_matches: Option<clap::ArgMatches>,
}

impl fmt::Debug for Launcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Launcher")
            .field("name", &self.name)
            .field("port", &self.port)
            .field("address", &self.address)
            .field("family", &self.family)
            .field("backlog", &self.backlog)
            .field("reuse_port", &self.reuse_port)
            .field("processes", &self.processes)
            .field("max_restarts", &self.max_restarts)
            .field("tls", &self.tls)
            .field("max_buffer_size", &self.max_buffer_size)
            .field("read_chunk_size", &self.read_chunk_size)
            .field("max_connections", &self.max_connections)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("runtime", &self.runtime)
            .field("worker_threads", &self.worker_threads)
            .finish_non_exhaustive()
    }
}

impl Launcher {
    /// A launcher for a server on `port` with every other setting at its default
    /// (Tornado's where Tornado has one).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888);
    /// ```
    pub fn new(port: u16) -> Self {
        Launcher {
            name: default_program_name(),
            about: String::new(),
            port,
            address: None,
            family: Family::Unspec,
            backlog: netutil::DEFAULT_BACKLOG,
            reuse_port: false,
            processes: 1,
            max_restarts: DEFAULT_MAX_RESTARTS,
            tls: TlsFiles::default(),
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            read_chunk_size: DEFAULT_READ_CHUNK_SIZE,
            max_connections: 0,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            runtime: None,
            worker_threads: None,
            args: None,
            extra_args: Vec::new(),
            extra_matches: None,
        }
    }

    /// The program name used in `--help` and in error messages (default: the binary's
    /// file name).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).name("echo");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// One line describing the server, shown by `--help`.
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).about("A line echo server");
    /// ```
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = about.into();
        self
    }

    /// The port to listen on (`--port`); 0 picks a free one, logged at start-up.
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).port(0);
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The address or host name to bind (`--address`; default all interfaces).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).address("127.0.0.1");
    /// ```
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into()).filter(|a: &String| !a.is_empty());
        self
    }

    /// The address families to bind (`--family`; default both).
    ///
    /// # Examples
    ///
    /// ```
    /// use tcpserver::netutil::Family;
    /// let launcher = tcpserver::Launcher::new(8888).family(Family::V4);
    /// ```
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }

    /// The listen backlog (`--backlog`; default 128).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).backlog(1024);
    /// ```
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Sets `SO_REUSEPORT` (`--reuse-port`; default false). With several processes, each
    /// worker then binds its own socket and the kernel balances connections between them.
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).processes(4).reuse_port(true);
    /// ```
    pub fn reuse_port(mut self, reuse_port: bool) -> Self {
        self.reuse_port = reuse_port;
        self
    }

    /// How many worker processes to fork (`--processes`; default 1, no fork; 0 means one
    /// per CPU available to the process).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).processes(0);
    /// ```
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = processes;
        self
    }

    /// How many worker crashes the supervisor tolerates in total (`--max-restarts`;
    /// default 100).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).processes(0).max_restarts(10);
    /// ```
    pub fn max_restarts(mut self, max_restarts: usize) -> Self {
        self.max_restarts = max_restarts;
        self
    }

    /// Serve TLS with one PEM file holding the certificate chain and the private key
    /// (`--tls`).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8443).tls("certs/server.pem");
    /// ```
    pub fn tls(mut self, pem: impl Into<PathBuf>) -> Self {
        self.tls.pem = Some(pem.into());
        self.tls.cert = None;
        self.tls.key = None;
        self
    }

    /// Serve TLS with separate certificate-chain and key files (`--tls-cert`,
    /// `--tls-key`).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8443).tls_cert_key("cert.pem", "key.pem");
    /// ```
    pub fn tls_cert_key(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls.pem = None;
        self.tls.cert = Some(cert.into());
        self.tls.key = Some(key.into());
        self
    }

    /// Require client certificates signed by the CAs in this PEM file
    /// (`--tls-client-ca`).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8443).tls("server.pem").tls_client_ca("ca.pem");
    /// ```
    pub fn tls_client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.tls.client_ca = Some(ca.into());
        self
    }

    /// Tornado's `max_buffer_size` per connection (`--max-buffer-size`; default 100 MiB).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).max_buffer_size(1 << 20);
    /// ```
    pub fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.max_buffer_size = bytes;
        self
    }

    /// Tornado's `read_chunk_size` (`--read-chunk-size`; default 64 KiB).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).read_chunk_size(16 * 1024);
    /// ```
    pub fn read_chunk_size(mut self, bytes: usize) -> Self {
        self.read_chunk_size = bytes;
        self
    }

    /// The most connections each process serves at once (`--max-connections`; default 0,
    /// no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).max_connections(10_000);
    /// ```
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = limit;
        self
    }

    /// How long connections may take to finish after SIGTERM/SIGINT before they are
    /// closed (`--shutdown-timeout`; default 30 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let launcher = tcpserver::Launcher::new(8888).shutdown_timeout(Duration::from_secs(5));
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The runtime of each process (`--runtime`; default multi-thread for one process,
    /// current-thread per forked worker).
    ///
    /// # Examples
    ///
    /// ```
    /// use tcpserver::launch::RuntimeFlavor;
    /// let launcher = tcpserver::Launcher::new(8888).runtime(RuntimeFlavor::CurrentThread);
    /// ```
    pub fn runtime(mut self, flavor: RuntimeFlavor) -> Self {
        self.runtime = Some(flavor);
        self
    }

    /// Threads of a multi-thread runtime (`--worker-threads`; default one per CPU). Given
    /// with several processes, each worker runs a multi-thread runtime of this many threads
    /// instead of a current-thread one.
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).worker_threads(4);
    /// ```
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = Some(threads);
        self
    }

    /// Parse these arguments (program name first) instead of the process's own.
    ///
    /// # Examples
    ///
    /// ```
    /// let launcher = tcpserver::Launcher::new(8888).args(["echo", "--port", "0"]);
    /// ```
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Runs the server binary with `handler` serving every connection, and returns the
    /// process's exit status. See the [module documentation](self) for what happens.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::net::SocketAddr;
    /// use tcpserver::{IoStream, Launcher};
    ///
    /// async fn hello(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    ///     stream.write(b"hello\n").await
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     Launcher::new(8888).name("hello").run(hello)
    /// }
    /// ```
    pub fn run<H: StreamHandler>(self, handler: H) -> ExitCode {
        self.run_server(move |builder, _| builder.build(handler))
    }

    /// Runs a server built by `make` from the launcher's server options and the launcher
    /// itself, its command line parsed (the HTTP server layers its own handler and flags
    /// this way).
    pub(crate) fn run_server(
        mut self,
        make: impl FnOnce(ServerBuilder, &Launcher) -> TcpServer,
    ) -> ExitCode {
        let args = self
            .args
            .take()
            .unwrap_or_else(|| std::env::args_os().collect());
        if let Err(e) = cli::apply_args(&mut self, args) {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
        logging::init();
        match self.launch(make) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{}: error: {e}", self.name);
                ExitCode::from(1)
            }
        }
    }

    fn validate(&self) -> Result<(), StartupError> {
        if self.worker_threads.is_some() && self.runtime == Some(RuntimeFlavor::CurrentThread) {
            return Err(StartupError::new(
                "--worker-threads needs the multi-thread runtime (--runtime multi-thread)",
            ));
        }
        if self.tls.pem.is_some() && (self.tls.cert.is_some() || self.tls.key.is_some()) {
            return Err(StartupError::new(
                "give either --tls PEM or --tls-cert FILE --tls-key FILE, not both",
            ));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(StartupError::new(
                "--tls-cert and --tls-key must be given together",
            ));
        }
        if self.tls.client_ca.is_some() && !self.tls.is_configured() {
            return Err(StartupError::new(
                "--tls-client-ca needs a server certificate (--tls or --tls-cert/--tls-key)",
            ));
        }
        Ok(())
    }

    fn server_builder(&self, tls: Option<TlsConfig>) -> ServerBuilder {
        let builder = TcpServer::builder()
            .max_buffer_size(self.max_buffer_size)
            .read_chunk_size(self.read_chunk_size)
            .max_connections(self.max_connections);
        match tls {
            Some(tls) => builder.tls(tls),
            None => builder,
        }
    }

    fn launch(
        &self,
        make: impl FnOnce(ServerBuilder, &Launcher) -> TcpServer,
    ) -> Result<ExitCode, StartupError> {
        self.validate()?;
        // Read and checked before forking: a bad certificate is one start-up error, and
        // every worker starts from the same files.
        let tls = self.tls.load()?;
        let forked = self.processes != 1;
        // With reuse-port workers each bind their own listening socket; the supervisor
        // only holds the port. Otherwise every worker shares the supervisor's sockets.
        let per_worker_sockets = forked && self.reuse_port;
        let address = self.address.as_deref();
        let sockets = if per_worker_sockets {
            netutil::reserve_reuse_port_sockets(self.port, address, self.family)?
        } else {
            netutil::bind_sockets(
                self.port,
                address,
                self.family,
                self.backlog,
                self.reuse_port,
            )?
        };
        for socket in &sockets {
            tracing::info!("listening on {}", socket.local_addr()?);
        }
        let task_id = if forked {
            match self.supervise()? {
                Ok(task_id) => Some(task_id),
                Err(exit) => return Ok(exit),
            }
        } else {
            None
        };
        let sockets = if per_worker_sockets {
            let port = sockets[0].local_addr()?.port();
            netutil::bind_sockets(port, address, self.family, self.backlog, true)?
        } else {
            sockets
        };
        if let Some(id) = task_id {
            tracing::debug!("worker {id} (pid {}) serving", std::process::id());
            // A worker forked after a SIGHUP reload (a restart) would otherwise serve the
            // certificates the supervisor read at start-up; read the files again.
            if let Some(Err(e)) = tls.as_ref().map(TlsConfig::reload) {
                tracing::warn!(
                    "worker {id}: cannot read the TLS certificate files; serving those read at start-up: {e}"
                );
            }
        }
        let runtime = self.build_runtime(forked)?;
        let server = make(self.server_builder(tls), self);
        runtime.block_on(self.serve(server, sockets))
    }

    /// Forks the workers and, in the supervisor, supervises them. Returns the task id in
    /// a worker, or the supervisor's exit status once supervision is over.
    fn supervise(&self) -> io::Result<Result<usize, ExitCode>> {
        use crate::process::{Outcome, Started, Supervisor};
        // Workers get the shutdown timeout plus a margin before the supervisor kills them.
        let supervisor = Supervisor::new(self.processes)
            .max_restarts(self.max_restarts)
            .stop_timeout(self.shutdown_timeout + Duration::from_secs(5));
        let outcome = match supervisor.start()? {
            Started::Worker(id) => Outcome::Worker(id),
            Started::Supervisor(supervision) => supervision.run()?,
        };
        Ok(match outcome {
            Outcome::Worker(id) => Ok(id),
            Outcome::Exit(code) => Err(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        })
    }

    fn build_runtime(&self, forked: bool) -> io::Result<tokio::runtime::Runtime> {
        // Explicit worker threads ask for a multi-thread runtime, in forked workers too.
        let flavor = self
            .runtime
            .unwrap_or(if forked && self.worker_threads.is_none() {
                RuntimeFlavor::CurrentThread
            } else {
                RuntimeFlavor::MultiThread
            });
        let mut builder = match flavor {
            RuntimeFlavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
            RuntimeFlavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        };
        if let (RuntimeFlavor::MultiThread, Some(n)) = (flavor, self.worker_threads) {
            builder.worker_threads(n);
        }
        builder.enable_all().build()
    }

    async fn serve(
        &self,
        server: TcpServer,
        sockets: Vec<std::net::TcpListener>,
    ) -> Result<ExitCode, StartupError> {
        // Installed before accepting, so that a SIGTERM right after start-up is graceful.
        let mut signals = StopSignals::install()?;
        let mut reload = ReloadSignal::install()?;
        server.add_sockets(sockets)?;
        let signal = loop {
            tokio::select! {
                signal = signals.recv() => break signal,
                () = reload.recv() => reload_tls(&server).await,
            }
        };
        tracing::info!(
            "received {}; shutting down (in-flight connections: {}, timeout {})",
            signal.name(),
            server.connection_count(),
            format_duration(self.shutdown_timeout)
        );
        let shutdown = server.shutdown(self.shutdown_timeout);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                clean = &mut shutdown => {
                    if clean {
                        tracing::info!("shutdown complete");
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                // A second SIGINT (an impatient Ctrl-C) exits at once. Repeated SIGTERMs
                // are not escalations: a supervisor forwards SIGTERM to workers that may
                // already have the terminal's SIGINT.
                again = signals.recv() => {
                    if again == signals::StopSignal::Interrupt {
                        tracing::warn!("received SIGINT again; exiting now");
                        std::process::exit(again.exit_status());
                    }
                }
            }
        }
    }
}

/// SIGHUP: reads the certificate files again; `reload_tls` logs the outcome.
async fn reload_tls(server: &TcpServer) {
    if server.tls_config().is_none() {
        tracing::info!("received SIGHUP; no TLS certificates to reload");
        return;
    }
    tracing::info!("received SIGHUP; reloading TLS certificates");
    let server = server.clone();
    // Reading files and parsing keys blocks: keep it off the threads serving connections.
    let _ = tokio::task::spawn_blocking(move || server.reload_tls()).await;
}

fn default_program_name() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "server".to_owned())
}

/// A start-up failure: printed as one line, exit status 1.
#[derive(Debug)]
pub(crate) struct StartupError(String);

impl StartupError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        StartupError(message.into())
    }
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<crate::error::Error> for StartupError {
    fn from(e: crate::error::Error) -> Self {
        StartupError(e.to_string())
    }
}

impl From<io::Error> for StartupError {
    fn from(e: io::Error) -> Self {
        StartupError(e.to_string())
    }
}
