//! "Did you mean": the option a misspelt or foreign name most likely stands for.

use crate::keys::Key;

/// The key among `keys` that `name` most likely means: the same name in another case or
/// with dashes, a known alias (`host` for `address`), or a near miss (`prot` for `port`).
/// `name_of` says how a key is written where `name` was (its attribute name or its flag).
pub fn suggest<'k>(
    keys: impl Iterator<Item = &'k Key> + Clone,
    name: &str,
    name_of: fn(&Key) -> &str,
) -> Option<&'k Key> {
    let normal = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let wanted = normal(name);
    if let Some(key) = keys.clone().find(|k| normal(name_of(k)) == wanted) {
        return Some(key);
    }
    if let Some(key) = keys
        .clone()
        .find(|k| k.aliases.iter().any(|a| *a == wanted))
    {
        return Some(key);
    }
    keys.map(|k| (edit_distance(&wanted, &normal(name_of(k))), k))
        .filter(|&(d, k)| d <= 2 && d < name_of(k).len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Group, Id, KEYS, top_level, within};

    fn attribute(name: &str) -> Option<Id> {
        let keys = top_level(&[
            Group::Bind,
            Group::Server,
            Group::Tls,
            Group::Process,
            Group::Attribute,
        ]);
        suggest(keys, name, |k| k.name).map(|k| k.id)
    }

    #[test]
    fn near_misses_aliases_and_spellings() {
        assert_eq!(attribute("prot"), Some(Id::Port));
        assert_eq!(attribute("worker_thread"), Some(Id::WorkerThreads));
        assert_eq!(attribute("reuse-port"), Some(Id::ReusePort));
        assert_eq!(attribute("Port"), Some(Id::Port));
        assert_eq!(attribute("flavor"), Some(Id::Runtime));
        assert_eq!(attribute("host"), Some(Id::Address));
        assert_eq!(attribute("x"), None);
        // An alias whose key is not offered suggests nothing.
        assert_eq!(attribute("scheme"), None);
        assert_eq!(suggest(within(Id::Tls), "certificate", |k| k.name), None);
        assert_eq!(
            suggest(within(Id::Tls), "certs", |k| k.name).map(|k| k.id),
            Some(Id::TlsCert)
        );
        let flag = |k: &Key| k.flag.unwrap_or("");
        assert_eq!(
            suggest(KEYS.iter(), "--prot".trim_start_matches('-'), flag).map(|k| k.id),
            Some(Id::Port)
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("port", "port"), 0);
        assert_eq!(edit_distance("prot", "port"), 2);
        assert_eq!(edit_distance("ports", "port"), 1);
        assert_eq!(edit_distance("", "tls"), 3);
    }
}
