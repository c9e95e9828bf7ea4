//! The handler's signature. For `#[tcp_server]`: `async fn name(stream: IoStream, addr:
//! SocketAddr)` returning `()` or `Result<(), E>`; for `#[http_server]` the request handler
//! of [`http`]. Types are matched loosely, by the last segment of their path, so that
//! `tcpserver::IoStream`, an imported `IoStream` and `std::net::SocketAddr` all pass; the
//! compiler checks the real types when the generated `main` hands the handler to the
//! runtime.

mod http;

use quote::ToTokens;
use syn::{
    Attribute, Expr, FnArg, GenericArgument, Ident, Lit, Meta, PathArguments, PathSegment,
    ReturnType, Safety, Signature, Type,
};

use super::Errors;
use crate::kind::Kind;
use crate::parse::HandlerFn;

/// What the expansion needs to know about a valid handler.
#[derive(Debug)]
pub(crate) struct Handler {
    /// The function's name, with its span, so that type errors point at the handler.
    pub(crate) ident: Ident,
    /// The summary of the function's doc comment, shown by `--help`.
    pub(crate) about: Option<String>,
    /// The last argument, the application's state, when the handler takes it.
    pub(crate) state: Option<StateArg>,
    /// With `codec`: the request's type and the declared return type.
    pub(crate) frames: Option<FrameTypes>,
}

/// A frame handler's request and return types, as written.
pub(crate) struct FrameTypes {
    pub(crate) request: Type,
    pub(crate) output: Type,
}

impl std::fmt::Debug for FrameTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({}) -> {}",
            to_text(&self.request),
            to_text(&self.output)
        )
    }
}

/// How a handler takes the application's state.
pub(crate) struct StateArg {
    /// The argument's type as written, `&State` or `Arc<State>`: generated code that
    /// converts to it reports a mismatch with the state's real type here.
    pub(crate) ty: Type,
    /// `&State` (else `Arc<State>`).
    pub(crate) by_ref: bool,
}

impl std::fmt::Debug for StateArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&to_text(&self.ty))
    }
}

/// The state argument's type, or the error that says how to write it.
fn state_arg(ty: &Type) -> Result<StateArg, syn::Error> {
    let by_ref = match ty {
        Type::Reference(reference) if reference.mutability.is_none() => true,
        Type::Reference(reference) => {
            return Err(syn::Error::new_spanned(
                reference,
                "the state is shared by every connection, so a handler cannot borrow it \
                 mutably: take `&State` (with interior mutability, a `Mutex` or atomics, inside)",
            ));
        }
        _ if last_segment(ty).is_some_and(|segment| {
            segment.ident == "Arc"
                && matches!(&segment.arguments, PathArguments::AngleBracketed(args) if args.args.len() == 1)
        }) =>
        {
            false
        }
        _ => {
            return Err(syn::Error::new_spanned(
                ty,
                format!(
                    "the last argument is the application's state, shared by every connection: \
                     take it as `&{0}` or `Arc<{0}>`, not `{0}`",
                    to_text(ty)
                ),
            ));
        }
    };
    Ok(StateArg {
        ty: ty.clone(),
        by_ref,
    })
}

