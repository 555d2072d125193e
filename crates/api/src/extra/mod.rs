//! llama.cpp-server-compatible helpers: `POST /tokenize`, `POST /apply-template`.
//! Useful for clients that count tokens themselves, and for tests.

pub mod tokenize;
