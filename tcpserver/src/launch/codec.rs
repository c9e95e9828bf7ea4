//! [`Launcher::run_codec`]: a server binary whose connections are served by a codec and a
//! frame handler ([`serve_frames`]); what `#[tcp_server(codec = ...)]` expands to.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use super::{Launcher, WithState};
use crate::codec::{Decoder, Encoder, FrameHandler, serve_frames};
use crate::iostream::IoStream;
use crate::tcpserver::StreamHandler;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Launcher {
    /// Runs the server binary with each connection served by a codec made by `codec` (once
    /// per connection: a codec holds the state of a half-received request) and answered
    /// by `handler`, one request at a time; see [`codec`](crate::codec) for the loop.
    ///
    /// # Examples
    ///
    /// See the [`codec`](crate::codec) module.
    pub fn run_codec<C, H, M>(
        self,
        codec: impl Fn() -> C + Send + Sync + 'static,
        handler: H,
    ) -> ExitCode
    where
        C: Decoder + Encoder<H::Response> + Send + 'static,
        C::Item: Send,
        <C as Decoder>::Error: Into<BoxError>,
        <C as Encoder<H::Response>>::Error: Into<BoxError>,
        H: FrameHandler<C::Item, M>,
        H::Response: Send,
    {
        self.run(frames(codec, handler))
    }
}

impl<S: Send + Sync + 'static> WithState<S> {
    /// [`Launcher::run_codec`] with state: `handler` makes the frame handler from the
    /// process's state, once the state exists.
    pub fn run_codec<C, H, M>(
        self,
        codec: impl Fn() -> C + Send + Sync + 'static,
        handler: impl FnOnce(Arc<S>) -> H + 'static,
    ) -> ExitCode
    where
        C: Decoder + Encoder<H::Response> + Send + 'static,
        C::Item: Send,
        <C as Decoder>::Error: Into<BoxError>,
        <C as Encoder<H::Response>>::Error: Into<BoxError>,
        H: FrameHandler<C::Item, M>,
        H::Response: Send,
    {
        self.run_with(move |state| frames(codec, handler(state)))
    }
}

/// The connection handler: `serve_frames` with a new codec.
fn frames<C, H, M>(codec: impl Fn() -> C + Send + Sync + 'static, handler: H) -> impl StreamHandler
where
    C: Decoder + Encoder<H::Response> + Send + 'static,
    C::Item: Send,
    <C as Decoder>::Error: Into<BoxError>,
    <C as Encoder<H::Response>>::Error: Into<BoxError>,
    H: FrameHandler<C::Item, M>,
    H::Response: Send,
{
    let handler = Arc::new(handler);
    move |stream: IoStream, peer: SocketAddr| {
        let handler = Arc::clone(&handler);
        let codec = codec();
        // A `FramesError` is classified for the log and the metrics: a peer that left,
        // a client's bad request, or the handler's own error.
        async move { serve_frames(stream, peer, codec, &*handler).await }
    }
}
