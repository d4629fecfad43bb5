//! Portico's integration tests: one binary, so the crate links once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod harness;

mod mail;
mod messages;

mod access;
mod browser_stories;
mod chat_room;
mod cli;
mod durability;
mod people;
mod questions;
mod server;
mod smtp;
mod store_story;
