//! The dispatcher's state and algorithms, all behind one mutex.
//!
//! # Locking
//!
//! One [`Mutex`] guards the whole queue: backlog, consumers, prefetch
//! windows, waiting publishers. Every operation (publish, recv, ack, nack,
//! drop, subscribe) takes it once for a few queue operations and an O(n)
//! scan over the consumers, n being their number; wakers are collected in
//! a small [`Wakes`] batch and woken after it is released, and messages that must be
//! dropped are dropped after it is released too (a message's `Drop` may
//! call back into the dispatcher). This is the design of a RabbitMQ queue,
//! which one Erlang process serialises: assignment needs a consistent view
//! of every consumer's credit, and one short critical section gives that
//! more cheaply than a lock-free scheme would.
//!
//! # Message slots
//!
//! A message lives in a pooled `Arc<Slot<T>>`; see [`slot`] for who holds
//! it and how the steady state allocates nothing.

mod acks;
mod consumers;
mod effects;
mod fifo;
mod pick;
mod settle;
mod slot;

pub(super) use self::acks::{Acks, Pending};
pub(super) use self::effects::{Clock, Stale, Wakes};
pub(super) use self::fifo::Fifo;
pub(super) use self::slot::{Slot, SlotRef};

use super::error::TryPublishError;
use super::stats::{ConsumerStats, Stats};
use super::{Requeue, Strategy, Subscription};
use crate::sync::{Arc, Ordering, fence};
use crate::waitlist::{Key, WaitList};
use core::mem::ManuallyDrop;
use core::num::NonZeroU64;
use core::task::{Poll, Waker};
use std::collections::VecDeque;
use std::time::Duration;

/// Where dead letters go.
pub(super) type Sink<T> = crate::mailbox::Sender<T>;

/// A time source for [`Strategy::Adaptive`]: time since an arbitrary origin.
pub(super) type ClockFn = Box<dyn Fn() -> Duration + Send + Sync>;

/// A message waiting for a consumer, and how often it was delivered.
struct Entry<T> {
    slot: Arc<Slot<T>>,
    attempt: u32,
}

/// A delivery in a consumer's prefetch window.
struct InFlight<T> {
    tag: NonZeroU64,
    slot: Arc<Slot<T>>,
    attempt: u32,
    /// Handed out by `recv`: set when assigned, and cleared for those
    /// never handed out when their consumer is dropped (those still in
    /// `ready`, and those `unreceive` gives back).
    received: bool,
}

/// Identifies a delivery of a consumer (whose slab index the delivery
/// knows from its consumer): window index and unique tag. A token whose
/// window entry no longer carries its tag is stale.
///
/// Deliveries are moved by value at every step, so it is kept small: the
/// tag is never 0 (an `Option<Token>` is no larger), and the consumer and
/// Adaptive's clock readings travel beside it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    window: usize,
    tag: NonZeroU64,
}

impl Token {
    /// The delivery's index in its consumer's window.
    pub(super) fn window(&self) -> usize {
        self.window
    }
}

/// A delivery ending, as it tells the core ([`Core::finish`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Finish {
    /// Its consumer's slab index.
    pub(super) consumer: usize,
    /// Its window entry (`None` for auto-ack deliveries).
    pub(super) token: Option<Token>,
    /// Adaptive: clock readings when `recv` took it and when it was acked
    /// (0 if not read).
    pub(super) handed_at: u64,
    pub(super) acked_at: u64,
    pub(super) outcome: Outcome,
    /// Whether an acked message nobody else shares is returned.
    pub(super) take: bool,
}

/// How a delivery ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Ack,
    Nack(Requeue),
    /// Dropped without ack or nack: requeued like `Nack(Requeue::Yes)`.
    Dropped,
}

