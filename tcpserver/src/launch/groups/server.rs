//! The server and its streams: [`tcpserver::Builder`](crate::tcpserver::Builder)'s
//! options, which owns their defaults and their meaning.

use tcpserver_options::keys::Id;
use tcpserver_options::value::Value;

use super::{OptionGroup, Setting, set_or_default};
use crate::launch::Launcher;
use crate::tcpserver::Builder;

impl OptionGroup for Builder {
    fn set(&mut self, id: Id, value: &Value) {
        let builder = std::mem::take(self);
        *self = match id {
            Id::MaxBufferSize => builder.max_buffer_size(value.usize()),
            Id::ReadChunkSize => builder.read_chunk_size(value.usize()),
            Id::MaxConnections => builder.max_connections(value.usize()),
            Id::IdleTimeout => builder.idle_timeout(value.duration().unwrap_or_default()),
            #[cfg(feature = "tls")]
            Id::HandshakeTimeout => builder.handshake_timeout(value.duration().unwrap_or_default()),
            #[cfg(feature = "tls")]
            Id::MaxHandshakes => builder.max_handshakes(value.usize()),
            _ => unreachable!("`{id}` is not a server option"),
        };
    }

    fn get(&self, id: Id) -> Setting {
        let options = self.stream_options();
        let size = |n: usize| Value::Size(n as u64);
        let count = |n: Option<usize>| Setting::Set(Value::Integer(n.unwrap_or(0) as u64));
        match id {
            Id::MaxBufferSize => set_or_default(
                self.max_buffer_size.is_some(),
                size(options.get_max_buffer_size()),
            ),
            Id::ReadChunkSize => set_or_default(
                self.read_chunk_size.is_some(),
                size(options.get_read_chunk_size()),
            ),
            Id::MaxConnections => count(self.max_connections),
            Id::IdleTimeout => self
                .idle_timeout
                .map_or(Setting::Unset, |t| Setting::Set(Value::Duration(Some(t)))),
            #[cfg(feature = "tls")]
            Id::HandshakeTimeout => Setting::Set(Value::Duration(Some(self.handshake_timeout))),
            #[cfg(feature = "tls")]
            Id::MaxHandshakes => count(self.max_handshakes),
            _ => unreachable!("`{id}` is not a server option"),
        }
    }
}

impl Launcher {
    /// Tornado's `max_buffer_size` per connection (`--max-buffer-size`; default 100 MiB).
    pub fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.server = self.server.max_buffer_size(bytes);
        self
    }

    /// Tornado's `read_chunk_size` (`--read-chunk-size`; default 64 KiB, at most half of
    /// `max_buffer_size`).
    pub fn read_chunk_size(mut self, bytes: usize) -> Self {
        self.server = self.server.read_chunk_size(bytes);
        self
    }

    /// The most connections each process serves at once (`--max-connections`; default 0,
    /// no limit).
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.server = self.server.max_connections(limit);
        self
    }

    /// Close a connection that has neither read nor written for this long
    /// (`--idle-timeout`; default off; see
    /// [`Builder::idle_timeout`](crate::tcpserver::Builder::idle_timeout)).
    pub fn idle_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.server = self.server.idle_timeout(timeout);
        self
    }

    /// How long a TLS client has to complete its handshake, from its accept
    /// (`--handshake-timeout`; default 10 s).
    #[cfg(feature = "tls")]
    pub fn handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.server = self.server.handshake_timeout(timeout);
        self
    }

    /// The most TLS handshakes in progress at once per process (`--max-handshakes`;
    /// default 256; 0 means no cap).
    #[cfg(feature = "tls")]
    pub fn max_handshakes(mut self, limit: usize) -> Self {
        self.server = self.server.max_handshakes(limit);
        self
    }
}
