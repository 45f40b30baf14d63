//! VERIFICATION.md's bug list, where the other files cover a class for one
//! primitive only: bug 3 with a closed receiver and a borrowed permit, bug 4
//! (every path that returns room wakes a waiter) for the mailbox and the
//! dispatcher, bug 7 (cloned handles get no free room) for the dispatcher.
//! The full map from bug number to test is in the module comment of
//! `tests/contract.rs`.

use super::support::ready;
use super::*;
use flowgate::dispatch::{Dispatcher, Requeue, Subscription, TryPublishError};
use flowgate::mailbox::{self, Builder, Overflow, Sender};
use flowgate::runtime::ManualClock;
use futures::sink::Sink;
use futures::stream::StreamExt;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

/// Bug 3 (tokio #2854): the receiver closed its side while a permit was
/// out; it waits for that permit, and the permit's drop (unused) or send
/// wakes it.
#[test]
fn bug3_a_closed_receiver_waiting_on_an_outstanding_permit_is_woken() {
    for use_it in [false, true] {
        let (tx, mut rx) = mailbox::bounded::<u32>(2);
        let permit = tx.try_reserve().unwrap();
        rx.close();
        let mut recv = rx.recv();
        let woken = pend(&mut recv);
        if use_it {
            permit.send(5);
            assert_eq!(woken.get(), 1);
            assert_eq!(ready(&mut recv), Some(5));
            drop(recv);
            assert_eq!(rx.recv().now_or_never(), Some(None));
        } else {
            drop(permit);
            assert_eq!(woken.get(), 1, "the unused permit's drop wakes it");
            assert_eq!(ready(&mut recv), None);
        }
        drop(tx);
    }
}

/// A full mailbox of capacity 1 holding `0`, a sender waiting behind it,
/// and `free` run: the waiting sender must be woken and get the slot.
fn mailbox_room_wakes(
    what: &str,
    overflow: Overflow,
    free: impl FnOnce(&Sender<u32>, &mut mailbox::Receiver<u32>),
) {
    let (tx, mut rx) = Builder::new(1).overflow(overflow).build::<u32>();
    tx.try_send(0).unwrap();
    let mut send = tx.send(1);
    let woken = pend(&mut send);
    free(&tx, &mut rx);
    assert_eq!(woken.get(), 1, "{what}: the waiting sender is woken");
    assert_eq!(ready(&mut send), Ok(()), "{what}");
}

/// Bug 4 (tokio #8074, #8075, #8260) for the mailbox: every way a slot
/// comes back wakes a sender waiting for one.
#[test]
fn bug4_every_path_that_frees_a_mailbox_slot_wakes_a_waiting_sender() {
    let block = Overflow::Block;
    mailbox_room_wakes("recv", block, |_, rx| {
        assert_eq!(rx.recv().now_or_never(), Some(Some(0)));
    });
    mailbox_room_wakes("try_recv", block, |_, rx| {
        assert_eq!(rx.try_recv(), Ok(0));
    });
    mailbox_room_wakes("recv_many", block, |_, rx| {
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 8).now_or_never(), Some(1));
    });
    mailbox_room_wakes("Stream::next", block, |_, rx| {
        assert_eq!(rx.next().now_or_never(), Some(Some(0)));
    });
    mailbox_room_wakes("poll_recv", block, |_, rx| {
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(0)));
    });
    mailbox_room_wakes("recv_timeout_with", block, |_, rx| {
        let clock = ManualClock::new();
        let got = rx
            .recv_timeout_with(&clock, Duration::from_secs(1))
            .now_or_never();
        assert_eq!(got, Some(Ok(0)));
    });

    // The slot a permit, an owned permit or a sink held, given up unused.
    reserved_slot_wakes("OwnedPermit dropped", |tx| {
        let permit = tx.clone().try_reserve_owned_for_test();
        Box::new(move || drop(permit))
    });
    reserved_slot_wakes("OwnedPermit::release", |tx| {
        let permit = tx.clone().try_reserve_owned_for_test();
        Box::new(move || drop(permit.release()))
    });
    reserved_slot_wakes("sink reservation dropped", |tx| {
        let mut sink = tx.clone().into_sink();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut sink).poll_ready(&mut cx).is_ready());
        Box::new(move || drop(sink))
    });
    reserved_slot_wakes("sink closed with a reservation", |tx| {
        let mut sink = tx.clone().into_sink();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut sink).poll_ready(&mut cx).is_ready());
        Box::new(move || {
            let mut cx = Context::from_waker(Waker::noop());
            assert!(Pin::new(&mut sink).poll_close(&mut cx).is_ready());
        })
    });

    // The receiver going away wakes it too, with the message handed back.
    let (tx, rx) = mailbox::bounded::<u32>(1);
    tx.try_send(0).unwrap();
    let mut send = tx.send(1);
    let woken = pend(&mut send);
    drop(rx);
    assert_eq!(woken.get(), 1);
    assert_eq!(ready(&mut send).unwrap_err().0, 1);
}

/// What gives a reserved slot back.
type GiveUp = Box<dyn FnOnce()>;

