//! Behaviour of `flowgate::mailbox`: every method and error, close and drop
//! from both sides, drop accounting, overflow policies, and the mailbox bugs
//! of VERIFICATION.md (3, 6, 7, 8, 9, 10, 12) by name.

mod support;

use flowgate::mailbox::{
    self, Builder, Closed, Overflow, OwnedPermit, Permit, Receiver, Recv, RecvMany, Reserve,
    ReserveOwned, Send, SendError, SendSink, Sender, TryRecvError, TrySendError, WeakSender,
};
use futures::executor::block_on;
use futures::{FutureExt, SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use support::{counting as counting_waker, poll_with as poll, wakes};

// ---------------------------------------------------------------- helpers

/// A payload that counts its drops.
#[derive(Debug)]
struct Tracked(u32, Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

fn drops() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn tracked(n: u32, drops: &Arc<AtomicUsize>) -> Tracked {
    Tracked(n, Arc::clone(drops))
}

struct NotDebug;

// ------------------------------------------------------- construction

#[test]
#[should_panic(expected = "mailbox capacity must be at least 1")]
fn bounded_zero_panics() {
    let _ = mailbox::bounded::<u8>(0);
}

#[test]
#[should_panic(expected = "mailbox capacity must be at least 1")]
fn builder_zero_panics() {
    let _ = Builder::new(0);
}

#[test]
#[should_panic(expected = "exceeds Builder::MAX_CAPACITY")]
fn builder_too_large_panics() {
    let _ = Builder::new(Builder::MAX_CAPACITY + 1);
}

#[test]
fn builder_defaults_to_block_and_sets_overflow() {
    let (tx, rx) = Builder::new(3).build::<u8>();
    assert_eq!(tx.overflow(), Overflow::Block);
    assert_eq!(Overflow::default(), Overflow::Block);
    assert_eq!((tx.capacity(), rx.capacity()), (3, 3));
    for policy in [Overflow::Block, Overflow::DropOldest, Overflow::RejectNew] {
        let (tx, _rx) = Builder::new(1).overflow(policy).build::<u8>();
        assert_eq!(tx.overflow(), policy);
    }
}

// ------------------------------------------------------ send and receive

#[test]
fn send_recv_fifo_and_lengths() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(4);
        assert!(tx.is_empty() && rx.is_empty());
        for i in 0..4 {
            tx.send(i).await.unwrap();
        }
        assert_eq!((tx.len(), rx.len()), (4, 4));
        for i in 0..4 {
            assert_eq!(rx.recv().await, Some(i));
        }
        assert!(rx.is_empty());
        // Wraps around the ring several times.
        for i in 0..100 {
            tx.try_send(i).unwrap();
            assert_eq!(rx.try_recv(), Ok(i));
        }
    });
}

#[test]
fn capacity_not_a_power_of_two_is_exact() {
    let (tx, mut rx) = mailbox::bounded(3);
    for round in 0..5 {
        for i in 0..3 {
            tx.try_send(round * 10 + i).unwrap();
        }
        assert!(tx.try_send(99).unwrap_err().is_full());
        for i in 0..3 {
            assert_eq!(rx.try_recv(), Ok(round * 10 + i));
        }
    }
}

