//! Slot accounting: how many of the mailbox's `capacity` slots are in use
//! (buffered messages, pushes in flight, reserved permits), and the FIFO
//! queue of senders waiting for one.
//!
//! # Why not one credit word
//!
//! A credit semaphore keeps the free count in one word that the senders
//! decrement and the receiver increments: every message then moves that
//! cache line between the two sides twice, with a contended
//! compare-and-swap each time. Here the count is split the way a
//! single-producer ring splits `head` and `tail` (Lamport's queue, with
//! the "cached index" refinement of e.g. Rigtorp's `SPSCQueue`): the
//! senders count *acquisitions* in their word, the receiver counts
//! *releases* in its own, and
//!
//! ```text
//! used = acquired - released        (never above capacity)
//! ```
//!
//! A sender compares `acquired` with a recent value of `released` that the
//! senders keep beside their own word (`released_hint`, a lower bound of
//! the real one), and reads the receiver's word only when that says full.
//! So in the common case each side touches only its own lines: one
//! compare-and-swap for a sender, one `fetch_add` for the receiver.
//!
//! # Waiting senders
//!
//! A sender that finds the mailbox full queues in a FIFO [`WaitList`]
//! under a mutex and raises `WAITERS` in *both* words:
//!
//! - `WAITERS` in `tx` sends every new acquire to the queue (so nobody
//!   overtakes a waiter: [`try_acquire`](Slots::try_acquire) fails while
//!   anyone waits);
//! - `RX_WAITERS` in `rx` tells the receiver, whose release is a
//!   `fetch_add` that returns the flag with the old value, to serve the
//!   queue.
//!
//! # Why no wake-up is lost
//!
//! Every check that decides "full, so wait" or "nobody waits, so no one to
//! wake" is a read-modify-write on the *same* word as the change it races
//! with, so their modification order settles the race; no fence is needed:
//!
//! - *A pop frees a slot while a sender parks.* The parker sets
//!   `RX_WAITERS` with a `fetch_or` on `rx`, under the lock. A release
//!   ordered before the `fetch_or` shows in the count it returns (and if
//!   that leaves a slot free, the parker, first in line, takes it rather
//!   than wait); one ordered after it returns the flag and serves the
//!   queue itself (after the parker is queued, since it takes the lock).
//! - *A permit is dropped (or a granted waiter cancelled) while a sender
//!   parks.* That release is a `fetch_sub` on `tx`; the parker set
//!   `WAITERS` there by compare-and-swap. Whichever comes second sees the
//!   other.
//!
//! Serving the queue (`distribute`) runs under the lock: while the head
//! waiter exists and `used < capacity` (read fresh), it acquires a slot on
//! the waiter's behalf (compare-and-swap on `tx`), removes its node and
//! collects its waker. When the queue empties it clears both flags.
//!
//! Each waiter has a ticket (its place in line); grants go to the head,
//! so in ticket order, and `served` (one past the last granted ticket)
//! tells a woken sender that it holds a slot without taking the lock.
//!
//! # Memory order
//!
//! Every change of `tx` is a read-modify-write and every acquire is
//! `AcqRel`, made after the look at `released` (or the hint) that allowed
//! it; every load of `tx` is `Acquire` and comes before the look at `rx`.
//! So whoever reads a `tx` word also sees a `released` at least as new as
//! the ones that justified its acquisitions, and `used` computed from the
//! two is never above `capacity`. The other way round, `released` newer
//! than a stale `tx` word, shows as `used > capacity` (the difference
//! wraps) and is answered by loading `tx` again; a `released` that is read
//! after the `tx` word and still gives `used == capacity` means the
//! mailbox really was full when the word was read (`released` only grows).
//!
//! # Closing
//!
//! `close` sets `CLOSED` in `tx` (fast-path acquires see it in the word
//! they compare-and-swap), then drains the queue under the lock, waking
//! each waiter with the error. After `CLOSED`, `acquired` never grows, so
//! the receiver knows that every slot is back when `used == 0`.

use super::ring::CachePadded;
use crate::coop::Meter;
use crate::sync::{AtomicUsize, Mutex, Ordering};
use crate::waitlist::{Key, WaitList};
use core::task::{Context, Poll, Waker, ready};

