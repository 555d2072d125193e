//! The neutral request layer: what a generation or embedding request asks for, whatever
//! its dialect. `openai/` and `ollama/` map their fields into these (naming their own
//! fields in errors) and render the answers; the checks live here, once.
//!
//! - [`messages`]: chat messages (text or text parts, calls in the history, tool results).
//! - [`sampling`]: sampling parameters, stop strings and the answer's JSON format.
//! - [`tools`]: tool definitions and the tool choice.
//! - [`embeddings`]: embedding inputs, and running them.

pub mod embeddings;
pub mod messages;
pub mod sampling;
pub mod tools;
