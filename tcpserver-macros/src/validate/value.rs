//! Typed values read from the attribute's expressions, by the [`Kind`] the option table
//! gives each key. Each remembers the tokens it was written with, so that any later check
//! (a range, a conflict with another key) reports its error on the value itself. Every
//! error says what to write instead, using the key's example.

use std::fmt::Display;
use std::net::IpAddr;
use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Expr, Lit, UnOp};

use tcpserver_options::keys::{Choice, Key, Kind, Zero};
use tcpserver_options::units;
use tcpserver_options::value::{self as option_value, SniCertificate, Value};

use super::Errors;

/// A value and the tokens it was written with.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    tokens: TokenStream,
}

impl<T> Spanned<T> {
    pub(crate) fn new(value: T, written_as: &impl ToTokens) -> Self {
        Spanned {
            value,
            tokens: written_as.to_token_stream(),
        }
    }

    /// The same tokens with another value.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            tokens: self.tokens,
        }
    }

    /// An error pointing at the whole value (both tokens of `-1`, say).
    pub(crate) fn error(&self, message: impl Display) -> syn::Error {
        syn::Error::new_spanned(&self.tokens, message)
    }

    /// Where the value starts, to give generated tokens the value's location.
    pub(crate) fn span(&self) -> Span {
        self.tokens
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span())
    }
}

/// The value of `key = expr`, read as the key's kind says.
pub(crate) fn read(key: &Key, expr: &Expr) -> syn::Result<Spanned<Value>> {
    let value = match key.kind {
        Kind::Integer { min, max, what } => {
            let n = integer(key, expr, max, what)?;
            if n.value < min {
                let instead = key
                    .unset
                    .map_or_else(String::new, |u| format!("; leave it out for {u}"));
                return Err(n.error(format!("`{}` must be at least {min}{instead}", key.name)));
            }
            Value::Integer(n.value)
        }
        Kind::Size => {
            let bytes = size(key, expr)?;
            if let Err(e) = option_value::check_size(bytes.value) {
                let instead = if bytes.value == 0 {
                    "; leave the key out for the default"
                } else {
                    ""
                };
                return Err(bytes.error(format!("`{}` {e}{instead}", key.name)));
            }
            Value::Size(bytes.value)
        }
        Kind::Duration(zero) => {
            let d = duration(key, expr)?;
            if d.value.is_zero() {
                match zero {
                    Zero::Valid => {}
                    Zero::Refused(why) | Zero::Unsets(why) => {
                        return Err(d.error(format!("`{}` must be more than 0; {why}", key.name)));
                    }
                }
            }
            Value::Duration(Some(d.value))
        }
        Kind::Bool => Value::Bool(boolean(key, expr)?.value),
        Kind::Text => Value::Text(string(key, expr)?.value),
        Kind::File => Value::Text(file(key, expr)?.value),
        Kind::Mode => Value::Mode(mode(key, expr)?.value),
        Kind::SocketAddress => Value::Text(socket_address(key, expr)?.value),
        Kind::Choice(choices) => Value::Choice(choice(key, expr, choices)?.value),
        Kind::IpList => Value::IpList(ip_addresses(key, expr)?.value),
        Kind::Networks => Value::Networks(networks(key, expr)?),
        Kind::Protocols => Value::Protocols(protocols(key, expr)?),
        Kind::SniCertificates => Value::Sni(sni_certificates(key, expr)?),
        Kind::Path | Kind::Section | Kind::Function | Kind::Expression | Kind::Type => {
            unreachable!("`{}` is read by the attribute's own code", key.name)
        }
    };
    Ok(Spanned::new(value, expr))
}

/// The shape of a value expression, with invisible groups (from `macro_rules!`
/// fragments) looked through.
enum Shape<'a> {
    Lit(&'a Lit),
    /// `-literal`
    Negative(&'a Lit),
    /// A bare word or path, such as `current_thread`: usually a string without quotes.
    Word(String),
    Other,
}

fn shape(expr: &Expr) -> Shape<'_> {
    match expr {
        Expr::Group(group) => shape(&group.expr),
        Expr::Lit(lit) => Shape::Lit(&lit.lit),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match shape(&unary.expr) {
            Shape::Lit(lit) => Shape::Negative(lit),
            _ => Shape::Other,
        },
        Expr::Path(path) if path.qself.is_none() => {
            Shape::Word(path.path.to_token_stream().to_string().replace(' ', ""))
        }
        _ => Shape::Other,
    }
}

