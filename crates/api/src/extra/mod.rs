//! llama.cpp-server-compatible helpers: `POST /tokenize`, `POST /apply-template` (for
//! clients that count tokens themselves, and for tests) and `POST /infill` (code completion
//! between a prefix and a suffix, as editor plugins call it).

pub mod infill;
pub mod tokenize;