/// `tx`: the mailbox is closed. Set once, never cleared.
const CLOSED: usize = 1;
/// `tx`: the wait queue is not empty. Changed only under the lock.
const WAITERS: usize = 1 << 1;
/// `tx`: one acquisition.
const TX_ONE: usize = 1 << 2;
/// `rx`: the wait queue is not empty. Changed only under the lock.
const RX_WAITERS: usize = 1;
/// `rx`: one release.
const RX_ONE: usize = 1 << 1;
/// Counts are compared modulo `2^62` (the width of `acquired`).
const COUNT_MASK: usize = usize::MAX >> 2;

/// Why a slot was not taken at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No free slot, or senders are waiting for one.
    Full,
    /// The mailbox is closed.
    Closed,
}

/// The senders' side: written by every acquire.
#[derive(Debug)]
struct TxSide {
    /// `acquired << 2 | WAITERS | CLOSED`.
    ///
    /// - `acquired` (wrapping): slots taken so far, by a send or a permit,
    ///   minus those given back unused (a dropped permit, a cancelled
    ///   granted waiter). Grows by compare-and-swap, only while
    ///   `used < capacity` and neither flag is set (or under the lock, for
    ///   the head waiter); shrinks by `fetch_sub`.
    /// - `WAITERS`: set with `RX_WAITERS` when a sender queues, cleared
    ///   when the queue empties, both under the lock.
    /// - `CLOSED`: set once by `close`.
    state: AtomicUsize,
    /// A value `released` had (so at most the current one): what the fast
    /// path compares with, so that senders read `rx` only when it says
    /// full. Refreshed by a sender that reads `rx`.
    released_hint: AtomicUsize,
}

/// A queued sender, by its ticket (see `Slots::served`).
#[derive(Debug)]
struct Waiter {
    ticket: usize,
}

/// The wait queue, under the lock.
#[derive(Debug)]
struct Queue {
    /// Linked: waiting, in ticket order. A granted waiter's node is removed
    /// by whoever grants it; a node left unlinked (and not granted) was
    /// closed, and its owner removes it.
    list: WaitList<Waiter>,
    /// The ticket of the next sender to queue.
    next_ticket: usize,
}

/// The slot count of one mailbox (see the module docs).
#[derive(Debug)]
pub(crate) struct Slots {
    tx: CachePadded<TxSide>,
    /// `released << 1 | RX_WAITERS`. `released` (wrapping) counts slots
    /// freed by the receiver's pops; it only grows, by `fetch_add`, so the
    /// releaser learns in the same step whether anyone waits.
    rx: CachePadded<AtomicUsize>,
    queue: Mutex<Queue>,
    /// One past the ticket of the last waiter granted a slot. Waiters are
    /// granted in ticket order (always the head of the queue), so a waiter
    /// holds a slot exactly when `served > ticket` (wrapping): a woken
    /// sender learns that without the lock. Stored under the lock.
    served: AtomicUsize,
    capacity: usize,
}

/// Result of queueing.
enum Enqueued {
    Acquired,
    Closed,
    Waiting(Key, usize),
}

/// Wakers collected under the lock and woken after it: a small batch,
/// since a release usually serves one waiter.
struct Wakes {
    wakers: [Option<Waker>; Self::CAPACITY],
    len: usize,
}

impl Wakes {
    const CAPACITY: usize = 4;

    fn new() -> Self {
        Self {
            wakers: [const { None }; Self::CAPACITY],
            len: 0,
        }
    }

    fn can_push(&self) -> bool {
        self.len < Self::CAPACITY
    }

    fn push(&mut self, waker: Option<Waker>) {
        if waker.is_some() {
            self.wakers[self.len] = waker;
            self.len += 1;
        }
    }

    fn wake_all(&mut self) {
        for waker in &mut self.wakers[..self.len] {
            if let Some(waker) = waker.take() {
                waker.wake();
            }
        }
        self.len = 0;
    }
}

