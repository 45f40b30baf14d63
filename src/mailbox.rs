//! A bounded multi-producer, single-consumer mailbox with backpressure.
//!
//! [`bounded`] (or [`Builder`]) makes a [`Sender`] (cloneable) and a
//! [`Receiver`]. At most `capacity` messages are buffered; what happens to
//! a message that finds the mailbox full is the [`Overflow`] policy:
//! [`Block`](Overflow::Block) (the default) waits for room,
//! [`DropOldest`](Overflow::DropOldest) evicts the oldest buffered message,
//! [`RejectNew`](Overflow::RejectNew) hands the new one straight back.
//!
//! # Cancel safety
//!
//! | future | dropped before it completes |
//! | --- | --- |
//! | [`recv`](Receiver::recv), [`recv_many`](Receiver::recv_many), `recv_timeout` | cancel-safe: a message is taken only in the poll that returns it |
//! | [`reserve`](Sender::reserve), [`reserve_owned`](Sender::reserve_owned), [`closed`](Sender::closed) | cancel-safe: a slot already assigned goes to the next waiting sender |
//! | [`send`](Sender::send), `send_timeout` | **drops the message** (its slot goes to the next sender); use `reserve` to keep it |
//! | the [`Sink`](SendSink)'s `poll_ready` | cancel-safe: dropping the sink frees its place and any reserved slot |
//!
//! # Examples
//!
//! ```
//! use flowgate::mailbox;
//! use futures::executor::block_on;
//!
//! let (tx, mut rx) = mailbox::bounded::<u64>(8);
//! let producers: Vec<_> = (0..2)
//!     .map(|id| {
//!         let tx = tx.clone();
//!         std::thread::spawn(move || {
//!             block_on(async {
//!                 for i in 0..100 {
//!                     tx.send(id * 1000 + i).await.unwrap();
//!                 }
//!             })
//!         })
//!     })
//!     .collect();
//! drop(tx); // the receiver sees None once every sender is gone
//!
//! let mut total = 0;
//! block_on(async {
//!     while let Some(_job) = rx.recv().await {
//!         total += 1;
//!     }
//! });
//! for p in producers {
//!     p.join().unwrap();
//! }
//! assert_eq!(total, 200);
//! ```
//!
//! # Guarantees
//!
//! - **FIFO per producer**: messages from one sender (or one task) arrive
//!   in the order they were sent.
//! - **Nothing lost**: every accepted message is received, or dropped
//!   exactly once by the receiving side (the [`Receiver`]'s drop, or the
//!   last handle of the mailbox for a message that a [`Permit`] sends after
//!   the receiver is gone); every refused message comes back in its error;
//!   under `DropOldest` evicted messages are dropped and counted
//!   ([`Sender::dropped`]).
//! - **Bounded, with no allocation per message**: the ring is allocated
//!   once by [`Builder::build`]; sending, receiving and waiting allocate
//!   nothing in steady state (a waiting sender reuses a node of the
//!   wait list).
//! - **Closing**: when every [`Sender`] (and [`OwnedPermit`]) is gone, the
//!   receiver drains what is buffered and then gets `None`. When the
//!   receiver is [closed](Receiver::close) or dropped, sends fail with their
//!   message; permits reserved before that can still send, and the receiver
//!   drains those too before it gets `None`.
//!
//! # Design
//!
//! - **Messages** live in a preallocated lock-free ring with a sequence
//!   stamp per slot (Dmitry Vyukov's bounded MPMC queue).
//!   Its size is `capacity` rounded up to a power of two so that a position
//!   maps to a slot with a mask; the capacity itself is enforced by the slot count.
//! - **Capacity** is counted in two words: the senders
//!   count slots taken in theirs, the receiver counts slots freed in its
//!   own, and a sender reads the receiver's word only when a recent copy
//!   of it says full. So a send costs one compare-and-swap on the senders'
//!   line and a receive one `fetch_add` on the receiver's: neither side
//!   writes the other's cache line. Blocked senders wait in a FIFO queue
//!   (fair, cancel-safe, no allocation once warm) that is only touched
//!   when the mailbox is full; a [`Permit`] is simply a slot taken ahead
//!   of its message, and closing the mailbox closes the count. The fast
//!   paths take no lock.
//! - **The receiver's wake-up** is an `AtomicWaker`-style slot: a push that finds the receiver not waiting only loads
//!   it (the push's claim of its ring position is the read-modify-write
//!   that orders it with a parking receiver), so senders do not fight over
//!   its cache line.
//! - **Popping**: under `Block` and `RejectNew` the receiver is the only
//!   popper and advances the ring's head with plain loads and stores;
//!   under `DropOldest` evicting senders pop too, so pops claim by
//!   compare-and-swap.
//! - **Cooperative budget** (feature `tokio`): `recv`, `recv_many`, the
//!   `Stream`, and the futures that wait for a slot (`send`, `reserve`,
//!   `reserve_owned`, the sink's `poll_ready`) spend tokio's task budget,
//!   so a consumer of a mailbox that is never empty (or a producer of one
//!   that is never full) still yields to other tasks. Unlike tokio's
//!   channels they spend one unit per 16 ready operations of a handle (a
//!   count kept in the [`Receiver`] and in each [`Sender`]), not one per
//!   operation. Spending on every operation read tokio's thread-local
//!   budget each time, and the forced yield every 128 operations put the
//!   task in the run queue, where the idle worker stole it: the two sides
//!   of a busy mailbox then ran on two workers at once, bouncing the
//!   mailbox's cache lines, instead of taking turns on one (on the 2-worker
//!   benchmarks, SPSC went from 30-35 to 17-19 ns a message and MPSC from
//!   35-45 to 19-35). A loop over an always-ready handle still yields,
//!   after at most 16 × 128 = 2,048 operations instead of 128: starvation
//!   stays bounded, only coarser.
//! - **Counting**: `senders` counts [`Sender`]s (an [`OwnedPermit`] owns
//!   one, a [`Permit`] borrows one). The receiver is done when the ring is
//!   empty and either no sender is left or the mailbox is closed and every
//!   slot is back (no permit outstanding, no push in flight).

