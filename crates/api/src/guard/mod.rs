//! What stands between a client and the engine.
//!
//! - [`keys`]: API keys (Bearer or `x-api-key`), compared in constant time.
//! - [`ratelimit`]: per-IP token buckets (tower-governor), JSON 429s (who the client is:
//!   [`crate::peer`]).
//! - [`admission`]: refuse new generations while draining or too hot.
//! - [`clients`]: per-client cap on generations in flight.
//! - [`origin`]: refuse browser requests from other origins unless `--cors-origin` allows them.
//! - [`observe`]: request ids, structured request logs, per-route metrics.

pub mod admission;
pub mod clients;
pub mod keys;
pub mod observe;
pub mod origin;
pub mod ratelimit;
