// The application's own flags: a `clap::Args` type derived through `tcpserver::clap`, given
// to `state`'s function, sync or async. Each attribute sits in its own block: see
// every_key.rs for why.
use std::net::SocketAddr;
use std::sync::Arc;

use tcpserver::{IoStream, clap, tcp_server};

#[derive(clap::Args)]
struct Args {
    /// The database to use
    #[arg(long, default_value = "postgres://localhost/app")]
    db_url: String,
    /// Connections in the pool
    #[arg(long, default_value_t = 4)]
    pool_size: u32,
}

struct Pool {
    url: String,
}

fn connect(args: Args) -> Result<Pool, String> {
    let _ = args.pool_size;
    Ok(Pool { url: args.db_url })
}

async fn connect_async(args: Args) -> std::io::Result<Pool> {
    Ok(Pool { url: args.db_url })
}

fn main() {
    {
        #[tcp_server(port = 1, args = Args, state = connect)]
        async fn by_ref(_stream: IoStream, _addr: SocketAddr, pool: &Pool) {
            let _ = &pool.url;
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1, args = Args, state = connect_async, processes = 2)]
        async fn by_arc(_stream: IoStream, _addr: SocketAddr, pool: Arc<Pool>) {
            let _ = &pool.url;
        }
        let _ = main;
    }
}
