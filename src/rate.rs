//! Time-based flow control: [`RateLimiter`], a lock-free GCRA.
//!
//! # Cancel safety
//!
//! | future | dropped before it completes |
//! | --- | --- |
//! | `until_ready`, `until_n_ready` and their `_with` forms | the cell reserved on the first poll is refunded if no later request reserved after it, otherwise forfeited (the schedule stays FIFO) |
//!
//! # Algorithm
//!
//! The Generic Cell Rate Algorithm (GCRA, ITU-T I.371, the "virtual
//! scheduling" form; also the algorithm of `governor` and redis-cell). For a
//! quota of one cell every `T` with a burst of `b`, let `τ = b·T`. The whole
//! state is the *theoretical arrival time* `TAT`, one `u64` of nanoseconds
//! since the limiter was created, in one atomic word. A request for `n`
//! cells at time `t` conforms iff
//!
//! ```text
//! TAT' = max(TAT, t) + n·T    and    TAT' − t ≤ τ
//! ```
//!
//! and is granted by a compare-and-swap of `TAT` to `TAT'` (retried if
//! another thread moved it). A request that does not conform would at
//! `TAT' − τ`: that instant is what [`NotUntil`] carries. Because every
//! grant moves `TAT` up by at least `n·T` and `TAT' ≤ t + τ`, the cells
//! granted by time `t` never exceed `b + t / T` (the loom models check it).
//!
//! # Waiting: reservations, FIFO, one sleeper per slot
//!
//! [`until_ready`](RateLimiter::until_ready) does not retry: on its first
//! poll it *reserves* its cells with the same compare-and-swap,
//! unconditionally (`TAT' = max(TAT, t) + n·T`), and then sleeps exactly
//! once, until `TAT' − τ`, the instant its cells conform. Later requests
//! see the reservation in `TAT`, so waiters are served in the order they
//! first polled, each sleeping until its own slot: no thundering herd, no
//! retry loop, and [`check`](RateLimiter::check) never overtakes a waiter.
//!
//! # Cancellation: refunding a reservation
//!
//! A waiter dropped before its slot gives its reservation back by a
//! compare-and-swap of `TAT` from its own `TAT'` to the value it found
//! before reserving: an exact undo, possible only while no later request
//! has reserved after it (reservations nest like a stack; a later one that
//! refunds first makes it the top again). If later reservations exist, the
//! slot is **forfeited**: moving `TAT` back would let a newcomer take a slot
//! that overlaps the later waiters' (breaking the rate) or overtake them
//! (breaking FIFO), and moving the later waiters up would need a lock around
//! every wait. The limiter therefore errs on the safe side: a cancelled
//! middle reservation leaves a gap of `n·T` in the schedule, never more
//! cells than the quota allows.
//!
//! # Changing the quota
//!
//! [`set_quota`](RateLimiter::set_quota) applies to every decision made
//! after it; waiters already asleep keep the instants they reserved, and
//! cells already granted or reserved keep the spacing of the quota they were
//! taken under (`TAT` is not rescaled), so a change never grants a burst of
//! back pay nor takes back what was granted. The
//! quota lives beside the state word under a sequence counter (a seqlock of
//! three atomics), so a decision never mixes an old interval with a new
//! burst.
//!
//! # Examples
//!
//! ```
//! use flowgate::rate::{Quota, RateLimiter};
//! use flowgate::runtime::ManualClock;
//! use std::time::Duration;
//!
//! futures::executor::block_on(async {
//! let clock = ManualClock::new();
//! let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(2), clock.clone());
//! assert!(limiter.check().is_ok());
//! assert!(limiter.check().is_ok());          // the burst
//! assert!(limiter.check().is_err());         // then one every 100 ms
//! clock.advance(Duration::from_millis(100));
//! limiter.until_ready_with(&clock).await;    // ready now: no sleep
//! });
//! ```

// The plain timed forms exist only with a runtime feature; without one,
// rustdoc renders their links as plain text (the all-features doc build
// checks every link).
#![cfg_attr(
    not(any(feature = "tokio", feature = "smol", feature = "async-std")),
    allow(rustdoc::broken_intra_doc_links)
)]

mod clock;
mod error;
mod future;
mod quota;
mod stream;

