//! The timers themselves, the plain forms on real time (generous bounds
//! only), which timer `DefaultTimer` picks where, and auto traits. Each
//! async body runs on every executor of the matrix.

mod runtime_matrix;

use flowgate::credit::{AcquireOwnedTimeout, AcquireTimeout, AcquireTimeoutError};
use flowgate::rate::{
    CheckNError, InsufficientCapacity, ManualClock, MonotonicClock, NotUntil, Quota, RateLimited,
    RateLimiter, UntilNReady, UntilReady,
};
use flowgate::runtime::ManualSleep;

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}

#[test]
fn auto_traits() {
    send::<RateLimiter>();
    sync::<RateLimiter>();
    unpin::<RateLimiter>();
    send::<RateLimiter<ManualClock>>();
    sync::<RateLimiter<ManualClock>>();
    send::<Quota>();
    sync::<Quota>();
    send::<MonotonicClock>();
    send::<NotUntil>();
    sync::<NotUntil>();
    send::<InsufficientCapacity>();
    sync::<CheckNError>();
    send::<AcquireTimeoutError>();
    sync::<AcquireTimeoutError>();

    send::<ManualClock>();
    sync::<ManualClock>();
    unpin::<ManualClock>();
    send::<ManualSleep>();
    sync::<ManualSleep>();
    unpin::<ManualSleep>();

    send::<UntilReady<'static, ManualClock, ManualClock>>();
    sync::<UntilReady<'static, ManualClock, ManualClock>>();
    unpin::<UntilReady<'static, ManualClock, ManualClock>>();
    send::<UntilNReady<'static, MonotonicClock, ManualClock>>();
    unpin::<UntilNReady<'static, MonotonicClock, ManualClock>>();
    type Stream =
        RateLimited<futures::stream::Iter<std::vec::IntoIter<u8>>, ManualClock, ManualClock>;
    send::<Stream>();
    sync::<Stream>();
    unpin::<Stream>();
    send::<AcquireTimeout<'static, ManualSleep>>();
    sync::<AcquireTimeout<'static, ManualSleep>>();
    unpin::<AcquireTimeout<'static, ManualSleep>>();
    send::<AcquireOwnedTimeout<ManualSleep>>();
    unpin::<AcquireOwnedTimeout<ManualSleep>>();
}

#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
mod timers {
    use super::*;
    use flowgate::credit::CreditSemaphore;
    use flowgate::runtime::Timer;
    use flowgate::runtime::{DefaultSleep, DefaultTimer};
    use futures::FutureExt;
    use runtime_matrix::each_executor;
    use std::sync::Arc;
    use std::time::Duration;
    use std::time::Instant;

    /// Bounds for real-time checks: never early; late by at most this much
    /// (very generous: CI machines are shared).
    const SLACK: Duration = Duration::from_secs(5);

    #[test]
    fn default_timer_auto_traits_fixed_under_every_feature_set() {
        send::<DefaultTimer>();
        sync::<DefaultTimer>();
        unpin::<DefaultTimer>();
        send::<DefaultSleep>();
        send::<UntilReady<'static, MonotonicClock, DefaultTimer>>();
        send::<AcquireTimeout<'static, DefaultSleep>>();
        fn is_timer<T: Timer + Copy + Default>() {}
        is_timer::<DefaultTimer>();
        #[cfg(feature = "tokio")]
        is_timer::<flowgate::runtime::Tokio>();
        #[cfg(feature = "smol")]
        is_timer::<flowgate::runtime::Smol>();
        #[cfg(feature = "async-std")]
        is_timer::<flowgate::runtime::AsyncStd>();
    }

    #[test]
    fn default_timer_sleeps_on_every_executor() {
        each_executor(|| async {
            let d = Duration::from_millis(5);
            let start = Instant::now();
            DefaultTimer::new().sleep(d).await;
            let took = start.elapsed();
            assert!(took >= d && took < d + SLACK, "{took:?}");
        });
    }