/// Checks the signature; every problem is reported, each on its own tokens. `framed`: the
/// attribute has a `codec`, so the handler answers decoded requests.
pub(crate) fn check(f: &HandlerFn, kind: Kind, framed: bool) -> syn::Result<Handler> {
    let sig = &f.sig;
    let (attribute, signature) = (kind.attribute(), kind.signature());
    let mut errors = Errors::default();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("the `async` keyword is missing from the handler; write {signature}"),
        ));
    }
    if let Safety::Unsafe(token) = &sig.safety {
        errors.push(syn::Error::new_spanned(
            token,
            "a handler cannot be `unsafe`: the server calls it as a safe function; remove `unsafe`",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "a handler cannot declare an ABI; remove it",
        ));
    }
    if sig.ident == "main" {
        errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!(
                "the handler cannot be called `main`: `{attribute}` generates `fn main` \
                 itself; rename the handler, e.g. `async fn handle(...)`"
            ),
        ));
    }
    let called_with = match kind {
        Kind::Tcp => "an `IoStream` and a `SocketAddr`",
        Kind::Http => "an `http::Request<Body>`",
    };
    let generic = format!(
        "a handler cannot be generic: the server calls it with {called_with}; remove the \
         generic parameters and name the types"
    );
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&sig.generics, generic));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(where_clause, generic));
    }
    // A handler written for the other attribute gets one error naming the fix; its return
    // type fits that attribute, so it is not reported.
    let other_attribute = if framed {
        None
    } else {
        for_the_other_attribute(sig, kind)
    };
    let mut state = None;
    let mut frames = None;
    if let Some(receiver) = sig.receiver() {
        errors.push(syn::Error::new_spanned(
            receiver,
            format!(
                "a handler cannot take `self`: `{attribute}` goes on a free function, \
                 not a method; move it out of the `impl` block as {signature}"
            ),
        ));
    } else if let Some(error) = &other_attribute {
        errors.push(error.clone());
    } else {
        let types = argument_types(sig);
        let plain = match kind {
            Kind::Tcp => 2,
            Kind::Http => 1,
        };
        if types.len() == plain + 1 {
            match state_arg(types[plain]) {
                Ok(arg) => state = Some(arg),
                Err(e) => errors.push(e),
            }
        }
        match kind {
            Kind::Tcp if framed => frames = check_frame_handler(sig, &mut errors),
            Kind::Tcp => check_inputs(sig, &mut errors),
            Kind::Http => http::check_request(sig, &mut errors),
        }
    }
    match kind {
        _ if other_attribute.is_some() || framed => {}
        Kind::Tcp => check_output(&sig.output, &mut errors),
        Kind::Http => http::check_response(sig, &mut errors),
    }
    errors.finish()?;
    Ok(Handler {
        ident: sig.ident.clone(),
        about: about(&f.attrs),
        state,
        frames,
    })
}

/// A handler that takes the state needs the attribute's `state` key.
pub(crate) fn needs_state(handler: &Handler, config: &super::Config) -> syn::Result<()> {
    match &handler.state {
        Some(arg) if config.function(crate::keys::Id::State).is_none() => {
            Err(syn::Error::new_spanned(
                &arg.ty,
                "this argument is the application's state, and the attribute creates none: add \
                 `state = init` to the attribute, naming a function that creates it \
                 (`fn init() -> Result<State, E>`, or async)",
            ))
        }
        _ => Ok(()),
    }
}

/// Does the signature have a `self` receiver, that is, is this a method?
pub(crate) fn is_method(sig: &Signature) -> bool {
    sig.receiver().is_some()
}

/// An HTTP request handler under `#[tcp_server]`, or a connection handler under
/// `#[http_server]`: the error that says to swap the attribute.
fn for_the_other_attribute(sig: &Signature, kind: Kind) -> Option<syn::Error> {
    let types = argument_types(sig);
    let message = match (kind, &types[..]) {
        (Kind::Tcp, [request]) if http::is_request(request) => format!(
            "this is an HTTP request handler: write `#[http_server(...)]` in place of \
             `#[tcp_server(...)]`; a `#[tcp_server]` handler is {}",
            Kind::Tcp.signature()
        ),
        (Kind::Http, [stream, addr])
            if is_named(stream, "IoStream") && is_named(addr, "SocketAddr") =>
        {
            format!(
                "this is a connection handler: write `#[tcp_server(...)]` in place of \
                 `#[http_server(...)]`; an HTTP handler takes the request, {}",
                Kind::Http.signature()
            )
        }
        _ => return None,
    };
    Some(syn::Error::new_spanned(&sig.inputs, message))
}

