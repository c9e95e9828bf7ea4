// Codec handlers: an `async fn(request, &mut Context)` answering `Option<Response>` or
// `Result<Option<Response>, E>`, with and without state; the codec's expression is any code
// that makes a codec. Each attribute sits in its own block: see every_key.rs for why.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tcpserver::codec::{Bytes, BytesCodec, BytesMut, Context, LengthDelimitedCodec, LinesCodec};
use tcpserver::tcp_server;

struct Count(AtomicU64);

fn count() -> Result<Count, String> {
    Ok(Count(AtomicU64::new(0)))
}

fn main() {
    {
        #[tcp_server(port = 1, codec = LinesCodec::new_with_max_length(1024))]
        async fn shout(line: String, ctx: &mut Context) -> Option<String> {
            if line == "quit" {
                ctx.close();
            }
            Some(format!("{} {}", line.to_uppercase(), ctx.peer_addr()))
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1, codec = LengthDelimitedCodec::builder().max_frame_length(4096).new_codec())]
        async fn frames(frame: BytesMut, _ctx: &mut Context) -> Result<Option<Bytes>, std::io::Error> {
            tokio::task::yield_now().await;
            Ok(Some(frame.freeze()))
        }
        let _ = main;
    }
    {
        // The README's "protocol in twenty lines".
        #[tcp_server(port = 8888, codec = LinesCodec::new_with_max_length(1024))]
        async fn command(line: String, ctx: &mut Context) -> Option<String> {
            let (verb, rest) = line.split_once(' ').unwrap_or((&line, ""));
            Some(match verb {
                "ECHO" => rest.to_owned(),
                "UPPER" => rest.to_uppercase(),
                "WHO" => ctx.peer_addr().to_string(),
                "QUIT" => {
                    ctx.close();
                    "bye".to_owned()
                }
                "" => return None,
                _ => format!("unknown command {verb}"),
            })
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1, codec = LinesCodec::new(), state = count)]
        async fn counted(_line: String, _ctx: &mut Context, count: &Count) -> Option<String> {
            Some(count.0.fetch_add(1, Ordering::Relaxed).to_string())
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1, codec = BytesCodec::new(), state = count, processes = 2)]
        async fn arc(bytes: BytesMut, _ctx: &mut Context, count: Arc<Count>) -> Option<Bytes> {
            count.0.fetch_add(1, Ordering::Relaxed);
            Some(bytes.freeze())
        }
        let _ = main;
    }
}
