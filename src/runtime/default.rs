//! [`DefaultTimer`]: the timer of the plain forms (`until_ready`,
//! `*_timeout`), present whenever any runtime feature is on.

use super::{AsyncIoSleep, Timer};
use core::fmt;
use core::future::Future;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::time::Instant;

#[cfg(feature = "tokio")]
type TokioSleep = ::tokio::time::Sleep;

/// Without the `tokio` feature there is never a tokio sleep; this type
/// keeps [`DefaultSleep`]'s shape the same under every feature set.
#[cfg(not(feature = "tokio"))]
enum TokioSleep {}

#[cfg(not(feature = "tokio"))]
impl Future for TokioSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        match *self.get_mut() {}
    }
}

/// The timer that works where it is called: tokio's inside a tokio runtime,
/// otherwise `async-io`'s.
///
/// Present whenever any runtime feature (`tokio`, `smol`, `async-std`) is
/// on; the plain forms of the timed methods sleep with it. Each
/// [`sleep`](Timer::sleep) decides afresh: with the `tokio` feature on and a
/// tokio runtime current on the calling thread
/// (`tokio::runtime::Handle::try_current`), it uses `tokio::time::sleep`
/// (so tokio's paused test time applies: `d` counts from tokio's now);
/// otherwise `async_io::Timer`, which needs no particular executor.
///
/// # Panics
///
/// Inside a tokio runtime built without the time driver, tokio's sleep
/// panics; build the runtime with `enable_time()` or `enable_all()`.
///
/// # Examples
///
/// ```
/// use flowgate::runtime::{DefaultTimer, Timer};
/// use std::time::Duration;
///
/// // No runtime here: async-io's timer is used.
/// futures::executor::block_on(DefaultTimer::new().sleep(Duration::from_millis(1)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTimer {
    _private: (),
}

impl DefaultTimer {
    /// The default timer (it holds no state).
    ///
    /// # Examples
    ///
    /// ```
    /// let _timer = flowgate::runtime::DefaultTimer::new();
    /// ```
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl Timer for DefaultTimer {
    type Sleep = DefaultSleep;

    fn sleep(&self, d: Duration) -> DefaultSleep {
        // Inside tokio, count `d` from tokio's own now: under paused test
        // time that clock runs ahead of the real one, and a deadline taken
        // from the real clock would already have passed.
        #[cfg(feature = "tokio")]
        if ::tokio::runtime::Handle::try_current().is_ok() {
            return DefaultSleep {
                tokio: Some(::tokio::time::sleep(d)),
                io: None,
                _pin: PhantomPinned,
            };
        }
        self.sleep_until(Instant::now() + d.min(FAR))
    }

    fn sleep_until(&self, deadline: Instant) -> DefaultSleep {
        #[cfg(feature = "tokio")]
        if ::tokio::runtime::Handle::try_current().is_ok() {
            return DefaultSleep {
                tokio: Some(::tokio::time::sleep_until(deadline.into())),
                io: None,
                _pin: PhantomPinned,
            };
        }
        DefaultSleep {
            tokio: None,
            io: Some(AsyncIoSleep::at(deadline)),
            _pin: PhantomPinned,
        }
    }
}

/// Longer sleeps are capped here (about 30 years), so `now + d` cannot
/// overflow an `Instant`.
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

pin_project_lite::pin_project! {
    /// The sleep of [`DefaultTimer`]: tokio's or `async-io`'s.
    ///
    /// It is `Send` and `!Unpin` under every feature set (pin it with
    /// `Box::pin` or `std::pin::pin!`), so turning on a feature never
    /// changes its auto traits.
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the timer; nothing else is affected.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::runtime::{DefaultTimer, Timer};
    /// use std::time::Duration;
    ///
    /// let sleep = DefaultTimer::new().sleep(Duration::from_millis(1));
    /// futures::executor::block_on(sleep);
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct DefaultSleep {
        #[pin]
        tokio: Option<TokioSleep>,
        io: Option<AsyncIoSleep>,
        #[pin]
        _pin: PhantomPinned,
    }
}

impl Future for DefaultSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if let Some(sleep) = this.tokio.as_pin_mut() {
            return sleep.poll(cx);
        }
        match this.io {
            Some(sleep) => Pin::new(sleep).poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl fmt::Debug for DefaultSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.tokio.is_some() {
            "tokio"
        } else {
            "async-io"
        };
        f.debug_struct("DefaultSleep")
            .field("timer", &kind)
            .finish()
    }
}