fn error(expr: &Expr, message: impl Display) -> syn::Error {
    syn::Error::new_spanned(expr, message)
}

/// A non-negative integer no larger than `max`; `what` describes the range in messages
/// ("a port number from 0 to 65535").
fn integer(key: &Key, expr: &Expr, max: u64, what: &str) -> syn::Result<Spanned<u64>> {
    let name = key.name;
    let value = match shape(expr) {
        Shape::Lit(Lit::Int(int)) => int.base10_parse::<u64>().ok(),
        Shape::Negative(Lit::Int(_) | Lit::Float(_)) => {
            return Err(error(
                expr,
                format!(
                    "`{name}` cannot be negative: expected {what}; write `{}`",
                    key.example
                ),
            ));
        }
        Shape::Lit(Lit::Str(s)) if s.value().trim().parse::<u64>().is_ok() => {
            let n = s.value().trim().to_owned();
            return Err(error(
                expr,
                format!(
                    "`{name}` expects an integer, not a string: remove the quotes, `{name} = {n}`"
                ),
            ));
        }
        Shape::Lit(Lit::Float(_)) => {
            return Err(error(
                expr,
                format!(
                    "`{name}` expects a whole number: expected {what}; write `{}`",
                    key.example
                ),
            ));
        }
        _ => {
            return Err(error(
                expr,
                format!(
                    "`{name}` expects an integer: {what}; write `{}`",
                    key.example
                ),
            ));
        }
    };
    match value {
        Some(n) if n <= max => Ok(Spanned::new(n, expr)),
        _ => Err(error(
            expr,
            format!(
                "`{name} = {}` is out of range: expected {what}",
                expr.to_token_stream()
            ),
        )),
    }
}

/// A string literal.
pub(crate) fn string(key: &Key, expr: &Expr) -> syn::Result<Spanned<String>> {
    match shape(expr) {
        Shape::Lit(Lit::Str(s)) => Ok(Spanned::new(s.value(), expr)),
        Shape::Word(word) => Err(error(
            expr,
            format!(
                "`{}` expects a string: put it in double quotes, `{} = \"{word}\"`",
                key.name, key.name
            ),
        )),
        _ => Err(error(
            expr,
            format!(
                "`{}` expects a string in double quotes; write `{}`",
                key.name, key.example
            ),
        )),
    }
}

/// A non-empty string naming a file.
pub(crate) fn file(key: &Key, expr: &Expr) -> syn::Result<Spanned<String>> {
    let path = string(key, expr)?;
    if path.value.trim().is_empty() {
        return Err(path.error(format!(
            "`{}` expects a file path, not an empty string; write `{}`",
            key.name, key.example
        )));
    }
    Ok(path)
}

/// Permission bits: an integer literal written in octal (`0o660`; a decimal `660` would
/// be other bits than it looks), or a string in the command line's grammar (`"0660"`).
fn mode(key: &Key, expr: &Expr) -> syn::Result<Spanned<u32>> {
    let name = key.name;
    let parsed = match shape(expr) {
        Shape::Lit(Lit::Int(int)) => {
            let written = int.to_string();
            let octal = written.starts_with("0o") || int.base10_digits() == "0";
            if !octal {
                return Err(error(
                    expr,
                    format!(
                        "`{name}` is written in octal, as `chmod` takes it: `{name} = 0o{}` \
                         (the decimal {} is another mode)",
                        int.base10_digits(),
                        int.base10_digits()
                    ),
                ));
            }
            option_value::parse_mode(&format!(
                "{:o}",
                int.base10_parse::<u64>().unwrap_or(u64::MAX)
            ))
        }
        Shape::Lit(Lit::Str(s)) => option_value::parse_mode(&s.value()),
        _ => Err(format!("expects a mode in octal; write `{}`", key.example)),
    };
    parsed
        .map(|mode| Spanned::new(mode, expr))
        .map_err(|e| error(expr, format!("`{name}`: {e}")))
}

