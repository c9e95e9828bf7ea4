//! The whole `main` of a server binary, as a builder: what `#[tcp_server(...)]` expands to.
//!
//! [`Launcher::run`] does, in order: parse command-line overrides (`--port 0`,
//! `--processes 2`, ... ; `--help` lists them with their compiled-in defaults); install
//! logging (`RUST_LOG`, default `info`, to stderr); bind the listening sockets, or take
//! those a service manager passed (systemd socket activation: `LISTEN_FDS`, which win over
//! the bind options, with a log line saying so), and log one `listening on ADDR` line for
//! each; bind the admin listener if one is configured (`--admin-address`: health and
//! metrics, see [`metrics`](crate::metrics)); fork the workers when `processes != 1`; build one
//! tokio runtime per process, after the fork; serve; and on SIGTERM or SIGINT stop
//! accepting, let connections finish for up to `shutdown_timeout`, and exit 0. A second
//! signal exits at once. SIGHUP reloads the TLS certificate files (new connections get the
//! new certificates; a broken file is logged and the old certificates stay).
//!
//! SIGUSR2 upgrades the binary in place (nginx's convention): the main process starts the
//! binary at the path it was started from (so a file replaced there is the new version),
//! with the same arguments, handing it every listening socket (the admin listener's too)
//! as socket activation does. The new process binds nothing, forks its workers, and says
//! when it serves; only then does the old one stop accepting, let its connections finish
//! within `shutdown_timeout` (no drain delay: the new process already accepts), and exit
//! 0. No listening socket is ever closed, so no client is refused. A new binary that exits
//! or does not serve within `upgrade_timeout` (default 30 s) is killed, and the old one
//! serves on; a SIGUSR2 during an upgrade is ignored with a log line. With `pid_file`, the
//! file names the process that serves. Under systemd, the old process sends `MAINPID=`
//! with the new pid.
//!
//! A start-up failure prints one line, the error and its causes (`NAME: error: what
//! failed: why`), and exits with status 1; a bad flag exits with status 2.
#![forbid(unsafe_code)]

mod admin;
#[cfg(feature = "args")]
mod args;
mod cli;
#[cfg(feature = "codec")]
mod codec;
mod groups;
#[cfg(feature = "http")]
mod http;
mod logging;
mod notify;
mod signals;
mod state;
mod upgrade;

use std::cell::RefCell;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use tcpserver_options::keys::{self, Group, Id, Key};
use tcpserver_options::rules::{self, Style};
use tcpserver_options::units::format_duration;
use tcpserver_options::value::Value;

use crate::error::Chain;
use crate::netutil::{self, Listener};
use crate::process::upgrade::{Progress, Successor, UpgradeSpec};
use crate::tcpserver::{Builder as ServerBuilder, StreamHandler, TcpServer};
use groups::{Admin, Bind, OptionGroup, Process, Setting};
pub use groups::{DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_UPGRADE_TIMEOUT, RuntimeFlavor};
#[cfg(feature = "tls")]
use groups::{IDENTITY, TlsFiles};
use notify::Notifier;
use signals::{Request, StopSignals};
use upgrade::Socket;

pub use crate::process::DEFAULT_MAX_RESTARTS;
#[cfg(feature = "args")]
pub use state::ArgsInit;
pub use state::{StateInit, WithState};

/// What a process runs once its connections are done (the state's shutdown hook).
type AfterServe = Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>;