mod error;
mod future;
mod notify;
mod receiver;
mod ring;
mod sender;
mod sink;
mod slots;
mod timeout;

pub use error::{SendError, TryRecvError, TrySendError};
pub use future::{Closed, Recv, RecvMany, Reserve, ReserveOwned, Send};
pub use receiver::Receiver;
pub use sender::{OwnedPermit, Permit, Sender, WeakSender};
pub use sink::SendSink;
pub use timeout::{RecvTimeout, RecvTimeoutError, SendTimeout, SendTimeoutError};

use crate::credit::CreditSemaphore;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering, spin_loop};
use crate::waitlist::{WaitList, WakeList};
use notify::RxWaker;
use ring::{CachePadded, Ring};
use slots::{Refused, Slots};

/// What a send does when the mailbox is full.
///
/// The policy applies to [`Sender::send`] and [`Sender::try_send`], the
/// calls that carry a message. [`Sender::reserve`],
/// [`Sender::reserve_owned`] and [`Sender::try_reserve`] ask for a slot
/// ahead of the message and behave the same under every policy (the async
/// forms wait for a free slot). The [`SendSink`] follows the policy as
/// described on it.
///
/// # Examples
///
/// ```
/// use flowgate::mailbox::{Builder, Overflow};
/// let (tx, mut rx) = Builder::new(2).overflow(Overflow::DropOldest).build();
/// for i in 0..5 {
///     tx.try_send(i).unwrap();
/// }
/// assert_eq!(tx.dropped(), 3);
/// assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(3), Ok(4)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Overflow {
    /// Wait for a free slot (backpressure). `try_send` gives
    /// [`TrySendError::Full`]. Waiting senders are served in FIFO order.
    #[default]
    Block,
    /// Never wait for the receiver: a sender that finds no free slot evicts
    /// the oldest buffered message, drops it (counted by
    /// [`Sender::dropped`]) and takes its slot.
    ///
    /// If there is nothing to evict because every slot is held by a
    /// [`Permit`] (reserved, not yet sent) or by a send that was granted a
    /// slot and has not yet run, `try_send` gives [`TrySendError::Full`]
    /// and `send` waits for a slot as under [`Block`](Overflow::Block).
    /// (A slot that is only momentarily out of reach, such as one being
    /// pushed by another thread, is retried a bounded number of times
    /// first.)
    DropOldest,
    /// Never wait: a full mailbox hands the new message straight back.
    /// `try_send` gives [`TrySendError::Full`]; `send` resolves at once to
    /// `Err(SendError(msg))`, the same error as for a closed mailbox, so
    /// tell the two apart with [`Sender::is_closed`] (closing is permanent)
    /// or use `try_send`, which does the same thing with a typed error.
    RejectNew,
}

