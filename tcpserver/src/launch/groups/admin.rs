//! The admin listener: where the operator's probes and scrapes are answered (`/livez`,
//! `/readyz`, `/metrics`), apart from the application's port.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use tcpserver_options::keys::Id;
use tcpserver_options::value::Value;

use super::{OptionGroup, Setting};
use crate::launch::Launcher;

/// The admin group; off until an address is given.
#[derive(Debug, Clone, Default)]
pub(crate) struct Admin {
    /// `Err`: the address the program gave did not resolve; reported at start-up.
    address: Option<Result<SocketAddr, String>>,
}

impl Admin {
    /// The admin listener's address, if it is on.
    ///
    /// # Errors
    ///
    /// The address given to [`Launcher::admin_address`] did not resolve.
    pub(crate) fn address(&self) -> io::Result<Option<SocketAddr>> {
        match &self.address {
            None => Ok(None),
            Some(Ok(address)) => Ok(Some(*address)),
            Some(Err(e)) => Err(io::Error::new(io::ErrorKind::InvalidInput, e.clone())),
        }
    }
}

impl OptionGroup for Admin {
    fn set(&mut self, id: Id, value: &Value) {
        match id {
            Id::AdminAddress => {
                // The table's parser wrote the address in its canonical form.
                self.address = Some(
                    value
                        .text()
                        .parse()
                        .map_err(|_| format!("admin address {:?}: not an address", value.text())),
                );
            }
            _ => unreachable!("`{id}` is not an admin option"),
        }
    }

    fn get(&self, id: Id) -> Setting {
        match id {
            Id::AdminAddress => match &self.address {
                Some(Ok(address)) => Setting::Set(Value::Text(address.to_string())),
                _ => Setting::Unset,
            },
            _ => unreachable!("`{id}` is not an admin option"),
        }
    }
}

impl Launcher {
    /// Serve the admin listener on `address` (`--admin-address ADDR:PORT`; default off):
    /// `GET /livez` (200 while the server is up), `GET /readyz` (200 once every worker
    /// accepts, 503 before that and from the moment a drain or shutdown begins) and
    /// `GET /metrics` (Prometheus text; the totals of every worker, see
    /// [`metrics`](crate::metrics)). Port 0 picks a free port; the log line
    /// `admin listener on ADDR` says which.
    ///
    /// Bind it to a private address: it is for the orchestrator and the scraper, and it
    /// has no authentication. A name that resolves to several addresses binds the first;
    /// one that does not resolve is a start-up error.
    pub fn admin_address(mut self, address: impl ToSocketAddrs) -> Self {
        self.admin.address = Some(match address.to_socket_addrs() {
            Ok(mut all) => all
                .next()
                .ok_or_else(|| "admin address: resolves to no address".to_owned()),
            Err(e) => Err(format!("admin address: {e}")),
        });
        self
    }
}
