//! The Spot Elastigroup REST API (`https://api.spotinst.io`), implementing core's `Elastigroups`.
//!
//! * `config` — [`SpotConfig`], the secret [`SpotToken`] and the required [`SpotAccountId`].
//! * `client` — [`SpotHttpClient`]: requests, retries, the port.
//! * `wire` — Spot's JSON envelopes and items, and their translation into core's types.
//! * `error` — sorting HTTP failures into `RemoteError`; [`SpotSetupError`].

mod client;
mod config;
mod error;
mod wire;

#[cfg(test)]
mod tests;

pub use client::{MAX_TRANSPORT_RETRIES, MAX_TRANSPORT_WAIT, SpotHttpClient};
pub use config::{DEFAULT_BASE_URL, SpotAccountId, SpotConfig, SpotToken};
pub use error::SpotSetupError;