/// The types of the arguments, `self` left out.
fn argument_types(sig: &Signature) -> Vec<&Type> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(&*typed.ty),
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The connection and the peer's address of `#[tcp_server]`'s handler.
fn check_inputs(sig: &Signature, errors: &mut Errors) {
    let signature = Kind::Tcp.signature();
    let mut types = argument_types(sig);
    // A third is the state, checked by the caller.
    if types.len() == 3 {
        types.pop();
    }
    if types.len() != 2 {
        let message = format!(
            "a handler takes two arguments, the connection and the peer's address (and a \
             third, the application's state, with `state = ...`), and this one takes {}; \
             write {signature}",
            argument_types(sig).len()
        );
        errors.push(if sig.inputs.is_empty() {
            syn::Error::new(sig.paren_token.span.join(), message)
        } else {
            syn::Error::new_spanned(&sig.inputs, message)
        });
        return;
    }
    let (stream, addr) = (types[0], types[1]);
    if is_named(stream, "SocketAddr") && is_named(addr, "IoStream") {
        errors.push(syn::Error::new_spanned(
            &sig.inputs,
            format!("the arguments are swapped: the stream comes first; write {signature}"),
        ));
        return;
    }
    if !is_named(stream, "IoStream") {
        errors.push(syn::Error::new_spanned(
            stream,
            format!(
                "the first argument must be the connection, `tcpserver::IoStream`, not `{}`; \
                 write `stream: IoStream`",
                to_text(stream)
            ),
        ));
    }
    if !is_named(addr, "SocketAddr") {
        errors.push(syn::Error::new_spanned(
            addr,
            format!(
                "the second argument must be the peer's address, `std::net::SocketAddr`, not \
                 `{}`; write `addr: SocketAddr`",
                to_text(addr)
            ),
        ));
    }
}

/// With `codec`: `async fn name(request: Request, ctx: &mut Context)` returning
/// `Option<Response>` or `Result<Option<Response>, E>`; returns the request's and the
/// return type.
fn check_frame_handler(sig: &Signature, errors: &mut Errors) -> Option<FrameTypes> {
    const SIGNATURE: &str =
        "`async fn handle(request: Request, ctx: &mut Context) -> Option<Response>`";
    let mut types = argument_types(sig);
    if types.len() == 3 {
        types.pop();
    }
    let mut ok = true;
    if types.len() != 2 {
        let message = format!(
            "with `codec`, a handler takes two arguments, the decoded request and \
             `&mut tcpserver::codec::Context` (and a third, the application's state, with \
             `state = ...`), and this one takes {}; write {SIGNATURE}",
            argument_types(sig).len()
        );
        errors.push(if sig.inputs.is_empty() {
            syn::Error::new(sig.paren_token.span.join(), message)
        } else {
            syn::Error::new_spanned(&sig.inputs, message)
        });
        return None;
    }
    let (request, ctx) = (types[0], types[1]);
    if is_named(request, "IoStream") {
        ok = false;
        errors.push(syn::Error::new_spanned(
            request,
            format!(
                "with `codec`, the handler gets each decoded request, not the stream; write \
                 {SIGNATURE}, or remove `codec` to handle the stream yourself"
            ),
        ));
    }
    let is_context = match ctx {
        Type::Reference(r) => r.mutability.is_some() && is_named(&r.elem, "Context"),
        _ => false,
    };
    if !is_context {
        ok = false;
        errors.push(syn::Error::new_spanned(
            ctx,
            format!(
                "with `codec`, the second argument is the connection's context, \
                 `&mut tcpserver::codec::Context`, not `{}`; write `ctx: &mut Context`",
                to_text(ctx)
            ),
        ));
    }
    let output = match &sig.output {
        ReturnType::Type(_, ty) if is_option(ty) || is_option_result(ty) => Some((**ty).clone()),
        ReturnType::Type(_, ty) => {
            errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "with `codec`, a handler returns its answer, `Option<Response>` (`None` for \
                     no answer) or `Result<Option<Response>, E>`, not `{}`",
                    to_text(ty)
                ),
            ));
            None
        }
        ReturnType::Default => {
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                "with `codec`, a handler returns its answer: add `-> Option<Response>` (`None` \
                 for no answer), or `-> Result<Option<Response>, E>`",
            ));
            None
        }
    };
    match output {
        Some(output) if ok => Some(FrameTypes {
            request: request.clone(),
            output,
        }),
        _ => None,
    }
}

/// `Option<T>`.
fn is_option(ty: &Type) -> bool {
    is_generic(ty, "Option")
}

/// `Result<Option<T>, E>`, or a one-argument alias such as `anyhow::Result<Option<T>>`.
fn is_option_result(ty: &Type) -> bool {
    is_result_of(ty, is_option)
}

/// `Name<T>`, one type argument, whatever its path (`http::Response<B>` for `Response`).
fn is_generic(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|segment| {
        segment.ident == name
            && matches!(&segment.arguments, PathArguments::AngleBracketed(args) if args.args.len() == 1)
    })
}

