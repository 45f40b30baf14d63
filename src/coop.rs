//! Cooperative scheduling budget.
//!
//! A future that is always ready (credit always free, a message always
//! queued) never returns `Pending`, so on a work-stealing runtime the task
//! polling it in a loop can keep its worker forever while other tasks
//! starve. Tokio solves this with a per-task budget that its own primitives
//! spend; with the `tokio` feature, flowgate's futures spend it too (and so
//! are as fair as `tokio::sync` inside a tokio runtime). Elsewhere, and
//! without the feature, this is a no-op that always proceeds.

use core::task::{Context, Poll};

/// Proof of permission to make progress; call
/// [`made_progress`](Budget::made_progress) once the future does.
#[derive(Debug)]
pub(crate) struct Budget(#[cfg(feature = "tokio")] tokio::task::coop::RestoreOnPending);

impl Budget {
    /// Commits the budget unit spent by [`poll_proceed`].
    #[inline]
    pub(crate) fn made_progress(&self) {
        #[cfg(feature = "tokio")]
        self.0.made_progress();
    }
}

/// Spends one unit of the current task's budget, or returns `Pending` (with
/// the task already scheduled to run again) once it is used up.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<Budget> {
    #[cfg(feature = "tokio")]
    return tokio::task::coop::poll_proceed(cx).map(Budget);
    #[cfg(not(feature = "tokio"))]
    {
        let _ = cx;
        Poll::Ready(Budget())
    }
}
