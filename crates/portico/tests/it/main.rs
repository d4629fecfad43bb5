//! Portico's integration tests: one binary, so the crate links once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod harness;

mod chat_prefs;
mod mail;
mod messages;
mod notify;
mod notify_browser;

mod access;
mod access_ends;
mod branding;
mod browser_stories;
mod cli;
mod durability;
mod local_time;
mod errors;
mod password_memory;

mod access;
mod backups;
mod browser_stories;
mod cli;
mod durability;
mod lifecycle;
mod people;
mod questions;
mod s3;
mod scale_out;
mod schema;
mod server;
mod smtp;
mod store_story;
