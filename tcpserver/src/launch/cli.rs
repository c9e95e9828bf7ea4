//! Command-line overrides: every option of the table as `--kebab-case-flag VALUE`, or as
//! the environment variable `TCPSERVER_UPPER_SNAKE_FLAG` when the flag is not given, with
//! `--help` listing them and the defaults compiled into this binary.
//!
//! lexopt splits the arguments; the option table says which flags exist, how their values
//! are written and what `--help` says, so flags, attribute keys and their grammar never
//! drift apart. (clap did this before, at 13 s of every user's cold build.)

use std::ffi::OsString;
use std::fmt::Write as _;

use lexopt::Arg;
use tcpserver_options::keys::{Key, Kind};
use tcpserver_options::suggest::suggest;
use tcpserver_options::value::Value;

/// Why parsing stopped before the program could run.
#[derive(Debug)]
pub(super) enum Exit {
    /// `--help`: print this on stdout and exit 0.
    Help(String),
    /// A usage error: print this one line and exit 2.
    Usage(String),
}

/// What `--help` shows for a program.
pub(super) struct HelpPage<'a> {
    pub(super) name: &'a str,
    pub(super) about: &'a str,
    /// The text after `[default: ` for a key, if it shows one.
    pub(super) default: &'a dyn Fn(&Key) -> Option<String>,
}

/// Where an option's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// `--flag`.
    Flag,
    /// The environment variable of this name.
    Env(String),
}

impl Source {
    /// How a message names it: `--port`, or `TCPSERVER_PORT`.
    pub(super) fn describe(&self, key: &Key) -> String {
        match self {
            Source::Flag => format!("--{}", key.flag.unwrap_or_default()),
            Source::Env(name) => name.clone(),
        }
    }
}

/// One option the command line or the environment gives.
#[derive(Debug, Clone)]
pub(super) struct Given {
    pub(super) key: &'static Key,
    pub(super) value: Value,
    pub(super) source: Source,
}

