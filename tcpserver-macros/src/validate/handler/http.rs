//! The request handler of `#[http_server]`: `async fn name(request: Request<Body>)`
//! returning `Response<B>` or `Result<Response<B>, E>`, the async functions the runtime's
//! `IntoHttpHandler` accepts. As for the connection handler, types are matched by the last
//! segment of their path; whether `B` is an HTTP body and `E` an error is left to the
//! compiler.

use syn::{GenericArgument, PathArguments, ReturnType, Signature, Type};

use super::{Errors, argument_types, is_generic, is_named, is_result_of, last_segment, to_text};
use crate::kind::Kind;

/// Checks the one argument, the request.
pub(super) fn check_request(sig: &Signature, errors: &mut Errors) {
    let signature = Kind::Http.signature();
    let types = argument_types(sig);
    // A second is the state, checked by the caller.
    let (&[request] | &[request, _]) = &types[..] else {
        let message = format!(
            "a handler takes one argument, the request (and a second, the application's \
             state, with `state = ...`), and this one takes {}; write {signature}",
            types.len()
        );
        errors.push(if sig.inputs.is_empty() {
            syn::Error::new(sig.paren_token.span.join(), message)
        } else {
            syn::Error::new_spanned(&sig.inputs, message)
        });
        return;
    };
    let write = "write `request: Request<Body>` (`http::Request`, `tcpserver::httpserver::Body`)";
    let error = match last_segment(request) {
        Some(segment) if segment.ident == "Request" => match &segment.arguments {
            PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
                GenericArgument::Type(body) if is_named(body, "Body") => return,
                GenericArgument::Type(body) => syn::Error::new_spanned(
                    body,
                    format!(
                        "the request's body is `tcpserver::httpserver::Body`, not `{}`; {write}",
                        to_text(body)
                    ),
                ),
                other => syn::Error::new_spanned(
                    other,
                    format!("the request's body is `tcpserver::httpserver::Body`; {write}"),
                ),
            },
            PathArguments::None => {
                syn::Error::new_spanned(request, format!("`Request` needs its body type; {write}"))
            }
            _ => not_a_request(request, write),
        },
        _ => not_a_request(request, write),
    };
    errors.push(error);
}

fn not_a_request(ty: &Type, write: &str) -> syn::Error {
    syn::Error::new_spanned(
        ty,
        format!(
            "the argument must be the request, `http::Request<Body>`, not `{}`; {write}",
            to_text(ty)
        ),
    )
}

/// Is `ty` an `http::Request`, whatever its body? (For `#[tcp_server]`'s hint that an HTTP
/// handler wants the other attribute.)
pub(super) fn is_request(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|segment| segment.ident == "Request")
}

/// Checks the return type: `Response<B>` or `Result<Response<B>, E>`.
pub(super) fn check_response(sig: &Signature, errors: &mut Errors) {
    let ReturnType::Type(_, ty) = &sig.output else {
        errors.push(syn::Error::new(
            sig.paren_token.span.close(),
            "a handler returns its response: add the return type after the arguments, \
             `-> Response<String>` (or another body), or `-> Result<Response<B>, E>`",
        ));
        return;
    };
    if is_response(ty) || is_response_result(ty) {
        return;
    }
    let message = if matches!(ungroup(ty), Type::ImplTrait(_)) {
        format!(
            "a handler returns a `Response<B>`, not `{}`: the server needs the response's \
             type; write `-> Response<String>` (or another body). An axum handler goes in an \
             axum `Router`, which `tcpserver::Launcher::run_http` serves",
            to_text(ty)
        )
    } else {
        format!(
            "a handler returns `Response<B>` or `Result<Response<B>, E>`, not `{}`; write \
             `-> Response<String>`, or another body for `B` (`Full<Bytes>`, `Empty<Bytes>`)",
            to_text(ty)
        )
    };
    errors.push(syn::Error::new_spanned(ty, message));
}

fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        Type::Paren(paren) => ungroup(&paren.elem),
        _ => ty,
    }
}

/// `Response<B>`.
fn is_response(ty: &Type) -> bool {
    is_generic(ty, "Response")
}

