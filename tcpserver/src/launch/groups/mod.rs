//! The option groups a [`Launcher`](super::Launcher) composes, one module each: the
//! `Launcher` setters of the group, and how a value parsed from a flag applies to it.
//! The option table (`tcpserver_options::keys`) names every option, its flag and how its
//! value is written; a group owns the rest: its default, its setter, what a value does.

mod admin;
mod bind;
#[cfg(feature = "http")]
mod http;
mod process;
#[cfg(feature = "proxy")]
mod proxy;
mod server;
#[cfg(feature = "tls")]
mod tls;

use tcpserver_options::keys::{Choice, Id, Kind, key};
use tcpserver_options::value::Value;

pub(crate) use admin::Admin;
pub(crate) use bind::Bind;
pub(crate) use process::Process;
pub use process::{DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_UPGRADE_TIMEOUT, RuntimeFlavor};
#[cfg(feature = "proxy")]
pub(crate) use proxy::Proxy;
#[cfg(feature = "tls")]
pub(crate) use tls::{IDENTITY, TlsFiles};

/// Where an option stands in its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Setting {
    /// Set by the program (a setter, the attribute) or a flag: checked by the rules.
    Set(Value),
    /// Not set; this is the default in effect.
    Default(Value),
    /// Not set, and without a value: the table's `unset` says what that means.
    Unset,
}

/// A group of options as the command line sees it.
pub(crate) trait OptionGroup {
    /// Applies a value parsed from a flag of this group.
    fn set(&mut self, id: Id, value: &Value);

    /// The option's value now, for `--help` and the rules.
    fn get(&self, id: Id) -> Setting;
}

/// The value of the word `name` of choice option `id`.
pub(crate) fn choice(id: Id, name: &str) -> Value {
    match key(id).kind {
        Kind::Choice(choices) => Value::Choice(
            choices
                .iter()
                .find(|c: &&Choice| c.name == name)
                .unwrap_or_else(|| unreachable!("`{name}` is a word of `{id}`")),
        ),
        _ => unreachable!("`{id}` is a choice"),
    }
}

/// `Set(value)` when `set`, else the default.
pub(crate) fn set_or_default(set: bool, value: Value) -> Setting {
    if set {
        Setting::Set(value)
    } else {
        Setting::Default(value)
    }
}