/// Configures and runs a whole server binary; see the [module documentation](self).
///
/// Every setter sets a compiled-in default that the matching `--kebab-case` flag, or its
/// environment variable (`TCPSERVER_` and the flag in upper snake case: `--max-connections`
/// is `TCPSERVER_MAX_CONNECTIONS`), overrides at run time: a flag wins over the
/// environment, which wins over the setter. Each setter's documentation names its flag
/// and its default.
/// The setters come in groups: where to listen (`port`, `address`, `family`, `backlog`,
/// `reuse_port`, `unix`, `unix_mode`; [`new_unix`](Self::new_unix) for a Unix socket
/// alone), the server and its streams (`max_buffer_size`, `read_chunk_size`,
/// `max_connections`, `idle_timeout`, `handshake_timeout`, `max_handshakes`), TLS (`tls`,
/// `tls_cert_key`, `tls_client_ca`, `tls_alpn`, `tls_sni`, `tls_sni_cert_key`), and
/// processes (`processes`, `max_restarts`, `runtime`, `worker_threads`,
/// `shutdown_timeout`, `drain_delay`, `upgrade_timeout`, `pid_file`), the admin listener (`admin_address`: `/livez`,
/// `/readyz`, `/metrics`), and the PROXY protocol (`proxy_protocol`, `proxy_trusted`,
/// `proxy_timeout`).
///
/// # Examples
///
/// The runtime-API equivalent of `#[tcp_server(port = 8888, processes = 0)]`:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use std::process::ExitCode;
/// use std::time::Duration;
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
///     Launcher::new(8888)
///         .name("echo")
///         .about("A line echo server")
///         .address("127.0.0.1")
///         .processes(0)
///         .max_connections(10_000)
///         .shutdown_timeout(Duration::from_secs(5))
///         .run(echo)
/// }
/// ```
#[derive(Debug)]
pub struct Launcher {
    name: String,
    about: String,
    args: Option<Vec<OsString>>,
    /// The arguments this process runs with, for an upgrade to start the new binary with.
    argv: Vec<OsString>,
    /// The binary's path, for an upgrade.
    program: Option<PathBuf>,
    /// The options given on the command line or in the environment, and how (`--port`,
    /// `TCPSERVER_PORT`), for the log lines that say what wins.
    flags_given: Vec<(Id, String)>,
    bind: Bind,
    server: ServerBuilder,
    #[cfg(feature = "tls")]
    tls: TlsFiles,
    process: Process,
    admin: Admin,
    #[cfg(feature = "proxy")]
    proxy: groups::Proxy,
    /// The HTTP options, for [`run_http`](Launcher::run_http) only.
    #[cfg(feature = "http")]
    http: Option<crate::httpserver::HttpOptions>,
    /// The application's own flags ([`state_with`](Launcher::state_with)).
    #[cfg(feature = "args")]
    app_args: Option<Box<dyn args::AppArgs>>,
}

impl Launcher {
    /// A launcher for a server on `port` with every other setting at its default
    /// (Tornado's where Tornado has one).
    pub fn new(port: u16) -> Self {
        Launcher {
            name: default_program_name(),
            about: String::new(),
            args: None,
            argv: Vec::new(),
            program: None,
            flags_given: Vec::new(),
            bind: Bind::new(port),
            server: ServerBuilder::default(),
            #[cfg(feature = "tls")]
            tls: TlsFiles::default(),
            process: Process::default(),
            admin: Admin::default(),
            #[cfg(feature = "proxy")]
            proxy: groups::Proxy::default(),
            #[cfg(feature = "http")]
            http: None,
            #[cfg(feature = "args")]
            app_args: None,
        }
    }

