//! What stands between a client and the engine.
//!
//! - [`keys`]: API keys (Bearer or `x-api-key`), compared in constant time.
//! - [`ratelimit`]: per-IP token buckets (tower-governor), trusted proxies, JSON 429s.
//! - [`admission`]: refuse new generations while draining or too hot.
//! - [`observe`]: request ids, structured request logs, per-route metrics.

pub mod admission;
pub mod keys;
pub mod observe;
pub mod ratelimit;
