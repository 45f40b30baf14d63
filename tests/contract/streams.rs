//! The `Stream`, `FusedStream` and `Sink` faces of the primitives
//! (DESIGN.md §3: `Receiver: Stream`, a `Sink` adapter for the sender, the
//! consumer a stream of deliveries): polls after the end, `is_terminated`,
//! `poll_flush` / `poll_close`, a reservation given up.

use super::support::ready;
use super::*;
use flowgate::dispatch::{Dispatcher, Subscription};
use flowgate::mailbox::{self, Builder, Overflow, SendError};
use futures::sink::{Sink, SinkExt};
use futures::stream::{FusedStream, Stream, StreamExt};
use std::pin::Pin;
use std::task::{Context, Waker};

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn the_receiver_stream_ends_once_and_stays_ended() {
    let (tx, mut rx) = mailbox::bounded::<u32>(2);
    tx.try_send(1).unwrap();
    assert!(!rx.is_terminated());
    drop(tx);
    assert!(!rx.is_terminated(), "not before None was returned");
    assert_eq!(rx.next().now_or_never(), Some(Some(1)));
    assert_eq!(rx.next().now_or_never(), Some(None));
    assert!(rx.is_terminated());
    for _ in 0..3 {
        assert_eq!(Pin::new(&mut rx).poll_next(&mut cx()), Poll::Ready(None));
        assert_eq!(rx.recv().now_or_never(), Some(None));
    }
    let mut buf = Vec::new();
    assert_eq!(rx.recv_many(&mut buf, 4).now_or_never(), Some(0));
    assert!(rx.is_terminated());
}

#[test]
fn a_closed_receiver_drains_then_terminates_with_senders_alive() {
    let (tx, mut rx) = mailbox::bounded::<u32>(2);
    tx.try_send(1).unwrap();
    rx.close();
    assert!(tx.try_send(2).is_err());
    let got: Vec<u32> = futures::executor::block_on((&mut rx).collect());
    assert_eq!(got, [1]);
    assert!(rx.is_terminated());
    drop(tx);
}

