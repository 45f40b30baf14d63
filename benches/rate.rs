//! flowgate's rate limiter side by side with `governor`, in one run:
//!
//! - `check()` uncontended, and with 2 threads contending (ns per call;
//!   target: flowgate <= 1.0x governor), each limiter on each of two
//!   clocks: `std::time::Instant` (flowgate's default) and a TSC read
//!   (`quanta`, governor's default), so the comparison is like for like
//!   and the clock's share is visible.
//! - `until_ready` at 1,000/s for 2 s on tokio: achieved rate (target:
//!   within 1% of the quota).
//!
//! Run: `cargo bench -p flowgate-benches --bench rate`. Short by design
//! (a few seconds); timings are printed, never asserted.

use flowgate::rate::{Clock, Quota, RateLimiter};
use governor::clock::MonotonicClock as GovMonotonic;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Barrier};
use std::time::Instant;

const CHECKS: u32 = 2_000_000;

/// governor's default clock (a calibrated TSC read), as a flowgate
/// [`Clock`]: any user can plug one in the same way.
struct TscClock {
    clock: quanta::Clock,
    base: quanta::Instant,
    base_std: Instant,
}

impl TscClock {
    fn new() -> Self {
        let clock = quanta::Clock::new();
        let base = clock.now();
        Self {
            clock,
            base,
            base_std: Instant::now(),
        }
    }
}

impl Clock for TscClock {
    #[inline]
    fn now(&self) -> Instant {
        self.base_std + self.clock.now().duration_since(self.base)
    }
}

fn huge_flowgate() -> RateLimiter {
    // Never refuses in the bench window: 1 ns interval, huge burst.
    RateLimiter::new(Quota::per_second(u32::MAX).burst(u32::MAX))
}

fn huge_governor_quota() -> governor::Quota {
    governor::Quota::per_second(NonZeroU32::MAX).allow_burst(NonZeroU32::MAX)
}

/// Best of 3 runs of `f` over `iters` calls, in ns per call.
fn ns_per_call(iters: u32, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .fold(f64::INFINITY, f64::min)
}

/// Two threads calling `check` at once; ns per call on each thread (best of 3).
fn contended<L: Send + Sync + 'static>(limiter: Arc<L>, check: fn(&L) -> bool) -> f64 {
    (0..3)
        .map(|_| {
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let (limiter, barrier) = (Arc::clone(&limiter), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        barrier.wait();
                        let start = Instant::now();
                        for _ in 0..CHECKS / 2 {
                            black_box(check(&limiter));
                        }
                        start.elapsed().as_nanos() as f64 / f64::from(CHECKS / 2)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .fold(0.0, f64::max)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    println!("rate limiter check(), ns per call (lower is better)");
    let fg = huge_flowgate();
    let gov = governor::RateLimiter::direct(huge_governor_quota());
    let gov_std = governor::RateLimiter::direct_with_clock(huge_governor_quota(), GovMonotonic);
    let fg_tsc =
        RateLimiter::with_clock(Quota::per_second(u32::MAX).burst(u32::MAX), TscClock::new());
    let fg_1 = ns_per_call(CHECKS, || assert!(fg.check().is_ok()));
    let fg_tsc_1 = ns_per_call(CHECKS, || assert!(fg_tsc.check().is_ok()));
    let gov_1 = ns_per_call(CHECKS, || assert!(gov.check().is_ok()));
    let gov_std_1 = ns_per_call(CHECKS, || assert!(gov_std.check().is_ok()));
    println!("  clock         flowgate  governor  ratio");
    println!(
        "  uncontended, std Instant  {fg_1:6.1}  {gov_std_1:6.1}  {:.2}x",
        fg_1 / gov_std_1
    );
    println!(
        "  uncontended, TSC (quanta) {fg_tsc_1:6.1}  {gov_1:6.1}  {:.2}x",
        fg_tsc_1 / gov_1
    );

    let fg_tsc_2 = contended(
        Arc::new(RateLimiter::with_clock(
            Quota::per_second(u32::MAX).burst(u32::MAX),
            TscClock::new(),
        )),
        |l| l.check().is_ok(),
    );
    let fg_2 = contended(Arc::new(huge_flowgate()), |l| l.check().is_ok());
    let gov_2 = contended(
        Arc::new(governor::RateLimiter::direct(huge_governor_quota())),
        |l| l.check().is_ok(),
    );
    let gov_std_2 = contended(
        Arc::new(governor::RateLimiter::direct_with_clock(
            huge_governor_quota(),
            GovMonotonic,
        )),
        |l| l.check().is_ok(),
    );
    println!(
        "  2 threads,   std Instant  {fg_2:6.1}  {gov_std_2:6.1}  {:.2}x",
        fg_2 / gov_std_2
    );
    println!(
        "  2 threads,   TSC (quanta) {fg_tsc_2:6.1}  {gov_2:6.1}  {:.2}x",
        fg_tsc_2 / gov_2
    );

    println!(
        "until_ready at 1000/s (burst 10) for 2000 cells after the burst, tokio current-thread"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cells = 2000u32;
    let (fg_rate, fg_took) = rt.block_on(async {
        let limiter = RateLimiter::new(Quota::per_second(1000).burst(10));
        while limiter.check().is_ok() {}
        let start = Instant::now();
        for _ in 0..cells {
            limiter.until_ready().await;
        }
        let took = start.elapsed();
        (f64::from(cells) / took.as_secs_f64(), took)
    });
    let (gov_rate, gov_took) = rt.block_on(async {
        let quota = governor::Quota::per_second(NonZeroU32::new(1000).unwrap())
            .allow_burst(NonZeroU32::new(10).unwrap());
        let limiter = governor::RateLimiter::direct(quota);
        while limiter.check().is_ok() {}
        let start = Instant::now();
        for _ in 0..cells {
            limiter.until_ready().await;
        }
        let took = start.elapsed();
        (f64::from(cells) / took.as_secs_f64(), took)
    });
    let off = |rate: f64| (rate / 1000.0 - 1.0) * 100.0;
    println!(
        "  flowgate {fg_rate:7.1}/s ({:+.2}% of quota, {:.3} s)  governor {gov_rate:7.1}/s ({:+.2}%, {:.3} s)",
        off(fg_rate),
        fg_took.as_secs_f64(),
        off(gov_rate),
        gov_took.as_secs_f64()
    );
}
