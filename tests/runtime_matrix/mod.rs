//! Runs one async test body on every executor of the test matrix.
//!
//! `each_executor(|| async { .. })` builds a fresh body for, and runs it on:
//! `futures::executor::block_on` always; tokio's current-thread and
//! multi-thread runtimes with `--features tokio`; `smol::block_on` with
//! `--features smol`; async-std's executor with `--features async-std`.
//! `scripts/test` runs the suite once per feature and once with all of
//! them, so every integration test that goes through here runs on every
//! runtime. Bodies must be `Send + 'static` (the multi-thread runtime runs
//! them on a worker thread).
//!
//! Include it with `mod runtime_matrix;` from any test file.

#![allow(dead_code)]

use std::future::Future;

/// Names of the executors `each_executor` runs on in this build.
pub fn executors() -> Vec<&'static str> {
    let mut names = vec!["futures"];
    if cfg!(feature = "tokio") {
        names.extend(["tokio-current-thread", "tokio-multi-thread"]);
    }
    if cfg!(feature = "smol") {
        names.push("smol");
    }
    if cfg!(feature = "async-std") {
        names.push("async-std");
    }
    names
}

/// Runs `body()` to completion on each executor of the matrix, in turn.
pub fn each_executor<F, Fut>(body: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    futures::executor::block_on(body());

    #[cfg(feature = "tokio")]
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio current-thread runtime");
        rt.block_on(body());

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio multi-thread runtime");
        rt.block_on(rt.spawn(body()))
            .expect("test body panicked on tokio multi-thread");
    }

    #[cfg(feature = "smol")]
    smol::block_on(body());

    #[cfg(feature = "async-std")]
    async_std::task::block_on(body());
}
