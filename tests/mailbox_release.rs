//! A release that frees several slots at once (`recv_many`) serves every
//! parked sender it frees room for, in FIFO order, and no more.

mod support;

use flowgate::mailbox;
use futures::FutureExt;
use std::task::Poll;
use support::{counting, poll_with as poll, wakes};

/// Full capacity-2 mailbox, two senders parked; one `recv_many` takes both
/// messages: both senders are woken and both sends complete.
#[test]
fn recv_many_freeing_two_slots_wakes_both_parked_senders() {
    let (tx, mut rx) = mailbox::bounded(2);
    tx.try_send(0).unwrap();
    tx.try_send(1).unwrap();
    let (c2, w2) = counting();
    let (c3, w3) = counting();
    let mut s2 = tx.send(2);
    let mut s3 = tx.send(3);
    assert!(poll(&mut s2, &w2).is_pending());
    assert!(poll(&mut s3, &w3).is_pending());
    let mut buf = Vec::new();
    assert_eq!(rx.recv_many(&mut buf, 2).now_or_never(), Some(2));
    assert_eq!(buf, [0, 1]);
    assert_eq!((wakes(&c2), wakes(&c3)), (1, 1));
    assert_eq!(poll(&mut s2, &w2), Poll::Ready(Ok(())));
    assert_eq!(poll(&mut s3, &w3), Poll::Ready(Ok(())));
    buf.clear();
    assert_eq!(rx.recv_many(&mut buf, 4).now_or_never(), Some(2));
    assert_eq!(buf, [2, 3]);
}

/// Three senders parked, two slots freed: the first two (in order) are
/// served, the third still waits, and the next pop serves it.
#[test]
fn recv_many_serves_exactly_the_senders_it_frees_room_for() {
    let (tx, mut rx) = mailbox::bounded(2);
    tx.try_send(0).unwrap();
    tx.try_send(1).unwrap();
    let wakers: Vec<_> = (0..3).map(|_| counting()).collect();
    let mut sends: Vec<_> = (2..5).map(|v| tx.send(v)).collect();
    for (send, (_, w)) in sends.iter_mut().zip(&wakers) {
        assert!(poll(send, w).is_pending());
    }
    let mut buf = Vec::new();
    assert_eq!(rx.recv_many(&mut buf, 8).now_or_never(), Some(2));
    let woken: Vec<_> = wakers.iter().map(|(c, _)| wakes(c)).collect();
    assert_eq!(woken, [1, 1, 0]);
    assert!(poll(&mut sends[0], &wakers[0].1).is_ready());
    assert!(poll(&mut sends[1], &wakers[1].1).is_ready());
    assert!(poll(&mut sends[2], &wakers[2].1).is_pending());
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(wakes(&wakers[2].0), 1);
    assert!(poll(&mut sends[2], &wakers[2].1).is_ready());
}
