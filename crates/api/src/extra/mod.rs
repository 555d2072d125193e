//! llama.cpp-server-compatible helpers: `POST /tokenize`, `POST /apply-template` (for
//! clients that count tokens themselves, and for tests) and `POST /infill` (code completion
//! between a prefix and a suffix, as editor plugins call it), `GET /props` (what the server
//! is: context size, slots, model).

pub mod infill;
pub mod props;
pub mod tokenize;
