//! The async-std adapter (feature `async-std`).
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052). Its timer is
//! `async-io`'s, so this adapter uses `async-io` directly and the feature
//! does not put the async-std crate into your dependency tree.

use super::{AsyncIoSleep, Timer};
use core::time::Duration;
use std::time::Instant;

/// async-std's timer, without async-std: `async_io::Timer`, which is what
/// `async_std::task::sleep` sleeps on.
///
/// async-std is discontinued upstream (RUSTSEC-2025-0052); this adapter
/// keeps its users working without adding the unmaintained crate to their
/// build. The sleep works under any executor.
///
/// # Examples
///
/// ```
/// use flowgate::runtime::{AsyncStd, Timer};
/// use std::time::Duration;
///
/// futures::executor::block_on(AsyncStd.sleep(Duration::from_millis(1)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Timer for AsyncStd {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, d: Duration) -> AsyncIoSleep {
        AsyncIoSleep::after(d)
    }

    fn sleep_until(&self, deadline: Instant) -> AsyncIoSleep {
        AsyncIoSleep::at(deadline)
    }
}
