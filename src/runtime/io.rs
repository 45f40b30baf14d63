//! The `async-io` sleep shared by the smol and async-std adapters and by
//! [`DefaultTimer`](super::DefaultTimer) outside tokio.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::time::Instant;

/// A sleep on `async_io::Timer`, the timer of smol and async-std.
///
/// It needs no particular executor: when no executor drives `async-io`'s
/// reactor, `async-io` runs it on its own thread.
///
/// # Cancel safety
///
/// Dropping it cancels the timer; nothing else is affected.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "smol")] {
/// use flowgate::runtime::{Smol, Timer};
/// use std::time::Duration;
///
/// futures::executor::block_on(Smol.sleep(Duration::from_millis(1)));
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct AsyncIoSleep(async_io::Timer);

impl AsyncIoSleep {
    // Unused when only `tokio` is on (DefaultTimer sleeps until instants).
    #[cfg_attr(not(any(feature = "smol", feature = "async-std")), allow(dead_code))]
    pub(crate) fn after(d: Duration) -> Self {
        Self(async_io::Timer::after(d))
    }

    pub(crate) fn at(deadline: Instant) -> Self {
        Self(async_io::Timer::at(deadline))
    }
}

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_instant| ())
    }
}

impl fmt::Debug for AsyncIoSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AsyncIoSleep").finish()
    }
}
