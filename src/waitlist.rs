//! FIFO waiter queue shared by the primitives.
//!
//! A doubly linked list whose nodes live in a slab (`Vec`) and link by
//! index, so it needs no `unsafe` and no allocation once the slab has grown
//! to the largest number of waiters that were ever queued at once: a freed
//! node is reused by the next waiter. Memory is therefore bounded by the peak
//! number of concurrent waiters, and a future that is polled and dropped
//! over and over reuses the same node.
//!
//! The list is not synchronised itself: each primitive keeps it inside its
//! own `Mutex`, and the critical sections that touch it are short (link,
//! unlink, hand credit to the head). Wakers are collected into a [`WakeList`]
//! under the lock and woken after it is released.
//!
//! # No user code under the lock
//!
//! A `Waker` is user code: waking it, and *dropping* it, run the executor's
//! vtable, and a waker may be the last owner of credits, a permit or a
//! delivery of the very primitive whose lock is held. Dropping it there would
//! give them back, take the same lock, and deadlock the thread on itself. So
//! this list never drops a waker: every method that takes one out of a node
//! ([`set_waker`](WaitList::set_waker) replacing an old one,
//! [`take_waker`](WaitList::take_waker), [`remove`](WaitList::remove))
//! returns it, `#[must_use]`, for the caller to wake or drop once its lock is
//! released. The same rule holds in every primitive (see `crate::sync`).
//!
//! Node ownership: a node is *owned by the future that pushed it*. The
//! primitive may unlink a node (when it is served or the primitive closes),
//! but only the owner frees it with [`WaitList::remove`], so a key never
//! dangles or gets reused under its owner's feet.

use core::task::Waker;

const NIL: usize = usize::MAX;

/// Index of a node in a [`WaitList`], held by the future that owns it.
pub(crate) type Key = usize;

#[derive(Debug)]
enum Slot<W> {
    Vacant { next_free: usize },
    Occupied(Node<W>),
}

#[derive(Debug)]
struct Node<W> {
    prev: usize,
    next: usize,
    linked: bool,
    waker: Option<Waker>,
    data: W,
}

/// A FIFO queue of waiters carrying a payload `W` each.
#[derive(Debug)]
pub(crate) struct WaitList<W> {
    slots: Vec<Slot<W>>,
    head: usize,
    tail: usize,
    free: usize,
    len: usize,
}

impl<W> Default for WaitList<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W> WaitList<W> {
    /// An empty list; allocates nothing until the first push.
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
            len: 0,
        }
    }

    /// No node is linked.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn node(&self, key: Key) -> &Node<W> {
        match &self.slots[key] {
            Slot::Occupied(node) => node,
            Slot::Vacant { .. } => unreachable!("waitlist: key {key} is vacant"),
        }
    }

    fn node_mut(&mut self, key: Key) -> &mut Node<W> {
        match &mut self.slots[key] {
            Slot::Occupied(node) => node,
            Slot::Vacant { .. } => unreachable!("waitlist: key {key} is vacant"),
        }
    }

    /// Appends a waiter at the back and returns its key.
    pub(crate) fn push_back(&mut self, data: W, waker: Waker) -> Key {
        let node = Node {
            prev: self.tail,
            next: NIL,
            linked: true,
            waker: Some(waker),
            data,
        };
        let key = if self.free != NIL {
            let key = self.free;
            self.free = match self.slots[key] {
                Slot::Vacant { next_free } => next_free,
                Slot::Occupied(_) => unreachable!("waitlist: free list points at a node"),
            };
            self.slots[key] = Slot::Occupied(node);
            key
        } else {
            self.slots.push(Slot::Occupied(node));
            self.slots.len() - 1
        };
        if self.tail == NIL {
            self.head = key;
        } else {
            let tail = self.tail;
            self.node_mut(tail).next = key;
        }
        self.tail = key;
        self.len += 1;
        key
    }

    /// The key of the first linked node.
    pub(crate) fn front(&self) -> Option<Key> {
        (self.head != NIL).then_some(self.head)
    }

    /// Unlinks and returns the first node's key; the node stays allocated
    /// for its owner to observe and [`remove`](Self::remove).
    pub(crate) fn pop_front(&mut self) -> Option<Key> {
        let key = self.front()?;
        self.unlink(key);
        Some(key)
    }

    /// Whether the node is still queued.
    pub(crate) fn is_linked(&self, key: Key) -> bool {
        self.node(key).linked
    }

    /// Takes the node out of the queue (no-op if it is not queued).
    pub(crate) fn unlink(&mut self, key: Key) {
        let (prev, next) = {
            let node = self.node_mut(key);
            if !node.linked {
                return;
            }
            node.linked = false;
            (node.prev, node.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
        let node = self.node_mut(key);
        node.prev = NIL;
        node.next = NIL;
        self.len -= 1;
    }

    /// The payload of a node.
    #[cfg(test)]
    pub(crate) fn data(&self, key: Key) -> &W {
        &self.node(key).data
    }

    /// The payload of a node, mutably.
    pub(crate) fn data_mut(&mut self, key: Key) -> &mut W {
        &mut self.node_mut(key).data
    }

    /// Stores `waker` unless the stored one would wake the same task, and
    /// returns the waker it replaced: the caller drops it once its lock is
    /// released (see the module docs).
    #[must_use = "a replaced waker is dropped by the caller after unlocking"]
    pub(crate) fn set_waker(&mut self, key: Key, waker: &Waker) -> Option<Waker> {
        let slot = &mut self.node_mut(key).waker;
        match slot {
            Some(old) if old.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        }
    }

    /// Takes the node's waker out, to be woken (or dropped) after the lock
    /// is released.
    #[must_use = "a taken waker is woken or dropped by the caller after unlocking"]
    pub(crate) fn take_waker(&mut self, key: Key) -> Option<Waker> {
        self.node_mut(key).waker.take()
    }

    /// Frees the node (unlinking it first if needed) and returns its payload
    /// and its waker, which the caller drops once its lock is released.
    /// Only the node's owner calls this, once.
    #[must_use = "a removed waker is dropped by the caller after unlocking"]
    pub(crate) fn remove(&mut self, key: Key) -> (W, Option<Waker>) {
        self.unlink(key);
        let slot = core::mem::replace(
            &mut self.slots[key],
            Slot::Vacant {
                next_free: self.free,
            },
        );
        self.free = key;
        match slot {
            Slot::Occupied(node) => (node.data, node.waker),
            Slot::Vacant { .. } => unreachable!("waitlist: double remove of key {key}"),
        }
    }
}

/// Wakers gathered under a lock and woken after it is released.
///
/// Fixed size so gathering never allocates; a caller that fills it releases
/// its lock, calls [`wake_all`](Self::wake_all) and goes on.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; Self::CAPACITY],
    len: usize,
}

