//! Protocols declared by their framing (feature `codec`): a tokio-util codec (any
//! [`Decoder`] + [`Encoder`]) splits the bytes of a connection into requests, a function
//! answers each request, and [`serve_frames`] runs the loop in between: read, decode, call,
//! encode, write. What `#[tcp_server(codec = LinesCodec::new())]` runs for each connection.
//!
//! Requests already received are all handled before the answers are written, so a client
//! that pipelines (sends several requests before reading) gets one write for the batch
//! instead of one per answer, and the read that follows finds the next batch. An answer
//! never waits on a handler that waits for something else: when a handler's future is
//! not ready at once (it awaits a database, a timer, another connection), the answers
//! before it are written first. A decoder error (a line over the codec's limit, bad
//! framing) closes that connection only, logged at info level with the peer's address; a
//! handler's `Err` is logged at error level and closes the connection too.
//!
//! # Examples
//!
//! A line protocol that answers `PING` with `PONG` and closes on `QUIT`:
//!
//! ```no_run
//! use std::process::ExitCode;
//! use tcpserver::Launcher;
//! use tcpserver::codec::{Context, LinesCodec};
//!
//! async fn answer(line: String, ctx: &mut Context) -> Option<String> {
//!     match line.as_str() {
//!         "PING" => Some("PONG".to_owned()),
//!         "QUIT" => {
//!             ctx.close();
//!             Some("BYE".to_owned())
//!         }
//!         _ => Some(format!("unknown command from {}", ctx.peer_addr())),
//!     }
//! }
//!
//! fn main() -> ExitCode {
//!     Launcher::new(8888).run_codec(|| LinesCodec::new_with_max_length(1024), answer)
//! }
//! ```
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;

pub use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
pub use tokio_util::codec::{
    AnyDelimiterCodec, BytesCodec, Decoder, Encoder, LengthDelimitedCodec, LinesCodec,
    LinesCodecError,
};

use crate::iostream::IoStream;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What a frame handler knows of its connection, and how it asks to close it.
#[derive(Debug)]
pub struct Context {
    peer: SocketAddr,
    close: bool,
}

impl Context {
    /// A context for the connection from `peer`.
    pub fn new(peer: SocketAddr) -> Self {
        Context { peer, close: false }
    }

    /// The peer's address (the client's, behind a PROXY protocol header).
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Closes the connection once this request's answer (if any) and those before it are
    /// written; requests after it, even already received, are not handled.
    pub fn close(&mut self) {
        self.close = true;
    }

    /// True once [`close`](Context::close) was called.
    pub fn is_closing(&self) -> bool {
        self.close
    }
}

/// What a frame handler may return: `Option<Response>` (no answer for `None`), or
/// `Result<Option<Response>, E>` where an `Err` (any error that converts into
/// `Box<dyn Error + Send + Sync>`) is logged and closes the connection.
pub trait FrameOutput: Send {
    /// The answer's type, which the codec encodes.
    type Response;

    /// The answer, or the error that ends the connection.
    ///
    /// # Errors
    ///
    /// The handler's own error.
    fn into_result(self) -> Result<Option<Self::Response>, BoxError>;
}

impl<R: Send> FrameOutput for Option<R> {
    type Response = R;

    fn into_result(self) -> Result<Option<R>, BoxError> {
        Ok(self)
    }
}

impl<R: Send, E: Into<BoxError> + Send> FrameOutput for Result<Option<R>, E> {
    type Response = R;

    fn into_result(self) -> Result<Option<R>, BoxError> {
        self.map_err(Into::into)
    }
}

