//! [`Quota`]: how fast and how bursty.

use core::fmt;
use core::time::Duration;

/// A rate and a burst: one cell every [`interval`](Self::interval), with up
/// to [`burst_size`](Self::burst_size) cells at once after a quiet spell.
///
/// `Quota::per_second(n)` and `per_minute(n)` default to a burst of `n`
/// (a whole second's or minute's worth at once, as in `governor`);
/// `with_period(d)` defaults to a burst of 1. Set it with
/// [`burst`](Self::burst).
///
/// Time is kept in whole nanoseconds: `per_second(n)` replenishes every
/// `1_000_000_000 / n` ns (rounded down, at least 1 ns).
///
/// # Panics
///
/// Every constructor panics on a zero rate, a zero burst or a zero period:
/// such a limiter could never admit anything.
///
/// # Examples
///
/// ```
/// use flowgate::rate::Quota;
/// use std::time::Duration;
///
/// let q = Quota::per_second(1000).burst(50);
/// assert_eq!(q.interval(), Duration::from_millis(1));
/// assert_eq!(q.burst_size(), 50);
/// assert_eq!(Quota::per_minute(60), Quota::per_second(1).burst(60));
/// assert_eq!(Quota::with_period(Duration::from_secs(2)).burst_size(), 1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Nanoseconds between cells, > 0.
    interval: u64,
    /// Cells admitted at once, > 0.
    burst: u32,
}

impl Quota {
    /// `n` cells per second, burst `n`.
    ///
    /// # Panics
    ///
    /// If `n == 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = flowgate::rate::Quota::per_second(4);
    /// assert_eq!(q.interval(), std::time::Duration::from_millis(250));
    /// assert_eq!(q.burst_size(), 4);
    /// ```
    pub fn per_second(n: u32) -> Self {
        assert!(
            n > 0,
            "Quota::per_second: the rate must be at least 1 per second"
        );
        Self {
            interval: (1_000_000_000 / u64::from(n)).max(1),
            burst: n,
        }
    }

    /// `n` cells per minute, burst `n`.
    ///
    /// # Panics
    ///
    /// If `n == 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = flowgate::rate::Quota::per_minute(30);
    /// assert_eq!(q.interval(), std::time::Duration::from_secs(2));
    /// ```
    pub fn per_minute(n: u32) -> Self {
        assert!(
            n > 0,
            "Quota::per_minute: the rate must be at least 1 per minute"
        );
        Self {
            interval: (60_000_000_000 / u64::from(n)).max(1),
            burst: n,
        }
    }

    /// One cell every `period`, burst 1.
    ///
    /// Periods are kept in nanoseconds; one longer than `u64::MAX` ns
    /// (about 584 years) is capped there.
    ///
    /// # Panics
    ///
    /// If `period` is shorter than one nanosecond (zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = flowgate::rate::Quota::with_period(Duration::from_millis(100)).burst(5);
    /// assert_eq!((q.interval(), q.burst_size()), (Duration::from_millis(100), 5));
    /// ```
    pub fn with_period(period: Duration) -> Self {
        let interval = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        assert!(
            interval > 0,
            "Quota::with_period: the period must not be zero"
        );
        Self { interval, burst: 1 }
    }

    /// The same rate with a burst of `burst` cells.
    ///
    /// # Panics
    ///
    /// If `burst == 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = flowgate::rate::Quota::per_second(100).burst(1);
    /// assert_eq!(q.burst_size(), 1);
    /// ```
    #[must_use]
    pub fn burst(self, burst: u32) -> Self {
        assert!(burst > 0, "Quota::burst: the burst must be at least 1");
        Self { burst, ..self }
    }

    /// The time between cells.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = flowgate::rate::Quota::per_second(10);
    /// assert_eq!(q.interval(), std::time::Duration::from_millis(100));
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    /// The most cells admitted at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(flowgate::rate::Quota::per_second(10).burst(3).burst_size(), 3);
    /// ```
    pub fn burst_size(&self) -> u32 {
        self.burst
    }

    pub(super) fn interval_nanos(&self) -> u64 {
        self.interval
    }

    pub(super) fn from_parts(interval: u64, burst: u32) -> Self {
        Self { interval, burst }
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("interval", &self.interval())
            .field("burst", &self.burst)
            .finish()
    }
}