/// `Result<T, E>` whose `T` passes `ok`, or a one-argument alias of `Result` (`io::Result<T>`,
/// `anyhow::Result<T>`).
fn is_result_of(ty: &Type, ok: fn(&Type) -> bool) -> bool {
    let Some(segment) = last_segment(ty) else {
        return false;
    };
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return false;
    };
    segment.ident == "Result"
        && (1..=2).contains(&args.args.len())
        && matches!(args.args.first(), Some(GenericArgument::Type(first)) if ok(first))
}

/// `()` or `Result<(), E>`, for `#[tcp_server]`'s handler.
fn check_output(output: &ReturnType, errors: &mut Errors) {
    let ReturnType::Type(_, ty) = output else {
        return;
    };
    if is_unit(ty) || is_unit_result(ty) {
        return;
    }
    errors.push(syn::Error::new_spanned(
        ty,
        format!(
            "a handler returns `()` or `Result<(), E>`, not `{}`; remove the return type, or \
             write `-> Result<(), E>` with `E` your error type (`tcpserver::Result<()>` will do)",
            to_text(ty)
        ),
    ));
}

/// Is `ty` a plain path type whose last segment is `name`, like `tcpserver::IoStream` for
/// `IoStream`?
fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|segment| segment.ident == name && segment.arguments.is_none())
}