    /// The program name used in `--help` and in error messages (default: the binary's
    /// file name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// One line describing the server, shown by `--help`.
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = about.into();
        self
    }

    /// Parse these arguments (program name first) instead of the process's own.
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
    pub fn run<H: StreamHandler>(self, handler: H) -> ExitCode {
        self.run_server(move |_, builder, _| Ok((builder.build(handler), None)))
    }

    /// Runs a server built by `make`, in each process that serves, from the launcher (its
    /// command line applied), its server options and the process's runtime (the HTTP
    /// server layers its own handler and options this way, and state is created so), with
    /// what to run once the connections are done.
    fn run_server(mut self, make: impl MakeServer) -> ExitCode {
        let args = self
            .args
            .take()
            .unwrap_or_else(|| std::env::args_os().collect());
        self.argv.clone_from(&args);
        self.program = program_path();
        match self.apply_args(args) {
            Ok(()) => {}
            Err(cli::Exit::Help(text)) => {
                print!("{text}");
                return ExitCode::SUCCESS;
            }
            Err(cli::Exit::Usage(message)) => {
                error_line(&self.name, &message);
                return ExitCode::from(2);
            }
        }
        logging::init();
        let exit = match self.launch(make) {
            Ok(code) => code,
            Err(e) => {
                error_line(&self.name, &e.to_string());
                ExitCode::from(1)
            }
        };
        if crate::process::task_id().is_none() {
            upgrade::remove_pid_file();
        }
        exit
    }

    /// True for [`run_http`](Launcher::run_http): the HTTP options have flags too.
    #[cfg(feature = "http")]
    fn serves_http(&self) -> bool {
        self.http.is_some()
    }

    #[cfg(not(feature = "http"))]
    fn serves_http(&self) -> bool {
        false
    }

    /// Every flag of this binary, in `--help` order.
    fn keys(&self) -> Vec<&'static Key> {
        keys::flags()
            .filter(|k| k.feature.is_none_or(enabled))
            .filter(|k| k.group != Group::Http || self.serves_http())
            .collect()
    }

    fn group(&self, group: Group) -> &dyn OptionGroup {
        match group {
            Group::Bind => &self.bind,
            Group::Server => &self.server,
            #[cfg(feature = "tls")]
            Group::Tls => &self.tls,
            Group::Process => &self.process,
            Group::Admin => &self.admin,
            #[cfg(feature = "proxy")]
            Group::Proxy => &self.proxy,
            #[cfg(feature = "http")]
            Group::Http => match &self.http {
                Some(http) => http,
                None => unreachable!("HTTP options only in `run_http`"),
            },
            _ => unreachable!("no {group:?} options in this binary"),
        }
    }

    fn group_mut(&mut self, group: Group) -> &mut dyn OptionGroup {
        match group {
            Group::Bind => &mut self.bind,
            Group::Server => &mut self.server,
            #[cfg(feature = "tls")]
            Group::Tls => &mut self.tls,
            Group::Process => &mut self.process,
            Group::Admin => &mut self.admin,
            #[cfg(feature = "proxy")]
            Group::Proxy => &mut self.proxy,
            #[cfg(feature = "http")]
            Group::Http => match &mut self.http {
                Some(http) => http,
                None => unreachable!("HTTP options only in `run_http`"),
            },
            _ => unreachable!("no {group:?} options in this binary"),
        }
    }

    fn setting(&self, key: &Key) -> Setting {
        self.group(key.group).get(key.id)
    }

    /// Parses the command line and the environment, checks the options set against each
    /// other with the attribute's rules, and applies the flags and variables to their
    /// groups.
    fn apply_args(&mut self, args: Vec<OsString>) -> Result<(), cli::Exit> {
        let keys = self.keys();
        let show_default = |key: &Key| match self.setting(key) {
            Setting::Set(value) | Setting::Default(value) => match value {
                Value::Duration(None) => key.unset.map(str::to_owned),
                value => Some(value.to_string()),
            },
            Setting::Unset => key.unset.map(str::to_owned),
        };
        let page = cli::HelpPage {
            name: &self.name,
            about: &self.about,
            default: &show_default,
        };
        let env = |name: &str| std::env::var_os(name);
        #[cfg(feature = "args")]
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut flags = match &self.app_args {
            Some(app) => args::parse_with_env(args, &keys, &page, app.as_ref(), &env)?,
            None => cli::parse_with_env(args, &keys, &page, &env)?,
        };
        #[cfg(not(feature = "args"))]
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut flags = cli::parse_with_env(args, &keys, &page, &env)?;
        // A certificate given by flag replaces the whole identity, the environment's too.
        #[cfg(feature = "tls")]
        if flags
            .iter()
            .any(|g| g.source == cli::Source::Flag && IDENTITY.contains(&g.key.id))
        {
            flags.retain(|g| g.source == cli::Source::Flag || !IDENTITY.contains(&g.key.id));
        }
        // What the rules see: the options the program set, then the flags over them.
        let mut set: Vec<(Id, Value)> = keys
            .iter()
            .filter_map(|k| match self.setting(k) {
                Setting::Set(value) => Some((k.id, value)),
                _ => None,
            })
            .collect();
        #[cfg(feature = "tls")]
        let replaces_identity = flags.iter().any(|g| IDENTITY.contains(&g.key.id));
        #[cfg(feature = "tls")]
        if replaces_identity {
            set.retain(|(id, _)| !IDENTITY.contains(id));
        }
        for given in &flags {
            set.retain(|(id, _)| *id != given.key.id);
            set.push((given.key.id, given.value.clone()));
        }
        let lookup = |id: Id| set.iter().find(|(i, _)| *i == id).map(|(_, v)| v.clone());
        if let Some(broken) = rules::check(&lookup, Style::Flags).into_iter().next() {
            return Err(cli::Exit::Usage(broken.message));
        }
        #[cfg(feature = "tls")]
        if replaces_identity {
            self.tls.clear_identity();
        }
        for given in &flags {
            self.group_mut(given.key.group)
                .set(given.key.id, &given.value);
        }
        self.flags_given = flags
            .iter()
            .map(|g| (g.key.id, g.source.describe(g.key)))
            .collect();
        Ok(())
    }

    fn launch(&mut self, make: impl MakeServer) -> Result<ExitCode, StartupError> {
        // Read and checked before forking: a bad certificate is one start-up error, and
        // every worker starts from the same files.
        #[cfg(feature = "tls")]
        let tls = self.tls.load()?;
        let predecessor = upgrade::init(self.process.pid_file.as_deref())?;
        let workers = self.process.forks().then(|| self.workers());
        let notifier = Notifier::from_env(self.process.drain_delay);
        let (sockets, inherited_admin) = self.listening_sockets(workers, predecessor)?;
        // `SO_REUSEPORT` workers' sockets share their addresses: the first worker's say them.
        for socket in sockets.iter().filter(|s| s.worker.is_none_or(|w| w == 0)) {
            tracing::info!("listening on {}", socket.listener.describe());
        }
        let admin = self.admin_listener(inherited_admin)?;
        let upgrade = upgrade::spec(
            self.program.as_deref(),
            &self.argv,
            &sockets,
            admin.as_ref(),
            self.process.upgrade_timeout,
        )?;
        // The supervisor closes its copies of the sockets when it stops the workers; each
        // worker takes them from its own copy of this cell.
        let held = Rc::new(RefCell::new(sockets));
        let (task_id, upgrade) = if workers.is_some() {
            let close = Rc::clone(&held);
            match self
                .process
                .supervise(notifier, upgrade, move || drop(close.take()))?
            {
                Ok(task_id) => (Some(task_id), None),
                Err(exit) => return Ok(exit),
            }
        } else {
            (None, upgrade)
        };
        let sockets = held.take();
        if let Some(id) = task_id {
            crate::metrics::set_worker(id);
            upgrade::forget_predecessor();
        }
        // A worker keeps the shared sockets and its own `SO_REUSEPORT` ones.
        let sockets: Vec<Listener> = sockets
            .into_iter()
            .filter(|s| s.served_by(task_id))
            .map(|s| s.listener)
            .collect();
        #[cfg_attr(not(any(feature = "tls", feature = "proxy")), allow(unused_mut))]
        let mut server = self.server.clone();
        #[cfg(feature = "proxy")]
        if let Some(proxy) = self.proxy.config() {
            server = server.proxy_protocol(proxy);
        }
        if let Some(id) = task_id {
            tracing::debug!("worker {id} (pid {}) serving", std::process::id());
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = tls {
            // A worker forked after a SIGHUP reload (a restart) would otherwise serve the
            // certificates the supervisor read at start-up; read the files again.
            if let (Some(id), Err(e)) = (task_id, tls.reload()) {
                tracing::warn!(
                    "worker {id}: cannot read the TLS certificate files; serving those read at start-up: {}",
                    Chain(&e)
                );
            }
            server = server.tls(tls);
        }
        let runtime = self.process.build_runtime()?;
        let (server, after_serve) = match make(self, server, &runtime) {
            Ok(made) => made,
            Err(e) => {
                if let Some(id) = task_id {
                    // Its supervisor gives up when every worker fails so.
                    crate::process::report_startup_failed();
                    return Err(StartupError(format!("worker {id}: {e}").into()));
                }
                return Err(e);
            }
        };
        let role = match task_id {
            Some(_) => Role::Worker,
            None => Role::Main(notifier),
        };
        let exit = runtime.block_on(serve(server, sockets, admin, &self.process, role, upgrade));
        if let Some(after_serve) = after_serve {
            runtime.block_on(after_serve());
        }
        exit
    }

    /// How many workers a forking server runs.
    fn workers(&self) -> usize {
        match self.process.processes {
            0 => crate::process::cpu_count(),
            n => n,
        }
    }

    /// Binds the admin listener, if one is configured (or takes the one handed over), and
    /// turns counting on for every process about to be forked.
    fn admin_listener(
        &self,
        inherited: Option<std::net::TcpListener>,
    ) -> Result<Option<std::net::TcpListener>, StartupError> {
        let Some(address) = self.admin.address()? else {
            return Ok(None);
        };
        let listener = match inherited {
            Some(listener) => listener,
            None => admin::bind(address)?,
        };
        crate::metrics::enable(self.workers())
            .map_err(|e| io::Error::new(e.kind(), format!("metrics: shared memory: {e}")))?;
        tracing::info!(
            "admin listener on {}: GET /livez, /readyz, /metrics",
            listener.local_addr()?
        );
        Ok(Some(listener))
    }
}

