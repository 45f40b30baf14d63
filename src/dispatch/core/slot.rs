//! Message slots, and how a delivery holds one.
//!
//! A message lives in a pooled `Arc<Slot<T>>`. The core's tables (backlog,
//! prefetch windows) each hold a clone, made and dropped under the lock.
//! `Slot::msg` is written only through the only clone of the slot
//! (`Core::swap_unique`, under the lock); a slot that becomes unique under
//! the lock is emptied and returned to the pool, so the steady state
//! allocates nothing.
//!
//! A [`Delivery`](crate::dispatch::Delivery) holds a [`SlotRef`]: a pointer
//! to its slot that costs no reference count while its window entry is in
//! its consumer's window, as the entry's clone keeps the slot alive and
//! unique-to-the-core writes away (the slot cannot become unique while that
//! clone is out of the pool's reach). The entry leaves the window in two
//! ways only:
//!
//! - the delivery itself settles it (ack, nack, drop: under the lock, or an
//!   ack without the lock that the core collects, see `acks`), after its
//!   last read of the message, and gives its pointer up;
//! - its consumer is dropped (`Core::unsubscribe`): the core then gives the
//!   still-live delivery a count of its own (a clone it leaks), so the
//!   message can be requeued and redelivered while the stale delivery
//!   still derefs to it; the delivery's later settle, finding its token
//!   stale, hands that count back under the lock.
//!
//! An auto-ack delivery's entry left the window when `recv` took it: it
//! owns the window's clone. So a delivery owns a count exactly when it has
//! no token, or its token is stale, which the core decides under the lock.
//! This saves a reference count increment and decrement (both under the
//! lock) per message over a clone per delivery.

use crate::sync::{Arc, AtomicBool, UnsafeCell};
use core::ptr::NonNull;

/// One message, shared by the core's tables and the deliveries of it.
pub(in crate::dispatch) struct Slot<T> {
    /// `Some` whenever anything but the pool holds the slot. Written only
    /// by `Core::swap_unique`, under the lock, through the only clone.
    pub(super) msg: UnsafeCell<Option<T>>,
    /// Set under the core lock when the message was to be dead-lettered
    /// while another holder still had it: the last holder to hand it back
    /// sends it on.
    pub(super) dead: AtomicBool,
}

// SAFETY: a slot is what `Arc<Option<T>>` would be (deliveries on any
// thread read the message; the core moves it in and out), so it is sent
// and shared under the same bounds: `Send` needs `T: Send`, `Sync` needs
// `T: Send + Sync` (the message moves out through a shared `Arc`). Its
// cell is written only through the only clone (`Core::swap_unique`).
unsafe impl<T: Send> Send for Slot<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Slot<T> {}

// A slot lends `&T` to deliveries, as an `Arc<T>` would: unwind safe as
// that is, for `T: RefUnwindSafe` (its cell is written only through the
// only clone, never while a `&T` is out, and no user code runs under the
// dispatcher's lock; see `Shared`).
impl<T: ::core::panic::RefUnwindSafe> ::core::panic::UnwindSafe for Slot<T> {}
impl<T: ::core::panic::RefUnwindSafe> ::core::panic::RefUnwindSafe for Slot<T> {}

impl<T> Slot<T> {
    pub(super) fn new() -> Self {
        Self {
            msg: UnsafeCell::new(None),
            dead: AtomicBool::new(false),
        }
    }

    /// The message; present while any delivery holds the slot.
    pub(in crate::dispatch) fn get(&self) -> &T {
        // SAFETY: the cell is written only through the only clone of the
        // slot (`Core::swap_unique`), and `self` is borrowed from a clone,
        // or from a `SlotRef` whose lending window entry holds one (see the
        // module docs): while this borrow lives that clone is not the only
        // one or cannot reach `swap_unique`, so no write happens.
        let msg = self.msg.with(|msg| unsafe { &*msg });
        match msg {
            Some(msg) => msg,
            None => unreachable!("dispatch: a live slot is empty"),
        }
    }
}

/// A delivery's hold on its slot: lent by its window entry, or owning one
/// strong count (see the module docs). It has no `Drop`: it is given back
/// with [`Core::finish`](super::Core::finish) or
/// [`Core::unreceive`](super::Core::unreceive), or forgotten once its
/// lock-free ack is published.
pub(in crate::dispatch) struct SlotRef<T> {
    /// Non-null, so that an `Option` of it (and of what holds it) needs no
    /// flag of its own: deliveries are moved by value at every step.
    ptr: NonNull<Slot<T>>,
}

// SAFETY: a `SlotRef` is used as an `Arc<Slot<T>>` would be (it reads the
// message on any thread, and its count, if it owns one, is handed back on
// another), so it is sent and shared under the same bounds.
unsafe impl<T: Send + Sync> Send for SlotRef<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for SlotRef<T> {}

impl<T> SlotRef<T> {
    /// Lent by the window entry holding `slot`: no count of its own.
    pub(super) fn lend(slot: &Arc<Slot<T>>) -> Self {
        Self {
            ptr: non_null(Arc::as_ptr(slot)),
        }
    }

    /// Owns the count of `slot`.
    pub(super) fn own(slot: Arc<Slot<T>>) -> Self {
        Self {
            ptr: non_null(Arc::into_raw(slot)),
        }
    }

    /// The slot.
    pub(in crate::dispatch) fn slot(&self) -> &Slot<T> {
        // SAFETY: the slot is alive while this ref is: it owns a count, or
        // its lending window entry is in its window (the entry leaves it
        // only when this ref is given up, or after the core gave the ref a
        // count of its own). The core outlives it too: a delivery holds
        // its queue.
        unsafe { self.ptr.as_ref() }
    }

    /// Takes back the count this ref owns.
    ///
    /// # Safety
    ///
    /// It owns one: it was made by [`own`](Self::own), or lent by an entry
    /// that left its window with the core leaking a clone for it
    /// ([`give_count`](Self::give_count)).
    pub(super) unsafe fn into_owned(self) -> Arc<Slot<T>> {
        // SAFETY: the pointer comes from `Arc::into_raw` or `Arc::as_ptr`
        // of a live clone (the same pointer), and the caller vouches for
        // the count it takes over.
        unsafe { Arc::from_raw(self.ptr.as_ptr()) }
    }

    /// Under the lock, when the window entry `slot` that lent a live
    /// delivery its ref leaves the window while the delivery lives: gives
    /// the delivery a count of its own, taken back by its settle
    /// ([`into_owned`](Self::into_owned)).
    pub(super) fn give_count(slot: &Arc<Slot<T>>) {
        core::mem::forget(Arc::clone(slot));
    }
}

/// The pointer of a live `Arc` (never null), as a `NonNull`.
#[inline(always)]
fn non_null<S>(ptr: *const S) -> NonNull<S> {
    match NonNull::new(ptr.cast_mut()) {
        Some(ptr) => ptr,
        None => unreachable!("dispatch: a null Arc pointer"),
    }
}