#[test]
fn try_send_errors_hand_the_message_back() {
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(String::from("a")).unwrap();
    let full = tx.try_send(String::from("b")).unwrap_err();
    assert!(full.is_full() && !full.is_closed());
    assert_eq!(full.to_string(), "mailbox full");
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(full.into_inner(), "b");
    rx.close();
    let closed = tx.try_send(String::from("c")).unwrap_err();
    assert!(closed.is_closed() && !closed.is_full());
    assert_eq!(closed.to_string(), "sending on a closed mailbox");
    assert_eq!(format!("{closed:?}"), "Closed(..)");
    assert!(matches!(closed, TrySendError::Closed(ref c) if c == "c"));
    let converted: TrySendError<u8> = SendError(5).into();
    assert!(matches!(converted, TrySendError::Closed(5)));
    // The buffered message is still there.
    assert_eq!(rx.try_recv().as_deref(), Ok("a"));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn errors_debug_without_t_debug_and_are_errors() {
    let e = SendError(NotDebug);
    assert_eq!(format!("{e:?}"), "SendError(..)");
    assert_eq!(e.to_string(), "sending on a closed mailbox");
    let _: &dyn std::error::Error = &e;
    let t = TrySendError::Full(NotDebug);
    let _: &dyn std::error::Error = &t;
    let _: &dyn std::error::Error = &TryRecvError::Empty;
    assert_eq!(TryRecvError::Empty.to_string(), "mailbox empty");
    assert_eq!(
        TryRecvError::Closed.to_string(),
        "mailbox closed and drained"
    );
    assert!(matches!(SendError(3).into_inner(), 3));
}

#[test]
fn send_on_closed_mailbox_returns_message() {
    block_on(async {
        let (tx, rx) = mailbox::bounded(1);
        drop(rx);
        let SendError(msg) = tx.send(vec![1, 2]).await.unwrap_err();
        assert_eq!(msg, [1, 2]);
        assert!(tx.is_closed());
        assert!(tx.reserve().await.is_err());
        assert!(matches!(tx.try_reserve(), Err(TrySendError::Closed(()))));
        assert!(tx.clone().reserve_owned().await.is_err());
    });
}

#[test]
fn try_recv_empty_then_closed() {
    let (tx, mut rx) = mailbox::bounded::<u8>(2);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.try_send(1).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn waiting_sender_resumes_when_receiver_frees_a_slot() {
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let (count, w) = counting_waker();
    let mut send = tx.send(2);
    assert!(poll(&mut send, &w).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut send, &w), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn waiting_sender_gets_message_back_on_close() {
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let (count, w) = counting_waker();
    let mut send = tx.send(2);
    assert!(poll(&mut send, &w).is_pending());
    rx.close();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut send, &w), Poll::Ready(Err(SendError(2))));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn waiting_receiver_is_woken_by_send() {
    let (tx, mut rx) = mailbox::bounded(1);
    let (count, w) = counting_waker();
    let mut recv = rx.recv();
    assert!(poll(&mut recv, &w).is_pending());
    tx.try_send(7).unwrap();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut recv, &w), Poll::Ready(Some(7)));
}

#[test]
fn recv_across_threads() {
    let (tx, mut rx) = mailbox::bounded(2);
    let handle = std::thread::spawn(move || {
        block_on(async {
            for i in 0..1000 {
                tx.send(i).await.unwrap();
            }
        })
    });
    block_on(async {
        for i in 0..1000 {
            assert_eq!(rx.recv().await, Some(i));
        }
        assert_eq!(rx.recv().await, None);
    });
    handle.join().unwrap();
}

// --------------------------------------------------------- close and drop

#[test]
fn all_senders_dropped_receiver_drains_then_none() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(4);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(1));
        drop(tx2);
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn last_sender_drop_wakes_waiting_receiver() {
    let (tx, mut rx) = mailbox::bounded::<u8>(1);
    let (count, w) = counting_waker();
    let mut recv = rx.recv();
    assert!(poll(&mut recv, &w).is_pending());
    let tx2 = tx.clone();
    drop(tx);
    assert_eq!(wakes(&count), 0);
    drop(tx2);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut recv, &w), Poll::Ready(None));
}