impl Launcher {
    /// The sockets to serve, before any fork: those a service manager or the previous
    /// process of an upgrade handed over (`LISTEN_FDS`), which win over the bind options,
    /// or the bound ones. With several workers and `reuse_port`, each worker gets its own
    /// socket, bound here so that its queue outlives the worker's restarts. Also returns
    /// the admin listener, if one was handed over.
    fn listening_sockets(
        &self,
        workers: Option<usize>,
        predecessor: Option<u32>,
    ) -> io::Result<(Vec<Socket>, Option<std::net::TcpListener>)> {
        let inherited = netutil::inherited_sockets()?;
        if !inherited.is_empty() {
            let wants_admin = matches!(self.admin.address(), Ok(Some(_)));
            let mut admin = None;
            let mut sockets = Vec::with_capacity(inherited.len());
            for socket in inherited {
                match socket.listener {
                    Listener::Tcp(listener)
                        if wants_admin
                            && admin.is_none()
                            && socket.name == upgrade::ADMIN_SOCKET =>
                    {
                        admin = Some(listener);
                    }
                    listener => sockets.push(Socket::shared(listener, &socket.name)),
                }
            }
            upgrade::assign_workers(&mut sockets, workers);
            let given: Vec<String> = [
                Id::Port,
                Id::Address,
                Id::Family,
                Id::Backlog,
                Id::ReusePort,
                Id::Unix,
                Id::UnixMode,
            ]
            .into_iter()
            .filter_map(|id| {
                let (_, how) = self.flags_given.iter().find(|(given, _)| *given == id)?;
                Some(how.clone())
            })
            .collect();
            // An upgrade's new process runs with the old one's arguments: nothing to say.
            let ignored = if given.is_empty() || predecessor.is_some() {
                String::new()
            } else {
                format!("; ignoring {}", given.join(", "))
            };
            let from = match predecessor {
                Some(pid) => format!("the previous process (pid {pid}) handed over"),
                None => "the service manager passed (LISTEN_FDS)".to_owned(),
            };
            tracing::info!("serving the {} socket(s) {from}{ignored}", sockets.len());
            return Ok((sockets, admin));
        }
        let mut sockets = Vec::new();
        match (self.bind.port, workers) {
            (None, _) => {}
            (Some(mut port), Some(workers)) if self.bind.reuse_port => {
                for worker in 0..workers {
                    let bound = self.bind.bind(port, true)?;
                    // Port 0: every worker's sockets take the port the first one got.
                    if let Some(Ok(address)) = bound.first().map(std::net::TcpListener::local_addr)
                    {
                        port = address.port();
                    }
                    sockets.extend(
                        bound
                            .into_iter()
                            .map(|l| Socket::of_worker(Listener::Tcp(l), worker)),
                    );
                }
            }
            (Some(port), _) => sockets.extend(
                self.bind
                    .bind(port, self.bind.reuse_port)?
                    .into_iter()
                    .map(|l| Socket::shared(Listener::Tcp(l), upgrade::LISTEN_SOCKET)),
            ),
        }
        // Every process serves the Unix socket (`SO_REUSEPORT` is for TCP).
        if let Some(unix) = self.bind.bind_unix()? {
            sockets.push(Socket::shared(Listener::Unix(unix), upgrade::UNIX_SOCKET));
        }
        if sockets.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "nothing to listen on: give --port PORT or --unix PATH",
            ));
        }
        Ok((sockets, None))
    }
}