/// An IP address and port in a string.
fn socket_address(key: &Key, expr: &Expr) -> syn::Result<Spanned<String>> {
    let text = string(key, expr)?;
    match option_value::parse_socket_address(&text.value) {
        Ok(address) => Ok(Spanned::new(address.to_string(), expr)),
        Err(e) => Err(text.error(format!("`{}`: {e}; write `{}`", key.name, key.example))),
    }
}

/// `true` or `false`.
fn boolean(key: &Key, expr: &Expr) -> syn::Result<Spanned<bool>> {
    let name = key.name;
    match shape(expr) {
        Shape::Lit(Lit::Bool(b)) => Ok(Spanned::new(b.value, expr)),
        Shape::Lit(Lit::Str(s)) if matches!(s.value().as_str(), "true" | "false") => Err(error(
            expr,
            format!(
                "`{name}` expects a bool, not a string: remove the quotes, `{name} = {}`",
                s.value()
            ),
        )),
        _ => Err(error(
            expr,
            format!(
                "`{name}` expects `true` or `false`; write `{}`",
                key.example
            ),
        )),
    }
}

/// One of `choices`, written as a string.
fn choice(
    key: &Key,
    expr: &Expr,
    choices: &'static [Choice],
) -> syn::Result<Spanned<&'static Choice>> {
    let name = key.name;
    let listed = choices
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let lookup = |s: &str| choices.iter().find(|c| c.matches(s));
    match shape(expr) {
        Shape::Lit(Lit::Str(s)) => match lookup(&s.value()) {
            Some(value) => Ok(Spanned::new(value, expr)),
            None => Err(error(
                expr,
                format!(
                    "unknown {name} \"{}\"; expected one of: {listed}",
                    s.value()
                ),
            )),
        },
        Shape::Word(word) if lookup(&word).is_some() => Err(error(
            expr,
            format!("`{name}` expects a string: put it in double quotes, `{name} = \"{word}\"`"),
        )),
        _ => Err(error(
            expr,
            format!("`{name}` expects one of: {listed}; write `{}`", key.example),
        )),
    }
}

/// A byte count: an integer, or a string with a unit (`"64KiB"`), at least 1.
fn size(key: &Key, expr: &Expr) -> syn::Result<Spanned<u64>> {
    let name = key.name;
    let bytes = match shape(expr) {
        Shape::Lit(Lit::Int(int)) => int
            .base10_parse::<u64>()
            .map_err(|_| error(expr, format!("`{name}` is too large a byte count")))?,
        Shape::Lit(Lit::Str(s)) => {
            units::parse_size(&s.value()).map_err(|e| error(expr, format!("`{name}`: {e}")))?
        }
        Shape::Negative(_) => {
            return Err(error(
                expr,
                format!(
                    "`{name}` cannot be negative; write a byte count, like `{}`",
                    key.example
                ),
            ));
        }
        _ => {
            return Err(error(
                expr,
                format!(
                    "`{name}` expects a byte count: an integer, or a string with a unit; write `{}`",
                    key.example
                ),
            ));
        }
    };
    Ok(Spanned::new(bytes, expr))
}

/// A duration: seconds as an integer or float, or a string with a unit (`"500ms"`).
fn duration(key: &Key, expr: &Expr) -> syn::Result<Spanned<Duration>> {
    let name = key.name;
    let help = format!(
        "write seconds (`{name} = 30`, `{name} = 1.5`) or a string with a unit, like `{}`",
        key.example
    );
    let parsed = match shape(expr) {
        Shape::Lit(Lit::Int(int)) => units::parse_seconds(int.base10_digits()),
        Shape::Lit(Lit::Float(float)) => units::parse_seconds(float.base10_digits()),
        Shape::Lit(Lit::Str(s)) => Some(
            units::parse_duration(&s.value()).map_err(|e| error(expr, format!("`{name}`: {e}")))?,
        ),
        Shape::Negative(_) => {
            return Err(error(expr, format!("`{name}` cannot be negative; {help}")));
        }
        _ => None,
    };
    parsed
        .map(|d| Spanned::new(d, expr))
        .ok_or_else(|| error(expr, format!("`{name}` expects a duration; {help}")))
}

