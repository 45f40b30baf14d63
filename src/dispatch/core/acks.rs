//! Acks without the lock.
//!
//! A plain [`ack`](crate::dispatch::Delivery::ack) that nobody waits on,
//! of a message without drop glue (one with drop glue is dropped by its
//! ack: those consumers have no ack word in `Core::lazy`), does not take
//! the core's mutex: it sets its window index's bit in its
//! consumer's [`Acks`] word, and the next locked operation (any publish,
//! `recv`, ack, stats, ...) collects the bit and settles the delivery. Only
//! its effect on credit is deferred, and only while no one could be waiting
//! for it, so no contract changes:
//!
//! - A consumer never holds more than its prefetch: the core counts a
//!   pending ack as still unacked, which errs on the safe side.
//! - Counts are exact when read: `stats` is a locked operation and collects
//!   first.
//! - An ack frees credit only of its own consumer. While the backlog is not
//!   empty, every other consumer is out of credit (each locked operation
//!   assigns until none has any), so deferring the ack delays only this
//!   consumer's next assignment and the backlog room it makes. Whoever could
//!   wait for those — a publisher waiting for room, this consumer's own
//!   pending `recv`, a `recv` waiting for the end after close — registers
//!   under the lock, and the word's `HOT` bit says so: an ack that finds it
//!   set takes the lock as before.
//! - A broadcast message one consumer dead-lettered while others still
//!   hold it is sent to the dead-letter mailbox by its last holder's
//!   release. While any such message waits, every consumer is `HOT`, so
//!   that release happens at the ack, not at some later operation.
//! - Adaptive's timing stays exact: an ack records when its delivery was
//!   handed out and when it was acked (both read before anything else) in
//!   its window index's [`Stamp`], and the core times the acks it collects
//!   in the order they were made, as it would have under the lock.
//!
//! # The word
//!
//! One `AtomicU64` per consumer instance:
//!
//! - bits `0..62`: bit `i` set means the delivery at window index `i` was
//!   acked, and the pointer its window entry lent it given up (the core
//!   releases the entry's clone); windows past index 61 ack under the lock;
//! - [`HOT`]: set under the lock while someone waits on this consumer's
//!   acks; a delivery that sees it does not set its bit;
//! - [`CLOSED`]: set under the lock when the consumer is dropped (never
//!   cleared); a delivery that sees it is stale and takes the lock, where
//!   its ack does nothing.
//!
//! Transitions: a delivery sets its bit with one CAS from a word without
//! `HOT` or `CLOSED` (release: publishes its reads of the message, which
//! the slot's next write must follow; acquire too, see [`Pending`]). Under
//! the lock the core clears bits it collects (acquire and release), sets
//! or clears `HOT`, and sets `CLOSED`; setting a flag is a
//! swap that also collects every bit set before it, so a bit is either
//! collected by the operation that set the flag or never set at all. That
//! single word is why no fence is needed: a waiter's registration and an
//! ack are ordered by the word's modification order. A delivery writes its
//! stamp (relaxed) before the CAS that sets its bit, and the core reads it
//! after the acquire that collects the bit: the bit publishes the stamp.
//! Stamp `i` is written only by the live delivery at window index `i`, and
//! read only for a collected bit, before the index is reused.
//!
//! # Which words to collect
//!
//! Every locked operation collects, and most find nothing: rather than
//! read every consumer's word each time, the core reads one [`Pending`]
//! mask, in which an ack raises its consumer's bit (slab index modulo 64)
//! after setting its own. The core takes the mask (a swap to 0, acquire)
//! and then collects the words of the consumers it names with a
//! read-modify-write each (acquire and release, never a plain peek).
//!
//! Why an ack is never left behind with its mask bit clear: an ack reads
//! the mask after its CAS, and raises the bit (release) unless it is set.
//! If it reads the bit set, the first take of that bit after it (in the
//! mask's modification order) collects the word after the ack's CAS: were
//! that collection earlier in the word's order, the ack's CAS (acquire)
//! would read from it (release, or a read-modify-write after it), so the
//! take before it would happen before the ack's read of the mask, which
//! could then not see the bit as it was before the take. If it raises the
//! bit, the take that clears it reads the raise (acquire): the ack's CAS
//! happens before that collection. And an operation that happens after
//! an ack sees the bit set (and collects after the CAS), or cleared by a
//! take before it (which collected it, under the lock, before).