    #[test]
    fn default_timer_picks_tokio_only_inside_tokio() {
        let outside = format!("{:?}", DefaultTimer::new().sleep(Duration::ZERO));
        assert!(outside.contains("async-io"), "{outside}");
        #[cfg(feature = "tokio")]
        {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let inside =
                rt.block_on(async { format!("{:?}", DefaultTimer::new().sleep(Duration::ZERO)) });
            assert!(inside.contains("tokio"), "{inside}");
        }
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn tokio_timer_on_tokio_runtimes() {
        use flowgate::runtime::Tokio;
        for multi in [false, true] {
            let mut builder = if multi {
                tokio::runtime::Builder::new_multi_thread()
            } else {
                tokio::runtime::Builder::new_current_thread()
            };
            let rt = builder.enable_time().build().unwrap();
            rt.block_on(async {
                let start = Instant::now();
                Tokio.sleep(Duration::from_millis(3)).await;
                assert!(start.elapsed() >= Duration::from_millis(3));
                // The plain forms on tokio's paused-free real time.
                let limiter = RateLimiter::new(Quota::per_second(1000).burst(1));
                limiter.until_ready_with(&Tokio).await;
                limiter.until_ready_with(&Tokio).await;
            });
        }
    }

    #[cfg(any(feature = "smol", feature = "async-std"))]
    #[test]
    fn async_io_timers_on_every_executor() {
        each_executor(|| async {
            let start = Instant::now();
            #[cfg(feature = "smol")]
            flowgate::runtime::Smol
                .sleep(Duration::from_millis(2))
                .await;
            #[cfg(feature = "async-std")]
            flowgate::runtime::AsyncStd
                .sleep(Duration::from_millis(2))
                .await;
            assert!(start.elapsed() >= Duration::from_millis(2));
        });
    }

    #[test]
    fn until_ready_paces_on_real_time() {
        each_executor(|| async {
            // 200/s, burst 1: 6 cells take at least 5 intervals = 25 ms.
            let limiter = RateLimiter::new(Quota::per_second(200).burst(1));
            let start = Instant::now();
            for _ in 0..6 {
                limiter.until_ready().await;
            }
            let took = start.elapsed();
            assert!(took >= Duration::from_millis(25), "{took:?}");
            assert!(took < Duration::from_millis(25) + SLACK, "{took:?}");
            assert_eq!(limiter.until_n_ready(2).await, Err(InsufficientCapacity(1)));
        });
    }

    #[test]
    fn rate_limited_stream_with_default_timer() {
        each_executor(|| async {
            use futures::StreamExt;
            let limiter = Arc::new(RateLimiter::new(Quota::per_second(500).burst(2)));
            let start = Instant::now();
            let items: Vec<u32> = RateLimited::new(futures::stream::iter(0..6), limiter)
                .collect()
                .await;
            assert_eq!(items, [0, 1, 2, 3, 4, 5]);
            // 2 at once, then 4 more at 2 ms intervals.
            assert!(start.elapsed() >= Duration::from_millis(8));
        });
    }

    #[test]
    fn acquire_timeout_on_real_time() {
        each_executor(|| async {
            let sem = Arc::new(CreditSemaphore::new(0));
            let start = Instant::now();
            let err = sem
                .acquire_timeout(1, Duration::from_millis(5))
                .await
                .unwrap_err();
            assert_eq!(err, AcquireTimeoutError::Timeout);
            assert!(start.elapsed() >= Duration::from_millis(5));
            // Granted from another thread well before a long deadline.
            let (tx, rx) = futures::channel::oneshot::channel::<()>();
            let granter = {
                let sem = Arc::clone(&sem);
                std::thread::spawn(move || {
                    futures::executor::block_on(rx).unwrap();
                    sem.add_credits(1);
                })
            };
            let mut acquire =
                Box::pin(Arc::clone(&sem).acquire_owned_timeout(1, Duration::from_secs(60)));
            assert!((&mut acquire).now_or_never().is_none());
            tx.send(()).unwrap();
            let held = acquire.await.unwrap();
            assert_eq!(held.count(), 1);
            granter.join().unwrap();
        });
    }
}