/// What an operation leaves to do once the lock is released.
///
/// Made and dropped by every operation, and most leave nothing to do: the
/// buried messages' fields have no drop glue of their own, so that with a
/// message type without any (nothing is ever buried then) dropping an
/// empty one checks only the wakers' count.
pub(super) struct Effects<T> {
    pub(super) wakes: Wakes,
    /// Wakers taken out of the core without waking them (a `recv` or
    /// `publish` re-polled with another waker, or dropped): dropped with
    /// the effects, after the lock is released, since a waker may own a
    /// delivery or a publish of this very dispatcher.
    stale: Stale,
    /// Messages to drop outside the lock; one inline so the ack path does
    /// not allocate, more in a vector lent by the core (`Core::graves`)
    /// and given back with [`Core::return_graves`].
    one: ManuallyDrop<Option<T>>,
    pub(super) more: ManuallyDrop<Vec<T>>,
    /// Dead letters to offer once the lock is released (a `try_send` wakes
    /// the dead-letter receiver and may evict and drop a message: user
    /// code), each with the consumer to count it for (slab index and id).
    pub(super) dead: Vec<(Option<(usize, u64)>, T)>,
    /// A clone of the dead-letter sender for them, or the core's own once
    /// it lets go of it: dropped after the lock too (the last sender's drop
    /// wakes the receiver).
    pub(super) sink: Option<Sink<T>>,
}

impl<T> Effects<T> {
    #[inline]
    pub(super) fn new() -> Self {
        Self {
            wakes: Wakes::new(),
            stale: Stale::new(),
            one: ManuallyDrop::new(None),
            more: ManuallyDrop::new(Vec::new()),
            dead: Vec::new(),
            sink: None,
        }
    }

    /// Keeps a waker taken out of the core, to drop it once the lock is
    /// released.
    #[inline]
    pub(super) fn retire(&mut self, waker: Option<Waker>) {
        self.stale.push(waker);
    }

    /// Drops the buried messages (the caller has released the lock).
    pub(super) fn drop_messages(&mut self) {
        *self.one = None;
        self.more.clear();
    }
}