pub use crate::runtime::ManualClock;
pub use clock::{Clock, MonotonicClock};
pub use error::{CheckNError, InsufficientCapacity, NotUntil};
pub use future::{UntilNReady, UntilReady};
pub use quota::Quota;
pub use stream::RateLimited;

use crate::runtime::Timer;
use crate::sync::{AtomicU64, Ordering, spin_loop};
use core::fmt;
use core::time::Duration;
use std::time::Instant;

/// A rate limiter: GCRA on one atomic word, FIFO waiting, runtime-free.
///
/// Share it by reference or in an `Arc`. [`check`](Self::check) and
/// [`check_n`](Self::check_n) never wait; [`until_ready`](Self::until_ready)
/// and [`until_n_ready`](Self::until_n_ready) wait with a timer (the plain
/// forms need a runtime feature, the `*_with` forms take any
/// [`Timer`]). See the [module docs](self) for the
/// algorithm.
///
/// # Fairness
///
/// Waiters are served in the order of their first poll, each sleeping until
/// its own slot; a non-waiting `check` never takes a slot a waiter reserved.
///
/// # Examples
///
/// ```
/// use flowgate::rate::{Quota, RateLimiter};
///
/// let limiter = RateLimiter::new(Quota::per_second(1000).burst(50));
/// for _ in 0..50 {
///     limiter.check().unwrap();
/// }
/// assert!(limiter.check().is_err());
/// ```
pub struct RateLimiter<C = MonotonicClock> {
    /// GCRA theoretical arrival time, in nanoseconds since `start`.
    ///
    /// Moves up by a grant or reservation (`max(TAT, t) + n·T`, by
    /// compare-and-swap) and down only by a refund, which restores the exact
    /// value its reservation replaced and only while that reservation is
    /// the latest (CAS from its own `TAT'`). Nothing else is published
    /// through it, so `Relaxed` suffices: all decisions are ordered by the
    /// modification order of this one word.
    ///
    /// On a cache line of its own: every grant writes it, while the quota
    /// words below are only read, and sharing a line would make each
    /// grant evict the quota from every other core (false sharing).
    tat: CacheAligned<AtomicU64>,
    /// Quota sequence counter: even when the two words below are stable,
    /// odd while `set_quota` writes them (its writers exclude each other
    /// by moving it from even to odd with a compare-and-swap).
    quota_seq: AtomicU64,
    /// `Quota::interval` in nanoseconds, > 0.
    interval: AtomicU64,
    /// `Quota::burst`, > 0.
    burst: AtomicU64,
    /// The clock's instant at creation: time 0 of `tat`.
    start: Instant,
    clock: C,
}

/// Aligns its content to 128 bytes: a cache line on x86-64, and the pair of
/// lines the adjacent-line prefetcher pulls in together (crossbeam's
/// `CachePadded` reasoning).
#[derive(Debug)]
#[repr(align(128))]
struct CacheAligned<T>(T);

impl<T> core::ops::Deref for CacheAligned<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A waiting request's place in the schedule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    /// `TAT` before this reservation (restored by a refund).
    prev: u64,
    /// `TAT` right after it.
    tat: u64,
    /// When its cells conform, nanoseconds since `start`.
    ready_at: u64,
}

