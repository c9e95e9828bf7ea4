//! `#[tcp_server]` and `#[http_server]` from start to end: parse, validate, expand, on
//! `proc_macro2` tokens so that the whole pipeline can be unit-tested.

use proc_macro2::TokenStream;

use crate::kind::Kind;
use crate::{expand, keys, parse, validate};

/// Expands `#[tcp_server(args)] item` or `#[http_server(args)] item`.
pub(crate) fn server(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let handler_fn = match parse::handler_fn(item.clone(), kind) {
        Ok(f) => f,
        Err(e) => return expand::with_errors(item, None, e),
    };
    if kind == Kind::Http && !keys::enabled("http") {
        let error = syn::Error::new(
            proc_macro2::Span::call_site(),
            keys::needs_feature("`#[http_server]`", "http"),
        );
        return expand::with_errors(item, Some(&handler_fn), error);
    }
    let args = parse::args(args);
    // With a codec the handler answers decoded requests: its signature is another.
    let framed = args
        .as_ref()
        .is_ok_and(|args| args.iter().any(|arg| arg.name() == "codec"));
    let config = args.and_then(|args| validate::config(args, kind));
    let handler = validate::handler::check(&handler_fn, kind, framed);
    let error = match (config, handler) {
        (Ok(config), Ok(handler)) => match validate::handler::needs_state(&handler, &config) {
            Ok(()) => return expand::server(kind, item, &config, &handler),
            Err(error) => error,
        },
        (Err(mut error), Err(handler_error)) => {
            error.combine(handler_error);
            error
        }
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
    };
    expand::with_errors(item, Some(&handler_fn), error)
}