impl WakeList {
    /// How many wakers fit before the caller must wake them.
    pub(crate) const CAPACITY: usize = 32;

    pub(crate) const fn new() -> Self {
        Self {
            wakers: [const { None }; Self::CAPACITY],
            len: 0,
        }
    }

    /// Whether another waker fits.
    pub(crate) fn can_push(&self) -> bool {
        self.len < Self::CAPACITY
    }

    /// Adds a waker; the caller checks [`can_push`](Self::can_push) first.
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        debug_assert!(self.can_push());
        if let Some(waker) = waker {
            self.wakers[self.len] = Some(waker);
            self.len += 1;
        }
    }

    /// Wakes and forgets every gathered waker.
    pub(crate) fn wake_all(&mut self) {
        for slot in &mut self.wakers[..self.len] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
        self.len = 0;
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        self.wake_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    fn collect(list: &WaitList<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut key = list.head;
        while key != NIL {
            out.push(*list.data(key));
            key = list.node(key).next;
        }
        out
    }

    #[test]
    fn fifo_unlink_middle_and_reuse() {
        let mut list = WaitList::new();
        let a = list.push_back(1, noop_waker());
        let b = list.push_back(2, noop_waker());
        let c = list.push_back(3, noop_waker());
        assert_eq!(collect(&list), [1, 2, 3]);
        list.unlink(b);
        assert!(!list.is_linked(b));
        assert_eq!(collect(&list), [1, 3]);
        assert_eq!(list.remove(b).0, 2);
        // the freed slot is reused, not grown
        let d = list.push_back(4, noop_waker());
        assert_eq!(d, b);
        assert_eq!(list.slots.len(), 3);
        assert_eq!(collect(&list), [1, 3, 4]);
        assert_eq!(list.pop_front(), Some(a));
        assert_eq!(list.remove(a).0, 1);
        assert_eq!(list.remove(c).0, 3);
        assert_eq!(collect(&list), [4]);
        assert_eq!(list.len, 1);
        assert_eq!(list.remove(d).0, 4);
        assert!(list.is_empty());
        assert_eq!(list.front(), None);
    }

    #[test]
    fn wake_list_wakes_each_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let mut wakes = WakeList::new();
        for _ in 0..WakeList::CAPACITY {
            assert!(wakes.can_push());
            wakes.push(Some(Waker::from(count.clone())));
        }
        assert!(!wakes.can_push());
        wakes.wake_all();
        assert_eq!(count.0.load(Ordering::SeqCst), WakeList::CAPACITY);
        wakes.wake_all();
        assert_eq!(count.0.load(Ordering::SeqCst), WakeList::CAPACITY);
    }
}
