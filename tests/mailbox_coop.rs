//! With the `tokio` feature, `recv`, `recv_many`, the `Stream` and the
//! sends that wait for a slot spend tokio's cooperative budget: a consumer
//! looping over a mailbox that is never empty (or a producer over one that
//! is never full) still lets the other tasks of its worker run, as with
//! tokio's own `mpsc`. The mailbox spends one unit per 16 operations of a
//! handle, so these loops yield later than tokio's, but they do yield.
#![cfg(feature = "tokio")]

mod support;

use futures::StreamExt;
use std::sync::atomic::Ordering;
use support::hog_yields;

/// How the hog takes its next message.
#[derive(Clone, Copy)]
enum Take {
    Recv,
    RecvMany,
    Stream,
}

/// On a one-thread runtime, a task keeps its mailbox full (every message it
/// receives it sends straight back), so its receive never waits; without a
/// budget it would never return to the scheduler and `other` would never
/// run.
fn consumer_of_always_full_mailbox_yields(take: Take) {
    let rounds = hog_yields(move |other_ran| async move {
        let (tx, mut rx) = flowgate::mailbox::bounded::<u64>(4);
        for i in 0..4 {
            tx.try_send(i).unwrap();
        }
        let mut buf = Vec::new();
        let mut rounds = 0u64;
        while !other_ran.load(Ordering::SeqCst) {
            let got = match take {
                Take::Recv => rx.recv().await.unwrap(),
                Take::RecvMany => {
                    buf.clear();
                    assert_eq!(rx.recv_many(&mut buf, 1).await, 1);
                    buf[0]
                }
                Take::Stream => rx.next().await.unwrap(),
            };
            tx.try_send(got).unwrap();
            rounds += 1;
        }
        assert_eq!(rx.len(), 4);
        rounds
    });
    assert!(rounds > 0);
}

#[test]
fn recv_loop_over_full_mailbox_yields_to_other_tasks() {
    consumer_of_always_full_mailbox_yields(Take::Recv);
}

#[test]
fn recv_many_loop_over_full_mailbox_yields_to_other_tasks() {
    consumer_of_always_full_mailbox_yields(Take::RecvMany);
}

#[test]
fn stream_loop_over_full_mailbox_yields_to_other_tasks() {
    consumer_of_always_full_mailbox_yields(Take::Stream);
}

/// On a one-thread runtime, a task sends into a mailbox that always has
/// room (it takes each message back out with `try_recv`), so its sends
/// never wait; without a budget `other` would never run.
#[test]
fn send_loop_into_mailbox_with_room_yields_to_other_tasks() {
    let rounds = hog_yields(|other_ran| async move {
        let (tx, mut rx) = flowgate::mailbox::bounded::<u64>(4);
        let mut rounds = 0u64;
        while !other_ran.load(Ordering::SeqCst) {
            tx.send(rounds).await.unwrap();
            assert_eq!(rx.try_recv(), Ok(rounds));
            rounds += 1;
        }
        rounds
    });
    assert!(rounds > 0);
}
