//! `Sender::send_timeout` and `Receiver::recv_timeout`: deadlines on a
//! manual clock, a slot or message landing exactly as the deadline fires,
//! the four cancellation tests, and the plain forms on every executor.

mod runtime_matrix;
mod support;

use flowgate::mailbox::{self, Overflow, RecvTimeoutError, SendTimeoutError};
use flowgate::runtime::{ManualClock, Timer};
use futures::FutureExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use support::{counting, poll_with, wakes};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn send_times_out_and_hands_the_message_back() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let mut send = Box::pin(tx.send_timeout_with(&clock, 2, SEC));
    assert!((&mut send).now_or_never().is_none());
    clock.advance(SEC - Duration::from_nanos(1));
    assert!((&mut send).now_or_never().is_none());
    clock.advance(Duration::from_nanos(1));
    match send.now_or_never().unwrap() {
        Err(SendTimeoutError::Timeout(2)) => {}
        other => panic!("expected Timeout(2), got {other:?}"),
    }
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(rx.try_recv().is_err(), "the timed-out message was not sent");
}

#[test]
fn send_succeeds_when_a_slot_frees_before_the_deadline() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let mut send = Box::pin(tx.send_timeout_with(&clock, 2, SEC));
    let (woken, waker) = counting();
    assert!(poll_with(&mut send, &waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&woken), 1);
    assert!(matches!(poll_with(&mut send, &waker), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn send_to_a_closed_mailbox_hands_the_message_back() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let mut send = Box::pin(tx.send_timeout_with(&clock, 2, SEC));
    assert!((&mut send).now_or_never().is_none());
    rx.close();
    let err = send.now_or_never().unwrap().unwrap_err();
    assert!(err.is_closed());
    assert_eq!(err.into_inner(), 2);
    drop(rx);
    let err = tx.send_timeout_with(&clock, 3, SEC).now_or_never().unwrap();
    assert!(matches!(err, Err(SendTimeoutError::Closed(3))));
}

#[test]
fn reject_new_refuses_at_once_and_drop_oldest_evicts() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::Builder::new(1)
        .overflow(Overflow::RejectNew)
        .build();
    tx.try_send(1).unwrap();
    let out = tx.send_timeout_with(&clock, 2, SEC).now_or_never();
    assert!(matches!(out, Some(Err(SendTimeoutError::Timeout(2)))));
    assert_eq!(rx.try_recv(), Ok(1));

    let (tx, mut rx) = mailbox::Builder::new(1)
        .overflow(Overflow::DropOldest)
        .build();
    tx.try_send(1).unwrap();
    let out = tx.send_timeout_with(&clock, 2, SEC).now_or_never();
    assert!(matches!(out, Some(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.dropped(), 1);
}

/// Fires on its second poll, after running `land`.
struct LandThenFire {
    land: Arc<dyn Fn() + Send + Sync>,
    polled: bool,
}

impl Future for LandThenFire {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if !self.polled {
            self.polled = true;
            return Poll::Pending;
        }
        (self.land)();
        Poll::Ready(())
    }
}

struct LandingTimer(Arc<dyn Fn() + Send + Sync>);

impl Timer for LandingTimer {
    type Sleep = LandThenFire;
    fn sleep(&self, _: Duration) -> LandThenFire {
        LandThenFire {
            land: Arc::clone(&self.0),
            polled: false,
        }
    }
}

#[test]
fn slot_landing_as_the_deadline_fires_goes_to_the_next_sender() {
    let (tx, rx) = mailbox::bounded(1);
    let rx = Arc::new(Mutex::new(rx));
    tx.try_send(1).unwrap();
    let timer = {
        let rx = Arc::clone(&rx);
        LandingTimer(Arc::new(move || {
            assert_eq!(rx.lock().unwrap().try_recv(), Ok(1));
        }))
    };
    let mut timed = Box::pin(tx.send_timeout_with(&timer, 2, SEC));
    let (_, waker) = counting();
    assert!(poll_with(&mut timed, &waker).is_pending());
    let mut next = tx.send(3);
    let (next_woken, next_waker) = counting();
    assert!(poll_with(&mut next, &next_waker).is_pending());
    // The deadline fires in the poll in which the slot is freed: whichever
    // wins, the slot is used exactly once.
    match poll_with(&mut timed, &waker) {
        Poll::Ready(Err(SendTimeoutError::Timeout(2))) => {
            assert_eq!(wakes(&next_woken), 1, "the slot went on to the next sender");
            assert!(matches!(
                poll_with(&mut next, &next_waker),
                Poll::Ready(Ok(()))
            ));
            assert_eq!(rx.lock().unwrap().try_recv(), Ok(3));
        }
        Poll::Ready(Ok(())) => {
            drop(next);
            assert_eq!(rx.lock().unwrap().try_recv(), Ok(2));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(rx.lock().unwrap().try_recv().is_err());
}

#[test]
fn message_landing_as_the_deadline_fires_stays_queued() {
    let (tx, mut rx) = mailbox::bounded(2);
    let timer = LandingTimer(Arc::new(move || tx.try_send(9).unwrap()));
    let mut recv = Box::pin(rx.recv_timeout_with(&timer, SEC));
    let (_, waker) = counting();
    assert!(poll_with(&mut recv, &waker).is_pending());
    let out = poll_with(&mut recv, &waker);
    drop(recv);
    match out {
        Poll::Ready(Err(RecvTimeoutError::Timeout)) => assert_eq!(rx.try_recv(), Ok(9)),
        Poll::Ready(Ok(9)) => assert!(rx.try_recv().is_err()),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn recv_times_out_receives_and_sees_close() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded::<u8>(2);
    {
        let mut recv = Box::pin(rx.recv_timeout_with(&clock, SEC));
        assert!((&mut recv).now_or_never().is_none());
        clock.advance(SEC);
        assert_eq!(recv.now_or_never(), Some(Err(RecvTimeoutError::Timeout)));
    }
    tx.try_send(4).unwrap();
    assert_eq!(
        rx.recv_timeout_with(&clock, SEC).now_or_never(),
        Some(Ok(4))
    );
    drop(tx);
    assert_eq!(
        rx.recv_timeout_with(&clock, SEC).now_or_never(),
        Some(Err(RecvTimeoutError::Closed))
    );
}

// ---- the four cancellation tests ----

#[test]
fn dropped_before_first_poll_takes_nothing() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(1);
    drop(tx.send_timeout_with(&clock, 1, SEC));
    assert_eq!(tx.len(), 0);
    tx.try_send(2).unwrap();
    drop(rx.recv_timeout_with(&clock, SEC));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn pending_send_timeout_dropped_passes_the_slot_on() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let mut first = Box::pin(tx.send_timeout_with(&clock, 2, SEC));
    assert!((&mut first).now_or_never().is_none());
    let mut second = tx.send(3);
    let (woken, waker) = counting();
    assert!(poll_with(&mut second, &waker).is_pending());
    drop(first);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&woken), 1);
    assert!(matches!(
        poll_with(&mut second, &waker),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn notified_send_timeout_dropped_passes_the_slot_on() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let mut first = Box::pin(tx.send_timeout_with(&clock, 2, SEC));
    let (first_woken, first_waker) = counting();
    assert!(poll_with(&mut first, &first_waker).is_pending());
    let mut second = tx.send(3);
    let (second_woken, second_waker) = counting();
    assert!(poll_with(&mut second, &second_waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(1)); // the slot goes to `first`
    assert_eq!((wakes(&first_woken), wakes(&second_woken)), (1, 0));
    drop(first);
    assert_eq!(wakes(&second_woken), 1);
    assert!(matches!(
        poll_with(&mut second, &second_waker),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn repolled_send_timeout_wakes_only_the_new_waker() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(1).unwrap();
    let mut send = Box::pin(tx.send_timeout_with(&clock, 2, SEC));
    let (old, old_waker) = counting();
    let (new, new_waker) = counting();
    assert!(poll_with(&mut send, &old_waker).is_pending());
    assert!(poll_with(&mut send, &new_waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
}

#[test]
fn recv_timeout_cancellation_keeps_messages_and_wakes_the_new_waker() {
    let clock = ManualClock::new();
    let (tx, mut rx) = mailbox::bounded(2);
    // polled to Pending, then dropped: the next message stays for the next receive
    {
        let mut recv = Box::pin(rx.recv_timeout_with(&clock, SEC));
        assert!((&mut recv).now_or_never().is_none());
    }
    tx.try_send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    // re-polled with a new waker: only it is woken
    let mut recv = Box::pin(rx.recv_timeout_with(&clock, SEC));
    let (old, old_waker) = counting();
    let (new, new_waker) = counting();
    assert!(poll_with(&mut recv, &old_waker).is_pending());
    assert!(poll_with(&mut recv, &new_waker).is_pending());
    tx.try_send(2).unwrap();
    assert_eq!((wakes(&old), wakes(&new)), (0, 1));
    // notified, then dropped: the message is still there
    drop(recv);
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn timeout_errors_format_without_debug_payloads() {
    struct Opaque;
    let err = SendTimeoutError::Timeout(Opaque);
    assert_eq!(format!("{err:?}"), "Timeout(..)");
    assert!(!err.to_string().is_empty());
    assert!(!RecvTimeoutError::Closed.to_string().is_empty());
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SendTimeoutError<u8>>();
    send_sync::<RecvTimeoutError>();
    send_sync::<flowgate::mailbox::SendTimeout<'static, u8, flowgate::runtime::ManualSleep>>();
    send_sync::<flowgate::mailbox::RecvTimeout<'static, u8, flowgate::runtime::ManualSleep>>();
}

/// The plain forms, on every executor of the build (real timers, generous
/// deadlines: no timing is asserted beyond "it ends").
#[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
#[test]
fn plain_forms_on_every_executor() {
    runtime_matrix::each_executor(|| async {
        let (tx, mut rx) = mailbox::bounded(1);
        tx.send_timeout(1, Duration::from_secs(30)).await.unwrap();
        let err = tx
            .send_timeout(2, Duration::from_millis(5))
            .await
            .unwrap_err();
        assert!(matches!(err, SendTimeoutError::Timeout(2)));
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)).await, Ok(1));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)).await,
            Err(RecvTimeoutError::Timeout)
        );
    });
}