impl<T> Drop for Effects<T> {
    #[inline]
    fn drop(&mut self) {
        // Nothing is buried unless dropping a message does something
        // (`Core::bury`).
        if core::mem::needs_drop::<T>() {
            *self.one = None;
            drop(core::mem::take(&mut *self.more));
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    delivered: u64,
    acked: u64,
    nacked: u64,
    redelivered: u64,
    dead_lettered: u64,
    dropped: u64,
}

/// A subscribed consumer's place in [`Core::ranks`], with what picking a
/// consumer reads: kept apart from the rest of its state so that a pick
/// walks one compact slice.
struct Rank {
    /// Its slab index in [`Core::consumers`].
    ci: usize,
    priority: i32,
    prefetch: usize,
    /// The window actually granted: `prefetch`, or less under Adaptive for
    /// a consumer slower than the fastest (see `adapt_limits`).
    limit: usize,
    /// Occupied window entries.
    unacked: usize,
    /// When it was last picked (round robin order, least loaded ties).
    turn: u64,
    /// The weight it subscribed with or was set to.
    weight: u32,
    /// Smooth weighted round-robin: its weight in picks (`weight`, or
    /// under Adaptive the one computed from `weighed_ns`, valid while
    /// `Core::weights_for` is set) and its current value.
    swrr: i64,
    current: i64,
    /// Adaptive: when it last acked (clock ns; 0: never).
    acked_at: u64,
    /// Adaptive: mean service time in ns (0: no sample yet), each sample
    /// clamped (see `pick`).
    mean_ns: f64,
    /// Adaptive: `mean_ns` as of its last move by more than `MEAN_SLACK`
    /// (see `pick`): weighs picks and sizes the window.
    weighed_ns: f64,
}

impl Rank {
    fn has_credit(&self) -> bool {
        self.unacked < self.limit
    }
}

/// One subscribed consumer.
struct ConsumerState<T> {
    id: u64,
    /// Its index in [`Core::ranks`] (kept up to date as consumers come
    /// and go).
    rank: usize,
    priority: i32,
    auto_ack: bool,
    /// Prefetch window: a slab of deliveries not yet acked; `free` lists
    /// its vacant indices. Its length never exceeds the largest prefetch
    /// the consumer had.
    window: Vec<Option<InFlight<T>>>,
    free: Vec<usize>,
    /// Deliveries assigned but not yet handed out by `recv`, in order,
    /// ready to be: `recv` swaps the whole queue with its consumer's empty
    /// buffer.
    ready: Fifo<Received<T>>,
    /// The task waiting in `recv`, set only while `ready` is empty.
    waker: Option<Waker>,
    /// Broadcast: sequence number of the next log entry for it, and its own
    /// requeued copies (served first).
    cursor: u64,
    redo: VecDeque<Entry<T>>,
    stats: Counters,
    /// Lock-free acks of this consumer's deliveries, and whether their word
    /// is `HOT` (see [`acks`]).
    acks: Arc<Acks>,
    hot: bool,
}

/// A delivery assigned to a consumer, as `recv` hands it out.
pub(super) struct Received<T> {
    /// Owns its count without a token, else lent (see [`slot`]).
    pub(super) slot: SlotRef<T>,
    /// `None` for auto-ack deliveries, which are settled already.
    pub(super) token: Option<Token>,
    pub(super) attempt: u32,
}

/// Build-time settings.
pub(super) struct Config<T> {
    pub(super) capacity: usize,
    pub(super) strategy: Strategy,
    pub(super) max_attempts: u32,
    pub(super) dead_letter: Option<Sink<T>>,
    pub(super) clock: Option<ClockFn>,
    pub(super) settle: Option<SettleFn<T>>,
}

/// Where a message settled by a consumer goes when the queue lives
/// elsewhere (the RabbitMQ bridge): the owner of the message decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "amqp"), allow(dead_code))]
pub(crate) enum Settle {
    /// Processed: done with it.
    Ack,
    /// Nacked with requeue, dropped, or held by a dropped consumer, with
    /// attempts left: deliver it again.
    Requeue,
    /// `nack(Requeue::No)`, or the last attempt failed: dead-letter it.
    Reject,
}

/// Called under the core lock with each settled message; it must not block.
/// With it set, nothing is requeued or dead-lettered locally: every
/// delivery a consumer saw is handed to it exactly once and then released.
pub(crate) type SettleFn<T> = Box<dyn Fn(&T, Settle) + Send + Sync>;

/// Consumers whose `HOT` flag may be stale (see `Core::sync_hot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dirty {
    None,
    One(usize),
    All,
}

/// Guarded by `Shared::core`.
pub(super) struct Core<T> {
    strategy: Strategy,
    capacity: usize,
    max_attempts: u32,
    dead_letter: Option<Sink<T>>,
    clock: Arc<Clock>,
    settle: Option<SettleFn<T>>,
    /// Set once by `close`, never cleared.
    closed: bool,
    /// Messages not yet assigned, oldest first (requeued ones at the front).
    /// Under Broadcast, the log that consumers' cursors walk: entry `i` has
    /// sequence number `log_base + i`, and entries every consumer has
    /// passed are trimmed.
    backlog: VecDeque<Entry<T>>,
    log_base: u64,
    /// Slab of consumers; `ranks` lists the live ones by priority, highest
    /// first, then by subscription.
    consumers: Vec<Option<ConsumerState<T>>>,
    vacant: Vec<usize>,
    ranks: Vec<Rank>,
    next_tag: NonZeroU64,
    next_id: u64,
    turn: u64,
    /// Adaptive: the priority whose group's `adaptive_weight`s are up to
    /// date; cleared by whatever changes them (a latency sample, a weight,
    /// a consumer coming or going).
    weights_for: Option<i32>,
    /// Adaptive: an empty vector with capacity for `settle_lazy` to order
    /// the acks it collects together by time.
    stamps: Vec<(u64, u64, usize)>,
    /// Empty, unique slots for reuse.
    pool: Vec<Arc<Slot<T>>>,
    /// An empty vector with capacity, lent to an operation that drops
    /// several messages (lock-free acks collected together), so that does
    /// not allocate once warm.
    graves: Vec<T>,
    /// Publishers waiting for room; a waiter unlinked while not closed was
    /// granted one of the `reserved` places.
    publishers: WaitList<()>,
    reserved: usize,
    /// The ack word of every consumer whose deliveries may ack without the
    /// lock, with its slab index: what `collect_acks`, at the start of
    /// every locked operation, walks (without touching consumer states).
    lazy: Vec<(usize, Arc<Acks>)>,
    /// Which of those may hold acks (see [`acks`]).
    pending: Arc<Pending>,
    /// What `sync_hot` last saw of the waiters on every consumer's acks
    /// (closed, publishers waiting, a settle hook), and whose `recv` waker
    /// was set or taken since (so its flag may be stale).
    hot_all: bool,
    hot_dirty: Dirty,
    /// Broadcast: messages marked for the dead-letter mailbox whose last
    /// holder has not let go yet. While any is, every ack takes the lock,
    /// so the last holder's ack sends it at once rather than at the next
    /// locked operation.
    dead_marked: usize,
    in_flight: usize,
    published: u64,
    totals: Counters,
}

impl<T> Core<T> {
    pub(super) fn new(config: Config<T>) -> Self {
        let warm = config.capacity.min(1024);
        Self {
            strategy: config.strategy,
            capacity: config.capacity,
            max_attempts: config.max_attempts,
            dead_letter: config.dead_letter,
            clock: Arc::new(Clock::new(config.clock)),
            settle: config.settle,
            closed: false,
            backlog: VecDeque::with_capacity(warm),
            log_base: 0,
            consumers: Vec::new(),
            vacant: Vec::new(),
            ranks: Vec::new(),
            next_tag: NonZeroU64::MIN,
            next_id: 0,
            turn: 0,
            weights_for: None,
            stamps: if config.strategy == Strategy::Adaptive {
                Vec::with_capacity(acks::LAZY_SLOTS)
            } else {
                Vec::new()
            },
            pool: Vec::with_capacity(warm),
            graves: Vec::new(),
            lazy: Vec::new(),
            pending: Arc::new(Pending::default()),
            publishers: WaitList::new(),
            reserved: 0,
            hot_all: false,
            hot_dirty: Dirty::All,
            dead_marked: 0,
            in_flight: 0,
            published: 0,
            totals: Counters::default(),
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed
    }

    fn broadcast(&self) -> bool {
        self.strategy == Strategy::Broadcast
    }

    /// Adaptive: the clock, for consumers to time their `recv`s.
    pub(super) fn adaptive_clock(&self) -> Option<Arc<Clock>> {
        (self.strategy == Strategy::Adaptive).then(|| Arc::clone(&self.clock))
    }

    /// Puts `msg` in `slot` and returns what it held, if `slot` is the
    /// only clone (else `None`, and nothing changes).
    ///
    /// `&mut self` means the lock is held. Every clone of a slot is made
    /// and dropped under the lock (deliveries hold no clone, only a pointer
    /// lent by their window entry or a count the core gave them: see
    /// [`slot`]), so a count of 1 read here is stable, and the lock (or,
    /// for an ack without it, its bit: see [`acks`]) orders every former
    /// holder's reads of the message before this write. This replaces `Arc::get_mut`, whose
    /// read-modify-write of the weak count would run twice per message.
    fn swap_unique(&mut self, slot: &mut Arc<Slot<T>>, msg: Option<T>) -> Option<Option<T>> {
        if Arc::strong_count(slot) != 1 {
            return None;
        }
        // `strong_count` is a relaxed load. Should a clone ever be dropped
        // outside the lock, this fence (as in `Arc::get_mut`) makes its
        // holder's reads of the message happen before the write below, via
        // the release decrement of its drop. Free on x86.
        fence(Ordering::Acquire);
        // SAFETY: `slot` is the only clone and the lock is held (above), and
        // it is borrowed mutably, so no `Slot::get` borrow of it is alive:
        // no one else can read or write the cell now.
        Some(
            slot.msg
                .with_mut(|cell| unsafe { core::mem::replace(&mut *cell, msg) }),
        )
    }

    fn consumer(&mut self, ci: usize) -> &mut ConsumerState<T> {
        match self.consumers.get_mut(ci) {
            Some(Some(c)) => c,
            _ => unreachable!("dispatch: consumer {ci} is not subscribed"),
        }
    }

    // ----- publishing -------------------------------------------------

    fn has_room(&self) -> bool {
        self.backlog.len() + self.reserved < self.capacity
    }

    /// `try_publish`, and the first poll of `publish`.
    pub(super) fn try_publish(
        &mut self,
        msg: T,
        wakes: &mut Wakes,
    ) -> Result<(), TryPublishError<T>> {
        if self.closed {
            Err(TryPublishError::Closed(msg))
        } else if !self.publishers.is_empty() || !self.has_room() {
            Err(TryPublishError::Full(msg))
        } else {
            self.accept(msg, wakes);
            Ok(())
        }
    }

    fn accept(&mut self, msg: T, wakes: &mut Wakes) {
        self.accept_seen(msg, 0, wakes);
    }

    /// [`try_publish`](Self::try_publish) for a message delivered `seen`
    /// times before (elsewhere): its first delivery here is attempt
    /// `seen + 1`.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(super) fn try_publish_seen(
        &mut self,
        msg: T,
        seen: u32,
        wakes: &mut Wakes,
    ) -> Result<(), TryPublishError<T>> {
        if self.closed {
            Err(TryPublishError::Closed(msg))
        } else if !self.publishers.is_empty() || !self.has_room() {
            Err(TryPublishError::Full(msg))
        } else {
            self.accept_seen(msg, seen, wakes);
            Ok(())
        }
    }

