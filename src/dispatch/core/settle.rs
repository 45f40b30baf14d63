//! Settling deliveries: ack, nack, drop, and where a message goes after
//! (back to the backlog, to the dead-letter mailbox, to the settle hook, or
//! back to the pool).

use super::{Core, Effects, Entry, Finish, InFlight, Outcome, Settle, Slot, SlotRef, Token};
use crate::dispatch::{Requeue, Strategy};
use crate::sync::{Arc, Ordering};

impl<T> Core<T> {
    /// Counts the ack of the entry at `at` of `ci`'s window, which the
    /// caller has taken out (an auto-ack `recv`, or a lock-free ack being
    /// collected), and tells the settle hook.
    pub(super) fn count_ack(&mut self, ci: usize, at: usize, slot: &Slot<T>) {
        let c = self.consumer(ci);
        c.free.push(at);
        c.stats.acked += 1;
        self.rank(ci).unacked -= 1;
        self.in_flight -= 1;
        self.totals.acked += 1;
        if let Some(settle) = &self.settle {
            settle(slot.get(), Settle::Ack);
        }
    }

    /// Ends a delivery as `end` says; `slot` is its hold on the message.
    /// If its token is stale (its consumer was dropped) or absent, only
    /// the count it holds is handed back. With `end.take`, an acked
    /// message that nobody else shares is returned.
    pub(in crate::dispatch) fn finish(
        &mut self,
        end: Finish,
        slot: SlotRef<T>,
        fx: &mut Effects<T>,
    ) -> Option<T> {
        let Finish {
            consumer,
            token,
            handed_at,
            acked_at,
            outcome,
            take,
        } = end;
        let flight = token.and_then(|token| self.settle(consumer, token));
        let Some((ci, flight)) = flight else {
            // SAFETY: a ref without a live token owns its count: auto-ack
            // deliveries own the window's clone, and a stale token's entry
            // left its window with its consumer, which gave it a count
            // (see `slot`).
            let slot = unsafe { slot.into_owned() };
            return self.release_or_take(slot, take, fx);
        };
        // The token was live: `slot` was lent by the entry just taken out,
        // whose clone stands for the message from here on.
        if self.settle.is_some() && outcome != Outcome::Ack {
            self.settle_out(Some(ci), flight.slot, outcome, flight.attempt, fx);
            return None;
        }
        let c = self.consumer(ci);
        match outcome {
            Outcome::Ack => {
                c.stats.acked += 1;
                if self.strategy == Strategy::Adaptive {
                    // `acked_at` was read by the delivery before it took the
                    // lock: a user's clock is never called under it.
                    if self.time_ack(ci, handed_at, acked_at) {
                        self.adapt_limits();
                    }
                }
                self.totals.acked += 1;
                if let Some(settle) = &self.settle {
                    settle(flight.slot.get(), Settle::Ack);
                }
                return self.release_or_take(flight.slot, take, fx);
            }
            Outcome::Nack(Requeue::No) => {
                c.stats.nacked += 1;
                self.totals.nacked += 1;
                self.dead_letter(Some(ci), flight.slot, fx);
            }
            Outcome::Nack(Requeue::Yes) | Outcome::Dropped => {
                c.stats.nacked += 1;
                self.totals.nacked += 1;
                if flight.attempt >= self.max_attempts {
                    self.dead_letter(Some(ci), flight.slot, fx);
                } else {
                    let entry = Entry {
                        slot: flight.slot,
                        attempt: flight.attempt,
                    };
                    if self.broadcast() {
                        self.consumer(ci).redo.push_front(entry);
                    } else {
                        self.backlog.push_front(entry);
                    }
                }
            }
        }
        None
    }