/// The path this binary was started from, for an upgrade to start the file found there
/// then: `argv[0]` when it names a path (a symbolic link switched to a new release is
/// followed), else the executable the kernel ran.
fn program_path() -> Option<PathBuf> {
    let argv0 = PathBuf::from(std::env::args_os().next()?);
    if argv0.components().count() > 1 {
        std::path::absolute(argv0).ok()
    } else {
        std::env::current_exe().ok()
    }
}

/// True if this build has cargo feature `feature` of this crate.
fn enabled(feature: &str) -> bool {
    keys::Features {
        tls: cfg!(feature = "tls"),
        http: cfg!(feature = "http"),
        proxy: cfg!(feature = "proxy"),
        codec: cfg!(feature = "codec"),
        args: cfg!(feature = "args"),
    }
    .has(feature)
}

/// Prints `name: error: message` on stderr in one write, so that the lines of workers
/// failing at once do not interleave.
fn error_line(name: &str, message: &str) {
    use std::io::Write as _;
    let line = format!("{name}: error: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Builds the server of a process once its runtime exists: [`Launcher::run_server`]'s
/// argument.
trait MakeServer:
    FnOnce(
    &mut Launcher,
    ServerBuilder,
    &tokio::runtime::Runtime,
) -> Result<(TcpServer, Option<AfterServe>), StartupError>
{
}

impl<F> MakeServer for F where
    F: FnOnce(
        &mut Launcher,
        ServerBuilder,
        &tokio::runtime::Runtime,
    ) -> Result<(TcpServer, Option<AfterServe>), StartupError>
{
}

/// Who reports this process's state: the main process tells the service manager itself;
/// a worker tells its supervisor, which speaks for all of them.
#[derive(Debug, Clone, Copy)]
enum Role {
    Main(Notifier),
    Worker,
}

/// Why serving ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Signal(signals::StopSignal),
    /// A new binary serves the sockets now (an upgrade).
    HandedOver,
}

async fn serve(
    server: TcpServer,
    sockets: Vec<Listener>,
    admin: Option<std::net::TcpListener>,
    process: &Process,
    role: Role,
    upgrade: Option<UpgradeSpec>,
) -> Result<ExitCode, StartupError> {
    // Installed before accepting, so that a SIGTERM right after start-up is graceful.
    let mut signals = StopSignals::install()?;
    let mut reload = Request::reload()?;
    // A worker ignores SIGUSR2 (its supervisor upgrades); the only process handles it.
    let mut upgrades = match role {
        Role::Main(_) => Some(Request::upgrade()?),
        Role::Worker => None,
    };
    // Answers until the runtime is dropped, at exit: probes see a live process through the
    // drain and the shutdown. After a hand-over it stops at once: the new process answers.
    let admin = admin.map(|admin| tokio::spawn(admin::serve(admin)));
    server.add_sockets(sockets)?;
    crate::metrics::worker_ready(true);
    let mut watchdog = None;
    match role {
        Role::Main(notifier) => {
            notifier.ready("serving");
            watchdog = notifier.watchdog_interval().map(tokio::time::interval);
        }
        Role::Worker => crate::process::report_ready(),
    }
    let mut successor: Option<Successor> = None;
    let stop = loop {
        tokio::select! {
            signal = signals.recv() => break Stop::Signal(signal),
            () = reload.recv() => {
                if let Role::Main(notifier) = role {
                    notifier.reloading("reloading TLS certificates");
                }
                reload_tls(&server).await;
                match role {
                    Role::Main(notifier) => notifier.ready("serving, certificates reloaded"),
                    Role::Worker => crate::process::report_reloaded(),
                }
            }
            () = next_request(&mut upgrades) => {
                if let Role::Main(notifier) = role {
                    start_upgrade(upgrade.as_ref(), &mut successor, notifier);
                }
            }
            progress = follow(&mut successor) => {
                let Role::Main(notifier) = role else { continue };
                match progress {
                    (pid, Progress::Ready) => {
                        notifier.handed_over(pid);
                        break Stop::HandedOver;
                    }
                    (_, Progress::Failed(why)) => {
                        tracing::error!("upgrade failed: {why}; still serving");
                        notifier.upgrade_failed();
                    }
                    (_, Progress::Waiting) => {}
                }
            }
            _ = tick(&mut watchdog) => {
                if let Role::Main(notifier) = role {
                    notifier.watchdog();
                }
            }
        }
    };
    // No more upgrades: the copies of the sockets go, so that new clients are refused once
    // the server stops accepting rather than queued where nobody accepts them.
    drop(upgrade);
    if let Some(successor) = successor.take() {
        tracing::warn!(
            "stopping during an upgrade: asking the new process (pid {}) to stop too",
            successor.pid()
        );
        successor.stop();
    }
    // A worker's supervisor says, before its SIGTERM, whether a new binary took over.
    let stop = match stop {
        Stop::Signal(_) if matches!(role, Role::Worker) && crate::process::handed_over() => {
            Stop::HandedOver
        }
        stop => stop,
    };
    let timeout = process.shutdown_timeout;
    if stop == Stop::HandedOver {
        if let Some(admin) = &admin {
            admin.abort();
        }
        tracing::info!(
            "the new process serves; shutting down (in-flight connections: {}, timeout {})",
            server.connection_count(),
            format_duration(timeout)
        );
        return Ok(finish(&server, &mut signals, timeout).await);
    }
    let Stop::Signal(signal) = stop else {
        unreachable!("a hand-over returned above")
    };
    if let Role::Main(notifier) = role {
        notifier.stopping(&notifier.stop_status());
    }
    // `/readyz` turns 503 now, in every process, whether draining or shutting down.
    crate::metrics::draining();
    let drain = process.drain_delay;
    // SIGTERM is the orchestrator's stop, raced by the load balancer's update: drain
    // first. SIGINT is a person at a terminal: stop now.
    let drains = signal == signals::StopSignal::Terminate && !drain.is_zero();
    if drains {
        tracing::info!(
            "received {}; draining for {}: still accepting, reported not ready, connections told to finish",
            signal.name(),
            format_duration(drain)
        );
        server.drain();
        let over = tokio::time::sleep(drain);
        tokio::pin!(over);
        loop {
            tokio::select! {
                () = &mut over => break,
                again = signals.recv() => exit_on_second_interrupt(again),
            }
        }
    }
    let why = if drains {
        "drain over".to_owned()
    } else {
        format!("received {}", signal.name())
    };
    tracing::info!(
        "{why}; shutting down (in-flight connections: {}, timeout {})",
        server.connection_count(),
        format_duration(timeout)
    );
    Ok(finish(&server, &mut signals, timeout).await)
}

/// The graceful shutdown: stop accepting, let connections finish within `timeout`.
async fn finish(server: &TcpServer, signals: &mut StopSignals, timeout: Duration) -> ExitCode {
    crate::metrics::worker_ready(false);
    let shutdown = server.shutdown(timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            clean = &mut shutdown => {
                if clean {
                    tracing::info!("shutdown complete");
                }
                return ExitCode::SUCCESS;
            }
            again = signals.recv() => exit_on_second_interrupt(again),
        }
    }
}

