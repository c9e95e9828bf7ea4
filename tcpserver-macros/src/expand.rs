//! Code generation: the handler (as written, but for the storage of its arguments, see
//! `arguments_stored_once`), and a `main` that hands the configuration and
//! the handler to `tcpserver::Launcher` (`run` for `#[tcp_server]`, `run_http` with the
//! `HttpOptions` for `#[http_server]`). Each key given becomes one call of the setter of
//! the same name, on the `Launcher` or, for an HTTP option, on the `HttpOptions`; every
//! default stays in the runtime crate.

use std::net::IpAddr;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::{LitInt, LitStr};
use tcpserver_options::keys::{Group, Id};
use tcpserver_options::value::Value;

use crate::kind::Kind;
use crate::parse::HandlerFn;
use crate::validate::handler::{self, Handler};
use crate::validate::value::Spanned;
use crate::validate::{Config, Setting};

/// The handler, then `fn main`.
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
    // A port, or else the Unix socket, makes the launcher.
    let (launcher, made_with) = match &config.port {
        Some(port) => {
            let port = int(port);
            (quote!(Launcher::new(#port)), None)
        }
        None => match config.get(Id::Unix).map(|s| (&s.value, &s.value.value)) {
            Some((at, Value::Text(path))) => {
                let path = string(path, at);
                (quote!(Launcher::new_unix(#path)), Some(Id::Unix))
            }
            _ => unreachable!("the attribute has a port or a Unix socket"),
        },
    };
    let mut setters = TokenStream::new();
    for setting in config
        .settings
        .iter()
        .filter(|s| s.key.group != Group::Http && Some(s.key.id) != made_with)
    {
        setters.extend(setter(setting, config, &krate));
    }
    let about = handler.about.as_deref().map(|about| quote!(.about(#about)));
    let state = state(config);
    let (items, run) = match (kind, &config.codec, &handler.frames) {
        (Kind::Tcp, Some(codec), Some(frames)) => {
            let has_state = config.function(Id::State).is_some();
            frames_run(codec, frames, handler, has_state, &krate)
        }
        _ => (TokenStream::new(), TokenStream::new()),
    };
    let handler = handler_expr(kind, config, handler);
    // A stream handler's future lives as long as its connection, idle or not; an HTTP
    // handler's future that ignores its request no longer holds it, and with it the bytes
    // of hyper's read buffer that its head points into (hyper reads ahead while the
    // request is in flight, and needs a fresh buffer while they are held).
    let item = match (kind, &config.codec) {
        (Kind::Tcp, None) | (Kind::Http, _) => arguments_stored_once(item),
        _ => item,
    };
    let run = match kind {
        Kind::Tcp if !run.is_empty() => run,
        Kind::Tcp => quote!(.run(#handler)),
        Kind::Http => {
            let options = config
                .group(Group::Http)
                .flat_map(|setting| setter(setting, config, &krate));
            quote!(.run_http(#krate::httpserver::HttpOptions::new() #(#options)*, #handler))
        }
    };
    quote! {
        #item

        fn main() -> ::std::process::ExitCode {
            #items
            #krate::#launcher
                #setters
                #about
                #state
                #run
        }
    }
}

/// With `codec`: a `FrameHandler` that calls the handler (holding the state when the
/// handler takes it), and the `run_codec` call, with the codec's expression evaluated for
/// each connection.
fn frames_run(
    codec: &syn::Expr,
    frames: &handler::FrameTypes,
    handler: &Handler,
    has_state: bool,
    krate: &TokenStream,
) -> (TokenStream, TokenStream) {
    let ident = &handler.ident;
    let (request, output) = (&frames.request, &frames.output);
    let (fields, state, make) = match &handler.state {
        None if has_state => (quote!(;), quote!(), quote!(|_state| __TcpserverFrames)),
        None => (quote!(;), quote!(), quote!(__TcpserverFrames)),
        Some(arg) => {
            let ty = &arg.ty;
            let span = syn::spanned::Spanned::span(ty);
            // The state's type, from the argument as written: `&T` or `Arc<T>`.
            let inner = state_type(ty);
            let pass = if arg.by_ref {
                quote!(&*self.0)
            } else {
                quote!(::std::sync::Arc::clone(&self.0))
            };
            let make = quote::quote_spanned!(span=> __TcpserverFrames);
            (
                quote!((::std::sync::Arc<#inner>);),
                quote!(, #pass),
                quote!(#make),
            )
        }
    };
    let items = quote! {
        /// The handler, answering one decoded request at a time.
        struct __TcpserverFrames #fields
        impl #krate::codec::FrameHandler<#request> for __TcpserverFrames {
            type Response = <#output as #krate::codec::FrameOutput>::Response;

            fn call<'a>(
                &'a self,
                request: #request,
                ctx: &'a mut #krate::codec::Context,
            ) -> impl ::std::future::Future<
                Output = ::std::result::Result<
                    ::std::option::Option<Self::Response>,
                    ::std::boxed::Box<dyn ::std::error::Error + ::std::marker::Send + ::std::marker::Sync>,
                >,
            > + ::std::marker::Send + 'a {
                async move {
                    #krate::codec::FrameOutput::into_result(#ident(request, ctx #state).await)
                }
            }
        }
    };
    let codec_span = Span::call_site().located_at(syn::spanned::Spanned::span(codec));
    let run_codec = format_ident!("run_codec", span = codec_span);
    (items, quote!(.#run_codec(move || #codec, #make)))
}

/// The handler as `fn(..) -> impl Future { async move { .. } }`, the same function
/// otherwise: an `async fn`'s future keeps each argument twice (as the argument, and as the
/// local the body uses; rust-lang/rust#62958), an `async move` block once. For a stream
/// handler that is a second `IoStream` and `SocketAddr` in every connection's task: 224 of
/// the 608 bytes of the echo's future. An argument the body never uses is not captured at
/// all, so an HTTP handler that ignores its request drops it when called. Left as written
/// when the rewrite could change
/// anything: arguments that are patterns or borrow (their lifetimes), generics, inner
/// attributes, a body that does not parse.
///
/// The body's value is bound with the declared return type first, so that a wrong type is
/// reported on the body as for the `async fn`, not as a mismatch of the future's output.
fn arguments_stored_once(item: TokenStream) -> TokenStream {
    let Ok(function) = syn::parse2::<syn::ItemFn>(item.clone()) else {
        return item;
    };
    let plain_arguments = function.sig.inputs.iter().all(|arg| match arg {
        syn::FnArg::Typed(typed) => {
            matches!(&*typed.pat, syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none())
                && !borrows(&typed.ty.to_token_stream())
        }
        syn::FnArg::Receiver(_) => false,
    });
    let inner_attributes = function
        .attrs
        .iter()
        .any(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
    if function.sig.asyncness.is_none()
        || !plain_arguments
        || inner_attributes
        || !function.sig.generics.params.is_empty()
        || function.sig.generics.where_clause.is_some()
    {
        return item;
    }
    let mut function = function;
    let output = match &function.sig.output {
        syn::ReturnType::Default => quote!(()),
        syn::ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let span = function
        .sig
        .asyncness
        .map_or_else(Span::call_site, |a| a.span);
    function.sig.asyncness = None;
    function.sig.output =
        syn::parse_quote_spanned!(span=> -> impl ::std::future::Future<Output = #output>);
    let body = &function.block;
    function.block = Box::new(syn::parse_quote!({
        async move {
            let __tcpserver_output: #output = #body;
            // After a body that never ends (a `loop`), this line is not reached.
            #[allow(unreachable_code, clippy::needless_return)]
            return __tcpserver_output;
        }
    }));
    function.into_token_stream()
}

/// True if a type has a reference or a lifetime in it.
fn borrows(ty: &TokenStream) -> bool {
    ty.clone().into_iter().any(|token| match token {
        proc_macro2::TokenTree::Punct(p) => p.as_char() == '&' || p.as_char() == '\'',
        proc_macro2::TokenTree::Group(g) => borrows(&g.stream()),
        _ => false,
    })
}

/// `T` of a state argument written `&T` or `Arc<T>`.
fn state_type(ty: &syn::Type) -> TokenStream {
    match ty {
        syn::Type::Reference(reference) => reference.elem.to_token_stream(),
        syn::Type::Path(path) => match path.path.segments.last().map(|s| &s.arguments) {
            Some(syn::PathArguments::AngleBracketed(args)) => args.args.to_token_stream(),
            _ => ty.to_token_stream(),
        },
        syn::Type::Group(group) => state_type(&group.elem),
        _ => ty.to_token_stream(),
    }
}

/// `.state(init)` and `.on_shutdown(hook)`, each located at the function it names, so that
/// a function of the wrong shape (or a state that is not `Send + Sync`) is reported there.
fn state(config: &Config) -> TokenStream {
    let mut calls = TokenStream::new();
    for (id, method) in [(Id::State, "state"), (Id::OnShutdown, "on_shutdown")] {
        if let Some(function) = config.function(id) {
            let span = Span::call_site().located_at(
                function
                    .segments
                    .last()
                    .map_or_else(Span::call_site, |s| s.ident.span()),
            );
            // With `args`, the state's function takes the parsed flags.
            match config.function(Id::Args).filter(|_| id == Id::State) {
                Some(args) => {
                    let method = format_ident!("state_with", span = span);
                    calls.extend(quote!(.#method::<#args, _, _>(#function)));
                }
                None => {
                    let method = format_ident!("{}", method, span = span);
                    calls.extend(quote!(.#method(#function)));
                }
            }
        }
    }
    calls
}

/// What `run` or `run_http` is given: the handler itself, or with state a closure that
/// passes the state as the handler takes it (`&State` or `Arc<State>`), through a binding
/// typed as the handler's argument, so that a state of another type is reported there.
fn handler_expr(kind: Kind, config: &Config, handler: &Handler) -> TokenStream {
    let ident = &handler.ident;
    if config.function(Id::State).is_none() {
        return quote!(#ident);
    }
    let arguments = match kind {
        Kind::Tcp => quote!(stream, addr),
        Kind::Http => quote!(request),
    };
    let Some(arg) = &handler.state else {
        return quote!(move |#arguments, _state| #ident(#arguments));
    };
    let ty = &arg.ty;
    let span = syn::spanned::Spanned::span(ty);
    let value = if arg.by_ref {
        quote::quote_spanned!(span=> &*state)
    } else {
        quote::quote_spanned!(span=> state)
    };
    // All of it at the argument's type: a state of another type is reported there.
    let binding = quote::quote_spanned!(syn::spanned::Spanned::span(ty)=> let state: #ty = #value;);
    quote!(move |#arguments, state| async move {
        #binding
        #ident(#arguments, state).await
    })
}

/// The setter calls for one key: `.name(value)`, or for the sub-keys of `tls(...)` the
/// `Launcher`'s TLS setters.
fn setter(setting: &Setting, config: &Config, krate: &TokenStream) -> Vec<TokenStream> {
    let value = &setting.value;
    let call = |name: &str, args: TokenStream| {
        let name = format_ident!("{}", name, span = located(value));
        quote!(.#name(#args))
    };
    match (setting.key.id, &value.value) {
        (Id::TlsPem, Value::Text(pem)) => vec![call("tls", string(pem, value).into_token_stream())],
        (Id::TlsCert, Value::Text(cert)) => {
            let key = match config.get(Id::TlsKey).map(|s| &s.value.value) {
                Some(Value::Text(key)) => string(key, value),
                _ => unreachable!("the rules give `cert` its `key`"),
            };
            let cert = string(cert, value);
            vec![call("tls_cert_key", quote!(#cert, #key))]
        }
        // Given with `cert`, above.
        (Id::TlsKey, _) => Vec::new(),
        (Id::TlsClientCa, Value::Text(ca)) => {
            vec![call("tls_client_ca", string(ca, value).into_token_stream())]
        }
        (Id::TlsAlpn, Value::Protocols(names)) => {
            let names = names.iter().map(|n| string(n, value));
            vec![call("tls_alpn", quote!([#(#names),*]))]
        }
        (Id::TlsSni, Value::Sni(all)) => all
            .iter()
            .map(|sni| {
                let (name, cert) = (string(&sni.name, value), string(&sni.cert, value));
                match &sni.key {
                    Some(key) => {
                        let key = string(key, value);
                        call("tls_sni_cert_key", quote!(#name, #cert, #key))
                    }
                    None => call("tls_sni", quote!(#name, #cert)),
                }
            })
            .collect(),
        (_, v) => vec![call(setting.key.name, tokens(v, value, krate))],
    }
}

/// A value as an argument of its setter.
fn tokens(v: &Value, at: &Spanned<Value>, krate: &TokenStream) -> TokenStream {
    let span = located(at);
    match v {
        Value::Integer(n) | Value::Size(n) => LitInt::new(&n.to_string(), span).into_token_stream(),
        Value::Mode(mode) => LitInt::new(&format!("{mode:#o}"), span).into_token_stream(),
        Value::Duration(d) => duration(d.unwrap_or_default()),
        Value::Bool(b) => syn::LitBool::new(*b, span).into_token_stream(),
        Value::Text(text) => string(text, at).into_token_stream(),
        Value::Choice(choice) => {
            let path: syn::Path = syn::parse_str(choice.variant)
                .unwrap_or_else(|_| unreachable!("the table's variants are paths"));
            quote!(#krate::#path)
        }
        Value::IpList(addresses) => {
            let addresses = addresses.iter().map(|a| ip_address(*a, span));
            quote!([#(#addresses),*])
        }
        Value::Networks(networks) => {
            let networks = networks.iter().map(|&(addr, prefix)| {
                let addr = ip_address(addr, span);
                let prefix = LitInt::new(&prefix.to_string(), span);
                quote!(#krate::proxy::Network::new(#addr, #prefix))
            });
            quote!([#(#networks),*])
        }
        Value::Protocols(_) | Value::Sni(_) => unreachable!("written by `setter`"),
    }
}

/// An address checked at compile time, built without parsing at run time:
/// `IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))`.
fn ip_address(address: IpAddr, span: Span) -> TokenStream {
    match address {
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

/// Where a generated literal is reported: at the user's value, but still marked as coming
/// from the macro, so that lints on generated code stay quiet.
fn located<T>(value: &Spanned<T>) -> Span {
    Span::call_site().located_at(value.span())
}

fn int(value: &Spanned<u64>) -> LitInt {
    LitInt::new(&value.value.to_string(), located(value))
}

fn string<T>(text: &str, at: &Spanned<T>) -> LitStr {
    LitStr::new(text, located(at))
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
                fn echo(s: IoStream, a: SocketAddr) -> impl ::std::future::Future<Output = ()> {
                    async move {
                        let __tcpserver_output: () = {};
                        #[allow(unreachable_code, clippy::needless_return)]
                        return __tcpserver_output;
                    }
                }
                fn main() -> ::std::process::ExitCode {
                    ::tcpserver::Launcher::new(8888).run(echo)
                }
            })
        );
    }

    #[test]
    fn state_is_created_then_passed_as_the_handler_takes_it() {
        let item = quote!(
            async fn serve(s: IoStream, a: SocketAddr, db: &Db) {}
        );
        assert_eq!(
            expand(
                quote!(port = 1, state = db::connect, on_shutdown = close),
                item.clone()
            ),
            squash(quote! {
                #item
                fn main() -> ::std::process::ExitCode {
                    ::tcpserver::Launcher::new(1)
                        .state(db::connect)
                        .on_shutdown(close)
                        .run(move |stream, addr, state| async move {
                            let state: &Db = &*state;
                            serve(stream, addr, state).await
                        })
                }
            })
        );
        let item = quote!(
            async fn hello(r: Request<Body>) -> Response<String> {}
        );
        let stored_once = arguments_stored_once(item.clone());
        assert_eq!(
            expand_http(quote!(port = 1, state = connect), item.clone()),
            squash(quote! {
                #stored_once
                fn main() -> ::std::process::ExitCode {
                    ::tcpserver::Launcher::new(1)
                        .state(connect)
                        .run_http(
                            ::tcpserver::httpserver::HttpOptions::new(),
                            move |request, _state| hello(request)
                        )
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
        let stored_once = arguments_stored_once(item.clone());
        assert_eq!(
            expand(args, item.clone()),
            squash(quote! {
                #stored_once
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
    fn a_unix_socket_beside_the_port_or_alone() {
        let item = quote!(
            async fn echo(s: IoStream, a: SocketAddr) {}
        );
        let stored_once = arguments_stored_once(item.clone());
        assert_eq!(
            expand(
                quote!(port = 0, unix = "/run/app.sock", unix_mode = 0o660),
                item.clone()
            ),
            squash(quote! {
                #stored_once
                fn main() -> ::std::process::ExitCode {
                    ::tcpserver::Launcher::new(0)
                        .unix("/run/app.sock")
                        .unix_mode(0o660)
                        .run(echo)
                }
            })
        );
        assert_eq!(
            expand(quote!(unix = "/run/app.sock", backlog = 64), item.clone()),
            squash(quote! {
                #stored_once
                fn main() -> ::std::process::ExitCode {
                    ::tcpserver::Launcher::new_unix("/run/app.sock")
                        .backlog(64)
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
        let stored_once = arguments_stored_once(item.clone());
        assert_eq!(
            expand_http(quote!(port = 8080), item.clone()),
            squash(quote! {
                #stored_once
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
        let stored_once = arguments_stored_once(item.clone());
        assert_eq!(
            expand_http(args, item.clone()),
            squash(quote! {
                #stored_once
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

    #[test]
    fn arguments_are_stored_once_where_nothing_else_changes() {
        let rewritten = |item: TokenStream| arguments_stored_once(item).to_string();
        let echo = quote! {
            /// Echoes.
            pub async fn echo(mut s: IoStream, _a: SocketAddr) -> tcpserver::Result<()> {
                loop { s.write(b"x").await?; }
            }
        };
        assert_eq!(
            rewritten(echo),
            quote! {
                /// Echoes.
                pub fn echo(mut s: IoStream, _a: SocketAddr)
                    -> impl ::std::future::Future<Output = tcpserver::Result<()> > {
                    async move {
                        let __tcpserver_output: tcpserver::Result<()> = {
                            loop { s.write(b"x").await?; }
                        };
                        #[allow(unreachable_code, clippy::needless_return)]
                        return __tcpserver_output;
                    }
                }
            }
            .to_string()
        );
        // Borrowed arguments, patterns, generics, inner attributes, and functions that are
        // not async stay as written.
        for item in [
            quote!(
                async fn f(s: IoStream, a: SocketAddr, db: &Db) {}
            ),
            quote!(
                async fn f(s: IoStream, a: SocketAddr, db: Arc<Db<'static>>) {}
            ),
            quote!(
                async fn f(s: IoStream, (a, b): (SocketAddr, u8)) {}
            ),
            quote!(
                async fn f<T>(s: IoStream, a: T) {}
            ),
            quote!(
                async fn f(s: IoStream, a: SocketAddr) {
                    #![allow(unused)]
                }
            ),
            quote!(
                fn f(s: IoStream, a: SocketAddr) {}
            ),
        ] {
            assert_eq!(rewritten(item.clone()), item.to_string());
        }
    }
}