/// A list of IP addresses, each in a string: `["10.0.0.1", "::1"]`. Each is parsed as the
/// binary's `--trusted-downstream` flag parses it (standard IPv4 or IPv6 text: no host
/// names, no networks, no zone), and each bad one is reported on its own string.
fn ip_addresses(key: &Key, expr: &Expr) -> syn::Result<Spanned<Vec<IpAddr>>> {
    let name = key.name;
    let Expr::Array(array) = ungroup(expr) else {
        return Err(match shape(expr) {
            // One string, perhaps comma-separated as on the command line.
            Shape::Lit(Lit::Str(s)) => {
                let quoted = s
                    .value()
                    .split(',')
                    .map(|a| format!("\"{}\"", a.trim()))
                    .collect::<Vec<_>>()
                    .join(", ");
                error(
                    expr,
                    format!(
                        "`{name}` expects an array of addresses: put them in brackets, \
                         `{name} = [{quoted}]`"
                    ),
                )
            }
            _ => error(
                expr,
                format!(
                    "`{name}` expects an array of IP addresses in double quotes; write `{}`",
                    key.example
                ),
            ),
        });
    };
    if array.elems.is_empty() {
        return Err(error(
            expr,
            format!(
                "`{name}` is empty: list the addresses, like `{}`, or leave the key out",
                key.example
            ),
        ));
    }
    let mut errors = Errors::default();
    let mut addresses = Vec::new();
    for element in &array.elems {
        match ip_address(key, element) {
            Ok(address) => addresses.push(address.value),
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;
    Ok(Spanned::new(addresses, expr))
}

fn ip_address(key: &Key, expr: &Expr) -> syn::Result<Spanned<IpAddr>> {
    let name = key.name;
    let Shape::Lit(Lit::Str(s)) = shape(expr) else {
        let written = expr.to_token_stream().to_string().replace(' ', "");
        return Err(error(
            expr,
            format!(
                "each address in `{name}` is a string: put it in double quotes, `\"{written}\"`"
            ),
        ));
    };
    let text = s.value();
    match text.parse::<IpAddr>() {
        Ok(address) => Ok(Spanned::new(address, expr)),
        Err(_) if text.contains('/') => Err(error(
            expr,
            format!(
                "`{name}` takes single addresses, not networks: \"{text}\" is a network; \
                 list each proxy's address, like `\"10.0.0.1\"`"
            ),
        )),
        Err(_) => Err(error(
            expr,
            format!(
                "\"{text}\" is not an IP address: `{name}` takes IPv4 or IPv6 addresses \
                 (not host names), like `\"10.0.0.1\"` or `\"::1\"`"
            ),
        )),
    }
}

/// The elements of an array value, not empty; `what` names them in messages.
fn elements<'e>(key: &Key, expr: &'e Expr, what: &str) -> syn::Result<Vec<&'e Expr>> {
    let name = key.name;
    let Expr::Array(array) = ungroup(expr) else {
        return Err(error(
            expr,
            format!(
                "`{name}` expects an array of {what}; write `{}`",
                key.example
            ),
        ));
    };
    if array.elems.is_empty() {
        return Err(error(
            expr,
            format!(
                "`{name}` is empty: list the {what}, like `{}`, or leave the key out",
                key.example
            ),
        ));
    }
    Ok(array.elems.iter().collect())
}

/// A string literal inside a list, checked by `check`.
fn list_string(
    key: &Key,
    expr: &Expr,
    check: impl Fn(&str) -> Result<&str, String>,
) -> syn::Result<String> {
    let Shape::Lit(Lit::Str(s)) = shape(expr) else {
        let written = expr.to_token_stream().to_string().replace(' ', "");
        return Err(error(
            expr,
            format!(
                "each entry of `{}` is a string: put it in double quotes, `\"{written}\"`",
                key.name
            ),
        ));
    };
    let text = s.value();
    check(&text).map_err(|e| error(expr, format!("`{}`: {e}", key.name)))?;
    Ok(text)
}

