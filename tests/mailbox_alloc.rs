//! Counts heap allocations (a counting global allocator, so this test has
//! its own binary): steady-state send/recv allocates nothing per message,
//! at capacity 1024 and at capacity 1, including when a side has to wait,
//! and a send polled to `Pending` and dropped over and over does not grow
//! memory (VERIFICATION bug 5 for the mailbox).

mod support;

use flowgate::mailbox;
use futures::executor::block_on;
use futures::task::noop_waker;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Barrier};
use std::task::Context;
use support::alloc::allocations;

#[global_allocator]
static GLOBAL: support::alloc::Counting = support::alloc::Counting;

const WARM_UP: u64 = 10_000;

/// One producer thread, the receiver on this thread; returns (allocations
/// during the measured phase, receiver polls that returned Pending).
fn spsc(capacity: usize, messages: u64) -> (usize, usize) {
    let (tx, mut rx) = mailbox::bounded::<u64>(capacity);
    // Make the sender wait once, so the wait list has its node whatever
    // the warm-up's timing.
    for i in 0..capacity as u64 {
        tx.try_send(i).unwrap();
    }
    let waker = noop_waker();
    let mut send = tx.send(0);
    assert!(
        Pin::new(&mut send)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    drop(send);
    while rx.try_recv().is_ok() {}
    let barrier = Arc::new(Barrier::new(2));
    let producer = {
        let barrier = Arc::clone(&barrier);
        std::thread::spawn(move || {
            block_on(async {
                for i in 0..WARM_UP {
                    tx.send(i).await.unwrap();
                }
                barrier.wait(); // warm-up done (the receiver drained it)
                let before = allocations();
                for i in 0..messages {
                    tx.send(i).await.unwrap();
                }
                allocations() - before
            })
        })
    };
    let mut pending = 0;
    let mut recv = |rx: &mut mailbox::Receiver<u64>| {
        block_on(poll_fn(|cx| {
            let polled = rx.poll_recv(cx);
            if polled.is_pending() {
                pending += 1;
            }
            polled
        }))
    };
    for i in 0..WARM_UP {
        assert_eq!(recv(&mut rx), Some(i));
    }
    barrier.wait();
    let before = allocations();
    for i in 0..messages {
        assert_eq!(recv(&mut rx), Some(i));
    }
    let received = allocations() - before;
    let sent = producer.join().unwrap();
    (sent + received, pending)
}

#[test]
fn steady_state_spsc_allocates_nothing() {
    let messages = if cfg!(miri) { 200 } else { 200_000 };
    for capacity in [1024, 1] {
        let (allocs, pending) = spsc(capacity, messages);
        assert_eq!(allocs, 0, "capacity {capacity}: {allocs} allocations");
        if capacity == 1 {
            // At capacity 1 the receiver has had to wait.
            assert!(pending > 0, "the receiver never waited");
        }
    }
}

#[test]
fn cancelled_sends_do_not_grow_memory() {
    let (tx, _rx) = mailbox::bounded::<u64>(1);
    tx.try_send(0).unwrap();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut cycle = || {
        let mut send = tx.send(1);
        assert!(Pin::new(&mut send).poll(&mut cx).is_pending());
        drop(send);
        let mut reserve = tx.reserve();
        assert!(Pin::new(&mut reserve).poll(&mut cx).is_pending());
    };
    for _ in 0..100 {
        cycle();
    }
    let before = allocations();
    for _ in 0..if cfg!(miri) { 100 } else { 1_000_000 } {
        cycle();
    }
    assert_eq!(allocations() - before, 0);
}
