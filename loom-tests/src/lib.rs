//! Shim for the loom models in `tests/`: under `--cfg flowgate_loom` every
//! item is loom's and `model` explores interleavings; otherwise `model` runs
//! the body once on real threads, so a plain `cargo test` runs every model.

#![deny(missing_docs)]

#[cfg(flowgate_loom)]
pub use loom::{future::block_on, sync::Arc, thread};

#[cfg(not(flowgate_loom))]
pub use {futures::executor::block_on, std::sync::Arc, std::thread};

/// Explores `f` under loom, or runs it once without.
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    #[cfg(flowgate_loom)]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(2);
        }
        // Counts the interleavings explored (one run of `f` each) so a
        // model that explores suspiciously few shows it: printed with
        // `--nocapture` (or on failure).
        let runs = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let start = std::time::Instant::now();
        builder.check(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            f();
        });
        println!(
            "loom: {} interleavings in {:.2?} ({})",
            runs.load(Ordering::Relaxed),
            start.elapsed(),
            std::thread::current().name().unwrap_or("model"),
        );
    }
    #[cfg(not(flowgate_loom))]
    f();
}

/// A payload whose leak fails the model: loom's `Track` under loom, a plain
/// wrapper otherwise.
#[cfg(flowgate_loom)]
pub type Track<T> = loom::alloc::Track<T>;

/// A payload whose leak fails the model: loom's `Track` under loom, a plain
/// wrapper otherwise.
#[cfg(not(flowgate_loom))]
#[derive(Debug)]
pub struct Track<T>(T);

#[cfg(not(flowgate_loom))]
impl<T> Track<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}