use super::{Core, Dirty, Effects};
use crate::dispatch::Strategy;
use crate::sync::{Arc, AtomicU64, Ordering};

/// Bits of window indices that can be acked without the lock.
pub(super) const LAZY_SLOTS: usize = 62;

const INDICES: u64 = (1 << LAZY_SLOTS) - 1;

/// Someone waits on this consumer's acks: they take the lock.
const HOT: u64 = 1 << 62;

/// The consumer is gone: its deliveries are stale.
const CLOSED: u64 = 1 << 63;

/// The lock-free ack word of one consumer instance; shared by the core's
/// consumer state, the `Consumer` and its deliveries. See the module docs.
#[derive(Debug)]
pub(in crate::dispatch) struct Acks {
    word: AtomicU64,
    /// The dispatcher's mask, and this consumer's bit in it.
    pending: Arc<Pending>,
    bit: u64,
    /// Adaptive: one per window index with a bit (empty otherwise).
    stamps: Box<[Stamp]>,
}

/// Adaptive: when the delivery acked without the lock at one window index
/// was handed out by `recv` and when it was acked (clock readings, ns).
#[derive(Debug)]
struct Stamp {
    handed_at: AtomicU64,
    acked_at: AtomicU64,
}

impl Acks {
    /// A word for a new consumer at slab index `ci`: `HOT` if every ack
    /// must take the lock; with stamps if its acks are timed (Adaptive).
    pub(super) fn new(hot: bool, timed: bool, pending: &Arc<Pending>, ci: usize) -> Self {
        let stamps = if timed { LAZY_SLOTS } else { 0 };
        Self {
            word: AtomicU64::new(if hot { HOT } else { 0 }),
            pending: Arc::clone(pending),
            bit: Pending::bit(ci),
            stamps: (0..stamps)
                .map(|_| Stamp {
                    handed_at: AtomicU64::new(0),
                    acked_at: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Adaptive: records the times of the delivery at window index `at`,
    /// handed out at `handed_at` and acked at `acked_at`, before
    /// [`try_ack`](Self::try_ack) publishes them (no-op past the stamps).
    #[inline]
    pub(in crate::dispatch) fn stamp(&self, at: usize, handed_at: u64, acked_at: u64) {
        if let Some(stamp) = self.stamps.get(at) {
            stamp.handed_at.store(handed_at, Ordering::Relaxed);
            stamp.acked_at.store(acked_at, Ordering::Relaxed);
        }
    }

    /// Adaptive: the times stamped at window index `at`, whose bit the
    /// caller collected (with acquire).
    fn stamped(&self, at: usize) -> (u64, u64) {
        let stamp = &self.stamps[at];
        (
            stamp.handed_at.load(Ordering::Relaxed),
            stamp.acked_at.load(Ordering::Relaxed),
        )
    }

    /// Marks window index `at` acked unless the word is `HOT` or `CLOSED`
    /// (or `at` has no bit). On `true` the ack is done: the caller must
    /// not read the message any more, as the core releases its slot.
    ///
    /// The caller keeps the word alive until this returns: once the bit
    /// is set, the consumer may be dropped, and this still raises the
    /// [`Pending`] mask through the word's fields.
    #[inline]
    pub(in crate::dispatch) fn try_ack(&self, at: usize) -> bool {
        if at >= LAZY_SLOTS {
            return false;
        }
        let bit = 1u64 << at;
        let mut cur = self.word.load(Ordering::Relaxed);
        loop {
            if cur & (HOT | CLOSED) != 0 {
                return false;
            }
            debug_assert_eq!(cur & bit, 0, "dispatch: window index acked twice");
            match self.word.compare_exchange_weak(
                cur,
                cur | bit,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.pending.raise(self.bit);
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Whether a delivery can skip the attempt (a cheap, racy peek).
    #[inline]
    pub(in crate::dispatch) fn looks_hot(&self) -> bool {
        self.word.load(Ordering::Relaxed) & (HOT | CLOSED) != 0
    }

    /// Under the lock, once its bit was taken from the [`Pending`] mask:
    /// takes the acked indices (bits `0..62`). Always a read-modify-write,
    /// release too (see the module docs): a plain peek could miss an ack
    /// that then finds the mask bit still set and does not raise it.
    #[inline]
    pub(super) fn collect(&self) -> u64 {
        self.word.fetch_and(!INDICES, Ordering::AcqRel) & INDICES
    }

    /// Under the lock: sets or clears `HOT`; returns indices acked before
    /// it was set, to settle now.
    pub(super) fn set_hot(&self, hot: bool) -> u64 {
        if hot {
            self.word.swap(HOT, Ordering::Acquire) & INDICES
        } else {
            self.word.fetch_and(!HOT, Ordering::Relaxed);
            0
        }
    }

    /// Under the lock, when the consumer is dropped: sets `CLOSED`; returns
    /// indices acked before, to settle now.
    pub(super) fn close(&self) -> u64 {
        self.word.swap(CLOSED, Ordering::Acquire) & INDICES
    }
}

/// Which consumers' ack words may hold acks: bit `ci % 64` for the
/// consumer at slab index `ci`. One per dispatcher, shared by the core
/// and every ack word. See the module docs.
#[derive(Debug, Default)]
pub(in crate::dispatch) struct Pending(AtomicU64);

impl Pending {
    fn bit(ci: usize) -> u64 {
        1 << (ci % 64)
    }

    /// After an ack set its bit in its consumer's word: makes sure the
    /// consumer's bit is set here.
    #[inline]
    fn raise(&self, bit: u64) {
        if self.0.load(Ordering::Relaxed) & bit == 0 {
            self.0.fetch_or(bit, Ordering::Release);
        }
    }

    /// Under the lock: takes the mask (0 if none is set: a plain load).
    /// A stale 0 only misses acks made concurrently, not before: what
    /// happens before this load is seen (its raise, or the take that
    /// cleared it and collected the ack).
    #[inline]
    fn take(&self) -> u64 {
        if self.0.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.take_now()
    }

    /// [`take`](Self::take) without the peek.
    fn take_now(&self) -> u64 {
        self.0.swap(0, Ordering::Acquire)
    }
}

impl<T> Core<T> {
    /// Settles the acks every consumer made without the lock. Every locked
    /// operation starts with this, so what it reads or assigns is exact.
    /// Returns whether there were any (the caller pumps).
    pub(in crate::dispatch) fn collect_acks(&mut self, fx: &mut Effects<T>) -> bool {
        // Most operations find none: one load of the mask says so.
        let mask = self.pending.take();
        if mask == 0 {
            return false;
        }
        let mut settled = false;
        for i in 0..self.lazy.len() {
            let (ci, ref acks) = self.lazy[i];
            if acks.bit & mask == 0 {
                continue;
            }
            let bits = acks.collect();
            if bits != 0 {
                self.settle_lazy(ci, bits, fx);
                settled = true;
            }
        }
        settled
    }

    /// Makes each consumer's `HOT` flag say whether anyone waits on its
    /// acks; returns whether that settled acks made before it was set (the
    /// caller pumps again).
    #[inline]
    pub(in crate::dispatch) fn sync_hot(&mut self, fx: &mut Effects<T>) -> bool {
        // A settle hook (the RabbitMQ bridge) must see each ack when it
        // happens, not at the next locked operation: its acks stay locked.
        // So must the last holder of a broadcast message marked for the
        // dead-letter mailbox, which its ack sends.
        let all = self.closed
            || !self.publishers.is_empty()
            || self.settle.is_some()
            || self.dead_marked > 0;
        if all == self.hot_all && self.hot_dirty == Dirty::None {
            return false;
        }
        self.resync_hot(all, fx)
    }

    /// Notes that consumer `ci`'s `recv` waker was set or taken: its `HOT`
    /// flag may be stale.
    #[inline]
    pub(super) fn mark_dirty(&mut self, ci: usize) {
        self.hot_dirty = match self.hot_dirty {
            Dirty::None => Dirty::One(ci),
            Dirty::One(one) if one == ci => Dirty::One(ci),
            _ => Dirty::All,
        };
    }

    /// [`sync_hot`](Self::sync_hot) when something changed: every
    /// consumer's flag if `all` changed, else only those marked dirty.
    fn resync_hot(&mut self, all: bool, fx: &mut Effects<T>) -> bool {
        let dirty = if all == self.hot_all {
            self.hot_dirty
        } else {
            Dirty::All
        };
        self.hot_all = all;
        self.hot_dirty = Dirty::None;
        let range = match dirty {
            Dirty::None => 0..0,
            Dirty::One(ci) => ci..ci + 1,
            Dirty::All => 0..self.consumers.len(),
        };
        let mut settled = false;
        for ci in range {
            let Some(Some(c)) = self.consumers.get_mut(ci) else {
                continue;
            };
            let want = all || c.waker.is_some();
            if want != c.hot {
                c.hot = want;
                let bits = c.acks.set_hot(want);
                if bits != 0 {
                    self.settle_lazy(ci, bits, fx);
                    settled = true;
                }
            }
        }
        settled
    }

    /// Consumer `ci` is being dropped: settles its last lock-free acks and
    /// makes every later one stale.
    pub(super) fn retire_acks(&mut self, ci: usize, fx: &mut Effects<T>) {
        if let Some(Some(c)) = self.consumers.get(ci) {
            let bits = c.acks.close();
            self.settle_lazy(ci, bits, fx);
        }
    }

    /// Acks the deliveries of `ci` at the window indices set in `bits`;
    /// under Adaptive, timed in the order they were acked.
    fn settle_lazy(&mut self, ci: usize, mut bits: u64, fx: &mut Effects<T>) {
        let adaptive = self.strategy == Strategy::Adaptive;
        if self.settle.is_none() {
            // Timing does not depend on the windows, nor settling on the
            // timing: the acks are timed in order, then settled together.
            let moved = adaptive && self.time_lazy(ci, bits);
            self.settle_lazy_bits(ci, bits, fx);
            if moved {
                self.adapt_limits();
            }
            return;
        }
        // The settle hook sees each ack in the order it was made.
        if !adaptive {
            while bits != 0 {
                let at = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                self.settle_lazy_at(ci, at, fx);
            }
            return;
        }
        // (acked_at, handed_at, window index), oldest ack first, in a
        // vector kept for its capacity (at most `LAZY_SLOTS` entries).
        let mut acked = ::core::mem::take(&mut self.stamps);
        while bits != 0 {
            let at = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let (handed_at, acked_at) = self.consumer(ci).acks.stamped(at);
            acked.push((acked_at, handed_at, at));
        }
        acked.sort_unstable();
        let mut moved = false;
        for &(acked_at, handed_at, at) in &acked {
            self.settle_lazy_at(ci, at, fx);
            moved |= self.time_ack(ci, handed_at, acked_at);
        }
        if moved {
            self.adapt_limits();
        }
        acked.clear();
        self.stamps = acked;
    }

    /// Adaptive: times the acks of `ci` at the window indices set in
    /// `bits`, in the order they were made, from their stamps (read before
    /// the indices are settled and reused). Returns whether weights and
    /// windows must be computed again (see `time_ack`).
    fn time_lazy(&mut self, ci: usize, mut bits: u64) -> bool {
        if bits.is_power_of_two() {
            // One ack (the common case): nothing to order.
            let at = bits.trailing_zeros() as usize;
            let (handed_at, acked_at) = self.consumer(ci).acks.stamped(at);
            return self.time_ack(ci, handed_at, acked_at);
        }
        // (acked_at, handed_at, window index), oldest ack first, in a
        // vector kept for its capacity (at most `LAZY_SLOTS` entries).
        let mut acked = ::core::mem::take(&mut self.stamps);
        let acks = &self.consumer(ci).acks;
        while bits != 0 {
            let at = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let (handed_at, acked_at) = acks.stamped(at);
            acked.push((acked_at, handed_at, at));
        }
        acked.sort_unstable();
        let mut moved = false;
        for &(acked_at, handed_at, _) in &acked {
            moved |= self.time_ack(ci, handed_at, acked_at);
        }
        acked.clear();
        self.stamps = acked;
        moved
    }

    /// Acks the deliveries of `ci` at the window indices set in `bits`,
    /// without a settle hook: each entry is taken out and released, and the
    /// counts move once for all of them.
    fn settle_lazy_bits(&mut self, ci: usize, mut bits: u64, fx: &mut Effects<T>) {
        let mut n = 0;
        // Highest index first: `free` is a stack, so the next deliveries
        // take the indices lowest first, and their acks (in the order they
        // are made, mostly) come back in the order of their bits, which is
        // the order `time_lazy` sorts them into.
        while bits != 0 {
            let at = (u64::BITS - 1 - bits.leading_zeros()) as usize;
            bits &= !(1 << at);
            n += 1;
            let c = self.consumer(ci);
            c.free.push(at);
            let slot = match c.window.get_mut(at).and_then(Option::take) {
                Some(flight) => {
                    debug_assert!(flight.received, "dispatch: acked before received");
                    flight.slot
                }
                None => unreachable!("dispatch: a lock-free ack of a vacant window entry"),
            };
            // Its delivery gave up the pointer this entry lent it before
            // publishing its bit (see `slot`).
            self.release(slot, fx);
        }
        let c = self.consumer(ci);
        c.stats.acked += n as u64;
        let rank = c.rank;
        self.ranks[rank].unacked -= n;
        self.in_flight -= n;
        self.totals.acked += n as u64;
    }

    /// Acks the delivery of `ci` at window index `at`.
    fn settle_lazy_at(&mut self, ci: usize, at: usize, fx: &mut Effects<T>) {
        let c = self.consumer(ci);
        let Some(flight) = c.window.get_mut(at).and_then(Option::take) else {
            unreachable!("dispatch: a lock-free ack of a vacant window entry")
        };
        debug_assert!(flight.received, "dispatch: acked before received");
        // Its delivery gave up the pointer this entry lent it before
        // publishing its bit (see `slot`).
        self.count_ack(ci, at, &flight.slot);
        self.release(flight.slot, fx);
    }
}

#[cfg(test)]
mod tests {
    use super::{Acks, HOT, INDICES, Pending};
    use crate::sync::{Arc, Ordering, model, thread};

    /// The core's collection: takes the mask, collects the word if its bit
    /// was set. Loom explores fewer stale reads of the mask after the
    /// plain load that `take` starts with, so the racing collection skips
    /// it (`peek` false) and the one after the acks uses it.
    fn collect(pending: &Pending, acks: &Acks, peek: bool) -> u64 {
        let mask = if peek {
            pending.take()
        } else {
            pending.take_now()
        };
        if mask & acks.bit == 0 {
            0
        } else {
            acks.collect()
        }
    }

    /// Two deliveries of one consumer ack without the lock on two threads
    /// while the core collects through the mask: each ack is collected
    /// exactly once, by the concurrent collection or by one made after
    /// both acks (never left with its mask bit clear, never taken twice).
    #[test]
    fn loom_acks_racing_collect_through_the_mask() {
        model(|| {
            let pending = Arc::new(Pending::default());
            let acks = Arc::new(Acks::new(false, false, &pending, 5));
            let ackers: Vec<_> = (0..2)
                .map(|at| {
                    let acks = Arc::clone(&acks);
                    thread::spawn(move || assert!(acks.try_ack(at)))
                })
                .collect();
            let during = collect(&pending, &acks, false);
            for acker in ackers {
                acker.join().unwrap();
            }
            let after = collect(&pending, &acks, true);
            assert_eq!(during & after, 0, "collected twice");
            assert_eq!(during | after, 0b11, "an ack was left behind");
        });
    }

    /// Adaptive: a delivery stamps its times and acks without the lock
    /// while the core collects (or sets `HOT`): whenever the core sees the
    /// bit, it reads the times written before it, never stale ones.
    #[test]
    fn loom_stamped_ack_racing_collect() {
        model(|| {
            let pending = Arc::new(Pending::default());
            let acks = Arc::new(Acks::new(false, true, &pending, 0));
            // A previous delivery at the same index left other times.
            acks.stamp(3, 1, 2);
            let delivery = {
                let acks = Arc::clone(&acks);
                thread::spawn(move || {
                    acks.stamp(3, 10, 20);
                    acks.try_ack(3)
                })
            };
            // Read as the core does: right after collecting the bit.
            let read = |bits: u64| (bits != 0).then(|| (bits, acks.stamped(3)));
            let first = read(acks.collect());
            let hot = read(acks.set_hot(true));
            let acked = delivery.join().unwrap();
            assert!(first.is_none() || hot.is_none(), "collected twice");
            let seen = first.or(hot);
            assert_eq!(seen.is_some(), acked, "an ack is collected iff it was made");
            if let Some((bits, stamped)) = seen {
                assert_eq!(bits, 1 << 3);
                assert_eq!(stamped, (10, 20));
            }
            assert_eq!(acks.word.load(Ordering::Relaxed) & INDICES, 0);
            assert_ne!(acks.word.load(Ordering::Relaxed) & HOT, 0);
        });
    }

    #[test]
    fn untimed_words_have_no_stamps() {
        let acks = Acks::new(false, false, &Arc::new(Pending::default()), 0);
        acks.stamp(0, 1, 2);
        assert!(acks.try_ack(0));
        assert_eq!(acks.collect(), 1);
    }
}
