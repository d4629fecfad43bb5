//! Portico's integration tests: one binary, so the crate links once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod harness;

mod access;
mod access_ends;
mod api;
mod audit;
mod backups;
mod branding;
mod browser_layout;
mod browser_stories;
mod chat_prefs;
mod chat_room;
mod cli;
mod client_data;
mod contacts_edit;
mod durability;
mod errors;
mod field_errors;
mod inbound;
mod kept_identity;
mod lifecycle;
mod local_time;
mod mail;
mod messages;
mod notify;
mod notify_browser;
mod password_memory;
mod people;
mod portal_home;
mod push;
mod questions;
mod reassign_preview;
mod s3;
mod scale_out;
mod schema;
mod search;
mod server;
mod smtp;
mod sso;
mod staff_home;
mod store_story;
mod strength_phone;
mod webhooks;
mod websec;
