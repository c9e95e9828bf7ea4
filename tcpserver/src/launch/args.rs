//! The application's own flags ([`Launcher::state_with`]; `args = Args` in the attribute;
//! feature `args`): a `clap::Args` type whose flags join tcpserver's on one command line and
//! in one `--help`, each also read from its environment variable (`TCPSERVER_` and the
//! flag in upper snake case, as tcpserver's), parsed once before any fork and handed to
//! the state's function in every process that serves.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fmt;
use std::sync::{Arc, Mutex};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use tcpserver_options::keys::{ENV_PREFIX, Key, Kind};
use tcpserver_options::value::Value;

use super::Launcher;
use super::cli::{self, Exit, Given, HelpPage, Source};
use super::state::{ArgsInit, WithState};

/// The application's flags: how they join the command line, and where their value goes.
pub(super) trait AppArgs: fmt::Debug + Send {
    /// `command` with the application's flags.
    fn augment(&self, command: Command) -> Command;

    /// Takes the application's value from what was parsed.
    fn take(&self, matches: &ArgMatches) -> Result<(), clap::Error>;
}

/// The parsed value, shared with the state's function (taken in each process that serves).
struct Parsed<A>(Arc<Mutex<Option<A>>>);

impl<A> fmt::Debug for Parsed<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Parsed(application flags)")
    }
}

impl<A: clap::Args + Send + 'static> AppArgs for Parsed<A> {
    fn augment(&self, command: Command) -> Command {
        A::augment_args(command)
    }

    fn take(&self, matches: &ArgMatches) -> Result<(), clap::Error> {
        let value = A::from_arg_matches(matches)?;
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        Ok(())
    }
}

impl Launcher {
    /// [`state`](Launcher::state) with the application's own flags, `A`: a `clap::Args`
    /// type (derive it with `tcpserver::clap`, re-exported so that the versions match)
    /// whose flags join the binary's command line and `--help`, each also read from its
    /// environment variable (`--db-url` from `TCPSERVER_DB_URL`: a flag wins over the
    /// environment, which wins over the default). The parsed value is given to `init`
    /// in every process that serves; a bad value is a usage error (exit status 2).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::net::SocketAddr;
    /// use std::process::ExitCode;
    /// use std::sync::Arc;
    /// use tcpserver::{IoStream, Launcher, clap};
    ///
    /// #[derive(clap::Args)]
    /// struct Args {
    ///     /// The greeting each client gets.
    ///     #[arg(long, default_value = "hello")]
    ///     greeting: String,
    /// }
    ///
    /// fn greeting(args: Args) -> Result<String, String> {
    ///     Ok(format!("{}\n", args.greeting))
    /// }
    ///
    /// async fn greet(mut stream: IoStream, _addr: SocketAddr, greeting: Arc<String>) -> tcpserver::Result<()> {
    ///     stream.write(greeting.as_bytes()).await
    /// }
    ///
    /// fn main() -> ExitCode {
    ///     Launcher::new(8888).state_with(greeting).run(greet)
    /// }
    /// ```
    pub fn state_with<A, S, M>(mut self, init: impl ArgsInit<A, S, M>) -> WithState<S>
    where
        A: clap::Args + Send + 'static,
        S: Send + Sync + 'static,
    {
        let parsed = Arc::new(Mutex::new(None));
        self.app_args = Some(Box::new(Parsed::<A>(Arc::clone(&parsed))));
        WithState::from_init(
            self,
            Box::new(move || {
                let args = parsed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .expect("the command line is parsed before any state is created");
                init.create(args)
            }),
        )
    }
}

/// The environment variable of an application's flag, by tcpserver's rule.
fn env_var(long: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        long.to_ascii_uppercase().replace('-', "_")
    )
}

/// A clap error as one line: the message, and its tip if it has one.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("bad usage");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match lines.find(|l| l.starts_with("tip:")) {
        Some(tip) => format!("{first}; {tip}"),
        None => first.to_owned(),
    }
}

/// A bad value's line, naming the environment variable it came from when no flag gave it.
fn with_variable(e: &clap::Error, given_flags: &[String]) -> String {
    use clap::error::{ContextKind, ContextValue};
    let line = one_line(e);
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return line;
    };
    let Some(long) = arg
        .strip_prefix("--")
        .and_then(|rest| rest.split([' ', '=']).next())
    else {
        return line;
    };
    let on_command_line = given_flags
        .iter()
        .any(|flag| flag == long || flag.starts_with(&format!("{long}=")));
    if on_command_line {
        line
    } else {
        format!("{line} (from the environment variable {})", env_var(long))
    }
}

/// [`cli::parse_with_env`] with the application's flags: clap parses the command line
/// (tcpserver's flags with their values as text, read with the option table's grammar),
/// then the environment fills in tcpserver's options no flag gave, and the application
/// takes its value.
pub(super) fn parse_with_env(
    args: Vec<OsString>,
    keys: &[&'static Key],
    page: &HelpPage<'_>,
    app: &dyn AppArgs,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<Given>, Exit> {
    let mut command = Command::new(page.name.to_owned()).after_help(cli::ENVIRONMENT_NOTE);
    for &key in keys {
        let flag = key.flag.unwrap_or_default();
        let arg = Arg::new(flag)
            .long(flag)
            .value_name(key.value_name())
            .help(cli::describe(key, page));
        command = command.arg(match key.kind {
            Kind::Bool => arg.num_args(0..=1).default_missing_value("true"),
            _ if key.repeats() => arg.action(ArgAction::Append),
            _ => arg,
        });
    }
    let ours: Vec<&str> = keys.iter().filter_map(|k| k.flag).collect();
    // The application's flags read their environment variables by the same rule.
    let command = app.augment(command).mut_args(|arg| {
        let name = arg
            .get_long()
            .filter(|long| !ours.contains(long) && *long != "help" && *long != "version")
            .filter(|_| arg.get_env().is_none())
            .map(env_var);
        match name {
            // Values may be secrets (a database URL with its password): `--help` names
            // the variable only.
            Some(name) => arg.env(name).hide_env_values(true),
            None => arg,
        }
    });
    // The program's description, not the doc comment of the flags' type.
    let command = match page.about {
        "" => command.about(None::<&str>),
        about => command.about(about.to_owned()),
    };
    let given_flags: Vec<String> = args
        .iter()
        .filter_map(|a| a.to_str()?.strip_prefix("--").map(str::to_owned))
        .collect();
    let matches = command.try_get_matches_from(args).map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                Exit::Help(e.render().to_string())
            }
            ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
                Exit::Usage(with_variable(&e, &given_flags))
            }
            _ => Exit::Usage(one_line(&e)),
        }
    })?;
    let mut given = Vec::new();
    for &key in keys {
        let flag = key.flag.unwrap_or_default();
        if matches.value_source(flag) != Some(ValueSource::CommandLine) {
            continue;
        }
        let mut value: Option<Value> = None;
        for text in matches.get_raw(flag).into_iter().flatten() {
            let text = text.to_str().ok_or_else(|| {
                Exit::Usage(format!(
                    "--{flag}: {} is not valid UTF-8",
                    text.to_string_lossy()
                ))
            })?;
            let parsed = cli::flag_value(key, text)?;
            match &mut value {
                Some(all) => all.extend(parsed),
                None => value = Some(parsed),
            }
        }
        if let Some(value) = value {
            given.push(Given {
                key,
                value,
                source: Source::Flag,
            });
        }
    }
    let given = cli::with_env(given, keys, env)?;
    app.take(&matches).map_err(|e| Exit::Usage(one_line(&e)))?;
    Ok(given)
}