impl RateLimiter<MonotonicClock> {
    /// A limiter on the real monotonic clock, with its full burst
    /// available.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Quota, RateLimiter};
    /// let limiter = RateLimiter::new(Quota::per_minute(60));
    /// assert!(limiter.check_n(60).is_ok());
    /// ```
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, MonotonicClock)
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter reading time from `clock` (a [`ManualClock`] in tests),
    /// with its full burst available.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimiter};
    /// let limiter = RateLimiter::with_clock(Quota::per_second(5), ManualClock::new());
    /// assert!(limiter.check_n(5).is_ok());
    /// ```
    pub fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            tat: CacheAligned(AtomicU64::new(0)),
            quota_seq: AtomicU64::new(0),
            interval: AtomicU64::new(quota.interval_nanos()),
            burst: AtomicU64::new(u64::from(quota.burst_size())),
            start: clock.now(),
            clock,
        }
    }

    /// Takes one cell if it conforms now; never waits.
    ///
    /// # Errors
    ///
    /// [`NotUntil`] with the earliest instant at which one cell would
    /// conform (nothing is taken).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Quota, RateLimiter};
    /// let limiter = RateLimiter::new(Quota::per_second(1).burst(1));
    /// assert!(limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// ```
    #[inline]
    pub fn check(&self) -> Result<(), NotUntil> {
        let (interval, burst) = self.load_quota();
        let now = self.nanos_now();
        self.try_take(now, span(interval, 1), span(interval, burst))
    }

    /// Takes `n` cells at once if they conform now; never waits.
    /// `check_n(0)` always succeeds.
    ///
    /// # Errors
    ///
    /// [`CheckNError::InsufficientCapacity`] if `n` exceeds the burst (it
    /// never could conform); [`CheckNError::NotUntil`] with the earliest
    /// instant at which `n` cells would conform. Nothing is taken either
    /// way.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Quota, RateLimiter};
    /// let limiter = RateLimiter::new(Quota::per_second(10).burst(3));
    /// assert!(limiter.check_n(3).is_ok());
    /// assert!(limiter.check_n(1).is_err());
    /// assert!(limiter.check_n(4).is_err());
    /// ```
    pub fn check_n(&self, n: u32) -> Result<(), CheckNError> {
        if n == 0 {
            return Ok(());
        }
        let (interval, burst) = self.load_quota();
        if u64::from(n) > burst {
            return Err(InsufficientCapacity(burst as u32).into());
        }
        let now = self.nanos_now();
        self.try_take(now, span(interval, u64::from(n)), span(interval, burst))
            .map_err(CheckNError::from)
    }

    /// The GCRA conformance test and grant: `inc = n·T`.
    ///
    /// Times are `u64` nanoseconds since the limiter was created (~584
    /// years); `inc` and `tau` are at most [`HORIZON`] (see [`span`]), so
    /// `TAT` stays far below the end. Should it get there all the same (a
    /// long queue of reservations of huge periods), a grant that would move
    /// `TAT` past the end is refused rather than saturated: a saturated
    /// `TAT` would stop advancing and every later request would conform.
    #[inline]
    fn try_take(&self, now: u64, inc: u64, tau: u64) -> Result<(), NotUntil> {
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let Some(new) = tat.max(now).checked_add(inc) else {
                return Err(NotUntil(self.instant_at(ready_at(tat.max(now), inc, tau))));
            };
            if new - now > tau {
                return Err(NotUntil(self.instant_at(new - tau)));
            }
            match self
                .tat
                .compare_exchange_weak(tat, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Reserves `n` cells unconditionally (see the module docs); the
    /// reservation conforms at its `ready_at`.
    pub(crate) fn reserve(&self, n: u32) -> Result<Reservation, InsufficientCapacity> {
        let (interval, burst) = self.load_quota();
        if u64::from(n) > burst {
            return Err(InsufficientCapacity(burst as u32));
        }
        let now = self.nanos_now();
        let inc = span(interval, u64::from(n));
        let tau = span(interval, burst);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            // Past the horizon (see `try_take`) `TAT` stays at its end and
            // the reservation is ready there: never, in practice.
            let new = tat.max(now).saturating_add(inc);
            match self
                .tat
                .compare_exchange_weak(tat, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Ok(Reservation {
                        prev: tat,
                        tat: new,
                        ready_at: ready_at(tat.max(now), inc, tau),
                    });
                }
                Err(actual) => tat = actual,
            }
        }
    }

    /// Gives a reservation back if it is still the latest; otherwise its
    /// slot is forfeited (see the module docs). Returns whether it was
    /// refunded.
    pub(crate) fn refund(&self, reservation: &Reservation) -> bool {
        self.tat
            .compare_exchange(
                reservation.tat,
                reservation.prev,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// When the reservation conforms, if that is still ahead by this
    /// limiter's clock.
    pub(crate) fn ready_instant(&self, reservation: &Reservation) -> Option<Instant> {
        (reservation.ready_at > self.nanos_now()).then(|| self.instant_at(reservation.ready_at))
    }

    /// Waits until one cell conforms, then takes it; sleeps with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer) (tokio's timer inside
    /// a tokio runtime, otherwise `async-io`'s). Present when any runtime
    /// feature is on; [`until_ready_with`](Self::until_ready_with) takes any
    /// timer.
    ///
    /// # Cancel safety
    ///
    /// The cell is reserved on the first poll. Dropping the future before
    /// it completes refunds the reservation if no later request has
    /// reserved after it, and otherwise forfeits it (the schedule keeps a
    /// gap; the rate is never exceeded). See the [module docs](self).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::rate::{Quota, RateLimiter};
    /// let limiter = RateLimiter::new(Quota::per_second(1000).burst(1));
    /// for _ in 0..3 {
    ///     limiter.until_ready().await;       // ~1 ms apart
    /// }
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn until_ready(&self) -> UntilReady<'_, C, crate::runtime::DefaultTimer> {
        self.until_ready_with(&crate::runtime::DEFAULT_TIMER)
    }

    /// Waits until one cell conforms, sleeping with `timer`, then takes it.
    ///
    /// This is the hook for rate limiting anything: await it before each
    /// operation (the dispatcher's rate-limited publisher does exactly
    /// that).
    ///
    /// # Cancel safety
    ///
    /// As [`until_ready`](Self::until_ready).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimiter};
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(2).burst(1), clock.clone());
    /// assert!(limiter.until_ready_with(&clock).now_or_never().is_some());
    /// let mut next = limiter.until_ready_with(&clock);
    /// assert!((&mut next).now_or_never().is_none());   // reserved, asleep
    /// clock.advance(Duration::from_millis(500));
    /// assert!(next.now_or_never().is_some());
    /// ```
    pub fn until_ready_with<'a, T: Timer>(&'a self, timer: &'a T) -> UntilReady<'a, C, T> {
        UntilReady::new(self, timer)
    }

    /// Waits until `n` cells conform at once, then takes them; sleeps with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer). Present when any
    /// runtime feature is on.
    ///
    /// # Errors
    ///
    /// [`InsufficientCapacity`] at once (never a hang) if `n` exceeds the
    /// burst.
    ///
    /// # Cancel safety
    ///
    /// As [`until_ready`](Self::until_ready).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::rate::{InsufficientCapacity, Quota, RateLimiter};
    /// let limiter = RateLimiter::new(Quota::per_second(100).burst(10));
    /// limiter.until_n_ready(10).await.unwrap();
    /// assert_eq!(limiter.until_n_ready(11).await, Err(InsufficientCapacity(10)));
    /// });
    /// ```
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "tokio", feature = "smol", feature = "async-std")))
    )]
    pub fn until_n_ready(&self, n: u32) -> UntilNReady<'_, C, crate::runtime::DefaultTimer> {
        self.until_n_ready_with(&crate::runtime::DEFAULT_TIMER, n)
    }

    /// Waits until `n` cells conform at once, sleeping with `timer`, then
    /// takes them.
    ///
    /// # Errors
    ///
    /// As [`until_n_ready`](Self::until_n_ready).
    ///
    /// # Cancel safety
    ///
    /// As [`until_ready`](Self::until_ready).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimiter};
    /// use futures::FutureExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(4), clock.clone());
    /// limiter.check_n(4).unwrap();
    /// let mut three = limiter.until_n_ready_with(&clock, 3);
    /// assert!((&mut three).now_or_never().is_none());
    /// clock.advance(Duration::from_millis(300));
    /// assert_eq!(three.now_or_never(), Some(Ok(())));
    /// ```
    pub fn until_n_ready_with<'a, T: Timer>(
        &'a self,
        timer: &'a T,
        n: u32,
    ) -> UntilNReady<'a, C, T> {
        UntilNReady::new(self, timer, n)
    }

    /// Replaces the quota. Decisions made after this call use it; waiters
    /// already asleep keep the instants they reserved, and cells already
    /// taken keep the spacing of the quota they were taken under (see the
    /// [module docs](self#changing-the-quota)).
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimiter};
    /// let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(1), ManualClock::new());
    /// limiter.check().unwrap();
    /// assert!(limiter.check().is_err());
    /// limiter.set_quota(Quota::per_second(1).burst(3));   // room for 2 more now
    /// assert!(limiter.check_n(2).is_ok());
    /// assert_eq!(limiter.quota(), Quota::per_second(1).burst(3));
    /// ```
    pub fn set_quota(&self, quota: Quota) {
        // Take the writer's side of the seqlock: even -> odd.
        let mut seq = self.quota_seq.load(Ordering::Relaxed);
        loop {
            if seq & 1 == 1 {
                spin_loop();
                seq = self.quota_seq.load(Ordering::Relaxed);
                continue;
            }
            match self.quota_seq.compare_exchange_weak(
                seq,
                seq + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => seq = actual,
            }
        }
        // Release: a reader that sees either new word also sees the odd
        // sequence number when it re-reads it, and retries.
        self.interval
            .store(quota.interval_nanos(), Ordering::Release);
        self.burst
            .store(u64::from(quota.burst_size()), Ordering::Release);
        self.quota_seq.store(seq + 2, Ordering::Release);
    }

    /// The current quota.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Quota, RateLimiter};
    /// let q = Quota::per_second(7);
    /// assert_eq!(RateLimiter::new(q).quota(), q);
    /// ```
    pub fn quota(&self) -> Quota {
        let (interval, burst) = self.load_quota();
        Quota::from_parts(interval, burst as u32)
    }

    /// The limiter's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{Clock, ManualClock, Quota, RateLimiter};
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::with_clock(Quota::per_second(1), clock.clone());
    /// assert_eq!(limiter.clock().now(), clock.now());
    /// ```
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// `(interval ns, burst)`, consistent with each other (seqlock read).
    #[inline]
    fn load_quota(&self) -> (u64, u64) {
        loop {
            let seq = self.quota_seq.load(Ordering::Acquire);
            if seq & 1 == 0 {
                // Acquire: the re-read below cannot move before these.
                let interval = self.interval.load(Ordering::Acquire);
                let burst = self.burst.load(Ordering::Acquire);
                if self.quota_seq.load(Ordering::Relaxed) == seq {
                    return (interval, burst);
                }
            }
            spin_loop();
        }
    }

    #[inline]
    fn nanos_now(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.start);
        // Cheaper than `as_nanos` (no u128); saturates after ~584 years.
        elapsed
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(elapsed.subsec_nanos()))
    }

    fn instant_at(&self, nanos: u64) -> Instant {
        // Near the horizon, an `Instant` may not reach that far on every
        // platform: the latest one that does is "never" as well.
        let mut d = Duration::from_nanos(nanos);
        loop {
            if let Some(at) = self.start.checked_add(d) {
                return at;
            }
            d /= 2;
        }
    }
}