/// Configures a mailbox: capacity and [`Overflow`] policy.
///
/// # Examples
///
/// ```
/// use flowgate::mailbox::{Builder, Overflow, TrySendError};
/// let (tx, _rx) = Builder::new(1).overflow(Overflow::RejectNew).build();
/// tx.try_send("a").unwrap();
/// assert!(matches!(tx.try_send("b"), Err(TrySendError::Full("b"))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builder {
    capacity: usize,
    overflow: Overflow,
}

impl Builder {
    /// The largest capacity a mailbox can have.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::Builder::new(1).build::<u8>();
    /// assert!(tx.capacity() <= flowgate::mailbox::Builder::MAX_CAPACITY);
    /// ```
    pub const MAX_CAPACITY: usize = CreditSemaphore::MAX_CREDITS;

    /// A builder for a mailbox of `capacity` messages, with
    /// [`Overflow::Block`].
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 (there is no rendezvous mailbox) or exceeds
    /// [`MAX_CAPACITY`](Self::MAX_CAPACITY).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = flowgate::mailbox::Builder::new(16).build::<u8>();
    /// assert_eq!(tx.capacity(), 16);
    /// ```
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "mailbox capacity must be at least 1 (a zero-capacity rendezvous mailbox is not supported)"
        );
        assert!(
            capacity <= Self::MAX_CAPACITY,
            "mailbox capacity {capacity} exceeds Builder::MAX_CAPACITY ({})",
            Self::MAX_CAPACITY
        );
        Self {
            capacity,
            overflow: Overflow::Block,
        }
    }

    /// Sets the overflow policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use flowgate::mailbox::{Builder, Overflow};
    /// let (tx, _rx) = Builder::new(4).overflow(Overflow::RejectNew).build::<u8>();
    /// assert_eq!(tx.overflow(), Overflow::RejectNew);
    /// ```
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Allocates the mailbox and returns its two ends.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = flowgate::mailbox::Builder::new(4).build();
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn build<T>(self) -> (Sender<T>, Receiver<T>) {
        let chan = Arc::new(Chan {
            ring: Ring::new(self.capacity),
            slots: Slots::new(self.capacity),
            rx_waker: CachePadded(RxWaker::new()),
            senders: AtomicUsize::new(1),
            dropped: AtomicUsize::new(0),
            closed_waiters: Mutex::new(WaitList::new()),
            capacity: self.capacity,
            overflow: self.overflow,
        });
        (Sender::new(Arc::clone(&chan)), Receiver::new(chan))
    }
}

/// A mailbox of `capacity` messages with [`Overflow::Block`]:
/// `Builder::new(capacity).build()`.
///
/// # Panics
///
/// If `capacity` is 0 or exceeds [`Builder::MAX_CAPACITY`].
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
/// let (tx, mut rx) = flowgate::mailbox::bounded(2);
/// tx.send("hi").await.unwrap();
/// assert_eq!(rx.recv().await, Some("hi"));
/// });
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    Builder::new(capacity).build()
}

/// How many times a `DropOldest` send looks for something to evict or a
/// free slot before it reports `Full` (see `Chan::evict_and_push`).
const EVICT_ATTEMPTS: usize = if cfg!(flowgate_loom) { 2 } else { 64 };

/// The state shared by every handle of one mailbox.
struct Chan<T> {
    ring: Ring<T>,
    /// The slot count: taken by a sender before it pushes (or by a
    /// permit), returned by the receiver after it pops (or by a permit
    /// dropped unused). Closed when the receiver closes or drops.
    slots: Slots,
    rx_waker: CachePadded<RxWaker>,
    /// Live [`Sender`]s (an `OwnedPermit` holds one). Only goes up from a
    /// non-zero value (clone, upgrade), so once 0 it stays 0.
    senders: AtomicUsize,
    /// Messages evicted under `DropOldest`.
    dropped: AtomicUsize,
    /// Tasks in [`Sender::closed`]. Closing sets `slots`' closed flag, then
    /// takes this lock to wake them; a waiter checks the flag under it.
    closed_waiters: Mutex<WaitList<()>>,
    capacity: usize,
    overflow: Overflow,
}

