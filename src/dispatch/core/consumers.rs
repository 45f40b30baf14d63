//! Consumers: subscribing and unsubscribing, `recv`'s side of the core,
//! and per-consumer settings.

use super::{
    Acks, ConsumerState, Core, Counters, Dirty, Effects, Entry, Fifo, Outcome, Rank, Received,
    SlotRef, Strategy, Subscription,
};
use crate::sync::Arc;
use core::task::{Poll, Waker};
use std::collections::VecDeque;

impl<T> Core<T> {
    /// Adds a consumer; returns its slab index, id and, if its deliveries
    /// may ack without the lock, its ack word.
    pub(in crate::dispatch) fn subscribe(
        &mut self,
        sub: &Subscription,
    ) -> (usize, u64, Option<Arc<Acks>>) {
        let id = self.next_id;
        self.next_id += 1;
        // A late subscriber to a broadcast only gets later messages; the
        // first one gets what waited for anyone.
        let cursor = if self.ranks.is_empty() {
            self.log_base
        } else {
            self.log_base + self.backlog.len() as u64
        };
        let ci = self.vacant.pop().unwrap_or(self.consumers.len());
        let state = ConsumerState {
            id,
            // Set below, once it is ranked.
            rank: 0,
            priority: sub.priority,
            auto_ack: sub.auto_ack,
            window: Vec::with_capacity(sub.prefetch.min(4096)),
            free: Vec::with_capacity(sub.prefetch.min(4096)),
            ready: Fifo::with_capacity(sub.prefetch.min(4096)),
            waker: None,
            cursor,
            redo: VecDeque::new(),
            stats: Counters::default(),
            // `HOT` until the end of this operation decides (`sync_hot`).
            acks: Arc::new(Acks::new(
                true,
                self.strategy == Strategy::Adaptive,
                &self.pending,
                ci,
            )),
            hot: true,
        };
        // Auto-ack deliveries are settled by `recv`. A message with drop
        // glue must be dropped by its ack, not by whichever operation
        // collects a lock-free ack later: those acks take the lock.
        let lazy = !sub.auto_ack && !::core::mem::needs_drop::<T>();
        let acks = lazy.then(|| Arc::clone(&state.acks));
        self.hot_dirty = Dirty::All;
        if ci == self.consumers.len() {
            self.consumers.push(Some(state));
        } else {
            self.consumers[ci] = Some(state);
        }
        if let Some(acks) = &acks {
            self.lazy.push((ci, Arc::clone(acks)));
        }
        let at = self
            .ranks
            .iter()
            .position(|r| r.priority < sub.priority)
            .unwrap_or(self.ranks.len());
        self.ranks.insert(
            at,
            Rank {
                ci,
                priority: sub.priority,
                prefetch: sub.prefetch,
                limit: sub.prefetch,
                unacked: 0,
                turn: 0,
                weight: sub.weight,
                // Under Adaptive, computed before it is used
                // (`weights_for` is cleared below).
                swrr: i64::from(sub.weight),
                current: 0,
                acked_at: 0,
                mean_ns: 0.0,
                weighed_ns: 0.0,
            },
        );
        self.renumber();
        self.weights_for = None;
        self.reserve_slots();
        (ci, id, acks)
    }

    /// Grows the slot pool and the backlog up front to what the consumers'
    /// prefetch and the capacity can keep live at once (requeues can push
    /// the backlog past its capacity), so that later peaks do not allocate.
    fn reserve_slots(&mut self) {
        let prefetch: usize = self.ranks.iter().map(|r| r.prefetch.min(4096)).sum();
        let want = self.capacity.min(1024) + prefetch;
        self.pool.reserve(want.saturating_sub(self.pool.len()));
        self.backlog
            .reserve(want.saturating_sub(self.backlog.len()));
    }

