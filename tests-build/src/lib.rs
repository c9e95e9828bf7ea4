//! Nothing but a home for `tests/`: the attributes compiled against `tcpserver` with its
//! default features, where a key or an attribute that needs another feature must fail to
//! compile with a message naming that feature.