    /// Adaptive: records the service time of a delivery of `ci` acked at
    /// `acked_at`: from when `recv` took it from the dispatcher
    /// (`handed_at`), or from the consumer's previous ack if later (a
    /// consumer working through deliveries it holds together starts each
    /// when it acks the last). So time spent queued in the window, and time
    /// the consumer's task spent descheduled inside `recv` (waiting, or
    /// yielding its budget), is not counted. Returns whether the weights
    /// must be computed again (then marked stale here); the caller then
    /// updates the windows (`adapt_limits`).
    pub(super) fn time_ack(&mut self, ci: usize, handed_at: u64, acked_at: u64) -> bool {
        let r = self.rank(ci);
        let started = r.acked_at.max(handed_at);
        let moved = r.observe(acked_at.saturating_sub(started));
        r.acked_at = acked_at;
        if moved {
            self.weights_for = None;
        }
        moved
    }

    /// A nack or drop when the settle hook decides: counted as a nack (or,
    /// from a dropped consumer, not counted, as locally), handed to the
    /// hook as a requeue while attempts are left, else as a reject
    /// (counted as dead-lettered), then released.
    pub(super) fn settle_out(
        &mut self,
        ci: Option<usize>,
        slot: Arc<Slot<T>>,
        outcome: Outcome,
        attempt: u32,
        fx: &mut Effects<T>,
    ) {
        let verdict = match outcome {
            Outcome::Nack(Requeue::No) => Settle::Reject,
            _ if attempt >= self.max_attempts => Settle::Reject,
            _ => Settle::Requeue,
        };
        if let Some(settle) = &self.settle {
            settle(slot.get(), verdict);
        }
        if let Some(ci) = ci {
            self.consumer(ci).stats.nacked += 1;
            self.totals.nacked += 1;
        }
        if verdict == Settle::Reject {
            self.totals.dead_lettered += 1;
            if let Some(Some(c)) = ci.map(|ci| &mut self.consumers[ci]) {
                c.stats.dead_lettered += 1;
            }
        }
        self.release(slot, fx);
    }

    /// Takes the live window entry `token` names out of consumer `ci`'s
    /// window.
    pub(super) fn settle(&mut self, ci: usize, token: Token) -> Option<(usize, InFlight<T>)> {
        let Some(Some(c)) = self.consumers.get_mut(ci) else {
            return None;
        };
        let entry = c.window.get_mut(token.window)?;
        if entry.as_ref().is_none_or(|f| f.tag != token.tag) {
            return None;
        }
        let flight = entry.take()?;
        c.free.push(token.window);
        let rank = c.rank;
        self.ranks[rank].unacked -= 1;
        self.in_flight -= 1;
        Some((ci, flight))
    }

    pub(super) fn release_or_take(
        &mut self,
        slot: Arc<Slot<T>>,
        take: bool,
        fx: &mut Effects<T>,
    ) -> Option<T> {
        if take {
            self.release_take(slot, fx)
        } else {
            self.release(slot, fx);
            None
        }
    }

    /// Hands a slot clone back. If it was the last one, the message is
    /// dropped (after the lock, through `fx`) or, if it was marked for the
    /// dead-letter mailbox, sent there; the slot goes back to the pool.
    #[inline]
    pub(in crate::dispatch) fn release(&mut self, slot: Arc<Slot<T>>, fx: &mut Effects<T>) {
        if let Some(msg) = self.release_take(slot, fx) {
            self.bury(msg, fx);
        }
    }

    /// [`release`](Self::release), but the message of a last clone is
    /// returned instead of dropped.
    #[inline(always)]
    pub(in crate::dispatch) fn release_take(
        &mut self,
        mut slot: Arc<Slot<T>>,
        fx: &mut Effects<T>,
    ) -> Option<T> {
        let msg = self.swap_unique(&mut slot, None)?;
        // Unique: a plain load, and a store only if set (rare, out of
        // line), rather than a read-modify-write on every message.
        if slot.dead.load(Ordering::Relaxed) {
            self.release_dead(slot, msg, fx);
            return None;
        }
        self.pool.push(slot);
        msg
    }