/// SIGUSR2 in the only process: starts the new binary, unless an upgrade is under way.
fn start_upgrade(
    spec: Option<&UpgradeSpec>,
    successor: &mut Option<Successor>,
    notifier: Notifier,
) {
    let Some(spec) = spec else {
        tracing::warn!("received SIGUSR2, but this binary's path is unknown; not upgrading");
        return;
    };
    if let Some(running) = successor {
        tracing::warn!(
            "received SIGUSR2 during an upgrade (new process pid {}); ignoring it",
            running.pid()
        );
        return;
    }
    match spec.start() {
        Ok(started) => {
            tracing::info!(
                "received SIGUSR2; upgrading: started {} (pid {}) with the listening sockets, waiting for it to serve",
                spec.program.display(),
                started.pid()
            );
            notifier.upgrading(started.pid());
            *successor = Some(started);
        }
        Err(e) => {
            tracing::error!("upgrade failed: {e}; still serving");
            notifier.upgrade_failed();
        }
    }
}

/// The next change in an upgrade in progress (checked every 50 ms: an upgrade is rare and
/// short, and the check is a read and a `waitpid`), or never. The upgrade is over when this
/// returns anything but `Waiting`.
async fn follow(successor: &mut Option<Successor>) -> (u32, Progress) {
    let Some(running) = successor.as_mut() else {
        return std::future::pending().await;
    };
    let progress = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let progress = running.check();
        if progress != Progress::Waiting {
            break progress;
        }
    };
    let pid = running.pid();
    *successor = None;
    (pid, progress)
}

