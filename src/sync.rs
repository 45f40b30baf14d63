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
//! # The rule: no user code under a flowgate lock
//!
//! While a [`Mutex`] of this crate is held, nothing runs that the crate did
//! not write: no `Waker` is woken *or dropped*, no message is dropped, no
//! hook or user clock is called. Each of those can re-enter the primitive
//! whose lock is held (a waker may be the last owner of credits, a permit or
//! a delivery of it; a message's `Drop` may publish; a wake-up may
//! `try_send`) and deadlock the thread on itself. Critical sections
//! *collect* such things instead and hand them out to be woken or dropped
//! once the guard is gone:
//!
//! - `waitlist::WaitList` returns every waker it takes out (`set_waker`,
//!   `take_waker`, `remove` are `#[must_use]`), and callers wake a
//!   `WakeList` after unlocking;
//! - the dispatcher's `Effects` carry wakes, stale wakers, buried messages
//!   and dead letters out of its critical section;
//! - the mailbox's and the manual clock's paths drop replaced wakers after
//!   their guard.
//!
//! Every such path has a re-entrancy test (`tests/reentrancy.rs`,
//! `tests/mailbox_reentrancy.rs`): a waker that owns a resource of the same
//! primitive, or re-enters it when woken. A waker *clone* under a lock is
//! allowed: cloning runs no drop and wakes nobody.
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

    use std::sync::TryLockError;

    /// A mutex that ignores poisoning (every critical section in this crate
    /// leaves the protected data consistent before anything can panic) and
    /// retries briefly before it blocks.
    ///
    /// # Why retry
    ///
    /// std's futex mutex spins only while no thread sleeps on it: once one
    /// does, every later contender goes to sleep in the kernel at once, and
    /// every unlock makes a system call to wake one. The critical sections
    /// here are short (a dispatcher's pick and assign, a wait-list push),
    /// so a contender that retries for a moment nearly always gets the lock
    /// without sleeping, and its runtime worker is not parked for a context
    /// switch that costs more than the wait.
    ///
    /// The retries are bounded, after the fashion of `parking_lot`'s
    /// spin-wait: [`SPIN_ROUNDS`] tries after 1, 2 and 4 spin hints, then
    /// [`YIELD_ROUNDS`] tries each after a `thread::yield_now` (which lets
    /// a holder preempted on the same CPU finish), then it blocks.
    ///
    /// Measured with `benches/dispatch.rs` (1 publisher, 4 consumers,
    /// tokio, RoundRobin), in ns/msg:
    ///
    /// | lock | 2 CPUs | pinned to 1 CPU |
    /// |---|---|---|
    /// | std's `lock` | 112–125 | 179 |
    /// | spin hints only (up to 319) | 88–90 | 174 |
    /// | this | 94–99 | 99–127 |
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

    /// Tries of a contended [`Mutex::lock`] after spin hints (round `r`
    /// after `2^r` of them).
    const SPIN_ROUNDS: u32 = 3;
    /// Further tries, each after a `thread::yield_now`, before it blocks.
    const YIELD_ROUNDS: u32 = 7;

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::sync::Mutex::new(value))
        }

        #[inline]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            match self.try_lock() {
                Some(guard) => guard,
                None => self.lock_contended(),
            }
        }

        /// The lock if it is free now (`None` if another thread holds it).
        #[inline]
        fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(guard) => Some(guard),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            }
        }

        /// Retries (spinning, then yielding), then blocks (see the type
        /// docs).
        #[cold]
        fn lock_contended(&self) -> MutexGuard<'_, T> {
            for round in 0..SPIN_ROUNDS + YIELD_ROUNDS {
                if round < SPIN_ROUNDS {
                    for _ in 0..1u32 << round {
                        std::hint::spin_loop();
                    }
                } else {
                    std::thread::yield_now();
                }
                if let Some(guard) = self.try_lock() {
                    return guard;
                }
            }
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

#[cfg(all(test, not(flowgate_loom)))]
mod tests {
    use super::{Arc, Mutex};

    /// Contended locks still exclude each other: a read-then-write of the
    /// guarded count, racing on four threads, loses no increment (whether
    /// a contender got the lock spinning or blocking), and a lock poisoned
    /// by a panicking holder is still handed out.
    #[test]
    fn contended_locks_exclude_each_other_and_ignore_poison() {
        const PER_THREAD: u64 = if cfg!(miri) { 300 } else { 20_000 };
        let count = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let count = Arc::clone(&count);
                std::thread::spawn(move || {
                    for _ in 0..PER_THREAD {
                        let mut guard = count.lock();
                        let seen = *guard;
                        std::hint::black_box(&mut *guard);
                        *guard = seen + 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*count.lock(), 4 * PER_THREAD);

        let poisoner = Arc::clone(&count);
        let panicked = std::thread::spawn(move || {
            let _guard = poisoner.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert_eq!(*count.lock(), 4 * PER_THREAD);
    }
}
