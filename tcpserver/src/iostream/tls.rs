//! TLS on a stream that already exists: the server side of STARTTLS, and TLS clients
//! (Tornado's `IOStream.start_tls` and `SSLIOStream.connect`).

use std::io;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::ToSocketAddrs;
use tokio_rustls::TlsConnector;

use super::{IoStream, Transport, closed_error};
use crate::error::{Error, ErrorKind, Result, is_reset_class};
use crate::tls::handshake::server_handshake;
use crate::tls::{TlsConfig, TlsInfo};

impl IoStream {
    /// Turns a plain stream into TLS, as the server (STARTTLS, in SMTP, IMAP, XMPP or
    /// PostgreSQL style): call it once the protocol agreed to switch, and go on with the
    /// stream it returns, which has the same options, signals and peer, and reports the
    /// handshake through [`wait_for_handshake`](Self::wait_for_handshake).
    ///
    /// Bytes the client sent right behind its STARTTLS command, already in this stream's
    /// buffer, are not lost: they go to the handshake first, as the start of the client's
    /// TLS data. Nothing received in plain text is ever read as if it came over TLS: if it
    /// is not TLS, the handshake fails (the STARTTLS command injection of CVE-2011-0411
    /// cannot happen).
    ///
    /// There is no deadline: wrap the call in [`tokio::time::timeout`] (the stream is then
    /// dropped).
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Tls`] if the handshake fails (the rustls error is the
    ///   [`source`](std::error::Error::source)) or the stream is TLS already.
    /// - [`ErrorKind::StreamClosed`] if the stream is closed, the peer closed its side, or
    ///   the peer went away during the handshake.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the stream is consumed, and a dropped call closes it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tcpserver::IoStream;
    /// use tcpserver::tls::TlsConfig;
    ///
    /// # async fn doc(mut stream: IoStream, tls: TlsConfig) -> tcpserver::Result<()> {
    /// let command = stream.read_until(b"\n", Some(1024)).await?;
    /// if command == b"STARTTLS\n" {
    ///     stream.write(b"OK\n").await?;
    ///     stream = stream.start_tls(&tls).await?;
    /// }
    /// let next = stream.read_until(b"\n", Some(1024)).await?;
    /// # let _ = next; Ok(()) }
    /// ```
    pub async fn start_tls(mut self, config: &TlsConfig) -> Result<IoStream> {
        let (transport, early) = self.take_plain()?;
        let (transport, info) = match transport {
            Transport::Tcp(tcp) => {
                let (tls, info) = server_handshake(config, tcp, &early)
                    .await
                    .map_err(handshake_error)?;
                (Transport::Tls(Box::new(tls)), info)
            }
            Transport::Unix(unix) => {
                let (tls, info) = server_handshake(config, unix, &early)
                    .await
                    .map_err(handshake_error)?;
                (Transport::TlsUnix(Box::new(tls)), info)
            }
            _ => unreachable!("take_plain returns a plain socket"),
        };
        self.transport = transport;
        Ok(self.with_tls_info(info))
    }

    /// Connects to `addr` over TLS, as a client (Tornado's `SSLIOStream.connect` with
    /// `server_hostname`): the server's certificate must be valid for `server_name` under
    /// `config`'s roots. The stream has the read API of every `IoStream`, and
    /// [`wait_for_handshake`](Self::wait_for_handshake) reports the server's certificates.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect) and [`start_tls_client`](Self::start_tls_client).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe: a dropped call closes the connection it opened.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use tcpserver::IoStream;
    /// use tcpserver::tls::rustls::{ClientConfig, RootCertStore};
    ///
    /// # async fn doc(roots: RootCertStore) -> tcpserver::Result<()> {
    /// let config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    /// let mut stream = IoStream::connect_tls("example.com:443", "example.com", Arc::new(config)).await?;
    /// stream.write(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n").await?;
    /// let head = stream.read_until(b"\r\n\r\n", Some(65536)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_tls(
        addr: impl ToSocketAddrs,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> Result<IoStream> {
        IoStream::connect(addr)
            .await?
            .start_tls_client(server_name, config)
            .await
    }

    /// Turns a plain TCP stream into TLS, as the client (the client side of STARTTLS, and
    /// what [`connect_tls`](Self::connect_tls) does after connecting). The server's
    /// certificate must be valid for `server_name`.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::Tls`] if `server_name` is not a valid DNS name or IP address, the
    ///   handshake fails (a certificate not valid for the name or not trusted; the rustls
    ///   error is the [`source`](std::error::Error::source)), the stream is not plain TCP,
    ///   or the server already sent bytes this stream has buffered (which TLS cannot
    ///   account for: plain text injected before the handshake).
    /// - [`ErrorKind::StreamClosed`] if the stream is closed or the server went away.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the stream is consumed, and a dropped call closes it.
    pub async fn start_tls_client(
        mut self,
        server_name: &str,
        config: Arc<ClientConfig>,
    ) -> Result<IoStream> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
            Error::new(ErrorKind::Tls)
                .with_message(format!("invalid server name {server_name:?}: {e}"))
        })?;
        if self.buffered() > 0 {
            return Err(Error::new(ErrorKind::Tls).with_message(format!(
                "the server sent {} bytes before the TLS handshake",
                self.buffered()
            )));
        }
        let Transport::Tcp(tcp) = self.take_plain()?.0 else {
            return Err(Error::new(ErrorKind::Tls).with_message("TLS clients run over TCP"));
        };
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(handshake_error)?;
        let info = TlsInfo::from_state(tls.get_ref().1, Some(server_name));
        self.transport = Transport::TlsClient(Box::new(tls));
        Ok(self.with_tls_info(info))
    }

    /// Takes the plain socket and the bytes buffered from it, leaving the stream without
    /// a socket until the handshake gives one back.
    fn take_plain(&mut self) -> Result<(Transport, Vec<u8>)> {
        if let Some(reason) = &self.closed {
            return Err(closed_error(reason));
        }
        if self.read_eof {
            return Err(Error::closed(None));
        }
        match self.transport {
            Transport::Tcp(_) | Transport::Unix(_) => {}
            Transport::Closed => return Err(Error::closed(None)),
            _ => return Err(Error::new(ErrorKind::Tls).with_message("the stream is TLS already")),
        }
        let buffered = self.buf.take(self.buf.len());
        Ok((
            std::mem::replace(&mut self.transport, Transport::Closed),
            buffered,
        ))
    }
}

/// A failed handshake: the peer going away is a closed stream, anything else TLS's fault.
fn handshake_error(err: io::Error) -> Error {
    if is_reset_class(&err) || err.kind() == io::ErrorKind::UnexpectedEof {
        Error::closed(Some(Arc::new(err)))
    } else {
        Error::new(ErrorKind::Tls).with_source(err)
    }
}