/// IP networks: `["10.0.0.0/8", "::1/128"]` (a single address is a network of one).
fn networks(key: &Key, expr: &Expr) -> syn::Result<Vec<(IpAddr, u8)>> {
    let mut errors = Errors::default();
    let mut all = Vec::new();
    for element in elements(key, expr, "networks")? {
        let network = list_string(key, element, |t: &str| Ok(t)).and_then(|text| {
            tcpserver_options::net::parse_network(&text).map_err(|e| {
                let name = key.name;
                error(
                    element,
                    format!("`{name}`: \"{text}\" is not a network: {}", e.describe()),
                )
            })
        });
        match network {
            Ok(network) => all.push(network),
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;
    Ok(all)
}

/// ALPN protocol names in order of preference: `["h2", "http/1.1"]`.
fn protocols(key: &Key, expr: &Expr) -> syn::Result<Vec<String>> {
    let mut errors = Errors::default();
    let mut names = Vec::new();
    for element in elements(key, expr, "protocol names")? {
        match list_string(key, element, option_value::check_protocol) {
            Ok(name) => names.push(name),
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;
    Ok(names)
}

/// Certificates by SNI name: `[("api.example.com", "api.pem"), ("mail.example.com",
/// "mail.crt", "mail.key")]`.
fn sni_certificates(key: &Key, expr: &Expr) -> syn::Result<Vec<SniCertificate>> {
    let mut errors = Errors::default();
    let mut all = Vec::new();
    for element in elements(key, expr, "certificates by name")? {
        match sni_certificate(key, element) {
            Ok(sni) => all.push(sni),
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;
    Ok(all)
}

fn sni_certificate(key: &Key, expr: &Expr) -> syn::Result<SniCertificate> {
    let form = r#"`("name.example.com", "chain-and-key.pem")` or `("name.example.com", "cert.pem", "key.pem")`"#;
    let fields = match ungroup(expr) {
        Expr::Tuple(tuple) if matches!(tuple.elems.len(), 2 | 3) => &tuple.elems,
        _ => {
            return Err(error(
                expr,
                format!("each entry of `{}` is a tuple: {form}", key.name),
            ));
        }
    };
    let name = list_string(key, &fields[0], option_value::check_sni_name)?;
    let cert = list_string(key, &fields[1], non_empty)?;
    let key_file = fields
        .get(2)
        .map(|k| list_string(key, k, non_empty))
        .transpose()?;
    Ok(SniCertificate {
        name,
        cert,
        key: key_file,
    })
}

fn non_empty(path: &str) -> Result<&str, String> {
    if path.trim().is_empty() {
        Err("expected a file path, not an empty string".to_owned())
    } else {
        Ok(path)
    }
}

/// `expr` with invisible groups (from `macro_rules!` fragments) looked through.
fn ungroup(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungroup(&group.expr),
        _ => expr,
    }
}

/// A path written as a string, such as `crate = "tcpserver"`.
pub(crate) fn path(key: &Key, expr: &Expr) -> syn::Result<syn::Path> {
    let name = key.name;
    match shape(expr) {
        Shape::Lit(Lit::Str(s)) => s.parse::<syn::Path>().map_err(|_| {
            error(
                expr,
                format!(
                    "`{name}` expects a path, like `{}`; \"{}\" is not a path",
                    key.example,
                    s.value()
                ),
            )
        }),
        Shape::Word(word) => Err(error(
            expr,
            format!(
                "`{name}` expects the path as a string: put it in double quotes, `{name} = \"{word}\"`"
            ),
        )),
        _ => Err(error(
            expr,
            format!(
                "`{name}` expects a path as a string; write `{}`",
                key.example
            ),
        )),
    }
}

/// `key = expression`, as code (`codec = LinesCodec::new()`): anything but a string, which
/// would be a codec written in quotes.
pub(crate) fn expression(key: &Key, expr: &Expr) -> syn::Result<()> {
    match shape(expr) {
        Shape::Lit(Lit::Str(s)) => Err(error(
            expr,
            format!(
                "`{}` is Rust code that makes the codec, not a string: remove the quotes, `{} = {}`",
                key.name,
                key.name,
                s.value()
            ),
        )),
        Shape::Lit(_) | Shape::Negative(_) => Err(error(
            expr,
            format!(
                "`{}` expects code that makes a codec; write `{}`",
                key.name, key.example
            ),
        )),
        _ => Ok(()),
    }
}

/// `key = path::to::Type`: a type named by its path, as code.
pub(crate) fn type_path(key: &Key, expr: &Expr) -> syn::Result<syn::Path> {
    item_path(key, expr, "a type")
}

/// `key = path::to::function`: a function named by its path, as code.
pub(crate) fn function(key: &Key, expr: &Expr) -> syn::Result<syn::Path> {
    let name = key.name;
    match ungroup(expr) {
        Expr::Closure(_) | Expr::Async(_) => Err(error(
            expr,
            format!(
                "`{name}` names a function, by its path; move this code into a function and \
                 write `{}`",
                key.example
            ),
        )),
        Expr::Call(call) => Err(error(
            expr,
            format!(
                "`{name}` names the function without calling it: the server calls it in every \
                 process; write `{name} = {}`",
                call.func.to_token_stream().to_string().replace(' ', "")
            ),
        )),
        _ => item_path(key, expr, "a function"),
    }
}

/// A path written as code (`what`: "a function", "a type"), or the error that says how.
fn item_path(key: &Key, expr: &Expr, what: &str) -> syn::Result<syn::Path> {
    let name = key.name;
    match ungroup(expr) {
        Expr::Path(path) if path.qself.is_none() => Ok(path.path.clone()),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Err(error(
            expr,
            format!(
                "`{name}` names {what} as code, not as a string: remove the quotes, \
                 `{name} = {}`",
                s.value()
            ),
        )),
        _ => Err(error(
            expr,
            format!("`{name}` expects {what}'s path; write `{}`", key.example),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;
    use tcpserver_options::keys::{Id, key};

    fn port(expr: Expr) -> Result<u64, String> {
        integer(key(Id::Port), &expr, 65535, "a port number from 0 to 65535")
            .map(|v| v.value)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers() {
        assert_eq!(port(parse_quote!(8080)), Ok(8080));
        assert_eq!(port(parse_quote!(8_080)), Ok(8080));
        assert_eq!(port(parse_quote!(65535)), Ok(65535));
        assert!(
            port(parse_quote!(65536))
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            port(parse_quote!(99999999999999999999999))
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            port(parse_quote!(-1))
                .unwrap_err()
                .contains("cannot be negative")
        );
        assert!(
            port(parse_quote!("80"))
                .unwrap_err()
                .contains("remove the quotes, `port = 80`")
        );
        assert!(
            port(parse_quote!(80.0))
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            port(parse_quote!(http))
                .unwrap_err()
                .contains("write `port = 8888`")
        );
    }

    #[test]
    fn strings_and_words() {
        let the_key = key(Id::Address);
        assert_eq!(string(the_key, &parse_quote!("::1")).unwrap().value, "::1");
        let err = string(the_key, &parse_quote!(localhost))
            .unwrap_err()
            .to_string();
        assert!(err.contains(r#"`address = "localhost"`"#), "{err}");
        assert!(file(key(Id::Tls), &parse_quote!("")).is_err());
    }

    #[test]
    fn bools() {
        assert!(
            boolean(key(Id::ReusePort), &parse_quote!(true))
                .unwrap()
                .value
        );
        let err = boolean(key(Id::ReusePort), &parse_quote!("true"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("remove the quotes, `reuse_port = true`"),
            "{err}"
        );
        let err = boolean(key(Id::ReusePort), &parse_quote!(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`true` or `false`"), "{err}");
    }

    #[test]
    fn choices() {
        let family = key(Id::Family);
        let read_family = |e: Expr| read_with(family, e).map_err(|e| e.to_string());
        assert_eq!(
            read_family(parse_quote!("ipv6")).unwrap().choice().name,
            "ipv6"
        );
        assert_eq!(
            read_family(parse_quote!("inet")).unwrap_err(),
            r#"unknown family "inet"; expected one of: "unspec", "ipv4", "ipv6""#
        );
        let err = read_family(parse_quote!(ipv4)).unwrap_err();
        assert!(err.contains(r#"`family = "ipv4"`"#), "{err}");
        let flavor = read_with(key(Id::Runtime), parse_quote!("current-thread"));
        assert_eq!(flavor.unwrap().choice().name, "current_thread");
    }

    fn read_with(key: &Key, e: Expr) -> syn::Result<Value> {
        read(key, &e).map(|v| v.value)
    }

    #[test]
    fn sizes() {
        let the_key = key(Id::MaxBufferSize);
        assert_eq!(size(the_key, &parse_quote!(4096)).unwrap().value, 4096);
        assert_eq!(size(the_key, &parse_quote!("1MiB")).unwrap().value, 1 << 20);
        assert!(
            read(the_key, &parse_quote!(0))
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        assert!(
            size(the_key, &parse_quote!(-1))
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        assert!(
            size(the_key, &parse_quote!("1 parsec"))
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
        assert!(
            size(the_key, &parse_quote!(1.5))
                .unwrap_err()
                .to_string()
                .contains("byte count")
        );
    }

    #[test]
    fn durations() {
        let d = |e: Expr| {
            duration(key(Id::ShutdownTimeout), &e)
                .map(|v| v.value)
                .map_err(|e| e.to_string())
        };
        assert_eq!(d(parse_quote!(30)), Ok(Duration::from_secs(30)));
        assert_eq!(d(parse_quote!(1.5)), Ok(Duration::from_millis(1500)));
        assert_eq!(d(parse_quote!("500ms")), Ok(Duration::from_millis(500)));
        assert!(
            d(parse_quote!(-1))
                .unwrap_err()
                .contains("cannot be negative")
        );
        assert!(
            d(parse_quote!(1e3))
                .unwrap_err()
                .contains("expects a duration")
        );
        assert!(
            d(parse_quote!("soon"))
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            d(parse_quote!(true))
                .unwrap_err()
                .contains("expects a duration")
        );
    }

    #[test]
    fn paths() {
        let p = path(key(Id::Crate), &parse_quote!("my::tcpserver")).unwrap();
        assert_eq!(p.to_token_stream().to_string(), "my :: tcpserver");
        let err = crate::expect_err(path(key(Id::Crate), &parse_quote!("456"))).to_string();
        assert!(err.contains(r#""456" is not a path"#), "{err}");
        let err = crate::expect_err(path(key(Id::Crate), &parse_quote!(tcpserver))).to_string();
        assert!(err.contains(r#"`crate = "tcpserver"`"#), "{err}");
        assert!(path(key(Id::Crate), &parse_quote!(456)).is_err());
    }

    #[test]
    fn ip_address_lists() {
        let the_key = key(Id::TrustedDownstream);
        let ips = |e: Expr| {
            ip_addresses(the_key, &e)
                .map(|v| v.value)
                .map_err(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            ips(parse_quote!(["10.0.0.1", "::1", "2001:db8::7",])),
            Ok(vec![
                IpAddr::from([10, 0, 0, 1]),
                IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1_u16]),
                "2001:db8::7".parse().unwrap(),
            ])
        );
        let e = ips(parse_quote!("10.0.0.1, 10.0.0.2")).unwrap_err();
        assert_eq!(
            e,
            [
                r#"`trusted_downstream` expects an array of addresses: put them in brackets, `trusted_downstream = ["10.0.0.1", "10.0.0.2"]`"#
            ]
        );
        let e = ips(parse_quote!(10)).unwrap_err();
        assert!(e[0].contains("expects an array of IP addresses"), "{e:?}");
        let e = ips(parse_quote!([])).unwrap_err();
        assert!(e[0].contains("is empty"), "{e:?}");
        // Every bad address is reported, each on its own.
        let e = ips(parse_quote!([
            "10.0.0.256",
            "localhost",
            "10.0.0.1",
            "10.0.0.0/8",
            "fe80::1%lo",
            " ::1"
        ]))
        .unwrap_err();
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(
            e[0].starts_with(r#""10.0.0.256" is not an IP address"#),
            "{e:?}"
        );
        assert!(e[1].contains("(not host names)"), "{e:?}");
        assert!(e[2].contains("not networks"), "{e:?}");
        assert!(e[3].starts_with(r#""fe80::1%lo" is not"#), "{e:?}");
        assert!(e[4].starts_with(r#"" ::1" is not"#), "{e:?}");
        let e = ips(parse_quote!([localhost])).unwrap_err();
        assert!(e[0].contains(r#"in double quotes, `"localhost"`"#), "{e:?}");
    }

    #[test]
    fn values_remember_where_they_were_written() {
        let expr: Expr = parse_quote!(-1);
        let v = Spanned::new(1, &expr);
        assert_eq!(v.tokens.to_string(), "- 1");
        assert_eq!(v.error("bad").to_string(), "bad");
    }
}