    /// Removes consumer `ci`. Its deliveries, received or not and alive or
    /// not, go back to the front of the backlog in their original order
    /// (under Broadcast its copies are released instead: the other
    /// consumers have their own).
    pub(in crate::dispatch) fn unsubscribe(&mut self, ci: usize, fx: &mut Effects<T>) {
        self.retire_acks(ci, fx);
        let Some(mut c) = self.consumers.get_mut(ci).and_then(Option::take) else {
            return;
        };
        // A waker left by a leaked `recv` is dropped after unlocking.
        fx.retire(c.waker.take());
        self.vacant.push(ci);
        let rank = self.ranks.remove(c.rank);
        self.renumber();
        self.lazy.retain(|&(o, _)| o != ci);
        self.weights_for = None;
        if self.strategy == Strategy::Adaptive {
            // The fastest may have left: the others' windows grow.
            self.adapt_limits();
        }
        self.in_flight -= rank.unacked;
        // Never handed out: not received (their refs lent, and give up,
        // nothing).
        while let Some(ready) = c.ready.pop_front() {
            let Some(token) = ready.token else {
                unreachable!("dispatch: a ready delivery without a token")
            };
            if let Some(Some(flight)) = c.window.get_mut(token.window) {
                flight.received = false;
            }
        }
        if self.broadcast() {
            for flight in c.window.drain(..).flatten() {
                if flight.received {
                    // Its delivery lives on, stale: it needs a count now.
                    SlotRef::give_count(&flight.slot);
                }
                self.release(flight.slot, fx);
            }
            for entry in c.redo.drain(..) {
                self.release(entry.slot, fx);
            }
            self.trim_log(fx);
            return;
        }
        // Newest first, each pushed to the front: the oldest ends first.
        while let Some(at) = (0..c.window.len())
            .filter(|&at| c.window[at].is_some())
            .max_by_key(|&at| c.window[at].as_ref().map_or(0, |f| f.tag.get()))
        {
            let Some(flight) = c.window[at].take() else {
                break;
            };
            if flight.received {
                // Its delivery lives on, stale: it needs a count now.
                SlotRef::give_count(&flight.slot);
            }
            let attempt = if flight.received {
                flight.attempt
            } else {
                flight.attempt - 1
            };
            if flight.received && self.settle.is_some() {
                self.settle_out(None, flight.slot, Outcome::Dropped, flight.attempt, fx);
            } else if flight.received && attempt >= self.max_attempts {
                self.dead_letter(None, flight.slot, fx);
            } else {
                self.backlog.push_front(Entry {
                    slot: flight.slot,
                    attempt,
                });
            }
        }
    }

    /// `recv`'s core: the next delivery assigned to `ci`, `None` once
    /// drained, or `Pending` with `waker` stored.
    ///
    /// Unless auto-ack, every other delivery ready for `ci` is moved to
    /// `more` (the consumer's empty buffer) as well, in one swap of the
    /// queues, so that the consumer's next `recv`s need no lock: the caller
    /// keeps them in order and, if it is dropped first, hands them back
    /// with [`unreceive`](Self::unreceive) before unsubscribing. Auto-ack deliveries are settled by `recv` (taking
    /// several would free credit early), so those go one at a time.
    /// Adaptive times a delivery from when the consumer hands it to the
    /// application or from its previous ack, whichever is later (see
    /// `time_ack`), so taking several at once does not inflate its
    /// samples.
    pub(in crate::dispatch) fn poll_recv(
        &mut self,
        ci: usize,
        waker: Option<&Waker>,
        more: &mut Fifo<Received<T>>,
        fx: &mut Effects<T>,
    ) -> Poll<Option<Received<T>>> {
        let c = self.consumer(ci);
        if c.auto_ack {
            if let Some(first) = self.take_auto_ack(ci) {
                return Poll::Ready(Some(first));
            }
        } else if !c.ready.is_empty() {
            debug_assert!(more.is_empty(), "dispatch: recv with a buffer");
            core::mem::swap(&mut c.ready, more);
            if let Some(first) = more.pop_front() {
                return Poll::Ready(Some(first));
            }
        }
        if self.drained(ci) {
            return Poll::Ready(None);
        }
        if let Some(waker) = waker {
            let c = self.consumer(ci);
            match &c.waker {
                Some(old) if old.will_wake(waker) => {}
                _ => {
                    // The old waker is dropped after unlocking: it may own
                    // a delivery of this dispatcher.
                    let old = c.waker.replace(waker.clone());
                    fx.retire(old);
                    self.mark_dirty(ci);
                }
            }
        }
        Poll::Pending
    }