/// The last segment of a path type (`Request<Body>` of `http::Request<Body>`), with
/// invisible groups looked through.
fn last_segment(ty: &Type) -> Option<&PathSegment> {
    match ty {
        Type::Group(group) => last_segment(&group.elem),
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

fn is_unit(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_unit(&group.elem),
        Type::Paren(paren) => is_unit(&paren.elem),
        Type::Tuple(tuple) => tuple.elems.is_empty(),
        _ => false,
    }
}

/// `Result<(), E>`, or a one-argument alias such as `tcpserver::Result<()>` or
/// `io::Result<()>`.
fn is_unit_result(ty: &Type) -> bool {
    is_result_of(ty, is_unit)
}

fn to_text(tokens: &impl ToTokens) -> String {
    // Token streams print with spaces around every punctuation; tidy the common cases.
    tokens
        .to_token_stream()
        .to_string()
        .replace(" :: ", "::")
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace("& ", "&")
        .replace(" ,", ",")
}

/// The first paragraph of the doc comment, on one line, as `--help` shows it.
fn about(attrs: &[Attribute]) -> Option<String> {
    let lines = attrs.iter().filter_map(|attr| match &attr.meta {
        Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) => Some(s.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    });
    let mut summary = Vec::new();
    // `"".lines()` is empty, but an empty `///` line ends a paragraph.
    let lines = lines.flat_map(|doc| {
        let mut lines: Vec<String> = doc.lines().map(str::to_owned).collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    });
    for line in lines {
        let line = line.trim();
        if line.is_empty() {
            if summary.is_empty() {
                continue;
            }
            break;
        }
        summary.push(line.to_owned());
    }
    (!summary.is_empty()).then(|| summary.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn check_fn(item: TokenStream) -> Result<Handler, Vec<String>> {
        let f = crate::parse::handler_fn(item, Kind::Tcp).unwrap();
        check(&f, Kind::Tcp, false).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn errors(item: TokenStream) -> Vec<String> {
        check_fn(item).unwrap_err()
    }

    #[test]
    fn accepted_signatures() {
        let signatures = [
            quote!(
                async fn echo(stream: IoStream, addr: SocketAddr) {}
            ),
            quote!(
                async fn echo(mut s: tcpserver::IoStream, _: std::net::SocketAddr) -> () {}
            ),
            quote!(
                pub async fn echo(s: IoStream, a: SocketAddr) -> tcpserver::Result<()> {}
            ),
            quote!(
                async fn echo(s: IoStream, a: SocketAddr) -> Result<(), std::io::Error> {}
            ),
            quote!(
                async fn echo(s: IoStream, a: SocketAddr) -> std::result::Result<(), String> {}
            ),
            quote!(
                async fn echo(s: IoStream, a: SocketAddr) -> io::Result<()> {}
            ),
        ];
        for item in signatures {
            let handler = check_fn(item.clone()).unwrap_or_else(|e| panic!("{item}: {e:?}"));
            assert_eq!(handler.ident, "echo");
        }
    }

    #[test]
    fn not_async() {
        let e = errors(quote!(
            fn echo(s: IoStream, a: SocketAddr) {}
        ));
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("the `async` keyword is missing"), "{e:?}");
    }

    #[test]
    fn argument_count_and_types() {
        assert!(
            errors(quote!(
                async fn h() {}
            ))[0]
                .contains("this one takes 0")
        );
        assert!(
            errors(quote!(
                async fn h(s: IoStream) {}
            ))[0]
                .contains("this one takes 1")
        );
        let e = errors(quote!(
            async fn h(s: TcpStream, a: String) {}
        ));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].contains("not `TcpStream`; write `stream: IoStream`"),
            "{e:?}"
        );
        assert!(
            e[1].contains("not `String`; write `addr: SocketAddr`"),
            "{e:?}"
        );
        let e = errors(quote!(
            async fn h(s: &mut IoStream, a: SocketAddr) {}
        ));
        assert!(e[0].contains("not `&mut IoStream`"), "{e:?}");
        let e = errors(quote!(
            async fn h(a: SocketAddr, s: IoStream) {}
        ));
        assert!(e[0].contains("swapped"), "{e:?}");
    }

    #[test]
    fn methods_generics_and_main() {
        assert!(
            errors(quote!(
                async fn h(&self, s: IoStream, a: SocketAddr) {}
            ))[0]
                .contains("cannot take `self`")
        );
        assert!(
            errors(quote!(
                async fn h<T>(s: IoStream, a: T) {}
            ))
            .iter()
            .any(|e| e.contains("cannot be generic"))
        );
        assert!(
            errors(quote!(
                async fn h(s: IoStream, a: SocketAddr)
                where
                    u8: Copy,
                {
                }
            ))[0]
                .contains("cannot be generic")
        );
        assert!(
            errors(quote!(
                async fn main(s: IoStream, a: SocketAddr) {}
            ))[0]
                .contains("cannot be called `main`")
        );
        assert!(
            errors(quote!(
                async unsafe fn h(s: IoStream, a: SocketAddr) {}
            ))[0]
                .contains("remove `unsafe`")
        );
        assert!(is_method(
            &crate::parse::handler_fn(
                quote!(
                    fn f(self) {}
                ),
                Kind::Tcp
            )
            .unwrap()
            .sig
        ));
    }

    #[test]
    fn return_types() {
        for ty in [
            quote!(u32),
            quote!(Result<u32, E>),
            quote!(Option<()>),
            quote!(Result),
            quote!(!),
        ] {
            let e = errors(quote!(async fn h(s: IoStream, a: SocketAddr) -> #ty {}));
            assert!(
                e[0].starts_with("a handler returns `()` or `Result<(), E>`"),
                "{ty}: {e:?}"
            );
        }
        let e = errors(quote!(
            async fn h(s: IoStream, a: SocketAddr) -> Result<u32, E> {}
        ));
        assert!(e[0].contains("not `Result<u32, E>`"), "{e:?}");
    }

    #[test]
    fn an_http_handler_is_pointed_to_http_server() {
        let e = errors(quote!(
            async fn hello(r: Request<Body>) -> Response<String> {}
        ));
        assert_eq!(
            e,
            [
                "this is an HTTP request handler: write `#[http_server(...)]` in place of \
              `#[tcp_server(...)]`; a `#[tcp_server]` handler is \
              `async fn handle(stream: IoStream, addr: SocketAddr)`"
            ]
        );
        // Other mistakes of the signature are still reported.
        let e = errors(quote!(
            fn hello(r: Request<Body>) {}
        ));
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn every_problem_is_reported() {
        let e = errors(quote!(
            fn main<T>(x: T) -> u8 {}
        ));
        assert_eq!(e.len(), 5, "{e:?}");
    }

    #[test]
    fn about_is_the_first_paragraph_of_the_docs() {
        let about = |item| check_fn(item).unwrap().about;
        assert_eq!(
            about(quote!(
                async fn h(s: IoStream, a: SocketAddr) {}
            )),
            None
        );
        assert_eq!(
            about(quote! {
                ///
                /// A line echo
                /// server.
                ///
                /// Details that `--help` does not need.
                #[inline]
                async fn h(s: IoStream, a: SocketAddr) {}
            }),
            Some("A line echo server.".to_owned())
        );
        assert_eq!(
            about(quote! {
                #[doc = "First.\n\nSecond."]
                async fn h(s: IoStream, a: SocketAddr) {}
            }),
            Some("First.".to_owned())
        );
    }
}