    /// Takes `msg` in: straight into a consumer's window when nothing is
    /// waiting before it (the common case; the pump would only pop it back
    /// off the backlog), else at the back of the backlog.
    ///
    /// A non-empty backlog means no consumer has credit (every locked
    /// operation pumps until none has, before and after its own work), so
    /// only an empty one is worth a pick here.
    fn accept_seen(&mut self, msg: T, seen: u32, wakes: &mut Wakes) {
        let mut slot = self.pool.pop().unwrap_or_else(|| Arc::new(Slot::new()));
        if self.swap_unique(&mut slot, Some(msg)).is_none() {
            unreachable!("dispatch: pooled slots are unique")
        }
        self.published += 1;
        let entry = Entry {
            slot,
            attempt: seen,
        };
        if self.backlog.is_empty() && !self.broadcast() && wakes.can_push() {
            if let Some(ci) = self.pick() {
                self.assign(ci, entry, wakes);
                return;
            }
        }
        self.backlog.push_back(entry);
    }

    /// Queues a publisher that found no room.
    pub(super) fn wait_publish(&mut self, waker: &Waker) -> Key {
        self.publishers.push_back((), waker.clone())
    }

    /// A queued publisher polled again: `Ready(Ok)` once its message is
    /// accepted, `Ready(Err)` with it once closed.
    pub(super) fn poll_publish(
        &mut self,
        key: Key,
        msg: &mut Option<T>,
        waker: &Waker,
        fx: &mut Effects<T>,
    ) -> Poll<Result<(), T>> {
        if self.publishers.is_linked(key) {
            fx.retire(self.publishers.set_waker(key, waker));
            return Poll::Pending;
        }
        let ((), old) = self.publishers.remove(key);
        fx.retire(old);
        let Some(m) = msg.take() else {
            unreachable!("dispatch: publish polled without its message")
        };
        if self.closed {
            return Poll::Ready(Err(m));
        }
        self.reserved -= 1;
        self.accept(m, &mut fx.wakes);
        Poll::Ready(Ok(()))
    }