impl Slots {
    pub(crate) fn new(capacity: usize) -> Self {
        debug_assert!(capacity > 0 && capacity <= COUNT_MASK);
        Self {
            tx: CachePadded(TxSide {
                state: AtomicUsize::new(0),
                released_hint: AtomicUsize::new(0),
            }),
            rx: CachePadded(AtomicUsize::new(0)),
            queue: Mutex::new(Queue {
                list: WaitList::new(),
                next_ticket: 0,
            }),
            served: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Slots in use, from a `tx` word and a `released` count no newer than
    /// the `tx` word's moment (so the result is never below the truth).
    #[inline]
    fn used(tx: usize, released: usize) -> usize {
        (tx >> 2).wrapping_sub(released) & COUNT_MASK
    }

    /// Takes a free slot if there is one and nobody waits for one.
    #[inline]
    pub(crate) fn try_acquire(&self) -> Result<(), Refused> {
        let state = &self.tx.state;
        let mut cur = state.load(Ordering::Acquire);
        loop {
            if cur & (CLOSED | WAITERS) != 0 {
                return Err(if cur & CLOSED != 0 {
                    Refused::Closed
                } else {
                    Refused::Full
                });
            }
            let hint = self.tx.released_hint.load(Ordering::Acquire);
            if Self::used(cur, hint) >= self.capacity {
                match self.refresh_hint(cur, hint) {
                    Some(true) => {}
                    Some(false) => return Err(Refused::Full),
                    None => {
                        cur = state.load(Ordering::Acquire);
                        continue;
                    }
                }
            }
            // AcqRel: see "Memory order" in the module docs.
            match state.compare_exchange_weak(
                cur,
                cur + TX_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Reads the receiver's count into the hint; whether that shows a free
    /// slot for the `tx` word `cur`, or `None` if `cur` is older than the
    /// count (it then shows more than `capacity` in use: reload it).
    ///
    /// `Some(false)` is a true "full": `cur` was loaded first and
    /// `released` only grows, so the mailbox was full when `cur` was read.
    #[cold]
    fn refresh_hint(&self, cur: usize, hint: usize) -> Option<bool> {
        let released = self.rx.load(Ordering::Acquire) >> 1;
        if released != hint {
            // A racing sender may store an older value: the hint then only
            // says "full" too early, and the next acquire reads `rx` again.
            self.tx.released_hint.store(released, Ordering::Release);
        }
        self.has_room(cur, released)
    }

    /// Whether a slot is free by `cur` and `released` (read after `cur`);
    /// `None` if `cur` is stale (see [`refresh_hint`](Self::refresh_hint)).
    #[inline]
    fn has_room(&self, cur: usize, released: usize) -> Option<bool> {
        let used = Self::used(cur, released);
        if used > self.capacity {
            None
        } else {
            Some(used < self.capacity)
        }
    }

    /// Returns `n` slots freed by the receiver's pops, serving waiting
    /// senders first.
    #[inline]
    pub(crate) fn release_popped(&self, n: usize) {
        if n == 0 {
            return;
        }
        // Release: a sender that reads the new count (Acquire) sees the
        // popped slots' stamps, so its push does not spin.
        let old = self.rx.fetch_add(n * RX_ONE, Ordering::AcqRel);
        if old & RX_WAITERS != 0 {
            self.serve();
        }
    }

    /// Returns a slot taken but never filled (a permit dropped unused),
    /// serving waiting senders first.
    pub(crate) fn release_unused(&self) {
        let old = self.tx.state.fetch_sub(TX_ONE, Ordering::AcqRel);
        if old & WAITERS != 0 {
            self.serve();
        }
    }

    /// Hands free slots to waiting senders, in order, and wakes them.
    #[cold]
    fn serve(&self) {
        let mut wakes = Wakes::new();
        loop {
            let mut queue = self.queue.lock();
            let more = self.distribute(&mut queue, &mut wakes);
            drop(queue);
            wakes.wake_all();
            if !more {
                return;
            }
        }
    }

    /// Under the lock: while a sender waits and a slot is free, acquires it
    /// for the head waiter, unlinks it and collects its waker; clears the
    /// flags once the queue is empty. Returns `true` if it stopped because
    /// `wakes` is full (the caller wakes those and calls again).
    fn distribute(&self, queue: &mut Queue, wakes: &mut Wakes) -> bool {
        let state = &self.tx.state;
        let mut cur = state.load(Ordering::Acquire);
        // The flag bits of both words change only under the lock, so the
        // ones read here stay true while we hold it.
        let mut rx = self.rx.load(Ordering::Acquire);
        while let Some(head) = queue.list.front() {
            if cur & CLOSED != 0 {
                // `close` drains the queue (it waits for our lock).
                return false;
            }
            if !wakes.can_push() {
                return true;
            }
            match self.has_room(cur, rx >> 1) {
                Some(true) => {}
                Some(false) => return false,
                None => {
                    cur = state.load(Ordering::Acquire);
                    rx = self.rx.load(Ordering::Acquire);
                    continue;
                }
            }
            match state.compare_exchange(cur, cur + TX_ONE, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    cur += TX_ONE;
                    wakes.push(self.grant(queue, head));
                    if queue.list.front().is_some() {
                        // More may have been released since we looked.
                        rx = self.rx.load(Ordering::Acquire);
                    }
                }
                Err(actual) => cur = actual,
            }
        }
        // The queue is empty: acquires may take the fast path again and
        // releases may skip `serve`.
        if cur & WAITERS != 0 {
            state.fetch_and(!WAITERS, Ordering::AcqRel);
        }
        if rx & RX_WAITERS != 0 {
            self.rx.fetch_and(!RX_WAITERS, Ordering::AcqRel);
        }
        false
    }

    /// Under the lock: the head waiter `head` now holds a slot (taken on
    /// its behalf or handed over). Removes its node and returns its waker.
    fn grant(&self, queue: &mut Queue, head: Key) -> Option<Waker> {
        let (Waiter { ticket }, waker) = queue.list.remove(head);
        self.served.store(ticket.wrapping_add(1), Ordering::Release);
        waker
    }

    /// Whether the waiter with `ticket` was granted a slot.
    #[inline]
    fn is_served(&self, ticket: usize) -> bool {
        (self.served.load(Ordering::Acquire).wrapping_sub(ticket) as isize) > 0
    }

    /// Under the lock, with the queue empty: lowers the flags (see
    /// `distribute`).
    fn clear_flags(&self) {
        if self.tx.state.load(Ordering::Relaxed) & WAITERS != 0 {
            self.tx.state.fetch_and(!WAITERS, Ordering::AcqRel);
        }
        if self.rx.load(Ordering::Relaxed) & RX_WAITERS != 0 {
            self.rx.fetch_and(!RX_WAITERS, Ordering::AcqRel);
        }
    }

    /// The slow path of an acquire: under the lock, take a free slot if
    /// nobody waits, or queue, raising both flags if we are the first.
    fn enqueue(&self, waker: &Waker) -> Enqueued {
        let mut queue = self.queue.lock();
        let state = &self.tx.state;
        let mut cur = state.load(Ordering::Acquire);
        let mut serve = false;
        loop {
            if cur & CLOSED != 0 {
                return Enqueued::Closed;
            }
            if cur & WAITERS != 0 {
                // Others wait: queue behind them. The flags are up, so every
                // release from then on serves the queue (after we unlock).
                break;
            }
            let released = self.rx.load(Ordering::Acquire) >> 1;
            let (new, room) = match self.has_room(cur, released) {
                Some(true) => (cur + TX_ONE, true),
                Some(false) => (cur | WAITERS, false),
                None => {
                    cur = state.load(Ordering::Acquire);
                    continue;
                }
            };
            if let Err(actual) =
                state.compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
            {
                cur = actual;
                continue;
            }
            if room {
                return Enqueued::Acquired;
            }
            // From here a release of a popped slot sees RX_WAITERS, and one
            // of an unused slot sees WAITERS (it would fail our CAS below),
            // so either serves the queue. A pop released before our
            // `fetch_or` shows in the count it returns.
            let released = self.rx.fetch_or(RX_WAITERS, Ordering::AcqRel) >> 1;
            if self.has_room(cur, released) == Some(true) {
                // Nobody else waits (WAITERS was clear): take that slot and
                // lower the flags again.
                if state
                    .compare_exchange(new, cur + TX_ONE, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    self.rx.fetch_and(!RX_WAITERS, Ordering::AcqRel);
                    return Enqueued::Acquired;
                }
                // `tx` changed under us: queue and serve it below.
                serve = true;
            }
            break;
        }
        let ticket = queue.next_ticket;
        queue.next_ticket = ticket.wrapping_add(1);
        let key = queue.list.push_back(Waiter { ticket }, waker.clone());
        if !serve {
            return Enqueued::Waiting(key, ticket);
        }
        let mut wakes = Wakes::new();
        let mut more = self.distribute(&mut queue, &mut wakes);
        let result = if self.is_served(ticket) {
            // Served at once (its node is gone; our own waker is in
            // `wakes`: one spurious wake-up, on a rare race).
            Enqueued::Acquired
        } else {
            Enqueued::Waiting(key, ticket)
        };
        drop(queue);
        wakes.wake_all();
        while more {
            let mut queue = self.queue.lock();
            more = self.distribute(&mut queue, &mut wakes);
            drop(queue);
            wakes.wake_all();
        }
        result
    }

    /// Polls a queued acquire: `Some(Ok)` once granted (its node is
    /// already gone), `Some(Err)` once closed (the node is freed), `None`
    /// while still queued. A granted waiter needs no lock to learn it.
    #[inline(never)]
    fn poll_waiter(&self, key: Key, ticket: usize, waker: &Waker) -> Option<Result<(), Refused>> {
        if self.is_served(ticket) {
            return Some(Ok(()));
        }
        // A waker replaced or freed here is dropped after the lock is
        // released: it may own a permit of this very mailbox.
        let (result, old_waker) = {
            let mut queue = self.queue.lock();
            if self.is_served(ticket) {
                return Some(Ok(()));
            }
            if queue.list.is_linked(key) {
                (None, queue.list.set_waker(key, waker))
            } else {
                // Unlinked and not granted: closed.
                let (_, old) = queue.list.remove(key);
                (Some(Err(Refused::Closed)), old)
            }
        };
        drop(old_waker);
        result
    }

    /// Drops a queued acquire. A slot already granted to it goes to the
    /// next waiter, or back to the pool: then returns `true` (the receiver
    /// may be waiting for every slot to come back after a close).
    fn cancel_waiter(&self, key: Key, ticket: usize) -> bool {
        let mut queue = self.queue.lock();
        if !self.is_served(ticket) {
            let (_, old_waker) = queue.list.remove(key);
            if queue.list.is_empty() {
                self.clear_flags();
            }
            drop(queue);
            // After unlocking: it may own a permit of this mailbox.
            drop(old_waker);
            return false;
        }
        if let Some(head) = queue.list.front() {
            // Hand the slot over as it is: `acquired` does not change.
            let waker = self.grant(&mut queue, head);
            if queue.list.is_empty() {
                self.clear_flags();
            }
            drop(queue);
            if let Some(waker) = waker {
                waker.wake();
            }
            return false;
        }
        // Nobody waits (so no flag is up): give it back under the lock.
        self.tx.state.fetch_sub(TX_ONE, Ordering::AcqRel);
        true
    }

    /// Closes: later acquires fail, waiting senders are woken with the
    /// error. Slots already held stay valid.
    pub(crate) fn close(&self) {
        self.tx.state.fetch_or(CLOSED, Ordering::AcqRel);
        let mut wakes = Wakes::new();
        loop {
            let mut queue = self.queue.lock();
            while wakes.can_push() {
                let Some(key) = queue.list.pop_front() else {
                    break;
                };
                wakes.push(queue.list.take_waker(key));
            }
            let done = queue.list.is_empty();
            if done {
                self.clear_flags();
            }
            drop(queue);
            wakes.wake_all();
            if done {
                return;
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tx.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Slots in use now: messages buffered or being pushed, permits held.
    /// Once closed it only falls, so `0` after a close is final.
    pub(crate) fn in_use(&self) -> usize {
        // `tx` first (see "Memory order"): after a close `acquired` only
        // falls and `released` only grows, so 0 here was true at the
        // second load, and stays true.
        let tx = self.tx.state.load(Ordering::Acquire);
        let released = self.rx.load(Ordering::Acquire) >> 1;
        Self::used(tx, released)
    }
}

/// Where a wait for a slot is: not yet tried, queued at `key`, or done.
#[derive(Debug, Clone, Copy)]
enum WaitState {
    Idle,
    Waiting(Key, usize),
    Done,
}

/// The state machine the mailbox's futures drive to get a slot: the fast
/// path first, then the FIFO queue.
#[derive(Debug)]
pub(crate) struct SlotWait {
    state: WaitState,
}

impl SlotWait {
    pub(crate) const fn new() -> Self {
        Self {
            state: WaitState::Idle,
        }
    }

    /// Polls for a slot; `Err(())` once the mailbox is closed first.
    ///
    /// Inlined: the first poll that finds a free slot is the per-message
    /// fast path; everything else is out of line in
    /// [`poll_slow`](Self::poll_slow).
    #[inline(always)]
    pub(crate) fn poll(
        &mut self,
        slots: &Slots,
        coop: &Meter,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ()>> {
        // Spend the task's cooperative budget (tokio feature), one unit per
        // `coop::OPS_PER_UNIT` slots taken through the handle, so a loop
        // whose sends always find room still lets other tasks run. Here
        // the unit spent last still pays: no `Budget` to carry. A refused
        // try takes nothing (the slow path tries again).
        if let WaitState::Idle = self.state {
            if coop.has_local() && slots.try_acquire().is_ok() {
                coop.spend_local();
                self.state = WaitState::Done;
                return Poll::Ready(Ok(()));
            }
        }
        self.poll_slow(slots, coop, cx)
    }

    /// The rest of [`poll`](Self::poll): a unit of tokio's budget to
    /// spend, the first try refused, or a later poll.
    #[inline(never)]
    fn poll_slow(
        &mut self,
        slots: &Slots,
        coop: &Meter,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ()>> {
        // On `Pending` a unit taken is given back when `budget` drops.
        let budget = ready!(coop.poll_proceed(cx));
        let result = match self.state {
            WaitState::Idle => match slots.try_acquire() {
                Ok(()) => Ok(()),
                Err(Refused::Closed) => Err(()),
                Err(Refused::Full) => match slots.enqueue(cx.waker()) {
                    Enqueued::Acquired => Ok(()),
                    Enqueued::Closed => Err(()),
                    Enqueued::Waiting(key, ticket) => {
                        self.state = WaitState::Waiting(key, ticket);
                        return Poll::Pending;
                    }
                },
            },
            WaitState::Waiting(key, ticket) => match slots.poll_waiter(key, ticket, cx.waker()) {
                Some(result) => result.map_err(|_| ()),
                None => return Poll::Pending,
            },
            WaitState::Done => panic!("slot wait polled after completion"),
        };
        coop.made_progress(&budget);
        self.state = WaitState::Done;
        Poll::Ready(result)
    }

    /// Leaves the queue if queued (a slot granted meanwhile goes to the
    /// next waiter or back to the pool); no-op otherwise. Returns `true` if
    /// a slot went back to the pool. Call it from the owner's `Drop`.
    #[inline]
    pub(crate) fn cancel(&mut self, slots: &Slots) -> bool {
        if let WaitState::Waiting(key, ticket) = self.state {
            self.state = WaitState::Done;
            return slots.cancel_waiter(key, ticket);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::{Meter, RX_WAITERS, SlotWait, Slots, WAITERS};
    use crate::sync::{Arc, Ordering, model, thread};
    use core::future::poll_fn;
    use core::task::{Context, Poll};

    fn block_on<R>(f: impl FnMut(&mut Context<'_>) -> Poll<R>) -> R {
        #[cfg(flowgate_loom)]
        return loom::future::block_on(poll_fn(f));
        #[cfg(not(flowgate_loom))]
        futures::executor::block_on(poll_fn(f))
    }

    /// Waits for a slot; `true` if granted, `false` if closed.
    fn wait(slots: &Slots) -> bool {
        let mut wait = SlotWait::new();
        block_on(|cx| wait.poll(slots, &Meter::new(), cx)).is_ok()
    }

    /// Nobody waits any more: both flags are down and the queue is empty.
    fn assert_no_waiters(slots: &Slots) {
        assert_eq!(slots.tx.state.load(Ordering::Acquire) & WAITERS, 0);
        assert_eq!(slots.rx.load(Ordering::Acquire) & RX_WAITERS, 0);
        assert!(slots.queue.lock().list.is_empty());
    }

    #[test]
    fn counts_and_refusals() {
        let slots = Slots::new(2);
        slots.try_acquire().unwrap();
        slots.try_acquire().unwrap();
        assert_eq!(slots.try_acquire(), Err(super::Refused::Full));
        assert_eq!(slots.in_use(), 2);
        slots.release_popped(1);
        slots.release_unused();
        assert_eq!(slots.in_use(), 0);
        slots.close();
        assert_eq!(slots.try_acquire(), Err(super::Refused::Closed));
        assert!(!wait(&slots));
    }

    /// Full, a sender parks, the receiver frees a slot: the sender gets it
    /// (a lost wake-up would deadlock the model).
    #[test]
    fn loom_park_racing_pop_release() {
        park_racing(|slots| slots.release_popped(1));
    }

    /// Full because of a permit; the permit is dropped while a sender parks.
    #[test]
    fn loom_park_racing_permit_drop() {
        park_racing(Slots::release_unused);
    }

    /// The one slot is taken; another thread frees it with `free` while a
    /// sender parks for it: the sender gets it, and no waiter is left.
    fn park_racing(free: fn(&Slots)) {
        model(move || {
            let slots = Arc::new(Slots::new(1));
            slots.try_acquire().unwrap();
            let freer = {
                let slots = Arc::clone(&slots);
                thread::spawn(move || free(&slots))
            };
            assert!(wait(&slots));
            freer.join().unwrap();
            assert_eq!(slots.in_use(), 1);
            assert_no_waiters(&slots);
        });
    }

    /// Two senders want the one slot while it is popped free; each hands
    /// it on when done: both get it in turn (whoever parks is woken).
    #[test]
    fn loom_two_parkers_hand_over() {
        model(|| {
            let slots = Arc::new(Slots::new(1));
            slots.try_acquire().unwrap();
            let other = {
                let slots = Arc::clone(&slots);
                thread::spawn(move || {
                    assert!(wait(&slots));
                    slots.release_unused();
                })
            };
            slots.release_popped(1);
            assert!(wait(&slots));
            slots.release_unused();
            other.join().unwrap();
            assert_eq!(slots.in_use(), 0);
            assert_no_waiters(&slots);
        });
    }

    /// A parked sender is cancelled while a pop frees a slot: the slot is
    /// never lost (granted and given back, or never granted).
    #[test]
    fn loom_cancel_racing_pop_release() {
        model(|| {
            let slots = Arc::new(Slots::new(1));
            slots.try_acquire().unwrap();
            let mut wait = SlotWait::new();
            let mut cx = Context::from_waker(core::task::Waker::noop());
            let first = wait.poll(&slots, &Meter::new(), &mut cx);
            let receiver = {
                let slots = Arc::clone(&slots);
                thread::spawn(move || slots.release_popped(1))
            };
            if first.is_pending() {
                wait.cancel(&slots);
            } else {
                slots.release_unused();
            }
            receiver.join().unwrap();
            assert_eq!(slots.in_use(), 0);
            assert_no_waiters(&slots);
            slots.try_acquire().unwrap();
        });
    }

    /// `close` races a sender that parks at full: the sender ends with the
    /// error, not asleep.
    #[test]
    fn loom_close_racing_park() {
        model(|| {
            let slots = Arc::new(Slots::new(1));
            slots.try_acquire().unwrap();
            let closer = {
                let slots = Arc::clone(&slots);
                thread::spawn(move || slots.close())
            };
            assert!(!wait(&slots));
            closer.join().unwrap();
            assert_no_waiters(&slots);
            assert_eq!(slots.in_use(), 1);
        });
    }
}