/// Every option the command line and the environment give: the flags of `args` (program
/// name first) in the order given (a repeatable flag appears once, with all its values),
/// then the environment variables (looked up with `env`) of the keys no flag gave. An
/// empty variable counts as unset; a repeatable option's variable takes its values
/// separated by white space.
pub(super) fn parse_with_env(
    args: Vec<OsString>,
    keys: &[&'static Key],
    help: &HelpPage<'_>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<Given>, Exit> {
    let given: Vec<Given> = parse(args, keys, help)?
        .into_iter()
        .map(|(key, value)| Given {
            key,
            value,
            source: Source::Flag,
        })
        .collect();
    with_env(given, keys, env)
}

/// `given` (the flags), then the environment variables of the keys no flag gave.
pub(super) fn with_env(
    mut given: Vec<Given>,
    keys: &[&'static Key],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<Given>, Exit> {
    for &key in keys {
        let Some(name) = key.env_var() else { continue };
        if given.iter().any(|g| g.key.id == key.id) {
            continue;
        }
        let Some(text) = env(&name).filter(|text| !text.is_empty()) else {
            continue;
        };
        let text = text.into_string().map_err(|bad| {
            Exit::Usage(format!(
                "{name}: {} is not valid UTF-8",
                bad.to_string_lossy()
            ))
        })?;
        let invalid = |e: &dyn std::fmt::Display| {
            Exit::Usage(format!(
                "invalid value '{text}' in the environment variable {name} (--{} <{}>): {e}",
                key.flag.unwrap_or_default(),
                key.value_name()
            ))
        };
        let value = if key.repeats() {
            let mut items = text.split_whitespace();
            let first = items.next().unwrap_or_default();
            let mut value = Value::parse(key, first).map_err(|e| invalid(&e))?;
            for item in items {
                value.extend(Value::parse(key, item).map_err(|e| invalid(&e))?);
            }
            value
        } else {
            Value::parse(key, text.trim()).map_err(|e| invalid(&e))?
        };
        given.push(Given {
            key,
            value,
            source: Source::Env(name),
        });
    }
    Ok(given)
}

/// Parses `args` (program name first) against `keys`: every flag given, with its value,
/// in the order given (a repeatable flag appears once, with all its values).
pub(super) fn parse(
    args: Vec<OsString>,
    keys: &[&'static Key],
    help: &HelpPage<'_>,
) -> Result<Vec<(&'static Key, Value)>, Exit> {
    let mut parser = lexopt::Parser::from_iter(args);
    let mut flags: Vec<(&'static Key, Value)> = Vec::new();
    while let Some(arg) = parser.next().map_err(usage)? {
        let name = match arg {
            Arg::Short('h') | Arg::Long("help") => return Err(Exit::Help(help_text(keys, help))),
            Arg::Long(name) => name.to_owned(),
            Arg::Short(c) => return Err(unknown(keys, &c.to_string(), "-")),
            Arg::Value(value) => {
                return Err(Exit::Usage(format!(
                    "unexpected argument '{}': every option is a --flag",
                    value.to_string_lossy()
                )));
            }
        };
        let Some(key) = keys.iter().copied().find(|k| k.flag == Some(name.as_str())) else {
            return Err(unknown(keys, &name, "--"));
        };
        let text = if key.kind == Kind::Bool {
            // `--flag`, `--flag=false`, or `--flag false`.
            parser.optional_value().or_else(|| {
                parser
                    .try_raw_args()
                    .and_then(|mut raw| raw.next_if(|a| a == "true" || a == "false"))
            })
        } else {
            Some(parser.value().map_err(usage)?)
        };
        let text = match text {
            Some(text) => text.into_string().map_err(|bad| {
                Exit::Usage(format!(
                    "--{name}: {} is not valid UTF-8",
                    bad.to_string_lossy()
                ))
            })?,
            None => "true".to_owned(),
        };
        let value = flag_value(key, &text)?;
        match flags.iter_mut().find(|(k, _)| k.id == key.id) {
            Some((_, earlier)) if key.repeats() => earlier.extend(value),
            Some(_) => return Err(Exit::Usage(format!("--{name} is given twice"))),
            None => flags.push((key, value)),
        }
    }
    Ok(flags)
}

/// The value of `--flag TEXT`, or the usage error that says what is wrong with it.
pub(super) fn flag_value(key: &Key, text: &str) -> Result<Value, Exit> {
    Value::parse(key, text).map_err(|e| {
        Exit::Usage(format!(
            "invalid value '{text}' for --{} <{}>: {e}",
            key.flag.unwrap_or_default(),
            key.value_name()
        ))
    })
}

/// What `--help` says after the flags.
pub(super) const ENVIRONMENT_NOTE: &str = "Every option can also be set by its environment \
    variable; a flag wins over the environment, which wins over the compiled-in default. An \
    empty variable counts as unset; a repeatable option's variable takes its values separated \
    by spaces.";

fn usage(e: lexopt::Error) -> Exit {
    Exit::Usage(e.to_string())
}

fn unknown(keys: &[&'static Key], name: &str, dashes: &str) -> Exit {
    let flag = |k: &Key| k.flag.unwrap_or_default();
    let hint = match suggest(keys.iter().copied(), name, flag) {
        Some(key) => format!("; did you mean --{}?", flag(key)),
        None => "; --help lists the flags".to_owned(),
    };
    Exit::Usage(format!("unknown flag '{dashes}{name}'{hint}"))
}

/// What `--help` says of a key: its help, compiled-in default, variable and choices.
pub(super) fn describe(key: &Key, page: &HelpPage<'_>) -> String {
    let mut line = key.help.to_owned();
    if let Some(default) = (page.default)(key) {
        let _ = write!(line, " [default: {default}]");
    }
    if let Some(name) = key.env_var() {
        let _ = write!(line, " [env: {name}]");
    }
    if let Kind::Choice(choices) = key.kind {
        let words: Vec<&str> = choices.iter().map(|c| c.flag).collect();
        let _ = write!(line, " [possible values: {}]", words.join(", "));
    }
    line
}

/// The `--help` page: clap's layout, one line per flag with its compiled-in default.
fn help_text(keys: &[&'static Key], page: &HelpPage<'_>) -> String {
    let usage = |key: &Key| {
        let flag = key.flag.unwrap_or_default();
        match key.kind {
            Kind::Bool => format!("--{flag} [<BOOL>]"),
            _ => format!("--{flag} <{}>", key.value_name()),
        }
    };
    let width = keys.iter().map(|k| usage(k).len()).max().unwrap_or(0);
    let mut out = String::new();
    if !page.about.is_empty() {
        let _ = writeln!(out, "{}\n", page.about);
    }
    let _ = writeln!(out, "Usage: {} [OPTIONS]\n\nOptions:", page.name);
    for key in keys {
        let _ = writeln!(out, "      {:width$}  {}", usage(key), describe(key, page));
    }
    let _ = writeln!(out, "  -h, --{:width$}  Print help", "help");
    let _ = writeln!(out, "\n{ENVIRONMENT_NOTE}");
    out
}

#[cfg(test)]
mod tests {
    use tcpserver_options::keys::{Id, KEYS, key};

    use super::*;

    fn keys() -> Vec<&'static Key> {
        KEYS.iter().filter(|k| k.flag.is_some()).collect()
    }

    fn page(default: &dyn Fn(&Key) -> Option<String>) -> HelpPage<'_> {
        HelpPage {
            name: "echo",
            about: "A line echo server",
            default,
        }
    }

    fn run(args: &[&str]) -> Result<Vec<(Id, String)>, Exit> {
        let argv = std::iter::once("echo")
            .chain(args.iter().copied())
            .map(OsString::from);
        let none = |_: &Key| None;
        parse(argv.collect(), &keys(), &page(&none)).map(|flags| {
            flags
                .into_iter()
                .map(|(k, v)| (k.id, v.to_string()))
                .collect()
        })
    }

    fn usage_error(args: &[&str]) -> String {
        match run(args) {
            Err(Exit::Usage(message)) => message,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn values_in_every_form() {
        let flags = run(&[
            "--port",
            "0",
            "--max-buffer-size=1MiB",
            "--reuse-port",
            "--xheaders",
            "false",
            "--no-keep-alive=true",
            "--shutdown-timeout",
            "1.5",
            "--tls-sni",
            "a.example=a.pem",
            "--tls-sni=b.example=b.crt,b.key",
            "--runtime",
            "current_thread",
        ])
        .unwrap();
        assert_eq!(
            flags,
            [
                (Id::Port, "0".to_owned()),
                (Id::MaxBufferSize, "1MiB".to_owned()),
                (Id::ReusePort, "true".to_owned()),
                (Id::Xheaders, "false".to_owned()),
                (Id::NoKeepAlive, "true".to_owned()),
                (Id::ShutdownTimeout, "1500ms".to_owned()),
                (
                    Id::TlsSni,
                    "a.example=a.pem b.example=b.crt,b.key".to_owned()
                ),
                (Id::Runtime, "current-thread".to_owned()),
            ]
        );
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        assert_eq!(
            usage_error(&["--prot", "1"]),
            "unknown flag '--prot'; did you mean --port?"
        );
        assert_eq!(
            usage_error(&["--host", "x"]),
            "unknown flag '--host'; did you mean --address?"
        );
        assert!(usage_error(&["--colour"]).ends_with("--help lists the flags"));
        assert!(usage_error(&["-p"]).starts_with("unknown flag '-p'"));
        assert!(usage_error(&["8888"]).starts_with("unexpected argument '8888'"));
        let e = usage_error(&["--port", "70000"]);
        assert!(
            e.starts_with("invalid value '70000' for --port <PORT>: 70000 is out of range"),
            "{e}"
        );
        assert!(usage_error(&["--port"]).contains("missing argument"));
        assert_eq!(
            usage_error(&["--port", "1", "--port", "2"]),
            "--port is given twice"
        );
        assert!(usage_error(&["--reuse-port=yes"]).contains("not `true` or `false`"));
        assert!(usage_error(&["--worker-threads", "0"]).contains("at least 1"));
    }

    #[test]
    fn the_environment_fills_in_what_no_flag_gives() {
        let env = |name: &str| {
            let value = match name {
                "TCPSERVER_PORT" => "9000",
                "TCPSERVER_ADDRESS" => "::1",
                "TCPSERVER_MAX_CONNECTIONS" => "",
                "TCPSERVER_TLS_SNI" => "a.example=a.pem  b.example=b.crt,b.key",
                "TCPSERVER_PROXY_TRUSTED" => "10.0.0.0/8,192.168.0.0/16 127.0.0.1",
                _ => return None,
            };
            Some(OsString::from(value))
        };
        let none = |_: &Key| None;
        let args = ["echo", "--address", "127.0.0.1"]
            .map(OsString::from)
            .to_vec();
        let given = parse_with_env(args, &keys(), &page(&none), &env).unwrap();
        let seen: Vec<(Id, String, String)> = given
            .iter()
            .map(|g| (g.key.id, g.value.to_string(), g.source.describe(g.key)))
            .collect();
        assert_eq!(
            seen,
            [
                (Id::Address, "127.0.0.1".to_owned(), "--address".to_owned()),
                (Id::Port, "9000".to_owned(), "TCPSERVER_PORT".to_owned()),
                (
                    Id::TlsSni,
                    "a.example=a.pem b.example=b.crt,b.key".to_owned(),
                    "TCPSERVER_TLS_SNI".to_owned()
                ),
                (
                    Id::ProxyTrusted,
                    "10.0.0.0/8,192.168.0.0/16,127.0.0.1/32".to_owned(),
                    "TCPSERVER_PROXY_TRUSTED".to_owned()
                ),
            ]
        );
        let bad = |name: &str| (name == "TCPSERVER_BACKLOG").then(|| OsString::from("-1"));
        let args = vec![OsString::from("echo")];
        match parse_with_env(args, &keys(), &page(&none), &bad) {
            Err(Exit::Usage(message)) => assert!(
                message.starts_with(
                    "invalid value '-1' in the environment variable TCPSERVER_BACKLOG (--backlog <N>): "
                ),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let default = |k: &Key| (k.id == Id::Port).then(|| "8888".to_owned());
        let Err(Exit::Help(text)) = parse(
            vec!["echo".into(), "--help".into()],
            &keys(),
            &page(&default),
        ) else {
            panic!("no help");
        };
        assert!(
            text.starts_with("A line echo server\n\nUsage: echo [OPTIONS]\n"),
            "{text}"
        );
        for key in keys() {
            assert!(
                text.contains(&format!("--{} ", key.flag.unwrap())),
                "{text}"
            );
        }
        assert!(text.contains("[default: 8888]"), "{text}");
        assert!(text.contains("--reuse-port [<BOOL>]"), "{text}");
        assert!(
            text.contains("[possible values: multi-thread, current-thread]"),
            "{text}"
        );
        assert!(text.contains(key(Id::TlsSni).help), "{text}");
    }
}