/// The next signal of `request`, or never.
async fn next_request(request: &mut Option<Request>) {
    match request {
        Some(request) => request.recv().await,
        None => std::future::pending().await,
    }
}

/// A second SIGINT (an impatient Ctrl-C) exits at once. Repeated SIGTERMs are not
/// escalations: a supervisor forwards SIGTERM to workers that may already have the
/// terminal's SIGINT.
fn exit_on_second_interrupt(again: signals::StopSignal) {
    if again == signals::StopSignal::Interrupt {
        tracing::warn!("received SIGINT again; exiting now");
        std::process::exit(again.exit_status());
    }
}

/// The next tick of `interval`, or never.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// SIGHUP: reads the certificate files again; `reload_tls` logs the outcome.
#[cfg(feature = "tls")]
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

/// SIGHUP without TLS support: nothing to reload.
#[cfg(not(feature = "tls"))]
async fn reload_tls(_server: &TcpServer) {
    tracing::info!("received SIGHUP; no TLS certificates to reload");
}

fn default_program_name() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "server".to_owned())
}

/// A start-up failure: printed as one line with its causes (`level: cause: cause`), exit
/// status 1.
#[derive(Debug)]
pub(crate) struct StartupError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Chain(&*self.0).fmt(f)
    }
}

impl From<crate::error::Error> for StartupError {
    fn from(e: crate::error::Error) -> Self {
        StartupError(Box::new(e))
    }
}

impl From<io::Error> for StartupError {
    fn from(e: io::Error) -> Self {
        StartupError(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};

    #[test]
    fn startup_errors_print_their_causes_on_one_line() {
        let missing = io::Error::new(io::ErrorKind::NotFound, "No such file or directory");
        let err = StartupError::from(
            Error::new(ErrorKind::Tls)
                .with_message("cannot read TLS certificate file \"server.pem\"")
                .with_source(missing),
        );
        assert_eq!(
            err.to_string(),
            "cannot read TLS certificate file \"server.pem\": No such file or directory"
        );
        let err = StartupError::from(io::Error::new(
            io::ErrorKind::AddrInUse,
            "cannot bind 127.0.0.1:8888: Address already in use (os error 98)",
        ));
        assert_eq!(
            err.to_string(),
            "cannot bind 127.0.0.1:8888: Address already in use (os error 98)"
        );
    }
}
