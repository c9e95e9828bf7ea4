//! Tornado's `HTTPServer` options: [`HttpOptions`] owns their defaults and their meaning.

use tcpserver_options::keys::Id;
use tcpserver_options::value::Value;

use super::{OptionGroup, Setting, choice};
use crate::httpserver::{HttpOptions, Protocol};

impl OptionGroup for HttpOptions {
    fn set(&mut self, id: Id, value: &Value) {
        let options = std::mem::take(self);
        *self = match (id, value) {
            (Id::NoKeepAlive, _) => options.no_keep_alive(value.bool()),
            (Id::Xheaders, _) => options.xheaders(value.bool()),
            (Id::TrustedDownstream, Value::IpList(ips)) => {
                options.trusted_downstream(ips.iter().copied())
            }
            (Id::Protocol, _) => options.protocol(match value.choice().name {
                "https" => Protocol::Https,
                _ => Protocol::Http,
            }),
            (Id::DecompressRequest, _) => options.decompress_request(value.bool()),
            (Id::ChunkSize, _) => options.chunk_size(value.usize()),
            (Id::MaxHeaderSize, _) => options.max_header_size(value.usize()),
            // A zero duration from the command line means "the default" and "no limit".
            (Id::IdleConnectionTimeout, _) => {
                options.idle_connection_timeout(value.duration().unwrap_or_default())
            }
            (Id::BodyTimeout, _) => options.body_timeout(value.duration()),
            (Id::MaxBodySize, _) => options.max_body_size(value.usize()),
            _ => unreachable!("`{id}` is not an HTTP option"),
        };
    }

    fn get(&self, id: Id) -> Setting {
        let size = |n: usize| Setting::Set(Value::Size(n as u64));
        let bool = |b: bool| Setting::Set(Value::Bool(b));
        match id {
            Id::NoKeepAlive => bool(self.get_no_keep_alive()),
            Id::Xheaders => bool(self.get_xheaders()),
            Id::TrustedDownstream => match self.get_trusted_downstream() {
                [] => Setting::Unset,
                ips => Setting::Set(Value::IpList(ips.to_vec())),
            },
            Id::Protocol => self
                .get_protocol()
                .map_or(Setting::Unset, |p| Setting::Set(choice(id, p.as_str()))),
            Id::DecompressRequest => bool(self.get_decompress_request()),
            Id::ChunkSize => size(self.get_chunk_size()),
            Id::MaxHeaderSize => size(self.get_max_header_size()),
            Id::IdleConnectionTimeout => {
                Setting::Set(Value::Duration(Some(self.get_idle_connection_timeout())))
            }
            Id::BodyTimeout => self
                .get_body_timeout()
                .map_or(Setting::Unset, |d| Setting::Set(Value::Duration(Some(d)))),
            Id::MaxBodySize => self.get_max_body_size().map_or(Setting::Unset, size),
            _ => unreachable!("`{id}` is not an HTTP option"),
        }
    }
}
