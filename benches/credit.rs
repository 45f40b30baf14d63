//! The credit semaphore side by side with `tokio::sync::Semaphore` and
//! `async_lock::Semaphore`, printing ns per operation and ratios.
//!
//! Run: `cargo bench -p flowgate-benches --bench credit` (flowgate's `tokio` feature, on here,
//! makes flowgate spend tokio's cooperative budget, as tokio::sync does). Each figure is the median of several
//! short runs; the ratios are what to read (the machine is shared).

use flowgate::credit::CreditSemaphore;
use futures::executor::block_on;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 7;
const OPS: u32 = 2_000_000;

/// Median ns per op over `RUNS` runs of `f`, which performs `OPS` ops.
fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_nanos() as f64 / f64::from(OPS)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[RUNS / 2]
}

fn row(name: &str, ours: f64, peers: &[(&str, f64)]) {
    let mut line = format!("{name:<34} flowgate {ours:7.2} ns");
    for (peer, ns) in peers {
        line += &format!(" | {peer} {ns:7.2} ns (ratio {:.2}x)", ours / ns);
    }
    println!("{line}");
}

fn uncontended() {
    let ours = CreditSemaphore::new(16);
    let tokio = tokio::sync::Semaphore::new(16);
    let lock = async_lock::Semaphore::new(16);
    let f = median_ns(|| {
        block_on(async {
            for _ in 0..OPS {
                drop(black_box(ours.acquire(1).await.unwrap()));
            }
        })
    });
    let t = median_ns(|| {
        block_on(async {
            for _ in 0..OPS {
                drop(black_box(tokio.acquire().await.unwrap()));
            }
        })
    });
    let a = median_ns(|| {
        block_on(async {
            for _ in 0..OPS {
                drop(black_box(lock.acquire().await));
            }
        })
    });
    row(
        "acquire(1).await + drop",
        f,
        &[("async-lock", a), ("tokio", t)],
    );

    let f = median_ns(|| {
        for _ in 0..OPS {
            drop(black_box(ours.try_acquire(1).unwrap()));
        }
    });
    let t = median_ns(|| {
        for _ in 0..OPS {
            drop(black_box(tokio.try_acquire().unwrap()));
        }
    });
    let a = median_ns(|| {
        for _ in 0..OPS {
            drop(black_box(lock.try_acquire().unwrap()));
        }
    });
    row(
        "try_acquire(1) + drop",
        f,
        &[("tokio", t), ("async-lock", a)],
    );
}

/// About 200 ns of work while holding a credit.
fn work() {
    let mut x = 0u64;
    for i in 0..300 {
        x = black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    black_box(x);
}

const TASKS: usize = 8;
const CREDITS: usize = 4;
const WINDOW: Duration = Duration::from_millis(400);

/// Jain's fairness index of per-task counts: 1.0 is perfectly even.
fn jain(counts: &[u64]) -> f64 {
    let sum: f64 = counts.iter().map(|&c| c as f64).sum();
    let squares: f64 = counts.iter().map(|&c| (c as f64) * (c as f64)).sum();
    sum * sum / (counts.len() as f64 * squares)
}

/// Runs `TASKS` tasks that acquire-work-release until the window closes on
/// a 2-worker tokio runtime; returns (ns per acquisition, Jain index).
fn contended<F, Fut>(acquire_work: F) -> (f64, f64)
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        // The window is checked by each task, not by a timer: a semaphore
        // that never yields would keep the timer from ever firing.
        let start = Instant::now();
        let deadline = start + WINDOW;
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let acquire_work = acquire_work.clone();
                tokio::spawn(async move {
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        acquire_work().await;
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let mut counts = Vec::new();
        for task in tasks {
            counts.push(task.await.unwrap());
        }
        let elapsed = start.elapsed().as_nanos() as f64;
        let total: u64 = counts.iter().sum();
        (elapsed / total as f64, jain(&counts))
    })
}

fn median_pair(mut f: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    let mut runs: Vec<_> = (0..5).map(|_| f()).collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    runs[2]
}

fn contention() {
    let ours = Arc::new(CreditSemaphore::new(CREDITS));
    let tokio_sem = Arc::new(tokio::sync::Semaphore::new(CREDITS));
    let lock = Arc::new(async_lock::Semaphore::new(CREDITS));
    let (f, fj) = median_pair(|| {
        let sem = Arc::clone(&ours);
        contended(move || {
            let sem = Arc::clone(&sem);
            async move {
                let _held = sem.acquire(1).await.unwrap();
                work();
            }
        })
    });
    let (t, tj) = median_pair(|| {
        let sem = Arc::clone(&tokio_sem);
        contended(move || {
            let sem = Arc::clone(&sem);
            async move {
                let _held = sem.acquire().await.unwrap();
                work();
            }
        })
    });
    let (a, aj) = median_pair(|| {
        let sem = Arc::clone(&lock);
        contended(move || {
            let sem = Arc::clone(&sem);
            async move {
                let _held = sem.acquire().await;
                work();
            }
        })
    });
    row(
        "contended 8 tasks / 4 credits",
        f,
        &[("tokio", t), ("async-lock", a)],
    );
    println!(
        "{:<34} Jain fairness: flowgate {fj:.3} | tokio {tj:.3} | async-lock {aj:.3}",
        ""
    );
}

fn main() {
    println!("credit semaphore, median of runs (lower is better; ratio = flowgate / peer)");
    uncontended();
    contention();
}