    /// A queued publisher dropped: its place (if granted) goes to the next
    /// one when the caller pumps.
    pub(super) fn cancel_publish(&mut self, key: Key, fx: &mut Effects<T>) {
        let granted = !self.publishers.is_linked(key);
        let ((), old) = self.publishers.remove(key);
        fx.retire(old);
        if granted && !self.closed {
            self.reserved -= 1;
        }
    }

    pub(super) fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            // Granted places are void: their publishers see `closed`.
            self.reserved = 0;
        }
    }

    // ----- assignment -------------------------------------------------

    /// Assigns what can be assigned, grants room to waiting publishers and,
    /// once closed and drained, wakes idle consumers. Returns `false` when
    /// `fx.wakes` filled up first: the caller wakes them and pumps again.
    #[inline]
    pub(super) fn pump(&mut self, fx: &mut Effects<T>) -> bool {
        if self.idle() {
            return true;
        }
        self.pump_waiting(fx)
    }

    /// Whether [`pump`](Self::pump) has nothing to do: nothing waits (the
    /// common case). Not under Broadcast, where requeued copies wait
    /// outside the backlog.
    #[inline]
    pub(super) fn idle(&self) -> bool {
        self.backlog.is_empty() && self.publishers.is_empty() && !self.closed && !self.broadcast()
    }

    /// [`pump`](Self::pump) when something waits.
    fn pump_waiting(&mut self, fx: &mut Effects<T>) -> bool {
        if self.broadcast() {
            if !self.pump_broadcast(fx) {
                return false;
            }
        } else {
            while !self.backlog.is_empty() {
                if !fx.wakes.can_push() {
                    return false;
                }
                let Some(ci) = self.pick() else { break };
                let Some(entry) = self.backlog.pop_front() else {
                    break;
                };
                self.assign(ci, entry, &mut fx.wakes);
            }
        }
        while !self.publishers.is_empty() && (self.closed || self.has_room()) {
            if !fx.wakes.can_push() {
                return false;
            }
            let Some(key) = self.publishers.pop_front() else {
                break;
            };
            if !self.closed {
                self.reserved += 1;
            }
            if let Some(waker) = self.publishers.take_waker(key) {
                fx.wakes.push(waker);
            }
        }
        if self.closed && self.ranks.is_empty() && self.settle.is_some() {
            // Closed with no consumer left: no worker will take the backlog
            // (a bridged queue's `close()` must still complete), so each
            // message is settled as dropped (the bridge nacks it back to
            // the broker with requeue) and released. None was handed out
            // here, so none counts as an attempt toward dead-lettering.
            while let Some(entry) = self.backlog.pop_front() {
                self.settle_out(None, entry.slot, Outcome::Dropped, 0, fx);
            }
        }
        if self.closed {
            if self.dead_letter.is_some() && self.finished() {
                // Nothing can be dead-lettered any more: let go of the
                // sender (after the lock), so the receiver's loop ends.
                fx.sink = self.dead_letter.take();
            }
            for i in 0..self.ranks.len() {
                let ci = self.ranks[i].ci;
                if self.drained(ci) && self.consumer(ci).waker.is_some() {
                    if !fx.wakes.can_push() {
                        return false;
                    }
                    if let Some(waker) = self.consumer(ci).waker.take() {
                        fx.wakes.push(waker);
                    }
                    self.mark_dirty(ci);
                }
            }
        }
        true
    }

    /// Broadcast: every consumer takes, within its credit, its requeued
    /// copies and then the log entries after its cursor; the log is then
    /// trimmed to what some consumer still needs.
    fn pump_broadcast(&mut self, fx: &mut Effects<T>) -> bool {
        for i in 0..self.ranks.len() {
            let ci = self.ranks[i].ci;
            loop {
                if !fx.wakes.can_push() {
                    return false;
                }
                let tail = self.log_base + self.backlog.len() as u64;
                let c = match self.consumers.get_mut(ci) {
                    Some(Some(c)) => c,
                    _ => unreachable!("dispatch: ordered consumer is vacant"),
                };
                if !self.ranks[i].has_credit() {
                    break;
                }
                let entry = if let Some(entry) = c.redo.pop_front() {
                    entry
                } else if c.cursor < tail {
                    let at = (c.cursor - self.log_base) as usize;
                    c.cursor += 1;
                    Entry {
                        slot: Arc::clone(&self.backlog[at].slot),
                        attempt: 0,
                    }
                } else {
                    break;
                };
                self.assign(ci, entry, &mut fx.wakes);
            }
        }
        self.trim_log(fx);
        true
    }

    /// Broadcast: drops log entries that every consumer has taken.
    fn trim_log(&mut self, fx: &mut Effects<T>) {
        let Some(min) = self
            .ranks
            .iter()
            .filter_map(|r| self.consumers[r.ci].as_ref().map(|c| c.cursor))
            .min()
        else {
            return;
        };
        while self.log_base < min {
            let Some(entry) = self.backlog.pop_front() else {
                break;
            };
            self.log_base += 1;
            self.release(entry.slot, fx);
        }
    }

    #[inline(always)]
    fn assign(&mut self, ci: usize, entry: Entry<T>, wakes: &mut Wakes) {
        let tag = self.next_tag;
        // 2^64 deliveries do not happen; saturating keeps the niche.
        self.next_tag = self.next_tag.saturating_add(1);
        let attempt = entry.attempt.saturating_add(1);
        let lent = SlotRef::lend(&entry.slot);
        let c = self.consumer(ci);
        let flight = Some(InFlight {
            tag,
            slot: entry.slot,
            attempt,
            received: true,
        });
        let at = match c.free.pop() {
            Some(at) => {
                // `free` lists vacant entries only: nothing to drop.
                let vacant = core::mem::replace(&mut c.window[at], flight);
                debug_assert!(
                    vacant.is_none(),
                    "dispatch: a free window entry is occupied"
                );
                core::mem::forget(vacant);
                at
            }
            None => {
                c.window.push(flight);
                c.window.len() - 1
            }
        };
        let rank = c.rank;
        c.ready.push_back(Received {
            slot: lent,
            token: Some(Token { window: at, tag }),
            attempt,
        });
        c.stats.delivered += 1;
        let redelivered = attempt > 1;
        if redelivered {
            c.stats.redelivered += 1;
        }
        if let Some(waker) = c.waker.take() {
            wakes.push(waker);
            self.mark_dirty(ci);
        }
        self.ranks[rank].unacked += 1;
        self.totals.delivered += 1;
        self.totals.redelivered += u64::from(redelivered);
        self.in_flight += 1;
    }

    /// Whether `recv` on consumer `ci` is finished: closed, and nothing
    /// left that could still reach it.
    /// Closed, and no message is left queued or in flight anywhere, nor
    /// waiting for a broadcast copy's last holder: nothing can be
    /// dead-lettered any more.
    fn finished(&self) -> bool {
        self.closed && self.backlog.is_empty() && self.in_flight == 0 && self.dead_marked == 0
    }

    fn drained(&self, ci: usize) -> bool {
        if !self.closed {
            return false;
        }
        let Some(Some(c)) = self.consumers.get(ci) else {
            return true;
        };
        if self.broadcast() {
            let tail = self.log_base + self.backlog.len() as u64;
            c.cursor >= tail && c.redo.is_empty() && self.ranks[c.rank].unacked == 0
        } else {
            self.backlog.is_empty() && self.in_flight == 0
        }
    }

    // ----- stats ------------------------------------------------------

    pub(super) fn stats(&self) -> Stats {
        let mut by_sub: Vec<(&ConsumerState<T>, &Rank)> = self
            .ranks
            .iter()
            .filter_map(|r| self.consumers[r.ci].as_ref().map(|c| (c, r)))
            .collect();
        by_sub.sort_by_key(|(c, _)| c.id);
        let tail = self.log_base + self.backlog.len() as u64;
        let broadcast = self.broadcast();
        Stats {
            published: self.published,
            delivered: self.totals.delivered,
            acked: self.totals.acked,
            nacked: self.totals.nacked,
            redelivered: self.totals.redelivered,
            dead_lettered: self.totals.dead_lettered,
            dropped: self.totals.dropped,
            backlog: self.backlog.len(),
            in_flight: self.in_flight,
            consumers: by_sub
                .into_iter()
                .map(|(c, r)| ConsumerStats {
                    id: c.id,
                    prefetch: r.prefetch,
                    weight: r.weight,
                    priority: c.priority,
                    delivered: c.stats.delivered,
                    acked: c.stats.acked,
                    nacked: c.stats.nacked,
                    redelivered: c.stats.redelivered,
                    dead_lettered: c.stats.dead_lettered,
                    dropped: c.stats.dropped,
                    backlog: if broadcast {
                        (tail - c.cursor) as usize + c.redo.len()
                    } else {
                        0
                    },
                    in_flight: r.unacked,
                })
                .collect(),
        }
    }
}
