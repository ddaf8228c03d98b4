//! imagor's HTTP server (feature `server`): a drop-in replacement for the
//! imagor 1.9 binary, with its flags, environment variables and `.env`
//! file ([`config`]).

pub mod config;
