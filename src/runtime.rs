//! Timers: the only runtime-specific code in flowgate.
//!
//! Everything else in the crate runs on any executor. What needs time (the
//! rate limiter's waits, the `*_timeout` methods) sleeps through a
//! [`Timer`], and this module has one small adapter per runtime, each behind
//! its cargo feature, plus a [`ManualClock`] for deterministic tests:
//!
//! | type | feature | sleeps with |
//! | --- | --- | --- |
//! | [`Tokio`] | `tokio` | `tokio::time::sleep` (needs a tokio runtime with time enabled) |
//! | [`Smol`] | `smol` | `async_io::Timer` (smol's timer) |
//! | [`AsyncStd`] | `async-std` | `async_io::Timer` (async-std's own timer) |
//! | [`DefaultTimer`] | any of the three | tokio's inside a tokio runtime, otherwise `async_io`'s |
//! | [`ManualClock`] | none (always there) | a clock that moves only when told |
//!
//! # Two forms of every timed method
//!
//! Each timed method has a *plain* form (`until_ready`, `acquire_timeout`,
//! ...) and a `*_with(&timer, ..)` form:
//!
//! - The `*_with` form takes any [`Timer`] and always exists, so code that
//!   brings its own timer (or a [`ManualClock`] in tests) needs no feature.
//! - The plain form exists whenever *any* runtime feature is on and sleeps
//!   with [`DefaultTimer`], which picks a timer that works where the future
//!   is polled: tokio's inside a tokio runtime (found with
//!   `tokio::runtime::Handle::try_current`, when the `tokio` feature is on),
//!   otherwise `async-io`'s, which runs its own driver thread when no
//!   executor drives it and so works under smol, async-std,
//!   `futures::executor` or anything else.
//!
//! Features are strictly additive: turning on another runtime feature (as
//! any crate in a dependency tree may) adds types but never removes or
//! changes an API. [`DefaultTimer`]'s sleep has the same auto traits under
//! every combination of features.
//!
//! # async-std
//!
//! async-std is discontinued upstream (see its 1.13.1 changelog and
//! RUSTSEC-2025-0052). The `async-std` feature stays for its users, but it
//! does **not** depend on the async-std crate: async-std's timer is
//! `async-io`'s, so [`AsyncStd`] sleeps with `async_io::Timer` directly and
//! the unmaintained crate stays out of your dependency tree. flowgate's own
//! test suite still runs on async-std's executor (a dev-dependency).
//!
//! # Examples
//!
//! A function generic over the timer, run with a manual clock:
//!
//! ```
//! use flowgate::runtime::{ManualClock, Timer};
//! use futures::FutureExt;
//! use std::time::Duration;
//!
//! async fn pause<T: Timer>(timer: &T) -> &'static str {
//!     timer.sleep(Duration::from_secs(5)).await;
//!     "rested"
//! }
//!
//! let clock = ManualClock::new();
//! let mut nap = Box::pin(pause(&clock));
//! assert!(nap.as_mut().now_or_never().is_none());
//! clock.advance(Duration::from_secs(5));
//! assert_eq!(nap.now_or_never(), Some("rested"));
//! ```

// Each adapter exists only with its feature; without it, rustdoc renders
// its link as plain text (the all-features doc build checks every link).
#![cfg_attr(
    not(all(feature = "tokio", feature = "smol", feature = "async-std")),
    allow(rustdoc::broken_intra_doc_links)
)]

use core::future::Future;
use core::time::Duration;
use std::time::Instant;

mod manual;
pub use manual::{ManualClock, ManualSleep};

#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
mod io;
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
)]
pub use io::AsyncIoSleep;

#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
mod default;
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
)]
pub use default::{DefaultSleep, DefaultTimer};

#[cfg(feature = "tokio")]
mod tokio;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use self::tokio::Tokio;

#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "smol")]
#[cfg_attr(docsrs, doc(cfg(feature = "smol")))]
pub use self::smol::Smol;

#[cfg(feature = "async-std")]
mod async_std;
#[cfg(feature = "async-std")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-std")))]
pub use self::async_std::AsyncStd;

/// A source of sleeps: what a runtime must provide for flowgate's timed
/// operations.
///
/// Implement it to run flowgate's timeouts and rate limits on a runtime that
/// has no adapter here; the adapters in this module are each a few lines.
///
/// # Examples
///
/// A timer for any runtime, built on `async-io`-free parts only, that
/// sleeps on a thread (for illustration; real adapters use their runtime's
/// timer):
///
/// ```
/// use flowgate::runtime::Timer;
/// use futures::channel::oneshot;
/// use std::time::Duration;
///
/// struct ThreadTimer;
///
/// impl Timer for ThreadTimer {
///     type Sleep = futures::future::Map<oneshot::Receiver<()>, fn(Result<(), oneshot::Canceled>)>;
///
///     fn sleep(&self, d: Duration) -> Self::Sleep {
///         use futures::FutureExt;
///         let (tx, rx) = oneshot::channel();
///         std::thread::spawn(move || {
///             std::thread::sleep(d);
///             let _ = tx.send(());
///         });
///         rx.map(|_| ())
///     }
/// }
///
/// futures::executor::block_on(ThreadTimer.sleep(Duration::from_millis(1)));
/// ```
pub trait Timer: Send + Sync + 'static {
    /// The future [`sleep`](Self::sleep) returns.
    type Sleep: Future<Output = ()> + Send;

    /// A future that completes once `d` has passed, measured from this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::runtime::{ManualClock, Timer};
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let mut nap = clock.sleep(Duration::from_secs(2));
    /// assert!((&mut nap).now_or_never().is_none()); // not yet
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(nap.now_or_never(), Some(()));
    /// ```
    fn sleep(&self, d: Duration) -> Self::Sleep;

    /// A future that completes at `deadline`.
    ///
    /// The provided version sleeps for the time left until `deadline` by
    /// the real clock. Timers with a clock of their own (such as
    /// [`ManualClock`]) or with absolute deadlines (all the adapters here)
    /// override it, so a deadline computed from a clock reading is not
    /// pushed back by the time that passes before the sleep is created.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::runtime::{ManualClock, Timer};
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let deadline = clock.now() + Duration::from_secs(3);
    /// let mut nap = Timer::sleep_until(&clock, deadline);
    /// clock.advance(Duration::from_secs(1));
    /// assert!((&mut nap).now_or_never().is_none()); // 2 s to go
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(nap.now_or_never(), Some(()));
    /// ```
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        self.sleep(deadline.saturating_duration_since(Instant::now()))
    }
}

impl<T: Timer> Timer for std::sync::Arc<T> {
    type Sleep = T::Sleep;

    fn sleep(&self, d: Duration) -> Self::Sleep {
        (**self).sleep(d)
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        (**self).sleep_until(deadline)
    }
}

/// The timer of the plain forms, `'static` so their futures can borrow it.
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
pub(crate) static DEFAULT_TIMER: DefaultTimer = DefaultTimer::new();