impl<T> Chan<T> {
    /// Pushes a message for which the caller holds a slot credit (the
    /// credit now belongs to the message) and wakes the receiver.
    #[inline]
    fn push(&self, msg: T) {
        self.ring.push(msg);
        self.rx_waker.notify_pushed();
    }

    /// Sends without waiting, by the overflow policy.
    fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        match self.slots.try_acquire() {
            Ok(()) => {
                self.push(msg);
                Ok(())
            }
            Err(Refused::Closed) => Err(TrySendError::Closed(msg)),
            Err(Refused::Full) if self.overflow == Overflow::DropOldest => self.evict_and_push(msg),
            Err(Refused::Full) => Err(TrySendError::Full(msg)),
        }
    }

    /// Under `DropOldest`, with no free slot: evicts the oldest message and
    /// sends `msg` in its slot. Nothing to evict can be momentary (the
    /// receiver just took everything and a slot is coming back, or a send
    /// holds a slot for the few instructions before its push), so this
    /// retries a bounded number of times before it reports `Full`.
    fn evict_and_push(&self, msg: T) -> Result<(), TrySendError<T>> {
        for _ in 0..EVICT_ATTEMPTS {
            if let Some(old) = self.evict() {
                // The evicted message's credit is ours now.
                self.push(msg);
                drop(old);
                return Ok(());
            }
            match self.slots.try_acquire() {
                Ok(()) => {
                    self.push(msg);
                    return Ok(());
                }
                Err(Refused::Closed) => return Err(TrySendError::Closed(msg)),
                Err(Refused::Full) => spin_loop(),
            }
        }
        Err(TrySendError::Full(msg))
    }

    /// Under `DropOldest`: pops the oldest message and counts it; the
    /// caller takes over its slot credit and drops it.
    fn evict(&self) -> Option<T> {
        let old = self.ring.pop_evict()?;
        self.dropped.fetch_add(1, Ordering::Relaxed);
        Some(old)
    }

    /// A credit returned without a message (a permit dropped unused): the
    /// receiver may be waiting for the last one after a close.
    fn release_unused(&self) {
        self.slots.release_unused();
        self.rx_waker.notify();
    }

    /// Ends a wait for a slot (a future dropped): a slot granted to it
    /// goes to the next waiter or back to the pool, and then the receiver
    /// may be waiting for it after a close.
    fn cancel_wait(&self, wait: &mut slots::SlotWait) {
        if wait.cancel(&self.slots) {
            self.rx_waker.notify();
        }
    }

    /// Closes the mailbox: later sends fail, waiting senders get their
    /// message back, `closed()` futures resolve.
    fn close(&self) {
        self.slots.close();
        let mut wakes = WakeList::new();
        loop {
            let mut waiters = self.closed_waiters.lock();
            while wakes.can_push() {
                let Some(key) = waiters.pop_front() else {
                    break;
                };
                wakes.push(waiters.take_waker(key));
            }
            let done = waiters.is_empty();
            drop(waiters);
            wakes.wake_all();
            if done {
                return;
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.slots.is_closed()
    }

    /// No message can arrive any more: no sender is left, or the mailbox is
    /// closed and every credit is back. Read with `Acquire`, so the pushes
    /// of the last senders and permits are visible to a pop after this.
    fn is_finished(&self) -> bool {
        self.senders.load(Ordering::Acquire) == 0
            || (self.slots.is_closed() && self.slots.in_use() == 0)
    }

    fn len(&self) -> usize {
        self.ring.len(self.capacity)
    }
}

// Every handle (`Sender`, `Receiver`, permits, futures) shares a `Chan`:
// these make them `UnwindSafe` and `RefUnwindSafe`, as tokio's are. The
// mailbox's invariants hold across a panic: no user code (a waker, a
// message's `Drop`) runs under its lock, the lock ignores poison, and the
// atomics change in single steps; messages move in and out whole (the
// mailbox never lends a `&T`), so the payload's own unwind safety does not
// matter.
impl<T> core::panic::UnwindSafe for Chan<T> {}
impl<T> core::panic::RefUnwindSafe for Chan<T> {}

impl<T> core::fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mailbox")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("overflow", &self.overflow)
            .field("closed", &self.is_closed())
            .field("senders", &self.senders.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