    /// Hands out, acked, the oldest delivery ready for auto-ack consumer
    /// `ci`, if any: its window's clone moves into it.
    fn take_auto_ack(&mut self, ci: usize) -> Option<Received<T>> {
        let c = self.consumer(ci);
        let ready = c.ready.pop_front()?;
        let Some(token) = ready.token else {
            unreachable!("dispatch: a ready delivery without a token")
        };
        let Some(flight) = c.window[token.window].take() else {
            unreachable!("dispatch: ready entry is vacant")
        };
        self.count_ack(ci, token.window, &flight.slot);
        Some(Received {
            slot: SlotRef::own(flight.slot),
            token: None,
            attempt: flight.attempt,
        })
    }

    /// A delivery that `poll_recv` moved to its consumer's buffer was never
    /// handed to the application (its consumer is being dropped): it counts
    /// as not received, so its requeue does not spend an attempt, and its
    /// entry no longer lends it anything.
    pub(in crate::dispatch) fn unreceive(
        &mut self,
        ci: usize,
        received: Received<T>,
        fx: &mut Effects<T>,
    ) {
        let live = received.token.is_some_and(|token| {
            let Some(Some(c)) = self.consumers.get_mut(ci) else {
                return false;
            };
            match c.window.get_mut(token.window) {
                Some(Some(flight)) if flight.tag == token.tag => {
                    flight.received = false;
                    true
                }
                _ => false,
            }
        });
        if !live {
            // SAFETY: a ref without a live token owns its count (see
            // `slot`); a live one was lent by its entry and is given up.
            let slot = unsafe { received.slot.into_owned() };
            self.release(slot, fx);
        }
    }

    /// A pending `recv` was dropped.
    pub(in crate::dispatch) fn clear_waker(&mut self, ci: usize, fx: &mut Effects<T>) {
        let old = self.consumer(ci).waker.take();
        fx.retire(old);
        self.mark_dirty(ci);
    }

    pub(in crate::dispatch) fn set_prefetch(&mut self, ci: usize, prefetch: usize) {
        let rank = self.rank(ci);
        rank.prefetch = prefetch;
        rank.limit = prefetch;
        if self.strategy == Strategy::Adaptive {
            self.adapt_limits();
        }
        self.reserve_slots();
    }

    pub(in crate::dispatch) fn set_weight(&mut self, ci: usize, weight: u32) {
        let adaptive = self.strategy == Strategy::Adaptive;
        let rank = self.rank(ci);
        rank.weight = weight;
        if !adaptive {
            rank.swrr = i64::from(weight);
        }
        self.weights_for = None;
    }

    pub(in crate::dispatch) fn prefetch(&mut self, ci: usize) -> usize {
        self.rank(ci).prefetch
    }

    /// Consumer `ci`'s rank.
    pub(super) fn rank(&mut self, ci: usize) -> &mut Rank {
        let at = self.consumer(ci).rank;
        &mut self.ranks[at]
    }

    /// Points every consumer at its rank again, after ranks moved.
    fn renumber(&mut self) {
        for (at, r) in self.ranks.iter().enumerate() {
            if let Some(Some(c)) = self.consumers.get_mut(r.ci) {
                c.rank = at;
            }
        }
    }
}
