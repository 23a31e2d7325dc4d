//! The command-line tests' way into the integration tests' harness
//! (`tests/integration/support`), while they are still test binaries of this
//! crate. Each uses a small part of it, hence the `allow`; the integration
//! binary uses all of it and carries none. To be removed when the
//! command-line tests move to their own crate.
#![allow(dead_code, unused_macros)]

#[path = "../integration/support/mod.rs"]
mod harness;

pub use harness::*;
