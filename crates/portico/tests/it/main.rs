//! Portico's integration tests: one binary, so the crate links once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod harness;

mod access;
mod access_ends;
mod audit;
mod backups;
mod branding;
mod browser_stories;
mod chat_prefs;
mod chat_room;
mod cli;
mod client_data;
mod durability;
mod errors;
mod lifecycle;
mod local_time;
mod mail;
mod messages;
mod notify;
mod notify_browser;
mod password_memory;
mod people;
mod portal_home;
mod questions;
mod s3;
mod scale_out;
mod schema;
mod server;
mod smtp;
mod store_story;
mod websec;
