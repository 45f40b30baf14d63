#![doc = include_str!("../README.md")]
#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]
#![warn(rust_2018_idioms, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "amqp")]
#[cfg_attr(docsrs, doc(cfg(feature = "amqp")))]
pub mod amqp;
mod coop;
pub mod credit;
pub mod dispatch;
pub mod mailbox;
pub mod rate;
pub mod runtime;
mod sync;
mod timeout;
mod waitlist;

pub use credit::CreditSemaphore;
pub use dispatch::{Dispatcher, Strategy, Subscription};
pub use rate::{Quota, RateLimiter};
