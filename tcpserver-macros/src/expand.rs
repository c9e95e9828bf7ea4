//! Code generation: the handler, unchanged, and a `main` that hands the configuration and
//! the handler to `tcpserver::Launcher` (`run` for `#[tcp_server]`, `run_http` with the
//! `HttpOptions` for `#[http_server]`). Only keys the attribute gives become setter calls;
//! every default stays in the runtime crate.

use std::net::IpAddr;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{LitInt, LitStr};

use crate::kind::Kind;
use crate::parse::HandlerFn;
use crate::validate::handler::{self, Handler};
use crate::validate::http::{HttpConfig, Protocol};
use crate::validate::value::Spanned;
use crate::validate::{Config, Family, Runtime, Tls, TlsIdentity};

/// The handler as written, then `fn main`.
pub(crate) fn server(
    kind: Kind,
    item: TokenStream,
    config: &Config,
    handler: &Handler,
) -> TokenStream {
    let krate = config
        .crate_path
        .as_ref()
        .map_or_else(|| quote!(::tcpserver), ToTokens::to_token_stream);
    let port = int(&config.port);
    let setters = setters(config, &krate);
    let about = handler.about.as_deref().map(|about| quote!(.about(#about)));
    let ident = &handler.ident;
    let run = match kind {
        Kind::Tcp => quote!(.run(#ident)),
        Kind::Http => {
            let options = http_options(&config.http, &krate);
            quote!(.run_http(#options, #ident))
        }
    };
    quote! {
        #item

        fn main() -> ::std::process::ExitCode {
            #krate::Launcher::new(#port)
                #setters
                #about
                #run
        }
    }
}

/// One setter call per key given, in the documentation's order.
fn setters(config: &Config, krate: &TokenStream) -> TokenStream {
    let mut calls = TokenStream::new();
    let mut call = |tokens: TokenStream| calls.extend(tokens);
    if let Some(address) = &config.address {
        let address = string(address);
        call(quote!(.address(#address)));
    }
    if let Some(family) = &config.family {
        let variant = match family.value {
            Family::Unspec => quote!(Unspec),
            Family::V4 => quote!(V4),
            Family::V6 => quote!(V6),
        };
        call(quote!(.family(#krate::netutil::Family::#variant)));
    }
    if let Some(backlog) = &config.backlog {
        let backlog = int(backlog);
        call(quote!(.backlog(#backlog)));
    }
    if let Some(reuse_port) = &config.reuse_port {
        let reuse_port = boolean(reuse_port);
        call(quote!(.reuse_port(#reuse_port)));
    }
    if let Some(processes) = &config.processes {
        let processes = int(processes);
        call(quote!(.processes(#processes)));
    }
    if let Some(max_restarts) = &config.max_restarts {
        let max_restarts = int(max_restarts);
        call(quote!(.max_restarts(#max_restarts)));
    }
    if let Some(tls) = &config.tls {
        call(tls_calls(tls));
    }
    if let Some(bytes) = &config.max_buffer_size {
        let bytes = int(bytes);
        call(quote!(.max_buffer_size(#bytes)));
    }
    if let Some(bytes) = &config.read_chunk_size {
        let bytes = int(bytes);
        call(quote!(.read_chunk_size(#bytes)));
    }
    if let Some(limit) = &config.max_connections {
        let limit = int(limit);
        call(quote!(.max_connections(#limit)));
    }
    if let Some(timeout) = &config.shutdown_timeout {
        let timeout = duration(timeout.value);
        call(quote!(.shutdown_timeout(#timeout)));
    }
    if let Some(runtime) = &config.runtime {
        let variant = match runtime.value {
            Runtime::MultiThread => quote!(MultiThread),
            Runtime::CurrentThread => quote!(CurrentThread),
        };
        call(quote!(.runtime(#krate::launch::RuntimeFlavor::#variant)));
    }
    if let Some(threads) = &config.worker_threads {
        let threads = int(threads);
        call(quote!(.worker_threads(#threads)));
    }
    calls
}

/// `HttpOptions::new()` with one setter call per HTTP option given, in the documentation's
/// order.
fn http_options(http: &HttpConfig, krate: &TokenStream) -> TokenStream {
    let mut options = quote!(#krate::httpserver::HttpOptions::new());
    let mut call = |tokens: TokenStream| options.extend(tokens);
    if let Some(yes) = &http.no_keep_alive {
        let yes = boolean(yes);
        call(quote!(.no_keep_alive(#yes)));
    }
    if let Some(yes) = &http.xheaders {
        let yes = boolean(yes);
        call(quote!(.xheaders(#yes)));
    }
    if let Some(proxies) = &http.trusted_downstream {
        let proxies = proxies.value.iter().map(ip_address);
        call(quote!(.trusted_downstream([#(#proxies),*])));
    }
    if let Some(protocol) = &http.protocol {
        let variant = match protocol.value {
            Protocol::Http => quote!(Http),
            Protocol::Https => quote!(Https),
        };
        call(quote!(.protocol(#krate::httpserver::Protocol::#variant)));
    }
    if let Some(yes) = &http.decompress_request {
        let yes = boolean(yes);
        call(quote!(.decompress_request(#yes)));
    }
    if let Some(bytes) = &http.chunk_size {
        let bytes = int(bytes);
        call(quote!(.chunk_size(#bytes)));
    }
    if let Some(bytes) = &http.max_header_size {
        let bytes = int(bytes);
        call(quote!(.max_header_size(#bytes)));
    }
    if let Some(timeout) = &http.idle_connection_timeout {
        let timeout = duration(timeout.value);
        call(quote!(.idle_connection_timeout(#timeout)));
    }
    if let Some(timeout) = &http.body_timeout {
        let timeout = duration(timeout.value);
        call(quote!(.body_timeout(#timeout)));
    }
    if let Some(bytes) = &http.max_body_size {
        let bytes = int(bytes);
        call(quote!(.max_body_size(#bytes)));
    }
    options
}

/// An address checked at compile time, built without parsing at run time:
/// `IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))`.
fn ip_address(address: &Spanned<IpAddr>) -> TokenStream {
    let span = located(address);
    match address.value {
        IpAddr::V4(v4) => {
            let octets = v4.octets().map(|o| LitInt::new(&o.to_string(), span));
            quote!(::std::net::IpAddr::V4(::std::net::Ipv4Addr::new(#(#octets),*)))
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments().map(|s| LitInt::new(&format!("{s:#x}"), span));
            quote!(::std::net::IpAddr::V6(::std::net::Ipv6Addr::new(#(#segments),*)))
        }
    }
}

fn tls_calls(tls: &Tls) -> TokenStream {
    let identity = match &tls.identity {
        TlsIdentity::Pem(pem) => {
            let pem = string(pem);
            quote!(.tls(#pem))
        }
        TlsIdentity::CertKey { cert, key } => {
            let (cert, key) = (string(cert), string(key));
            quote!(.tls_cert_key(#cert, #key))
        }
    };
    let client_ca = tls.client_ca.as_ref().map(|ca| {
        let ca = string(ca);
        quote!(.tls_client_ca(#ca))
    });
    quote!(#identity #client_ca)
}

/// Where a generated literal is reported: at the user's value, but still marked as coming
/// from the macro, so that lints on generated code stay quiet.
fn located<T>(value: &Spanned<T>) -> Span {
    Span::call_site().located_at(value.span())
}

fn int(value: &Spanned<u64>) -> LitInt {
    LitInt::new(&value.value.to_string(), located(value))
}

fn string(value: &Spanned<String>) -> LitStr {
    LitStr::new(&value.value, located(value))
}

fn boolean(value: &Spanned<bool>) -> syn::LitBool {
    syn::LitBool::new(value.value, located(value))
}

fn duration(d: Duration) -> TokenStream {
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    if nanos == 0 {
        quote!(::std::time::Duration::from_secs(#secs))
    } else if nanos % 1_000_000 == 0 {
        let millis = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        quote!(::std::time::Duration::from_millis(#millis))
    } else {
        quote!(::std::time::Duration::new(#secs, #nanos))
    }
}

/// The output for a bad attribute or handler: the errors, the item (so that the rest of
/// the program still resolves and only the macro's own messages show), and a stub `main`
/// (so that rustc does not add "`main` function not found").
pub(crate) fn with_errors(
    item: TokenStream,
    handler: Option<&HandlerFn>,
    errors: syn::Error,
) -> TokenStream {
    let errors = errors.into_compile_error();
    match handler {
        // Inside an `impl` block a `fn main` would be a method: leave the block alone.
        Some(f) if handler::is_method(&f.sig) => quote!(#errors #item),
        // An `async fn main` at the crate root would be rejected as the entry point; nested
        // in the stub it is an ordinary function.
        Some(f) if f.sig.ident == "main" => quote! {
            #errors
            fn main() {
                #[allow(dead_code)]
                #item
            }
        },
        _ => quote! {
            #errors
            #[allow(dead_code)]
            #item
            fn main() {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(args: TokenStream, item: TokenStream) -> String {
        crate::entry::server(Kind::Tcp, args, item).to_string()
    }

    fn expand_http(args: TokenStream, item: TokenStream) -> String {
        crate::entry::server(Kind::Http, args, item).to_string()
    }

    fn squash(tokens: TokenStream) -> String {
        tokens.to_string()
    }

    #[test]
    fn minimal() {
        let item = quote!(
            async fn echo(s: IoStream, a: SocketAddr) {}
        );
        assert_eq!(
            expand(quote!(port = 8888), item.clone()),
            squash(quote! {
                #item
                fn main() -> ::std::process::ExitCode {
                    ::tcpserver::Launcher::new(8888).run(echo)
                }
            })
        );
    }

    #[test]
    fn every_key_becomes_one_setter() {
        let item = quote! {
            /// Echoes lines.
            async fn echo(s: IoStream, a: SocketAddr) {}
        };
        let args = quote! {
            port = 0, address = "127.0.0.1", family = "ipv4", backlog = 64, reuse_port = true,
            processes = 2, max_restarts = 3, tls(pem = "s.pem", client_ca = "ca.pem"),
            max_buffer_size = "1MiB", read_chunk_size = "64KiB", max_connections = 10,
            shutdown_timeout = 1.5, runtime = "current-thread", crate = "my::server",
        };
        assert_eq!(
            expand(args, item.clone()),
            squash(quote! {
                #item
                fn main() -> ::std::process::ExitCode {
                    my::server::Launcher::new(0)
                        .address("127.0.0.1")
                        .family(my::server::netutil::Family::V4)
                        .backlog(64)
                        .reuse_port(true)
                        .processes(2)
                        .max_restarts(3)
                        .tls("s.pem")
                        .tls_client_ca("ca.pem")
                        .max_buffer_size(1048576)
                        .read_chunk_size(65536)
                        .max_connections(10)
                        .shutdown_timeout(::std::time::Duration::from_millis(1500u64))
                        .runtime(my::server::launch::RuntimeFlavor::CurrentThread)
                        .about("Echoes lines.")
                        .run(echo)
                }
            })
        );
    }

    #[test]
    fn separate_cert_and_key_and_worker_threads() {
        let out = expand(
            quote!(
                port = 1,
                tls(cert = "c.pem", key = "k.pem"),
                worker_threads = 4
            ),
            quote!(
                async fn h(s: IoStream, a: SocketAddr) {}
            ),
        );
        assert!(
            out.contains(&squash(quote!(.tls_cert_key("c.pem", "k.pem")))),
            "{out}"
        );
        assert!(out.contains(&squash(quote!(.worker_threads(4)))), "{out}");
    }

    #[test]
    fn durations() {
        assert_eq!(
            duration(Duration::from_secs(30)).to_string(),
            quote!(::std::time::Duration::from_secs(30u64)).to_string()
        );
        assert_eq!(
            duration(Duration::from_micros(1500)).to_string(),
            quote!(::std::time::Duration::new(0u64, 1500000u32)).to_string()
        );
    }

    #[test]
    fn bad_attribute_keeps_the_function_and_stubs_main() {
        let item = quote!(
            async fn echo(s: IoStream, a: SocketAddr) {}
        );
        let out = expand(quote!(port = "x"), item.clone());
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(
            out.ends_with(&squash(quote!(#[allow(dead_code)] #item fn main() {}))),
            "{out}"
        );
    }

    #[test]
    fn bad_handler_reports_attribute_and_handler_errors() {
        let out = expand(
            quote!(prot = 1),
            quote!(
                fn echo() {}
            ),
        );
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    }

    #[test]
    fn a_method_is_left_in_its_impl() {
        let item = quote!(
            async fn h(&self, s: IoStream, a: SocketAddr) {}
        );
        let out = expand(quote!(port = 1), item.clone());
        assert!(out.ends_with(&squash(item)), "{out}");
        assert!(!out.contains("fn main"), "{out}");
    }

    #[test]
    fn a_handler_called_main_is_nested_in_the_stub() {
        let item = quote!(
            async fn main(s: IoStream, a: SocketAddr) {}
        );
        let out = expand(quote!(port = 1), item.clone());
        assert!(
            out.ends_with(&squash(quote!(fn main() { #[allow(dead_code)] #item }))),
            "{out}"
        );
    }

    #[test]
    fn http_minimal() {
        let item = quote!(
            async fn hello(r: Request<Body>) -> Response<String> {}
        );
        assert_eq!(
            expand_http(quote!(port = 8080), item.clone()),
            squash(quote! {
                #item
                fn main() -> ::std::process::ExitCode {
                    ::tcpserver::Launcher::new(8080)
                        .run_http(::tcpserver::httpserver::HttpOptions::new(), hello)
                }
            })
        );
    }

    #[test]
    fn every_http_option_becomes_one_setter() {
        let item = quote! {
            /// Says hello.
            async fn hello(r: Request<Body>) -> Result<Response<String>, E> {}
        };
        let args = quote! {
            port = 8443, processes = 0, tls = "s.pem", max_buffer_size = "1MiB",
            no_keep_alive = false, xheaders = true,
            trusted_downstream = ["10.0.0.1", "::1", "2001:db8::ff00:42:8329"],
            protocol = "https", decompress_request = true, chunk_size = "16KiB",
            max_header_size = 8192, idle_connection_timeout = "75s", body_timeout = 0.5,
            max_body_size = "10MiB", crate = "my::server",
        };
        assert_eq!(
            expand_http(args, item.clone()),
            squash(quote! {
                #item
                fn main() -> ::std::process::ExitCode {
                    my::server::Launcher::new(8443)
                        .processes(0)
                        .tls("s.pem")
                        .max_buffer_size(1048576)
                        .about("Says hello.")
                        .run_http(
                            my::server::httpserver::HttpOptions::new()
                                .no_keep_alive(false)
                                .xheaders(true)
                                .trusted_downstream([
                                    ::std::net::IpAddr::V4(::std::net::Ipv4Addr::new(10, 0, 0, 1)),
                                    ::std::net::IpAddr::V6(::std::net::Ipv6Addr::new(
                                        0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x1
                                    )),
                                    ::std::net::IpAddr::V6(::std::net::Ipv6Addr::new(
                                        0x2001, 0xdb8, 0x0, 0x0, 0x0, 0xff00, 0x42, 0x8329
                                    ))
                                ])
                                .protocol(my::server::httpserver::Protocol::Https)
                                .decompress_request(true)
                                .chunk_size(16384)
                                .max_header_size(8192)
                                .idle_connection_timeout(::std::time::Duration::from_secs(75u64))
                                .body_timeout(::std::time::Duration::from_millis(500u64))
                                .max_body_size(10485760),
                            hello
                        )
                }
            })
        );
    }

    #[test]
    fn bad_http_attribute_keeps_the_function_and_stubs_main() {
        let item = quote!(
            async fn hello(r: Request<Body>) -> Response<String> {}
        );
        let out = expand_http(quote!(port = 8080, protocol = "ftp"), item.clone());
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.contains("unknown protocol"), "{out}");
        assert!(
            out.ends_with(&squash(quote!(#[allow(dead_code)] #item fn main() {}))),
            "{out}"
        );
    }

    #[test]
    fn http_option_on_tcp_server() {
        let out = expand(
            quote!(port = 1, xheaders = true),
            quote!(
                async fn h(s: IoStream, a: SocketAddr) {}
            ),
        );
        assert!(out.contains("is an HTTP option"), "{out}");
        assert!(!out.contains("run_http"), "{out}");
    }

    #[test]
    fn not_a_function() {
        let out = expand(
            quote!(port = 1),
            quote!(
                struct S;
            ),
        );
        assert!(out.contains("goes on an async function"), "{out}");
        assert!(
            out.ends_with(&squash(quote!(
                #[allow(dead_code)]
                struct S;
                fn main() {}
            ))),
            "{out}"
        );
    }
}
