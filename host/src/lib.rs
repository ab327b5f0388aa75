//! The torch-remote host: runs the `guest-ops` component and executes its kernel imports.
//!
//! Without the `server` feature this crate is only the guest runtime and the wire protocol,
//! which the Python client embeds.

pub mod guest;
pub mod memo;
pub mod protocol;

#[cfg(feature = "server")]
pub mod hardware;
#[cfg(feature = "server")]
pub mod kernels;
#[cfg(feature = "server")]
pub mod memory;
#[cfg(feature = "server")]
pub mod payload;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod session;
#[cfg(feature = "server")]
pub mod storage;
