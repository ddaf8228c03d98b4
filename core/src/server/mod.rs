//! imagor's HTTP server (feature `server`): a drop-in replacement for the
//! imagor 1.9 binary, with its flags, environment variables and `.env`
//! file ([`config`]).

pub mod cli;
pub mod config;
mod conn;
mod escaped_path;
mod heads;
mod http;
mod linger;
mod log;
mod metrics;
mod middleware;

pub use http::{run, run_until, serve, ServerOptions};
pub use metrics::Metrics;
pub use middleware::Layers;
