//! [`ManualClock`]: a clock and timer that move only when told, for
//! deterministic tests of timed code.

use super::Timer;
use crate::sync::{Arc, AtomicU64, Mutex, Ordering};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::collections::BTreeMap;
use std::time::Instant;

/// A clock and [`Timer`] whose time moves only when [`advance`] is called.
///
/// It is both the [`Clock`](crate::rate::Clock) of a
/// [`RateLimiter`](crate::rate::RateLimiter) and the timer its waits sleep
/// on, so a test drives time exactly: a sleep of `d` started at `t`
/// completes on the first `advance` that brings the clock to `t + d` or
/// later, and never otherwise. Clones share the same time.
///
/// It is always available (no feature needed) and costs nothing unless
/// used. Sleeps are kept in an ordered map behind a mutex: it is meant for
/// tests, not for hot paths.
///
/// [`advance`]: Self::advance
///
/// # Examples
///
/// ```
/// use flowgate::runtime::{ManualClock, Timer};
/// use futures::FutureExt;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// let mut sleep = clock.sleep(Duration::from_millis(10));
/// assert!((&mut sleep).now_or_never().is_none());
/// clock.advance(Duration::from_millis(9));
/// assert!((&mut sleep).now_or_never().is_none());
/// clock.advance(Duration::from_millis(1));
/// assert_eq!(sleep.now_or_never(), Some(()));
/// assert_eq!(clock.now() - start, Duration::from_millis(10));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Inner>,
}

struct Inner {
    /// The instant the clock started at; `now()` is `base + elapsed`.
    base: Instant,
    /// Nanoseconds since `base`. Written only under `sleepers`' lock (so an
    /// `advance` and a sleep registering itself never miss each other),
    /// read without it.
    elapsed: AtomicU64,
    sleepers: Mutex<Sleepers>,
}

/// Pending sleeps by `(deadline, id)`, each with the waker of its last poll.
struct Sleepers {
    next_id: u64,
    map: BTreeMap<(u64, u64), Waker>,
}

impl ManualClock {
    /// A clock at the current real instant, that stays there until advanced.
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = flowgate::runtime::ManualClock::new();
    /// assert_eq!(clock.elapsed(), std::time::Duration::ZERO);
    /// ```
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                base: Instant::now(),
                elapsed: AtomicU64::new(0),
                sleepers: Mutex::new(Sleepers {
                    next_id: 0,
                    map: BTreeMap::new(),
                }),
            }),
        }
    }

    /// The clock's current instant.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = flowgate::runtime::ManualClock::new();
    /// let t0 = clock.now();
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(clock.now() - t0, Duration::from_secs(1));
    /// ```
    pub fn now(&self) -> Instant {
        self.inner.base + self.elapsed()
    }

    /// How far the clock has been advanced since it was created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = flowgate::runtime::ManualClock::new();
    /// clock.advance(Duration::from_millis(3));
    /// assert_eq!(clock.elapsed(), Duration::from_millis(3));
    /// ```
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.inner.elapsed.load(Ordering::Acquire))
    }

    /// Moves the clock forward by `d` (saturating after about 584 years)
    /// and wakes every sleep whose deadline it reaches, in deadline order.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::runtime::{ManualClock, Timer};
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let sleep = clock.sleep(Duration::from_secs(1));
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(sleep.now_or_never(), Some(()));
    /// ```
    pub fn advance(&self, d: Duration) {
        let d = nanos(d);
        let mut due = Vec::new();
        {
            let mut sleepers = self.inner.sleepers.lock();
            let now = self.inner.elapsed.load(Ordering::Relaxed).saturating_add(d);
            self.inner.elapsed.store(now, Ordering::Release);
            while let Some(entry) = sleepers.map.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
        }
        for waker in due {
            waker.wake();
        }
    }

    /// How many sleeps are waiting for the clock to move: a test can wait
    /// for another task to go to sleep before it advances the clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::runtime::{ManualClock, Timer};
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let mut sleep = clock.sleep(Duration::from_secs(1));
    /// assert_eq!(clock.sleepers(), 0);              // not polled yet
    /// assert!((&mut sleep).now_or_never().is_none());
    /// assert_eq!(clock.sleepers(), 1);
    /// drop(sleep);
    /// assert_eq!(clock.sleepers(), 0);
    /// ```
    pub fn sleepers(&self) -> usize {
        self.inner.sleepers.lock().map.len()
    }

    /// A sleep that completes once the clock reaches `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = flowgate::runtime::ManualClock::new();
    /// let sleep = clock.sleep_until(clock.now() + Duration::from_secs(1));
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(sleep.now_or_never(), Some(()));
    /// ```
    pub fn sleep_until(&self, deadline: Instant) -> ManualSleep {
        ManualSleep {
            clock: Arc::clone(&self.inner),
            deadline: nanos(deadline.saturating_duration_since(self.inner.base)),
            id: None,
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

impl Timer for ManualClock {
    type Sleep = ManualSleep;

    fn sleep(&self, d: Duration) -> ManualSleep {
        let now = self.inner.elapsed.load(Ordering::Acquire);
        ManualSleep {
            clock: Arc::clone(&self.inner),
            deadline: now.saturating_add(nanos(d)),
            id: None,
        }
    }

    fn sleep_until(&self, deadline: Instant) -> ManualSleep {
        ManualClock::sleep_until(self, deadline)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The sleep of a [`ManualClock`]: completes once the clock is advanced to
/// its deadline.
///
/// # Cancel safety
///
/// Dropping it unregisters it; nothing else is affected.
///
/// # Examples
///
/// ```
/// use flowgate::runtime::{ManualClock, Timer};
/// use futures::FutureExt;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let sleep = clock.sleep(Duration::ZERO);
/// assert_eq!(sleep.now_or_never(), Some(()));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ManualSleep {
    clock: Arc<Inner>,
    /// Nanoseconds since the clock's base.
    deadline: u64,
    /// The key of this sleep in the clock's map once registered.
    id: Option<u64>,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // A waker replaced or removed here is dropped after the lock is
        // released: it may own something whose drop sleeps on this clock.
        let mut old = None;
        let poll = this.register(cx, &mut old);
        drop(old);
        poll
    }
}

impl ManualSleep {
    /// Under the clock's lock: ready once due, else registers `cx`'s
    /// waker; a waker it takes out goes to `old`.
    fn register(&mut self, cx: &mut Context<'_>, old: &mut Option<Waker>) -> Poll<()> {
        let this = self;
        let mut sleepers = this.clock.sleepers.lock();
        if this.clock.elapsed.load(Ordering::Relaxed) >= this.deadline {
            if let Some(id) = this.id.take() {
                *old = sleepers.map.remove(&(this.deadline, id));
            }
            return Poll::Ready(());
        }
        let id = match this.id {
            Some(id) => id,
            None => {
                let id = sleepers.next_id;
                sleepers.next_id += 1;
                this.id = Some(id);
                id
            }
        };
        match sleepers.map.get_mut(&(this.deadline, id)) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => *old = Some(core::mem::replace(waker, cx.waker().clone())),
            None => {
                sleepers.map.insert((this.deadline, id), cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            // Bound, so it is dropped after the guard (a temporary of the
            // statement) is released.
            let _old = self.clock.sleepers.lock().map.remove(&(self.deadline, id));
        }
    }
}

impl fmt::Debug for ManualSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualSleep")
            .field("deadline", &Duration::from_nanos(self.deadline))
            .finish_non_exhaustive()
    }
}
