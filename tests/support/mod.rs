//! Shared test code.
#![allow(dead_code)]

pub mod manifest;