/// A mailbox of capacity 2 with one slot holding `0` and the other
/// reserved by what `reserve` sets up, a sender waiting: running what
/// `reserve` returned must wake the sender and give it the slot.
fn reserved_slot_wakes(what: &str, reserve: impl FnOnce(&Sender<u32>) -> GiveUp) {
    let (tx, _rx) = mailbox::bounded::<u32>(2);
    tx.try_send(0).unwrap();
    let give_up = reserve(&tx);
    let mut send = tx.send(1);
    let woken = pend(&mut send);
    give_up();
    assert_eq!(woken.get(), 1, "{what}: the waiting sender is woken");
    assert_eq!(ready(&mut send), Ok(()), "{what}");
}

/// The owned permit of `tx`, reserved at once (the mailbox has room).
trait ReserveNow {
    fn try_reserve_owned_for_test(self) -> mailbox::OwnedPermit<u32>;
}

impl ReserveNow for Sender<u32> {
    fn try_reserve_owned_for_test(self) -> mailbox::OwnedPermit<u32> {
        self.reserve_owned().now_or_never().unwrap().unwrap()
    }
}

/// A dispatcher whose backlog (capacity 1) is full behind one consumer of
/// prefetch 1 that holds message 0 (1 waits in the backlog), a publisher
/// waiting with 2, and `free` run: the publisher must be woken and get in.
fn dispatcher_room_wakes(
    what: &str,
    subscription: Subscription,
    free: impl FnOnce(&Dispatcher<u32>, &mut flowgate::dispatch::Consumer<u32>),
) {
    let (dlq, _dead) = mailbox::bounded::<u32>(8);
    let queue = Dispatcher::<u32>::builder()
        .capacity(1)
        .dead_letter(dlq)
        .build();
    let mut consumer = queue.subscribe(subscription);
    let publisher = queue.publisher();
    publisher.try_publish(0).unwrap();
    publisher.try_publish(1).unwrap();
    assert!(matches!(
        publisher.try_publish(9),
        Err(TryPublishError::Full(9))
    ));
    let mut publish = publisher.publish(2);
    let woken = pend(&mut publish);
    free(&queue, &mut consumer);
    assert_eq!(woken.get(), 1, "{what}: the waiting publisher is woken");
    assert!(matches!(ready(&mut publish), Ok(())), "{what}");
}

/// Bug 4 for the dispatcher: every way backlog room comes back (a message
/// leaves the backlog for a consumer) wakes a publisher waiting for it.
#[test]
fn bug4_every_path_that_frees_backlog_room_wakes_a_waiting_publisher() {
    let one = || Subscription::prefetch(1);
    dispatcher_room_wakes("ack", one(), |_, c| c.try_recv().unwrap().ack());
    dispatcher_room_wakes("ack_take", one(), |_, c| {
        assert_eq!(c.try_recv().unwrap().ack_take(), Some(0));
    });
    dispatcher_room_wakes("nack(Requeue::No)", one(), |_, c| {
        c.try_recv().unwrap().nack(Requeue::No);
    });
    dispatcher_room_wakes("set_prefetch up", one(), |_, c| c.set_prefetch(2));
    dispatcher_room_wakes("auto-ack receive", one().auto_ack(), |_, c| {
        drop(c.try_recv().unwrap());
    });
    dispatcher_room_wakes("recv_timeout_with of auto-ack", one().auto_ack(), |_, c| {
        let clock = ManualClock::new();
        let got = c
            .recv_timeout_with(&clock, Duration::from_secs(1))
            .now_or_never();
        assert_eq!(got.unwrap().unwrap().ack_take(), Some(0));
    });
    dispatcher_room_wakes("a failed last attempt", one(), |_, c| {
        // Requeued at the front and assigned again at once: no room yet.
        drop(c.try_recv().unwrap());
        c.try_recv().unwrap().nack(Requeue::No);
    });

    // A new consumer takes the waiting message out of the backlog.
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(0).unwrap();
    let mut publish = publisher.publish(1);
    let woken = pend(&mut publish);
    let _consumer = queue.subscribe(Subscription::prefetch(1));
    assert_eq!(
        woken.get(),
        1,
        "a new consumer: the waiting publisher is woken"
    );
    assert!(matches!(ready(&mut publish), Ok(())));

    // Closing wakes it too, with the message handed back.
    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(0).unwrap();
    let mut publish = publisher.publish(1);
    let woken = pend(&mut publish);
    queue.close();
    assert_eq!(woken.get(), 1);
    assert_eq!(ready(&mut publish).unwrap_err().0, 1);
}

/// Bug 7 (futures #1671) for the dispatcher: a thousand cloned publishers
/// get no room of their own; exactly `capacity` messages are accepted.
#[test]
fn bug7_a_thousand_cloned_publishers_fill_exactly_the_capacity() {
    let queue = Dispatcher::<u32>::builder().capacity(8).build();
    let publishers: Vec<_> = (0..1000).map(|_| queue.publisher()).collect();
    let accepted = publishers
        .iter()
        .enumerate()
        .filter(|(i, p)| p.try_publish(*i as u32).is_ok())
        .count();
    assert_eq!(accepted, 8);
    assert_eq!(queue.stats().backlog, 8);
    let handles: Vec<_> = (0..1000).map(|_| queue.clone()).collect();
    assert!(handles[999].publisher().try_publish(0).is_err());
}