#[test]
fn receiver_close_refuses_sends_and_keeps_buffer() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(4);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        assert!(!rx.is_closed());
        rx.close();
        rx.close(); // idempotent
        assert!(rx.is_closed() && tx.is_closed());
        assert_eq!(tx.send(3).await, Err(SendError(3)));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        // Senders still alive, but closed and drained: end of stream.
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn receiver_drop_drops_each_buffered_message_once() {
    let count = drops();
    let (tx, rx) = mailbox::bounded(4);
    for i in 0..3 {
        tx.try_send(tracked(i, &count)).unwrap();
    }
    drop(rx);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let err = tx.try_send(tracked(9, &count)).unwrap_err();
    assert!(err.is_closed());
    drop(err);
    assert_eq!(count.load(Ordering::SeqCst), 4);
    drop(tx);
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[test]
fn senders_dropped_first_then_receiver_drops_buffer_once() {
    let count = drops();
    let (tx, rx) = mailbox::bounded(4);
    for i in 0..4 {
        tx.try_send(tracked(i, &count)).unwrap();
    }
    drop(tx);
    assert_eq!(count.load(Ordering::SeqCst), 0);
    drop(rx);
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[test]
fn received_messages_are_not_dropped_again() {
    let count = drops();
    let (tx, mut rx) = mailbox::bounded(4);
    for i in 0..4 {
        tx.try_send(tracked(i, &count)).unwrap();
    }
    let got = rx.try_recv().unwrap();
    assert_eq!(got.0, 0);
    drop((tx, rx));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    drop(got);
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[test]
fn closed_resolves_on_close_and_on_drop() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded::<u8>(1);
        assert!(tx.closed().now_or_never().is_none());
        rx.close();
        tx.closed().await;
        let (tx, rx) = mailbox::bounded::<u8>(1);
        let (count, w) = counting_waker();
        let mut closed = tx.closed();
        let mut closed2 = tx.closed();
        assert!(poll(&mut closed, &w).is_pending());
        assert!(poll(&mut closed2, &w).is_pending());
        drop(rx);
        assert_eq!(wakes(&count), 2);
        assert_eq!(poll(&mut closed, &w), Poll::Ready(()));
        assert_eq!(poll(&mut closed2, &w), Poll::Ready(()));
    });
}

// ---------------------------------------------------------------- permits

#[test]
fn permit_send_and_drop_free_the_slot() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(1);
        let permit = tx.reserve().await.unwrap();
        assert!(tx.try_send(0).unwrap_err().is_full());
        drop(permit);
        let permit = tx.try_reserve().unwrap();
        assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
        permit.send(1);
        assert_eq!(rx.recv().await, Some(1));
        tx.try_send(2).unwrap();
    });
}

#[test]
fn permit_dropped_wakes_waiting_sender() {
    let (tx, _rx) = mailbox::bounded(1);
    let permit = tx.try_reserve().unwrap();
    let (count, w) = counting_waker();
    let mut send = tx.send(1);
    assert!(poll(&mut send, &w).is_pending());
    drop(permit);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut send, &w), Poll::Ready(Ok(())));
}

#[test]
fn permit_reserved_before_close_still_delivers() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(2);
        let permit = tx.reserve().await.unwrap();
        rx.close();
        let (count, w) = counting_waker();
        let mut recv = rx.recv();
        // The permit may still send: not finished yet.
        assert!(poll(&mut recv, &w).is_pending());
        permit.send(5);
        assert_eq!(wakes(&count), 1);
        assert_eq!(poll(&mut recv, &w), Poll::Ready(Some(5)));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn permit_dropped_after_close_ends_the_stream() {
    let (tx, mut rx) = mailbox::bounded::<u8>(2);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    let (count, w) = counting_waker();
    let mut recv = rx.recv();
    assert!(poll(&mut recv, &w).is_pending());
    drop(permit);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut recv, &w), Poll::Ready(None));
}

#[test]
fn permit_send_after_receiver_dropped_drops_message_once() {
    let count = drops();
    let (tx, rx) = mailbox::bounded(1);
    let permit = tx.try_reserve().unwrap();
    drop(rx);
    permit.send(tracked(1, &count));
    drop(tx);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn owned_permit_send_release_and_counts_as_sender() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(1);
        let permit: OwnedPermit<u8> = tx.clone().reserve_owned().await.unwrap();
        assert_eq!(tx.sender_count(), 2);
        let tx2 = permit.send(1);
        assert!(tx2.same_channel(&tx));
        assert_eq!(rx.recv().await, Some(1));
        let permit = tx2.reserve_owned().await.unwrap();
        let tx2 = permit.release();
        tx2.try_send(2).unwrap();
        assert_eq!(rx.recv().await, Some(2));
        let permit = tx2.reserve_owned().await.unwrap();
        drop(tx);
        // The permit's sender keeps the stream open.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(permit);
        assert_eq!(rx.recv().await, None);
    });
}

