//! Portico: a secure client portal for professional practices.
//!
//! Data flows one way: [`http`] (routes, pages) → [`app`] (use cases and the
//! authorization [`app::policy`]) → [`store`] (SQL on SQLite or PostgreSQL).
//! [`domain`] holds the plain types every layer shares.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod file_sweeper;
pub mod files;
pub mod http;
pub mod inbound_smtp;
pub mod keys;
pub mod local_time;
pub mod server;
pub mod store;
pub mod telemetry;