#[test]
fn select_next_some_takes_the_receiver_and_the_consumer() {
    futures::executor::block_on(async {
        let (tx, mut rx) = mailbox::bounded::<u32>(2);
        tx.try_send(5).unwrap();
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        queue.publisher().try_publish(6).unwrap();
        let mut seen = Vec::new();
        for _ in 0..2 {
            futures::select! {
                m = rx.select_next_some() => seen.push(m),
                d = consumer.select_next_some() => seen.push(d.ack_take().unwrap()),
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [5, 6]);
    });
}

#[test]
fn the_consumer_stream_ends_once_and_stays_ended() {
    let queue = Dispatcher::<u32>::new();
    let mut consumer = queue.subscribe(Subscription::prefetch(2));
    queue.publisher().try_publish(1).unwrap();
    let d = consumer.next().now_or_never().unwrap().unwrap();
    queue.close();
    assert!(!consumer.is_terminated());
    assert!(
        consumer.next().now_or_never().is_none(),
        "an unacked delivery keeps it open"
    );
    d.ack();
    assert_eq!(
        consumer.next().now_or_never().map(|d| d.is_none()),
        Some(true)
    );
    assert!(consumer.is_terminated());
    for _ in 0..3 {
        assert!(matches!(
            Pin::new(&mut consumer).poll_next(&mut cx()),
            Poll::Ready(None)
        ));
        assert!(matches!(consumer.recv().now_or_never(), Some(None)));
    }
}

#[test]
fn the_sink_flushes_at_once_closes_its_sender_and_refuses_after() {
    let (tx, mut rx) = mailbox::bounded::<u32>(2);
    let mut sink = tx.into_sink();
    assert_eq!(
        Pin::new(&mut sink).poll_flush(&mut cx()),
        Poll::Ready(Ok(()))
    );
    assert_eq!(
        Pin::new(&mut sink).poll_ready(&mut cx()),
        Poll::Ready(Ok(()))
    );
    Pin::new(&mut sink).start_send(1).unwrap();
    assert_eq!(
        Pin::new(&mut sink).poll_flush(&mut cx()),
        Poll::Ready(Ok(()))
    );
    assert_eq!(rx.try_recv(), Ok(1), "a sent item is there without a flush");
    assert_eq!(
        Pin::new(&mut sink).poll_close(&mut cx()),
        Poll::Ready(Ok(()))
    );
    assert_eq!(
        Pin::new(&mut sink).poll_close(&mut cx()),
        Poll::Ready(Ok(()))
    );
    assert_eq!(
        Pin::new(&mut sink).poll_ready(&mut cx()),
        Poll::Ready(Err(SendError(())))
    );
    assert_eq!(
        rx.recv().now_or_never(),
        Some(None),
        "its sender was the last"
    );
    assert!(sink.send(2).now_or_never().unwrap().is_err());
}

#[test]
fn the_sink_waits_while_full_and_a_reservation_it_drops_passes_on() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    let other = tx.clone();
    let mut sink = tx.into_sink();
    // The sink reserves the only slot, then is dropped: the slot is free.
    assert_eq!(
        Pin::new(&mut sink).poll_ready(&mut cx()),
        Poll::Ready(Ok(()))
    );
    let mut send = other.send(9);
    let woken = pend(&mut send);
    drop(sink);
    assert_eq!(woken.get(), 1);
    assert_eq!(ready(&mut send), Ok(()));
    drop(send);
    // Full: the sink's poll_ready waits, and is woken by a receive.
    let mut sink = other.clone().into_sink();
    let (woken, waker) = counting();
    let mut ctx = Context::from_waker(&waker);
    assert!(Pin::new(&mut sink).poll_ready(&mut ctx).is_pending());
    assert_eq!(rx.try_recv(), Ok(9));
    assert_eq!(woken.get(), 1);
    assert_eq!(
        Pin::new(&mut sink).poll_ready(&mut ctx),
        Poll::Ready(Ok(()))
    );
    // A receiver gone: the sink refuses.
    let (tx, rx) = mailbox::bounded::<u32>(1);
    let mut sink = tx.into_sink();
    drop(rx);
    assert_eq!(
        Pin::new(&mut sink).poll_ready(&mut cx()),
        Poll::Ready(Err(SendError(())))
    );
}

#[test]
fn a_sink_waiting_for_room_is_woken_by_the_receivers_close() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(1).unwrap();
    let mut sink = tx.into_sink();
    let (woken, waker) = counting();
    assert!(
        Pin::new(&mut sink)
            .poll_ready(&mut Context::from_waker(&waker))
            .is_pending()
    );
    rx.close();
    assert_eq!(woken.get(), 1);
    assert_eq!(
        Pin::new(&mut sink).poll_ready(&mut cx()),
        Poll::Ready(Err(SendError(())))
    );
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn a_drop_oldest_sink_never_waits() {
    let (tx, mut rx) = Builder::new(2)
        .overflow(Overflow::DropOldest)
        .build::<u32>();
    let mut sink = tx.into_sink();
    futures::executor::block_on(async {
        for i in 0..5 {
            sink.send(i).await.unwrap();
        }
    });
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Ok(4));
    assert_eq!(rx.dropped(), 3);
}

#[test]
fn send_all_forwards_a_stream_into_the_mailbox() {
    futures::executor::block_on(async {
        let (tx, rx) = mailbox::bounded::<u32>(3);
        let mut sink = tx.into_sink();
        let producer = async move {
            let mut items = futures::stream::iter(0..50).map(Ok);
            sink.send_all(&mut items).await.unwrap();
            sink.close().await.unwrap();
        };
        let ((), got) = futures::join!(producer, rx.collect::<Vec<_>>());
        assert_eq!(got, (0..50).collect::<Vec<_>>());
    });
}
