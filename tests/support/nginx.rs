//! nginx as a real reverse proxy in front of a server under test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An nginx in front of `backend`, with a generated configuration in a temporary
/// directory; stopped (and its directory removed) when dropped.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    /// Where nginx listens.
    pub addr: SocketAddr,
}

impl Nginx {
    fn binary() -> Option<PathBuf> {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    }

    /// Starts nginx on a free loopback port, proxying to the upstream `backend` (named
    /// `backend` in `locations`, nginx `location` blocks of its one `server`).
    pub fn start(backend: SocketAddr, locations: &str) -> Nginx {
        let binary =
            Nginx::binary().expect("nginx is not installed (scripts/test-all installs it)");
        // A few tries: the port is picked free, then handed to nginx.
        for attempt in 0.. {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = std::env::temp_dir().join(format!(
                "tcpserver-nginx-{}-{attempt}-{port}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let d = dir.display();
            let config = format!(
                r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream backend {{
        server {backend};
        keepalive 4;
    }}
    server {{
        listen 127.0.0.1:{port};
{locations}    }}
}}
"#
            );
            std::fs::write(dir.join("nginx.conf"), config).unwrap();
            let child = Command::new(&binary)
                .arg("-p")
                .arg(&dir)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            let mut nginx = Nginx {
                child,
                dir,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(nginx.addr).is_ok() {
                    return nginx;
                }
                if nginx.child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let log = std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default();
            assert!(attempt < 3, "nginx did not start:\n{log}");
        }
        unreachable!()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