/// VERIFICATION bug 3 (tokio #2854): the last sender is gone while a permit
/// is outstanding; when the permit is dropped the waiting receiver must wake
/// and see the end of the stream.
#[test]
fn bug3_last_sender_dropped_with_outstanding_permit_wakes_receiver() {
    let (tx, mut rx) = mailbox::bounded::<u8>(2);
    let permit = block_on(tx.reserve_owned()).unwrap(); // the last sender is inside
    let (count, w) = counting_waker();
    let mut recv = rx.recv();
    assert!(poll(&mut recv, &w).is_pending());
    drop(permit);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut recv, &w), Poll::Ready(None));
}

// ------------------------------------------------------------- handles

#[test]
fn same_channel_downgrade_upgrade_sender_count() {
    let (tx, rx) = mailbox::bounded::<u8>(1);
    let (other, _orx) = mailbox::bounded::<u8>(1);
    assert!(tx.same_channel(&tx.clone()));
    assert!(!tx.same_channel(&other));
    assert_eq!((tx.sender_count(), rx.sender_count()), (1, 1));
    let weak: WeakSender<u8> = tx.downgrade();
    let weak2 = weak.clone();
    assert_eq!(weak.sender_count(), 1);
    let up = weak.upgrade().unwrap();
    assert_eq!(tx.sender_count(), 2);
    drop((tx, up));
    assert_eq!(rx.sender_count(), 0);
    assert!(weak.upgrade().is_none());
    assert!(weak2.upgrade().is_none());
    let mut rx = rx;
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn debug_output_is_informative_without_t_debug() {
    let (tx, rx) = mailbox::bounded::<NotDebug>(2);
    let s = format!("{tx:?} {rx:?} {:?}", tx.downgrade());
    assert!(s.contains("capacity: 2"), "{s}");
    assert!(format!("{:?}", tx.send(NotDebug)).starts_with("Send"));
    assert!(format!("{:?}", tx.try_reserve().unwrap()).starts_with("Permit"));
    assert!(format!("{:?}", tx.closed()).starts_with("Closed"));
    assert!(format!("{:?}", tx.reserve()).starts_with("Reserve"));
    assert!(format!("{:?}", tx.clone().reserve_owned()).starts_with("ReserveOwned"));
    assert!(format!("{:?}", tx.clone().into_sink()).starts_with("SendSink"));
    let mut rx = rx;
    assert!(format!("{:?}", rx.recv()).starts_with("Recv"));
    let mut buf = Vec::new();
    assert!(format!("{:?}", rx.recv_many(&mut buf, 1)).starts_with("RecvMany"));
}

// ------------------------------------------------------------- recv_many

#[test]
fn recv_many_batches_limits_and_ends() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(8);
        let mut buf = vec![100];
        assert_eq!(rx.recv_many(&mut buf, 0).await, 0);
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
        assert_eq!(rx.recv_many(&mut buf, 2).await, 2);
        assert_eq!(rx.recv_many(&mut buf, 10).await, 3);
        assert_eq!(buf, [100, 0, 1, 2, 3, 4]);
        // All slots came back at once.
        for i in 0..8 {
            tx.try_send(i).unwrap();
        }
        buf.clear();
        drop(tx);
        assert_eq!(rx.recv_many(&mut buf, 100).await, 8);
        assert_eq!(rx.recv_many(&mut buf, 100).await, 0);
    });
}

#[test]
fn recv_many_waits_then_takes_what_is_there() {
    let (tx, mut rx) = mailbox::bounded(4);
    let mut buf = Vec::new();
    let (count, w) = counting_waker();
    let mut fut = rx.recv_many(&mut buf, 4);
    assert!(poll(&mut fut, &w).is_pending());
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert!(wakes(&count) >= 1);
    assert_eq!(poll(&mut fut, &w), Poll::Ready(2));
    assert_eq!(buf, [1, 2]);
}

// ------------------------------------------------------------- stream

#[test]
fn receiver_is_a_fused_stream() {
    use futures::stream::FusedStream;
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(4);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        drop(tx);
        assert!(!rx.is_terminated());
        assert_eq!(rx.next().await, Some(1));
        assert_eq!(rx.next().await, Some(2));
        assert_eq!(rx.next().await, None);
        assert!(rx.is_terminated());
        assert_eq!(rx.next().await, None);
    });
}

