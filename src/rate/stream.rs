//! [`RateLimited`]: a stream that yields at most as fast as a limiter
//! allows.

use super::future::Wait;
use super::{Clock, RateLimiter};
use crate::runtime::Timer;
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use futures_core::Stream;
use futures_core::stream::FusedStream;
use std::sync::Arc;

pin_project_lite::pin_project! {
    /// A [`Stream`] whose items each take one cell of a [`RateLimiter`].
    ///
    /// Each item is taken from the inner stream first and then held until
    /// its cell conforms, so an idle inner stream reserves nothing. Items
    /// come out in order, as fast as the quota allows (the burst first).
    ///
    /// # Cancel safety
    ///
    /// `poll_next` keeps its state in the adapter: dropping a `next()`
    /// future loses nothing. Dropping the adapter drops the item it holds
    /// (if any) and refunds or forfeits its reservation as
    /// [`RateLimiter::until_ready`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimited, RateLimiter};
    /// use futures::{FutureExt, StreamExt};
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let clock = ManualClock::new();
    /// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(10).burst(1), clock.clone()));
    /// let mut items = RateLimited::with_timer(futures::stream::iter(1..=3), limiter, clock.clone());
    /// assert_eq!(items.next().now_or_never(), Some(Some(1)));
    /// assert_eq!(items.next().now_or_never(), None);          // 2 waits for its cell
    /// clock.advance(Duration::from_millis(100));
    /// assert_eq!(items.next().now_or_never(), Some(Some(2)));
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct RateLimited<St, C, T>
    where
        St: Stream,
        C: Clock,
        T: Timer,
    {
        #[pin]
        stream: St,
        limiter: Arc<RateLimiter<C>>,
        timer: T,
        item: Option<St::Item>,
        #[pin]
        wait: Wait<T::Sleep>,
    }

    impl<St, C, T> PinnedDrop for RateLimited<St, C, T>
    where
        St: Stream,
        C: Clock,
        T: Timer,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.wait.cancel(this.limiter);
        }
    }
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
impl<St: Stream, C: Clock> RateLimited<St, C, crate::runtime::DefaultTimer> {
    /// Limits `stream` to `limiter`'s rate, sleeping with
    /// [`DefaultTimer`](crate::runtime::DefaultTimer). Present when any
    /// runtime feature is on; see [`with_timer`](Self::with_timer).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "smol")]
    /// futures::executor::block_on(async {
    /// use flowgate::rate::{Quota, RateLimited, RateLimiter};
    /// use futures::StreamExt;
    /// use std::sync::Arc;
    ///
    /// let limiter = Arc::new(RateLimiter::new(Quota::per_second(1000).burst(2)));
    /// let items: Vec<u32> = RateLimited::new(futures::stream::iter(0..4), limiter).collect().await;
    /// assert_eq!(items, [0, 1, 2, 3]);
    /// });
    /// ```
    pub fn new(stream: St, limiter: Arc<RateLimiter<C>>) -> Self {
        Self::with_timer(stream, limiter, crate::runtime::DefaultTimer::new())
    }
}

impl<St: Stream, C: Clock, T: Timer> RateLimited<St, C, T> {
    /// Limits `stream` to `limiter`'s rate, sleeping with `timer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimited, RateLimiter};
    /// use futures::{FutureExt, StreamExt};
    /// use std::sync::Arc;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(1).burst(2), clock.clone()));
    /// let mut s = RateLimited::with_timer(futures::stream::iter("ab".chars()), limiter, clock);
    /// assert_eq!(s.next().now_or_never(), Some(Some('a')));
    /// assert_eq!(s.next().now_or_never(), Some(Some('b')));
    /// assert_eq!(s.next().now_or_never(), Some(None));
    /// ```
    pub fn with_timer(stream: St, limiter: Arc<RateLimiter<C>>, timer: T) -> Self {
        Self {
            stream,
            limiter,
            timer,
            item: None,
            wait: Wait::new(1),
        }
    }

    /// The inner stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimited, RateLimiter};
    /// use std::sync::Arc;
    /// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(1), ManualClock::new()));
    /// let s = RateLimited::with_timer(futures::stream::empty::<()>(), limiter, ManualClock::new());
    /// let _inner = s.get_ref();
    /// ```
    pub fn get_ref(&self) -> &St {
        &self.stream
    }

    /// The limiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::rate::{ManualClock, Quota, RateLimited, RateLimiter};
    /// use std::sync::Arc;
    /// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(1), ManualClock::new()));
    /// let s = RateLimited::with_timer(futures::stream::empty::<()>(), Arc::clone(&limiter), ManualClock::new());
    /// assert!(Arc::ptr_eq(s.limiter(), &limiter));
    /// ```
    pub fn limiter(&self) -> &Arc<RateLimiter<C>> {
        &self.limiter
    }
}

impl<St: Stream, C: Clock, T: Timer> Stream for RateLimited<St, C, T> {
    type Item = St::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<St::Item>> {
        let mut this = self.project();
        if this.item.is_none() {
            match this.stream.poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    *this.item = Some(item);
                    this.wait.as_mut().reset();
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        match this.wait.as_mut().poll_wait(this.limiter, this.timer, cx) {
            Poll::Ready(granted) => {
                granted.expect("one cell never exceeds the burst (>= 1)");
                Poll::Ready(this.item.take())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = usize::from(self.item.is_some());
        let (low, high) = self.stream.size_hint();
        (
            low.saturating_add(held),
            high.and_then(|h| h.checked_add(held)),
        )
    }
}

/// Ended once the inner stream has ended and no item is held, so
/// `futures::select!` and `select_next_some` can use the adapter when the
/// inner stream is fused.
///
/// # Examples
///
/// ```
/// use flowgate::rate::{ManualClock, Quota, RateLimited, RateLimiter};
/// use futures::stream::{FusedStream, StreamExt};
/// use futures::FutureExt;
/// use std::sync::Arc;
///
/// let clock = ManualClock::new();
/// let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(10), clock.clone()));
/// let mut items = RateLimited::with_timer(futures::stream::iter([1]).fuse(), limiter, clock);
/// assert!(!items.is_terminated());
/// assert_eq!(items.next().now_or_never(), Some(Some(1)));
/// assert_eq!(items.next().now_or_never(), Some(None));
/// assert!(items.is_terminated());
/// ```
impl<St: FusedStream, C: Clock, T: Timer> FusedStream for RateLimited<St, C, T> {
    fn is_terminated(&self) -> bool {
        self.item.is_none() && self.stream.is_terminated()
    }
}

impl<St, C, T> fmt::Debug for RateLimited<St, C, T>
where
    St: Stream + fmt::Debug,
    C: Clock,
    T: Timer,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("stream", &self.stream)
            .field("holding", &self.item.is_some())
            .finish_non_exhaustive()
    }
}
