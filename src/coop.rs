//! Cooperative scheduling budget.
//!
//! A future that is always ready (credit always free, a message always
//! queued) never returns `Pending`, so on a work-stealing runtime the task
//! polling it in a loop can keep its worker forever while other tasks
//! starve. Tokio solves this with a per-task budget that its own primitives
//! spend; with the `tokio` feature, flowgate's futures spend it too (and so
//! are as fair as `tokio::sync` inside a tokio runtime). Elsewhere, and
//! without the feature, this is a no-op that always proceeds.
//!
//! [`poll_proceed`] spends one unit per ready operation, as tokio's own
//! primitives do. A [`Meter`] kept in a handle spends one unit per
//! [`OPS_PER_UNIT`] ready operations of that handle instead (see there).

use core::task::{Context, Poll};

/// Proof of permission to make progress; call
/// [`made_progress`](Budget::made_progress) once the future does.
#[derive(Debug)]
pub(crate) struct Budget(
    /// `None`: nothing was taken from tokio's budget (a [`Meter`] still
    /// had operations left on its unit, or there is no tokio).
    #[cfg(feature = "tokio")]
    Option<tokio::task::coop::RestoreOnPending>,
);

impl Budget {
    /// Commits the budget unit spent by [`poll_proceed`].
    #[inline]
    pub(crate) fn made_progress(&self) {
        #[cfg(feature = "tokio")]
        if let Some(restore) = &self.0 {
            restore.made_progress();
        }
    }
}

/// Spends one unit of the current task's budget, or returns `Pending` (with
/// the task already scheduled to run again) once it is used up.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<Budget> {
    #[cfg(feature = "tokio")]
    return tokio::task::coop::poll_proceed(cx).map(|restore| Budget(Some(restore)));
    #[cfg(not(feature = "tokio"))]
    {
        let _ = cx;
        Poll::Ready(Budget())
    }
}

/// How many ready operations of one handle one unit of tokio's budget
/// pays for (see [`Meter`]).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) const OPS_PER_UNIT: u8 = 16;

/// A handle's share of tokio's budget: it spends one unit for every
/// [`OPS_PER_UNIT`] ready operations made through the handle.
///
/// Spending a unit reads tokio's thread-local context on every operation,
/// and running out of budget every 128 operations forces a yield that
/// lets an idle worker steal the task; a per-handle count does neither
/// (see the mailbox's "Cooperative budget" for what that cost). A task
/// looping over an always-ready handle still runs out of budget and
/// yields, after `OPS_PER_UNIT` times as many operations as with tokio's
/// own channels (tokio's budget is 128 units: 2,048 operations), so
/// starvation stays bounded.
///
/// The count is a relaxed load and store, not a read-modify-write: tasks
/// sharing one handle from several threads may lose a step of it, which
/// only moves the next spend by an operation or so.
#[derive(Debug, Default)]
pub(crate) struct Meter(
    /// Operations left on the unit spent last.
    #[cfg(feature = "tokio")]
    crate::sync::AtomicU8,
);

impl Meter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Like [`poll_proceed`], but takes a unit from tokio's budget only
    /// when the last one is used up. Pass the result to
    /// [`made_progress`](Self::made_progress) once the operation is done.
    #[inline]
    pub(crate) fn poll_proceed(&self, cx: &mut Context<'_>) -> Poll<Budget> {
        #[cfg(feature = "tokio")]
        if self.0.load(crate::sync::Ordering::Relaxed) != 0 {
            return Poll::Ready(Budget(None));
        }
        poll_proceed(cx)
    }

    /// The fast path of [`poll_proceed`](Self::poll_proceed): whether the
    /// unit spent last still pays for an operation, so that one can go
    /// ahead without tokio's budget (always, without the `tokio`
    /// feature). If the operation then completes, count it with
    /// [`spend_local`](Self::spend_local); otherwise nothing was taken.
    #[inline(always)]
    pub(crate) fn has_local(&self) -> bool {
        #[cfg(feature = "tokio")]
        return self.0.load(crate::sync::Ordering::Relaxed) != 0;
        #[cfg(not(feature = "tokio"))]
        true
    }

    /// Counts an operation that completed after
    /// [`has_local`](Self::has_local) said yes (what `made_progress` does
    /// for a `Budget` that took nothing from tokio).
    #[inline(always)]
    pub(crate) fn spend_local(&self) {
        #[cfg(feature = "tokio")]
        {
            use crate::sync::Ordering::Relaxed;
            self.0
                .store(self.0.load(Relaxed).saturating_sub(1), Relaxed);
        }
    }

    /// Commits `budget` (see [`Budget::made_progress`]) and counts the
    /// operation.
    #[inline]
    pub(crate) fn made_progress(&self, budget: &Budget) {
        budget.made_progress();
        #[cfg(feature = "tokio")]
        {
            use crate::sync::Ordering::Relaxed;
            let left = match budget.0 {
                Some(_) => OPS_PER_UNIT - 1,
                None => self.0.load(Relaxed).saturating_sub(1),
            };
            self.0.store(left, Relaxed);
        }
    }
}
