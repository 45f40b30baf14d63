//! The smol adapter (feature `smol`).

use super::{AsyncIoSleep, Timer};
use core::time::Duration;
use std::time::Instant;

/// smol's timer (`async_io::Timer`, which smol re-exports as
/// `smol::Timer`).
///
/// The smol crate itself is not a dependency: its timer lives in
/// `async-io`. The sleep works under any executor.
///
/// # Examples
///
/// ```
/// use flowgate::runtime::{Smol, Timer};
/// use std::time::Duration;
///
/// futures::executor::block_on(Smol.sleep(Duration::from_millis(1)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl Timer for Smol {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, d: Duration) -> AsyncIoSleep {
        AsyncIoSleep::after(d)
    }

    fn sleep_until(&self, deadline: Instant) -> AsyncIoSleep {
        AsyncIoSleep::at(deadline)
    }
}
