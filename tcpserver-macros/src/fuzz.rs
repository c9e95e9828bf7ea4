//! The body of the `attribute` fuzz target (`fuzz/`): arbitrary text as an attribute's
//! arguments and item, through the whole pipeline (parse, validate, expand) on
//! `proc_macro2` tokens. The fuzz crate compiles this crate's modules by path (a proc-macro
//! crate exports nothing else); the unit test below replays the corpus on stable.
//!
//! Checks: nothing panics, and whatever the input, the output is valid Rust: either the
//! expansion (a `fn main`) or the handler with a `compile_error!` for each rejection.

use proc_macro2::TokenStream;

use crate::entry;
use crate::kind::Kind;

/// The handler used when the input gives arguments only.
const HANDLER: &str = "async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> { loop { let line = stream.read_until(b\"\\n\", Some(1024)).await?; stream.write(&line).await?; } }";

/// An input: `[H]args[\0item]`; `H` picks `#[http_server]`.
pub(crate) fn attribute(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let (kind, text) = match text.strip_prefix('H') {
        Some(rest) => (Kind::Http, rest),
        None => (Kind::Tcp, text),
    };
    let (args, item) = text.split_once('\0').unwrap_or((text, HANDLER));
    // The compiler hands an attribute well-formed tokens only, and an item that parses as
    // an item (the fuzzer's first find: `asyfc fn main(..)` came back unchanged behind the
    // error, which is no item at all).
    let (Ok(args), Ok(item)) = (args.parse::<TokenStream>(), item.parse::<TokenStream>()) else {
        return;
    };
    if syn::parse2::<syn::Item>(item.clone()).is_err() {
        return;
    }
    let out = entry::server(kind, args, item);
    if let Err(e) = syn::parse2::<syn::File>(out.clone()) {
        panic!("the expansion is not valid Rust ({e}): {out}");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every seed and corpus file of the `attribute` fuzz target, on a thread with the
    /// stack the optimized fuzzer's inputs assume: deeply nested groups recurse through
    /// syn's parser, and an unoptimized build takes several times the stack per level.
    #[test]
    fn fuzz_corpus_replays() {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(replay)
            .unwrap()
            .join()
            .unwrap();
    }

    fn replay() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut replayed = 0;
        for kind in ["seeds", "corpus"] {
            let dir = fuzz.join(kind).join("attribute");
            let Ok(entries) = std::fs::read_dir(&dir) else {
                assert_eq!(kind, "corpus", "{} is missing", dir.display());
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                super::attribute(&std::fs::read(&path).unwrap());
                replayed += 1;
            }
        }
        assert!(replayed > 0);
    }
}