// ----------------------------------------------------------------- sink

#[test]
fn sink_sends_in_order_and_close_drops_the_sender() {
    block_on(async {
        let (tx, rx) = mailbox::bounded(8);
        let mut sink: SendSink<u32> = tx.into_sink();
        assert!(sink.get_ref().is_some());
        sink.send_all(&mut futures::stream::iter(0..6).map(Ok))
            .await
            .unwrap();
        sink.close().await.unwrap();
        assert!(sink.get_ref().is_none());
        assert_eq!(sink.send(9).await, Err(SendError(())));
        assert_eq!(rx.collect::<Vec<_>>().await, [0, 1, 2, 3, 4, 5]);
    });
}

#[test]
fn sink_poll_ready_reserves_a_slot() {
    let (tx, mut rx) = mailbox::bounded(1);
    let mut sink = tx.clone().into_sink();
    let (_count, w) = counting_waker();
    let mut cx = Context::from_waker(&w);
    assert_eq!(sink.poll_ready_unpin(&mut cx), Poll::Ready(Ok(())));
    assert!(sink.is_reserved());
    // The reserved slot is held: nobody else can take it.
    assert!(tx.try_send(1).unwrap_err().is_full());
    assert_eq!(sink.poll_ready_unpin(&mut cx), Poll::Ready(Ok(())));
    rx.close();
    // A reserved slot is honoured even after the close.
    sink.start_send_unpin(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(
        sink.poll_ready_unpin(&mut cx),
        Poll::Ready(Err(SendError(())))
    );
    assert_eq!(sink.poll_flush_unpin(&mut cx), Poll::Ready(Ok(())));
}

#[test]
fn sink_dropped_with_reservation_frees_the_slot() {
    let (tx, _rx) = mailbox::bounded::<u8>(1);
    let mut sink = tx.clone().into_sink();
    let (_count, w) = counting_waker();
    assert!(
        sink.poll_ready_unpin(&mut Context::from_waker(&w))
            .is_ready()
    );
    drop(sink);
    tx.try_send(1).unwrap();
}

#[test]
#[should_panic(expected = "start_send called without a successful poll_ready")]
fn sink_start_send_without_ready_panics() {
    let (tx, _rx) = mailbox::bounded::<u8>(1);
    let mut sink = tx.into_sink();
    let _ = sink.start_send_unpin(1);
}

// ---------------------------------------------------------- overflow

#[test]
fn drop_oldest_evicts_counts_and_drops_each_once() {
    let count = drops();
    let (tx, mut rx) = Builder::new(2).overflow(Overflow::DropOldest).build();
    for i in 0..5 {
        tx.try_send(tracked(i, &count)).unwrap();
    }
    assert_eq!((tx.dropped(), rx.dropped()), (3, 3));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(rx.try_recv().unwrap().0, 3);
    block_on(tx.send(tracked(5, &count))).unwrap(); // room: no eviction
    block_on(tx.send(tracked(6, &count))).unwrap(); // evicts 4, never waits
    assert_eq!(tx.dropped(), 4);
    let got: Vec<u32> = [rx.try_recv(), rx.try_recv()]
        .into_iter()
        .map(|m| m.unwrap().0)
        .collect();
    assert_eq!(got, [5, 6]);
    drop((tx, rx));
    assert_eq!(count.load(Ordering::SeqCst), 7);
}

#[test]
fn drop_oldest_with_every_slot_reserved_is_full_or_waits() {
    let (tx, mut rx) = Builder::new(1).overflow(Overflow::DropOldest).build();
    let permit = tx.try_reserve().unwrap();
    assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
    let (count, w) = counting_waker();
    let mut send = tx.send(2);
    assert!(poll(&mut send, &w).is_pending());
    permit.send(0);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll(&mut send, &w), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(tx.dropped(), 0);
}

#[test]
fn drop_oldest_sink_evicts_instead_of_waiting() {
    let (tx, mut rx) = Builder::new(1).overflow(Overflow::DropOldest).build();
    tx.try_send(1).unwrap();
    let mut sink = tx.clone().into_sink();
    let (_count, w) = counting_waker();
    assert_eq!(
        sink.poll_ready_unpin(&mut Context::from_waker(&w)),
        Poll::Ready(Ok(()))
    );
    assert_eq!(tx.dropped(), 1);
    sink.start_send_unpin(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn reject_new_hands_back_without_waiting() {
    block_on(async {
        let (tx, mut rx) = Builder::new(1).overflow(Overflow::RejectNew).build();
        tx.send(1).await.unwrap();
        assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
        // `send` resolves at once with the message; not closed, so full.
        assert_eq!(tx.send(3).now_or_never(), Some(Err(SendError(3))));
        assert!(!tx.is_closed());
        assert_eq!(rx.recv().await, Some(1));
        tx.send(4).await.unwrap();
        assert_eq!(tx.dropped(), 0);
        rx.close();
        assert_eq!(tx.send(5).await, Err(SendError(5)));
        assert!(tx.is_closed());
        assert!(tx.try_send(6).unwrap_err().is_closed());
    });
}

#[test]
fn reserve_waits_under_every_policy() {
    for policy in [Overflow::Block, Overflow::DropOldest, Overflow::RejectNew] {
        let (tx, mut rx) = Builder::new(1).overflow(policy).build::<u8>();
        tx.try_send(1).unwrap();
        let (count, w) = counting_waker();
        let mut reserve = tx.reserve();
        assert!(poll(&mut reserve, &w).is_pending(), "{policy:?}");
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(wakes(&count), 1);
        let Poll::Ready(Ok(permit)) = poll(&mut reserve, &w) else {
            panic!("{policy:?}: reserve not granted");
        };
        permit.send(2);
        assert_eq!(rx.try_recv(), Ok(2));
    }
}

// ------------------------------------------------- bugs by name

/// VERIFICATION bug 6 (futures #909): `try_send` racing the receiver's
/// drop: every accepted message is received or dropped exactly once.
#[test]
fn bug6_try_send_racing_receiver_drop_loses_nothing() {
    for _ in 0..if cfg!(miri) { 5 } else { 200 } {
        let count = drops();
        let (tx, rx) = mailbox::bounded(4);
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let sender = {
            let (count, barrier) = (Arc::clone(&count), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut refused = 0;
                for i in 0..8 {
                    if let Err(e) = tx.try_send(tracked(i, &count)) {
                        refused += 1;
                        drop(e);
                    }
                }
                refused
            })
        };
        barrier.wait();
        drop(rx);
        let _refused = sender.join().unwrap();
        // Sender and receiver gone: all 8 were dropped exactly once, either
        // refused, dropped by the receiver, or dropped with the mailbox.
        assert_eq!(count.load(Ordering::SeqCst), 8);
    }
}

/// VERIFICATION bug 7 (futures #1671): 1,000 cloned senders accept exactly
/// `capacity` messages between them, with `try_send` and with `send`.
#[test]
fn bug7_thousand_cloned_senders_accept_exactly_capacity() {
    let (tx, mut rx) = mailbox::bounded(16);
    let senders: Vec<Sender<usize>> = (0..1000).map(|_| tx.clone()).collect();
    let accepted = senders
        .iter()
        .enumerate()
        .filter(|(i, s)| s.try_send(*i).is_ok())
        .count();
    assert_eq!(accepted, 16);
    assert_eq!(tx.len(), 16);
    while rx.try_recv().is_ok() {}

    let (_count, w) = counting_waker();
    let mut sends: Vec<Send<'_, usize>> =
        senders.iter().enumerate().map(|(i, s)| s.send(i)).collect();
    let mut ready = 0;
    for send in &mut sends {
        if poll(send, &w).is_ready() {
            ready += 1;
        }
    }
    assert_eq!(ready, 16);
    assert_eq!(tx.len(), 16);
    drop(sends);
    assert_eq!(tx.len(), 16);
}

/// VERIFICATION bug 8 (async-std #452), transposed to this MPSC mailbox:
/// two waiters woken by two separate notifications must both wake. Here:
/// two senders wait for a slot; two slots free up one at a time; both
/// complete (neither notification is swallowed by the other waiter).
#[test]
fn bug8_two_waiters_two_notifications_both_wake() {
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(0).unwrap();
    let (c1, w1) = counting_waker();
    let (c2, w2) = counting_waker();
    let mut s1 = tx.send(1);
    let mut s2 = tx.send(2);
    assert!(poll(&mut s1, &w1).is_pending());
    assert!(poll(&mut s2, &w2).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&c1), wakes(&c2)), (1, 0));
    assert_eq!(poll(&mut s1, &w1), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&c2), 1);
    assert_eq!(poll(&mut s2, &w2), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

/// VERIFICATION bug 9 (flume #120): a message sent and then the sender
/// dropped is still received before the end of the stream.
#[test]
fn bug9_sent_then_sender_dropped_is_still_received() {
    for _ in 0..if cfg!(miri) { 5 } else { 500 } {
        let (tx, mut rx) = mailbox::bounded(1);
        let t = std::thread::spawn(move || {
            tx.try_send(42).unwrap();
            drop(tx);
        });
        let got = block_on(rx.recv());
        t.join().unwrap();
        assert_eq!(got, Some(42));
        assert_eq!(block_on(rx.recv()), None);
    }
}

/// VERIFICATION bug 10 (flume): a `recv` that was notified and then
/// cancelled must not swallow the message: the next `recv` gets it.
#[test]
fn bug10_notified_then_cancelled_recv_does_not_swallow() {
    let (tx, mut rx) = mailbox::bounded(1);
    let (count, w) = counting_waker();
    {
        let mut recv: Recv<'_, u8> = rx.recv();
        assert!(poll(&mut recv, &w).is_pending());
        tx.try_send(1).unwrap();
        assert_eq!(wakes(&count), 1);
    } // cancelled after the notification
    let (count2, w2) = counting_waker();
    let mut recv = rx.recv();
    assert_eq!(poll(&mut recv, &w2), Poll::Ready(Some(1)));
    assert_eq!(wakes(&count2), 0);
}

/// VERIFICATION bug 12 (tokio #7709): holding a reserved slot must not
/// block other senders while other slots are free.
#[test]
fn bug12_held_permit_does_not_block_free_slots() {
    block_on(async {
        let (tx, mut rx) = mailbox::bounded(3);
        let tx2 = tx.clone();
        let held = tx.reserve().await.unwrap();
        tx2.send(1).await.unwrap();
        tx2.try_send(2).unwrap();
        assert!(tx2.try_send(3).unwrap_err().is_full());
        assert_eq!(rx.recv().await, Some(1));
        tx2.send(3).await.unwrap();
        held.send(0);
        let mut all = Vec::new();
        while let Ok(m) = rx.try_recv() {
            all.push(m);
        }
        assert_eq!(all, [2, 3, 0]);
    });
}

// ------------------------------------------------------ auto traits

#[test]
fn auto_traits() {
    fn send_sync_unpin<T: std::marker::Send + Sync + Unpin>() {}
    fn send_unpin<T: std::marker::Send + Unpin>() {}
    // A payload that is Send but neither Sync nor Unpin.
    type P = (std::cell::Cell<u8>, std::marker::PhantomPinned);
    send_sync_unpin::<Sender<P>>();
    send_sync_unpin::<WeakSender<P>>();
    send_sync_unpin::<Receiver<P>>();
    send_sync_unpin::<Permit<'static, P>>();
    send_sync_unpin::<OwnedPermit<P>>();
    send_sync_unpin::<SendSink<P>>();
    send_unpin::<Send<'static, P>>();
    send_sync_unpin::<Send<'static, u8>>();
    send_sync_unpin::<Reserve<'static, P>>();
    send_sync_unpin::<ReserveOwned<P>>();
    send_sync_unpin::<Closed<'static, P>>();
    send_sync_unpin::<Recv<'static, P>>();
    send_unpin::<RecvMany<'static, P>>();
    send_sync_unpin::<RecvMany<'static, u8>>();
    send_sync_unpin::<SendError<u8>>();
    send_sync_unpin::<TrySendError<u8>>();
    send_sync_unpin::<TryRecvError>();
    send_sync_unpin::<Builder>();
    send_sync_unpin::<Overflow>();
}