    /// [`release_take`](Self::release_take) of the last clone of a message
    /// marked for the dead-letter mailbox: sends it there.
    #[cold]
    #[inline(never)]
    fn release_dead(&mut self, slot: Arc<Slot<T>>, msg: Option<T>, fx: &mut Effects<T>) {
        slot.dead.store(false, Ordering::Relaxed);
        self.dead_marked -= 1;
        self.pool.push(slot);
        if let Some(msg) = msg {
            self.send_dead(None, msg, fx);
        }
    }

    /// Sends a message to the dead-letter mailbox now if no one else holds
    /// it, else marks it for the last holder to send.
    pub(super) fn dead_letter(
        &mut self,
        ci: Option<usize>,
        mut slot: Arc<Slot<T>>,
        fx: &mut Effects<T>,
    ) {
        let Some(msg) = self.swap_unique(&mut slot, None) else {
            if slot.dead.swap(true, Ordering::Relaxed) {
                // Already marked by another holder (a broadcast copy): one
                // message can be dead-lettered once.
                self.count_dropped(ci);
            } else {
                // The last holder sends it; its ack must take the lock
                // (`sync_hot`).
                self.dead_marked += 1;
            }
            return;
        };
        // The last holder: a mark another holder left is spent by this
        // send, and must not stay on the slot for its next message.
        if slot.dead.load(Ordering::Relaxed) {
            slot.dead.store(false, Ordering::Relaxed);
            self.dead_marked -= 1;
        }
        self.pool.push(slot);
        if let Some(msg) = msg {
            self.send_dead(ci, msg, fx);
        }
    }

    /// Has `msg` dropped after the lock is released (its `Drop` may call
    /// back into the dispatcher), or now if dropping it does nothing.
    pub(super) fn bury(&mut self, msg: T, fx: &mut Effects<T>) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        if fx.one.is_none() {
            *fx.one = Some(msg);
        } else {
            if fx.more.capacity() == 0 {
                *fx.more = core::mem::take(&mut self.graves);
            }
            fx.more.push(msg);
        }
    }

    /// Takes back the vector lent by `bury`, emptied outside the lock.
    pub(in crate::dispatch) fn return_graves(&mut self, graves: Vec<T>) {
        debug_assert!(graves.is_empty());
        if graves.capacity() > self.graves.capacity() {
            self.graves = graves;
        }
    }

    /// Has `msg` offered to the dead-letter mailbox without waiting once
    /// the lock is released ([`count_dead`](Self::count_dead) then counts
    /// it), or dropped and counted if there is none.
    pub(super) fn send_dead(&mut self, ci: Option<usize>, msg: T, fx: &mut Effects<T>) {
        let Some(tx) = &self.dead_letter else {
            self.count_dropped(ci);
            self.bury(msg, fx);
            return;
        };
        if fx.sink.is_none() {
            fx.sink = Some(tx.clone());
        }
        let who = ci.and_then(|ci| Some((ci, self.consumers.get(ci)?.as_ref()?.id)));
        fx.dead.push((who, msg));
    }

    /// Counts a dead letter offered after the lock was released: sent, or
    /// refused by a full or closed mailbox (dropped). `who` is the consumer
    /// it is counted for, if that consumer is still the one in its slot.
    pub(in crate::dispatch) fn count_dead(&mut self, who: Option<(usize, u64)>, sent: bool) {
        let ci = who.and_then(|(ci, id)| match self.consumers.get(ci) {
            Some(Some(c)) if c.id == id => Some(ci),
            _ => None,
        });
        if sent {
            self.totals.dead_lettered += 1;
            if let Some(ci) = ci {
                self.consumer(ci).stats.dead_lettered += 1;
            }
        } else {
            self.count_dropped(ci);
        }
    }

    pub(super) fn count_dropped(&mut self, ci: Option<usize>) {
        self.totals.dropped += 1;
        if let Some(Some(c)) = ci.map(|ci| &mut self.consumers[ci]) {
            c.stats.dropped += 1;
        }
    }
}
