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

/// A [`Slice`]'s period: at most this many completed operations per
/// clock read.
#[cfg(all(feature = "tokio", not(flowgate_loom)))]
const SLICE_OPS: u32 = 8;

/// The work time one unit of tokio's budget stands for in a [`Slice`]:
/// tokio's 128 units then make a time slice of about 32 µs of work.
#[cfg(all(feature = "tokio", not(flowgate_loom)))]
const SLICE_UNIT_NS: u128 = 250;

/// At most this many units of debt are carried from one period to the
/// next: one full budget, so a long pause costs at most one extra yield.
#[cfg(all(feature = "tokio", not(flowgate_loom)))]
const SLICE_MAX_DEBT: u32 = 128;

/// How an operation metered by a [`Slice`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Polled {
    /// It completed.
    Ready,
    /// It waits for its event (`Pending`).
    Waiting,
    /// The task's budget ran out before it (`Pending`, task rescheduled).
    OutOfBudget,
}

/// Spends tokio's budget by the time a task works between operations, not
/// only by their count.
///
/// Tokio's budget gives each task the same number of operations per turn,
/// so a task that works four times as long per message also holds its
/// worker four times as long per turn: among CPU-bound consumers of one
/// dispatcher the slow one gets as many turns, hence as many messages, as
/// the fast ones, and no strategy that reads load from acks can see its
/// speed. A `Slice` makes the operations of a period spend one unit per
/// `SLICE_UNIT_NS` of the period's time in all (the one unit each spends
/// anyway included), so a turn lasts about the same *time* for every such
/// task, as it would under a preemptive scheduler. A period is
/// `SLICE_OPS` completed operations, or fewer when the budget runs out
/// first: the clock is read when a period ends and when the first
/// operation after a `Pending` completes. A period in which an operation
/// waits for its event is dropped unread: a task that waits is not one
/// that hogs its worker.
///
/// Time in which the operation itself waited (`Pending`, for want of
/// messages or of budget) is not counted; time the task spent waiting for
/// something else between two operations is, and costs it at most one
/// extra yield (`SLICE_MAX_DEBT`). Without the `tokio` feature (or outside
/// a tokio runtime, where the budget is unlimited) this spends nothing.
#[derive(Debug, Default)]
pub(crate) struct Slice {
    #[cfg(all(feature = "tokio", not(flowgate_loom)))]
    state: SliceState,
}

#[cfg(all(feature = "tokio", not(flowgate_loom)))]
#[derive(Debug, Default)]
struct SliceState {
    /// Operations completed since `since`.
    ops: u32,
    /// The start of the current period (`None`: starts at the next
    /// completed operation).
    since: Option<std::time::Instant>,
    /// Units owed, paid before the next operation.
    debt: u32,
}

impl Slice {
    /// Before an operation: pays the units owed for the work done since
    /// the last period ended. `Pending` (with the task scheduled again)
    /// when the budget runs out first; the rest stays owed.
    #[inline]
    pub(crate) fn poll_pay(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        #[cfg(all(feature = "tokio", not(flowgate_loom)))]
        while self.state.debt > 0 {
            let budget = core::task::ready!(poll_proceed(cx));
            budget.made_progress();
            self.state.debt -= 1;
        }
        let _ = cx;
        Poll::Ready(())
    }

    /// After an operation, how it went.
    #[inline]
    pub(crate) fn polled(&mut self, outcome: Polled) {
        #[cfg(all(feature = "tokio", not(flowgate_loom)))]
        {
            let state = &mut self.state;
            match (outcome, state.since) {
                // The first operation after a wait starts a period.
                (Polled::Ready, None) => state.since = Some(std::time::Instant::now()),
                (Polled::Ready, Some(_)) => {
                    state.ops += 1;
                    if state.ops >= SLICE_OPS {
                        self.end_period(true);
                    }
                }
                // Out of budget: the turn ends here, and its work so far
                // is owed; the time until the task runs again is not work.
                (Polled::OutOfBudget, Some(_)) => self.end_period(false),
                // Nothing to take: the task is not busy enough to need
                // slicing, and the period (under `SLICE_OPS` operations)
                // is dropped without a clock read.
                (Polled::Waiting, Some(_)) => {
                    state.since = None;
                    state.ops = 0;
                }
                (_, None) => {}
            }
        }
        let _ = outcome;
    }

    /// Reads the clock: the work time of the period just ended becomes
    /// debt (beyond the one unit per operation already spent); a new
    /// period starts now if `go_on`, else at the next completed operation.
    #[cfg(all(feature = "tokio", not(flowgate_loom)))]
    #[cold]
    fn end_period(&mut self, go_on: bool) {
        let state = &mut self.state;
        let now = std::time::Instant::now();
        if let Some(since) = state.since {
            let units = now.duration_since(since).as_nanos() / SLICE_UNIT_NS;
            let owed = u32::try_from(units)
                .unwrap_or(u32::MAX)
                .saturating_sub(state.ops);
            state.debt = state.debt.saturating_add(owed).min(SLICE_MAX_DEBT);
        }
        state.since = go_on.then_some(now);
        state.ops = 0;
    }
}