/// Answers the requests of a codec: implemented for every
/// `async fn(request: Request, ctx: &mut Context)` returning a [`FrameOutput`] whose future
/// is `Send` (and for closures of that shape with their argument types written out);
/// `#[tcp_server(codec = ...)]` implements it for its handler. `M` only tells the
/// implementations apart; it is always inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot answer the requests of this codec",
    label = "not a frame handler",
    note = "a frame handler is an `async fn(request: Request, ctx: &mut Context)` whose request \
            is the codec's `Decoder::Item`, returning `Option<Response>` or \
            `Result<Option<Response>, E>`, where the codec is an `Encoder<Response>`",
    note = "its future must be `Send`: hold no `Rc`, `RefCell` borrow or other non-`Send` value \
            across an `.await`"
)]
pub trait FrameHandler<Request, M = ()>: Send + Sync + 'static {
    /// The answer's type.
    type Response;

    /// Answers one request.
    fn call<'a>(
        &'a self,
        request: Request,
        ctx: &'a mut Context,
    ) -> impl Future<Output = Result<Option<Self::Response>, BoxError>> + Send + 'a;
}

/// An async function of a request and the context, for any lifetime of the context: what
/// lets [`FrameHandler`]'s implementation accept `async fn`s that borrow it.
#[doc(hidden)]
pub trait FrameFn<'a, Request, Output>: Send + Sync + 'static {
    type Future: Future<Output = Output> + Send + 'a;

    fn call_frame(&'a self, request: Request, ctx: &'a mut Context) -> Self::Future;
}

impl<'a, Request, Output, F, Fut> FrameFn<'a, Request, Output> for F
where
    F: Fn(Request, &'a mut Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Output> + Send + 'a,
{
    type Future = Fut;

    fn call_frame(&'a self, request: Request, ctx: &'a mut Context) -> Fut {
        self(request, ctx)
    }
}

/// [`FrameHandler`]'s marker for an async function returning `Output`.
#[doc(hidden)]
#[derive(Debug)]
pub struct AsyncFn<Output>(std::marker::PhantomData<fn() -> Output>);

impl<F, Request, Output> FrameHandler<Request, AsyncFn<Output>> for F
where
    F: for<'a> FrameFn<'a, Request, Output>,
    Output: FrameOutput,
{
    type Response = Output::Response;

    fn call<'a>(
        &'a self,
        request: Request,
        ctx: &'a mut Context,
    ) -> impl Future<Output = Result<Option<Self::Response>, BoxError>> + Send + 'a {
        let answer = self.call_frame(request, ctx);
        async move { answer.await.into_result() }
    }
}

/// Why [`serve_frames`] closed a connection early.
#[derive(Debug)]
pub enum FramesError {
    /// Reading or writing failed (the peer reset the connection, ...).
    Io(std::io::Error),
    /// The codec could not decode the bytes received, or encode an answer.
    Codec(BoxError),
    /// A request was still incomplete with the stream's `max_buffer_size` buffered.
    TooLarge(usize),
    /// The handler returned an error.
    Handler(BoxError),
}

impl fmt::Display for FramesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramesError::Io(e) => write!(f, "{e}"),
            FramesError::Codec(e) => write!(f, "bad request: {e}"),
            FramesError::TooLarge(limit) => write!(
                f,
                "a request larger than max_buffer_size ({limit} bytes) was still incomplete"
            ),
            FramesError::Handler(e) => write!(f, "{e}"),
        }
    }
}

impl StdError for FramesError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            FramesError::Io(e) => Some(e),
            FramesError::Codec(e) | FramesError::Handler(e) => Some(&**e),
            FramesError::TooLarge(_) => None,
        }
    }
}

