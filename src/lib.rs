//! Helpers shared by the integration tests and examples of `tcpserver` (this package owns
//! `examples/` and `tests/`; it is not published).
