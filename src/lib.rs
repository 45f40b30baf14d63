#![doc = include_str!("../README.md")]
#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![warn(rust_2018_idioms, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod credit;
pub mod dispatch;
pub mod mailbox;
mod sync;
mod waitlist;

pub use credit::CreditSemaphore;