/// Serves one connection with `codec` and `handler` until the peer closes it (after its
/// last complete request is answered), the handler asks to close, or an error; then closes
/// the stream.
///
/// # Errors
///
/// The first error, which ends the connection: see [`FramesError`]. A peer that closes
/// with a request half sent is not an error unless the codec says so at the end of the
/// stream (`decode_eof`).
///
/// # Cancel safety
///
/// Not cancel safe: answers encoded and not yet written are lost when the future is
/// dropped (the server drops it only when it closes the connection at the shutdown
/// deadline).
pub async fn serve_frames<C, H, M>(
    mut stream: IoStream,
    peer: SocketAddr,
    mut codec: C,
    handler: &H,
) -> Result<(), FramesError>
where
    C: Decoder + Encoder<H::Response>,
    <C as Decoder>::Error: Into<BoxError>,
    <C as Encoder<H::Response>>::Error: Into<BoxError>,
    H: FrameHandler<C::Item, M>,
{
    let options = stream.options();
    let limit = options.get_max_buffer_size();
    let chunk = options.get_read_chunk_size();
    let mut ctx = Context::new(peer);
    let mut input = BytesMut::new();
    let mut output = BytesMut::new();
    let mut eof = false;
    let result = loop {
        // Every request already received, before anything is written.
        let decoded = if eof {
            codec.decode_eof(&mut input)
        } else {
            codec.decode(&mut input)
        };
        // The codec's error need not be `Send`: it is not held across an await.
        let decoded = decoded.map_err(|e| FramesError::Codec(e.into()));
        match decoded {
            Ok(Some(request)) => {
                let answer = {
                    let mut answer = pin!(handler.call(request, &mut ctx));
                    // Ready at once (the usual case): batch the answer. Waiting on
                    // something else: write the answers before it first, then wait.
                    match poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await {
                        Poll::Ready(answer) => answer,
                        Poll::Pending => {
                            if let Err(e) = flush(&mut stream, &mut output).await {
                                break Err(e);
                            }
                            answer.await
                        }
                    }
                };
                match answer {
                    Ok(Some(response)) => {
                        let encoded = codec.encode(response, &mut output);
                        if let Err(e) = encoded {
                            break Err(FramesError::Codec(e.into()));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => break Err(FramesError::Handler(e)),
                }
                if ctx.close {
                    break Ok(());
                }
                continue;
            }
            Ok(None) if eof => break Ok(()),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        // Nothing complete left: answer the batch, then read the next one.
        if let Err(e) = flush(&mut stream, &mut output).await {
            break Err(e);
        }
        if input.len() >= limit {
            break Err(FramesError::TooLarge(limit));
        }
        let room = chunk.min(limit - input.len());
        match read_more(&mut stream, &mut input, room).await {
            Ok(0) => eof = true,
            Ok(_) => {}
            Err(e) => break Err(FramesError::Io(e)),
        }
    };
    // What was answered before an error or a close still goes out.
    let flushed = flush(&mut stream, &mut output).await;
    stream.close();
    result.and(flushed)
}

/// The capacity a connection's input and output buffers keep between batches: enough for
/// the usual small requests and answers without an allocation per round trip (freeing and
/// allocating both buffers for every 64-byte echo cost 36% more instructions), little
/// enough that a connection waiting for its next request holds no large buffer.
const RETAINED: usize = 4096;

/// Drops `buffer`'s allocation if it is larger than [`RETAINED`] (a large request or
/// answer went through); it must be empty.
fn shrink(buffer: &mut BytesMut) {
    if buffer.capacity() > RETAINED {
        *buffer = BytesMut::new();
    }
}

/// Writes the answers encoded so far.
async fn flush(stream: &mut IoStream, output: &mut BytesMut) -> Result<(), FramesError> {
    if output.is_empty() {
        return Ok(());
    }
    stream.write_all(output).await.map_err(FramesError::Io)?;
    output.clear();
    shrink(output);
    Ok(())
}

/// Reads up to `chunk` more bytes into `input`. While it holds part of a request, with room
/// for `chunk` more; while it is empty (between requests, possibly for long), with room for
/// [`RETAINED`] bytes only, in the allocation kept from earlier batches, so that a waiting
/// connection holds no `chunk`-sized buffer and the usual round trip allocates nothing.
async fn read_more(stream: &mut IoStream, input: &mut BytesMut, chunk: usize) -> io::Result<usize> {
    if input.is_empty() {
        shrink(input);
        input.reserve(RETAINED.min(chunk).max(1));
    } else {
        input.reserve(chunk.max(1));
    }
    stream.read_buf(input).await
}
