//! The only door to atomics, cells, `Arc`, `Mutex` and threads.
//!
//! Under `cfg(flowgate_loom)` every item comes from [loom] so that the model
//! checker sees each access; otherwise from `std`. The std types wear loom's
//! API (`UnsafeCell::with` / `with_mut`), so the algorithm code is the same
//! text in both builds.
//!
//! The cfg is `flowgate_loom`, not `loom`: the plain name also flips tokio
//! and smol in the same build and breaks them.
//!
//! [loom]: https://docs.rs/loom

// Not every primitive uses every item of the door.
#[allow(unused_imports, dead_code)]
#[cfg(not(flowgate_loom))]
mod imp {
    pub(crate) use std::sync::Arc;
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence,
    };

    /// `std::cell::UnsafeCell` with loom's closure-based access API.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a shared raw pointer to the value.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with an exclusive raw pointer to the value.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// A mutex that ignores poisoning: every critical section in this crate
    /// leaves the protected data consistent before anything can panic.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        #[inline]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            match self.0.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            }
        }
    }

    /// Spins once: a hint to the processor, or a yield to loom's scheduler.
    #[inline(always)]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop();
    }
}

#[allow(unused_imports, dead_code)]
#[cfg(flowgate_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::sync::atomic::{
        AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence,
    };

    /// loom's mutex with the poison-free `lock` of the std build.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        #[inline]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            match self.0.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            }
        }
    }

    /// Spins once: under loom, lets another thread run.
    #[inline(always)]
    pub(crate) fn spin_loop() {
        loom::thread::yield_now();
    }
}

#[allow(unused_imports)]
pub(crate) use imp::*;

/// Runs a model: under loom every interleaving (bounded by
/// `LOOM_MAX_PREEMPTIONS`), otherwise once on real threads, so a plain
/// `cargo test` exercises each model too.
#[cfg(test)]
pub(crate) fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    #[cfg(flowgate_loom)]
    loom::model(f);
    #[cfg(not(flowgate_loom))]
    f();
}

/// Threads for models: loom's under loom, std's otherwise.
#[cfg(test)]
pub(crate) mod thread {
    #[cfg(flowgate_loom)]
    pub(crate) use loom::thread::spawn;
    #[cfg(not(flowgate_loom))]
    pub(crate) use std::thread::spawn;
}
