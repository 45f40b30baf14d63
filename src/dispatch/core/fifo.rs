//! The queue of deliveries ready for a consumer.

/// A ring buffer of deliveries in order: what `VecDeque` does for the
/// `ready` queue of each consumer and its `recv` buffer, with the push that
/// every assignment makes and the pop that every `recv` makes inlined
/// (`VecDeque::push_back` is an out-of-line call there). It grows when
/// full (out of line), and never shrinks, so the steady state allocates
/// nothing.
pub(in crate::dispatch) struct Fifo<T> {
    /// A power of two long (at least 1); the entries `head..head + len`,
    /// counted modulo the length, are `Some`, the others `None`.
    slots: Vec<Option<T>>,
    head: usize,
    len: usize,
}

impl<T> Fifo<T> {
    /// Room for `n` (rounded up to a power of two) before it grows.
    pub(in crate::dispatch) fn with_capacity(n: usize) -> Self {
        let cap = n.max(1).next_power_of_two();
        Self {
            slots: (0..cap).map(|_| None).collect(),
            head: 0,
            len: 0,
        }
    }

    #[inline]
    pub(in crate::dispatch) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(in crate::dispatch) fn push_back(&mut self, value: T) {
        let cap = self.slots.len();
        if self.len == cap {
            return self.grow_push(value);
        }
        let at = (self.head + self.len) & (cap - 1);
        self.slots[at] = Some(value);
        self.len += 1;
    }

    #[inline]
    pub(in crate::dispatch) fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let value = self.slots[self.head].take();
        self.head = (self.head + 1) & (self.slots.len() - 1);
        self.len -= 1;
        value
    }

    /// [`push_back`](Self::push_back) on a full ring: twice the room, the
    /// entries moved to the front in order.
    #[cold]
    #[inline(never)]
    fn grow_push(&mut self, value: T) {
        let cap = self.slots.len() * 2;
        let mut slots = Vec::with_capacity(cap);
        while let Some(v) = self.pop_front() {
            slots.push(Some(v));
        }
        slots.push(Some(value));
        let len = slots.len();
        slots.resize_with(cap, || None);
        *self = Self {
            slots,
            head: 0,
            len,
        };
    }
}

#[cfg(all(test, not(flowgate_loom)))]
mod tests {
    use super::Fifo;

    #[test]
    fn keeps_order_across_wraps_and_growth() {
        let mut q = Fifo::with_capacity(3);
        let mut expect = std::collections::VecDeque::new();
        let mut next = 0;
        // Push two, pop one, many times over: wraps around the 4 slots,
        // then grows (twice) with the entries wrapped.
        for round in 0..40 {
            for _ in 0..2 + round % 3 {
                q.push_back(next);
                expect.push_back(next);
                next += 1;
            }
            for _ in 0..2 {
                assert_eq!(q.pop_front(), expect.pop_front());
            }
            assert_eq!(q.is_empty(), expect.is_empty());
        }
        while let Some(v) = expect.pop_front() {
            assert_eq!(q.pop_front(), Some(v));
        }
        assert!(q.is_empty());
        assert_eq!(q.pop_front(), None);
    }
}