/// The longest span the limiter schedules: ~146 years, a quarter of what
/// its `u64` nanosecond clock counts, so `TAT` (at most `now + tau` after
/// a grant) plus one more `inc` never overflows in a process's lifetime.
/// A quota whose period or burst window is longer (`Quota::with_period(
/// Duration::MAX)`, `per_minute(1).burst(u32::MAX)`) behaves as if it
/// were this long: one such period is never, in practice.
const HORIZON: u64 = u64::MAX >> 2;

/// `n` cells of `interval` each, capped at [`HORIZON`]. Capping `inc` and
/// `tau` alike keeps the schedule exact after a full burst (`TAT` ends
/// `tau` ahead either way) and never lets more through: a capped `tau`
/// only shortens the burst, a capped `inc` (`n·T > HORIZON`, so `n` is
/// most of a capped burst) takes the whole capped window.
#[inline]
fn span(interval: u64, n: u64) -> u64 {
    interval.saturating_mul(n).min(HORIZON)
}

/// When a request of `inc` made at `from = max(TAT, now)` conforms:
/// `from + inc - tau`, computed without overflow and capped at the
/// horizon.
fn ready_at(from: u64, inc: u64, tau: u64) -> u64 {
    let at = (u128::from(from) + u128::from(inc)).saturating_sub(u128::from(tau));
    u64::try_from(at).unwrap_or(u64::MAX)
}

impl<C> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field(
                "interval",
                &Duration::from_nanos(self.interval.load(Ordering::Relaxed)),
            )
            .field("burst", &self.burst.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{Arc, model, thread};

    /// A reader racing `set_quota` sees the old quota or the new one, never
    /// a mix (the seqlock).
    #[test]
    fn loom_set_quota_never_mixes() {
        model(|| {
            let old = Quota::per_second(10).burst(1);
            let new = Quota::per_second(1000).burst(50);
            let limiter = Arc::new(RateLimiter::with_clock(old, ManualClock::new()));
            let writer = {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || limiter.set_quota(new))
            };
            let seen = limiter.quota();
            assert!(seen == old || seen == new, "mixed quota {seen:?}");
            writer.join().unwrap();
            assert_eq!(limiter.quota(), new);
        });
    }
}
