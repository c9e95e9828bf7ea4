//! Syntax only: the attribute as a list of entries (`key = value`, `key(...)`, or a bare
//! `key`), and the handler as attributes and signature. What keys and values mean is
//! left to `validate`, so that every error there can name the key it is about.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, TokenStreamExt};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Lit, Signature, Token, Visibility, braced, token};

use crate::kind::Kind;

/// One entry of the attribute.
#[derive(Clone)]
pub(crate) struct Arg {
    /// The key, written as an identifier (`crate` and other keywords included).
    pub(crate) key: Ident,
    /// What follows the key.
    pub(crate) value: ArgValue,
}

/// What follows a key.
#[derive(Clone)]
pub(crate) enum ArgValue {
    /// `key = value`: any expression, so that validation can say what is wrong with it.
    Expr(Expr),
    /// `key(...)`, such as `tls(cert = "..", key = "..")`. The contents are left as
    /// tokens for the key's validation to parse with [`args`], so that `port(8888)` is
    /// reported as a misuse of `port`, not as a syntax error.
    List(token::Paren, TokenStream),
    /// The key alone.
    Missing,
}

impl Arg {
    /// The entry's name as a string (without any `r#`).
    pub(crate) fn name(&self) -> String {
        self.key.unraw().to_string()
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Lit) {
            return Err(bare_value_error(input));
        }
        let key = input.call(Ident::parse_any).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a `key = value` entry, like `port = 8888`",
            )
        })?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            ArgValue::Expr(input.parse()?)
        } else if input.peek(token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            ArgValue::List(paren, content.parse()?)
        } else {
            ArgValue::Missing
        };
        Ok(Arg { key, value })
    }
}

/// The error for a value without a key, such as `#[tcp_server(8888)]`.
fn bare_value_error(input: ParseStream<'_>) -> syn::Error {
    match input.parse::<Lit>() {
        Ok(Lit::Int(port)) => syn::Error::new(
            port.span(),
            format!("expected `key = value`; write `port = {port}`"),
        ),
        Ok(lit) => syn::Error::new(
            lit.span(),
            "expected `key = value`, like `port = 8888`: a value needs its key",
        ),
        Err(e) => e,
    }
}

impl ToTokens for Arg {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.key.to_tokens(tokens);
        match &self.value {
            ArgValue::Expr(expr) => {
                tokens.append_all(quote::quote_spanned!(self.key.span()=> =));
                expr.to_tokens(tokens);
            }
            ArgValue::List(paren, contents) => {
                paren.surround(tokens, |tokens| tokens.extend(contents.clone()));
            }
            ArgValue::Missing => {}
        }
    }
}

/// Parses the attribute's tokens, or a `key(...)` list's: entries separated by commas, a
/// trailing comma allowed.
pub(crate) fn args(tokens: TokenStream) -> syn::Result<Vec<Arg>> {
    let args = Punctuated::<Arg, Token![,]>::parse_terminated.parse2(tokens)?;
    Ok(args.into_iter().collect())
}

/// The item under the attribute, read as far as the checks need: the body is skipped
/// unparsed, because the function is emitted from its original tokens.
pub(crate) struct HandlerFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) sig: Signature,
}

impl Parse for HandlerFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        let sig: Signature = input.parse()?;
        let body;
        braced!(body in input);
        body.parse::<TokenStream>()?;
        Ok(HandlerFn { attrs, sig })
    }
}

/// Parses the item under the attribute, or says what it should have been.
pub(crate) fn handler_fn(item: TokenStream, kind: Kind) -> syn::Result<HandlerFn> {
    let first = item
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    syn::parse2(item).map_err(|_| {
        syn::Error::new(
            first,
            format!(
                "`{}` goes on an async function: {}",
                kind.attribute(),
                kind.signature()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn names(args: &[Arg]) -> Vec<String> {
        args.iter().map(Arg::name).collect()
    }

    #[test]
    fn entries_of_every_shape() {
        let parsed = args(quote!(
            port = 1,
            crate = "x",
            tls(cert = "c", key = "k"),
            reuse_port,
        ))
        .unwrap();
        assert_eq!(names(&parsed), ["port", "crate", "tls", "reuse_port"]);
        assert!(matches!(parsed[0].value, ArgValue::Expr(_)));
        match &parsed[2].value {
            ArgValue::List(_, inner) => {
                assert_eq!(names(&args(inner.clone()).unwrap()), ["cert", "key"])
            }
            _ => panic!("expected a list"),
        }
        assert!(matches!(parsed[3].value, ArgValue::Missing));
    }

    #[test]
    fn empty_attribute() {
        assert!(args(quote!()).unwrap().is_empty());
    }

    #[test]
    fn negative_and_path_values_are_kept_as_expressions() {
        let parsed = args(quote!(port = -1, runtime = current_thread)).unwrap();
        assert!(matches!(&parsed[0].value, ArgValue::Expr(Expr::Unary(_))));
        assert!(matches!(&parsed[1].value, ArgValue::Expr(Expr::Path(_))));
    }

    #[test]
    fn a_value_without_key_suggests_port() {
        let err = crate::expect_err(args(quote!(8888)));
        assert_eq!(
            err.to_string(),
            "expected `key = value`; write `port = 8888`"
        );
    }

    #[test]
    fn missing_comma() {
        assert!(args(quote!(port = 1 address = "x")).is_err());
    }

    #[test]
    fn entries_print_back() {
        let parsed = args(quote!(tls(cert = "c", key = "k"))).unwrap();
        assert_eq!(
            parsed[0].to_token_stream().to_string(),
            quote!(tls(cert = "c", key = "k")).to_string()
        );
    }

    #[test]
    fn handler_signature() {
        let f = handler_fn(
            quote! {
                /// Doc.
                pub async fn echo(stream: IoStream, addr: SocketAddr) -> Result<(), E> { body!() }
            },
            Kind::Tcp,
        )
        .unwrap();
        assert_eq!(f.sig.ident, "echo");
        assert_eq!(f.attrs.len(), 1);
    }

    #[test]
    fn not_a_function() {
        let item = quote!(
            struct S;
        );
        let err = crate::expect_err(handler_fn(item.clone(), Kind::Tcp)).to_string();
        assert_eq!(
            err,
            "`#[tcp_server]` goes on an async function: \
             `async fn handle(stream: IoStream, addr: SocketAddr)`"
        );
        let err = crate::expect_err(handler_fn(item, Kind::Http)).to_string();
        assert_eq!(
            err,
            "`#[http_server]` goes on an async function: \
             `async fn handle(request: Request<Body>) -> Response<String>`"
        );
    }
}