/// `Result<Response<B>, E>`, or a one-argument alias such as `anyhow::Result<Response<B>>`.
fn is_response_result(ty: &Type) -> bool {
    is_result_of(ty, is_response)
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::super::{Handler, check};
    use crate::kind::Kind;

    fn check_fn(item: TokenStream) -> Result<Handler, Vec<String>> {
        let f = crate::parse::handler_fn(item, Kind::Http).unwrap();
        check(&f, Kind::Http, false).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn errors(item: TokenStream) -> Vec<String> {
        check_fn(item).unwrap_err()
    }

    #[test]
    fn accepted_signatures() {
        let signatures = [
            quote!(
                async fn hello(request: Request<Body>) -> Response<String> {}
            ),
            quote!(
                pub async fn hello(
                    _: http::Request<tcpserver::httpserver::Body>,
                ) -> http::Response<Full<Bytes>> {
                }
            ),
            quote!(
                async fn hello(mut r: Request<Body>) -> Result<Response<String>, std::io::Error> {}
            ),
            quote!(
                async fn hello(r: Request<Body>) -> anyhow::Result<Response<Full<Bytes>>> {}
            ),
        ];
        for item in signatures {
            let handler = check_fn(item.clone()).unwrap_or_else(|e| panic!("{item}: {e:?}"));
            assert_eq!(handler.ident, "hello");
        }
    }

    #[test]
    fn signature_mistakes_name_the_http_attribute() {
        let e = errors(quote!(
            fn h(r: Request<Body>) -> Response<String> {}
        ));
        assert_eq!(
            e,
            ["the `async` keyword is missing from the handler; write \
              `async fn handle(request: Request<Body>) -> Response<String>`"]
        );
        let e = errors(quote!(
            async fn main(r: Request<Body>) -> Response<String> {}
        ));
        assert!(
            e[0].contains("`#[http_server]` generates `fn main`"),
            "{e:?}"
        );
        let e = errors(quote!(
            async fn h<B>(r: Request<B>) -> Response<String> {}
        ));
        assert!(
            e[0].contains("the server calls it with an `http::Request<Body>`"),
            "{e:?}"
        );
        let e = errors(quote!(
            async fn h(&self, r: Request<Body>) -> Response<String> {}
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("`#[http_server]` goes on a free function"),
            "{e:?}"
        );
    }

    #[test]
    fn one_argument_the_request() {
        let e = errors(quote!(
            async fn h() -> Response<String> {}
        ));
        assert!(
            e[0].contains("takes one argument, the request (and a second, the application's state, with `state = ...`), and this one takes 0"),
            "{e:?}"
        );
        let e = errors(quote!(
            async fn h(r: Request<Body>, s: State) -> Response<String> {}
        ));
        assert_eq!(
            e,
            [
                "the last argument is the application's state, shared by every connection: take it as `&State` or `Arc<State>`, not `State`"
            ]
        );
        let e = errors(quote!(
            async fn h(r: Request<Body>, s: &State, t: &State) -> Response<String> {}
        ));
        assert!(e[0].contains("this one takes 3"), "{e:?}");
        for state in [
            quote!(&State),
            quote!(Arc<State>),
            quote!(std::sync::Arc<db::Pool>),
        ] {
            let handler = check_fn(quote!(
                async fn h(r: Request<Body>, s: #state) -> Response<String> {}
            ))
            .unwrap();
            assert!(handler.state.is_some());
        }
        let e = errors(quote!(
            async fn h(s: IoStream, a: SocketAddr) {}
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("this is a connection handler: write `#[tcp_server(...)]`"),
            "{e:?}"
        );
        let e = errors(quote!(
            async fn h(r: String) -> Response<String> {}
        ));
        assert!(
            e[0].starts_with(
                "the argument must be the request, `http::Request<Body>`, not `String`"
            ),
            "{e:?}"
        );
        let e = errors(quote!(
            async fn h(r: &Request<Body>) -> Response<String> {}
        ));
        assert!(e[0].contains("not `&Request<Body>`"), "{e:?}");
        let e = errors(quote!(
            async fn h(r: Request<String>) -> Response<String> {}
        ));
        assert!(
            e[0].starts_with("the request's body is `tcpserver::httpserver::Body`, not `String`"),
            "{e:?}"
        );
        let e = errors(quote!(
            async fn h(r: Request) -> Response<String> {}
        ));
        assert!(e[0].starts_with("`Request` needs its body type"), "{e:?}");
    }

    #[test]
    fn return_types() {
        let e = errors(quote!(
            async fn h(r: Request<Body>) {}
        ));
        assert!(e[0].starts_with("a handler returns its response"), "{e:?}");
        for ty in [
            quote!(()),
            quote!(String),
            quote!(Response),
            quote!(Result<String, E>),
            quote!(Option<Response<String>>),
        ] {
            let e = errors(quote!(async fn h(r: Request<Body>) -> #ty {}));
            assert!(
                e[0].starts_with("a handler returns `Response<B>` or `Result<Response<B>, E>`"),
                "{ty}: {e:?}"
            );
        }
        let e = errors(quote!(
            async fn h(r: Request<Body>) -> impl IntoResponse {}
        ));
        assert!(e[0].contains("not `impl IntoResponse`"), "{e:?}");
        assert!(e[0].contains("axum `Router`"), "{e:?}");
    }

    #[test]
    fn every_problem_is_reported() {
        let e = errors(quote!(
            fn main<T>(x: T, y: T) -> u8 {}
        ));
        // `y` is taken for the state, and reported as one taken by value.
        assert_eq!(e.len(), 6, "{e:?}");
    }
}
