//! `flowgate::mailbox` as DESIGN.md §3 states it.

use super::*;
use flowgate::mailbox::{
    self, Builder, Overflow, Receiver, SendError, Sender, TryRecvError, TrySendError, WeakSender,
};
use futures::{SinkExt, StreamExt, stream::FusedStream};

#[derive(Debug, PartialEq)]
struct Job(u32);

#[test]
fn the_snippet_as_written() {
    futures::executor::block_on(async {
        let (tx, mut rx) = mailbox::bounded::<Job>(1024);
        tx.send(Job(1)).await.unwrap();
        tx.try_send(Job(2)).unwrap();
        let permit = tx.reserve().await.unwrap();
        permit.send(Job(3));
        assert_eq!(rx.recv().await, Some(Job(1)));
        assert_eq!(rx.try_recv(), Ok(Job(2)));
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 64).await, 1);
        assert_eq!(buf, [Job(3)]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        rx.close();
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn send_after_close_hands_the_message_back() {
    futures::executor::block_on(async {
        let (tx, rx) = mailbox::bounded::<Job>(4);
        drop(rx);
        let SendError(job) = tx.send(Job(7)).await.unwrap_err();
        assert_eq!(job, Job(7));
        assert_eq!(tx.send(Job(8)).await.unwrap_err().0, Job(8));
        assert!(tx.is_closed());
    });
}

#[test]
fn try_send_full_and_closed_hand_the_message_back() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(1).unwrap();
    assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    rx.close();
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn recv_is_none_once_closed_and_drained() {
    futures::executor::block_on(async {
        let (tx, mut rx) = mailbox::bounded(4);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        drop((tx, tx2));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn close_refuses_new_sends_and_drains_what_is_there() {
    futures::executor::block_on(async {
        let (tx, mut rx) = mailbox::bounded(4);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        rx.close();
        assert!(rx.is_closed() && tx.is_closed());
        assert_eq!(tx.send(3).await.unwrap_err().0, 3);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn sender_handles_len_capacity_same_channel_weak() {
    let (tx, mut rx) = mailbox::bounded::<u32>(3);
    let (other, _other_rx) = mailbox::bounded::<u32>(3);
    let tx2: Sender<u32> = tx.clone();
    assert!(tx.same_channel(&tx2));
    assert!(!tx.same_channel(&other));
    tx.try_send(1).unwrap();
    assert_eq!(
        (tx.len(), tx.capacity(), rx.len(), rx.capacity()),
        (1, 3, 1, 3)
    );
    let weak: WeakSender<u32> = tx.downgrade();
    let _weak2 = weak.clone();
    assert!(weak.upgrade().is_some());
    drop((tx, tx2));
    assert!(weak.upgrade().is_none(), "a weak sender keeps nothing open");
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn receiver_is_a_fused_stream_and_the_sender_has_a_sink() {
    futures::executor::block_on(async {
        let (tx, rx): (Sender<u32>, Receiver<u32>) = mailbox::bounded(2);
        let mut sink = tx.into_sink();
        let producer = async move {
            for i in 0..5 {
                sink.send(i).await.unwrap();
            }
            sink.close().await.unwrap();
        };
        let consumer = rx.collect::<Vec<_>>();
        let ((), got) = futures::join!(producer, consumer);
        assert_eq!(got, [0, 1, 2, 3, 4]);

        let (tx, mut rx) = mailbox::bounded::<u32>(1);
        drop(tx);
        assert_eq!(rx.next().await, None);
        assert!(rx.is_terminated());
    });
}

#[test]
fn drop_oldest_never_waits_and_drops_and_counts_the_evicted() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = Builder::new(2).overflow(Overflow::DropOldest).build();
    for i in 0..5 {
        let sent = tx.send(Counted(i, Arc::clone(&drops))).now_or_never();
        assert!(matches!(sent, Some(Ok(()))), "never waits");
    }
    assert_eq!(drops.load(Ordering::SeqCst), 3, "evicted messages dropped");
    assert_eq!(tx.dropped(), 3, "and counted");
    assert_eq!(rx.try_recv().unwrap().0, 3);
    assert_eq!(rx.try_recv().unwrap().0, 4);
}

#[test]
fn reject_new_never_waits_and_full_stays_distinguishable_from_closed() {
    let (tx, mut rx) = Builder::new(1).overflow(Overflow::RejectNew).build();
    tx.try_send(1).unwrap();
    match tx.send(2).now_or_never() {
        Some(Err(SendError(2))) => {}
        other => panic!("expected the message straight back, got {other:?}"),
    }
    assert!(!tx.is_closed(), "full, not closed");
    assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
    rx.close();
    assert!(matches!(tx.try_send(4), Err(TrySendError::Closed(4))));
    assert!(tx.is_closed());
}

#[test]
fn block_is_the_default_overflow() {
    assert_eq!(Overflow::default(), Overflow::Block);
    let (tx, _rx) = Builder::new(1).build::<u32>();
    tx.try_send(1).unwrap();
    let mut send = tx.send(2);
    let _ = pend(&mut send);
}

/// A seeded random walk over `try_send`, owned permits (reserved,
/// sent, released, dropped), `try_recv`, sender clones and drops, and
/// `close`, against a plain queue model under each overflow policy:
/// exact capacity, FIFO, eviction under `DropOldest`, typed refusals,
/// and every message received or dropped exactly once.
fn mailbox_walk(overflow: Overflow, seed: u64) {
    use flowgate::mailbox::OwnedPermit;
    use std::collections::VecDeque;
    let mut next = rng(seed);
    const CAP: usize = 3;
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = Builder::new(CAP).overflow(overflow).build::<Counted>();
    let mut senders = vec![tx];
    let mut permits: Vec<OwnedPermit<Counted>> = Vec::new();
    let mut model: VecDeque<u32> = VecDeque::new();
    let mut closed = false;
    let mut evicted = 0usize;
    let mut received = 0usize;
    let mut id = 0u32;
    for step in 0..400 {
        // Closing and the last sender's drop come late in the walk.
        let late = step > 300;
        let outstanding = model.len() + permits.len();
        match next(9) {
            0 | 1 if !senders.is_empty() => {
                let tx = &senders[next(senders.len() as u64) as usize];
                let msg = Counted(id, Arc::clone(&drops));
                let r = tx.try_send(msg);
                match r {
                    Ok(()) => {
                        assert!(!closed);
                        if outstanding == CAP {
                            assert_eq!(overflow, Overflow::DropOldest);
                            model.pop_front().unwrap();
                            evicted += 1;
                        } else {
                            assert!(outstanding < CAP);
                        }
                        model.push_back(id);
                    }
                    Err(TrySendError::Full(m)) => {
                        assert!(!closed);
                        assert_eq!(outstanding, CAP, "Full only when every slot is taken");
                        if overflow == Overflow::DropOldest {
                            assert!(model.is_empty(), "DropOldest evicts when it can");
                        }
                        assert_eq!(m.0, id);
                    }
                    Err(TrySendError::Closed(m)) => {
                        assert!(closed);
                        assert_eq!(m.0, id);
                    }
                }
                id += 1;
            }
            2 if !senders.is_empty() => {
                let tx = senders[next(senders.len() as u64) as usize].clone();
                match tx.reserve_owned().now_or_never() {
                    Some(Ok(permit)) => {
                        assert!(!closed && outstanding < CAP);
                        permits.push(permit);
                    }
                    Some(Err(_)) => assert!(closed),
                    None => assert!(!closed && outstanding == CAP),
                }
            }
            3 if !permits.is_empty() => {
                let permit = permits.swap_remove(next(permits.len() as u64) as usize);
                match next(3) {
                    0 => {
                        // A permit reserved before close still delivers.
                        let tx = permit.send(Counted(id, Arc::clone(&drops)));
                        model.push_back(id);
                        id += 1;
                        drop(tx);
                    }
                    1 => drop(permit.release()),
                    _ => drop(permit),
                }
            }
            4 | 5 => match rx.try_recv() {
                Ok(m) => {
                    assert_eq!(Some(m.0), model.pop_front(), "FIFO");
                    received += 1;
                }
                Err(TryRecvError::Empty) => {
                    assert!(model.is_empty());
                    assert!(!(closed || senders.is_empty()) || !permits.is_empty());
                }
                Err(TryRecvError::Closed) => {
                    assert!(model.is_empty() && permits.is_empty());
                    assert!(closed || senders.is_empty());
                }
            },
            6 if senders.len() < 3 && !senders.is_empty() => {
                let tx = senders[0].clone();
                senders.push(tx);
            }
            7 if !senders.is_empty() && (senders.len() > 1 || (late && next(30) == 0)) => {
                senders.swap_remove(next(senders.len() as u64) as usize);
            }
            8 if late && next(20) == 0 => {
                rx.close();
                closed = true;
            }
            _ => {}
        }
        assert_eq!(rx.len(), model.len());
        if let Some(tx) = senders.first() {
            assert_eq!(tx.dropped(), evicted);
            assert_eq!(tx.is_closed(), closed);
        }
    }
    drop(permits);
    drop(senders);
    while let Ok(m) = rx.try_recv() {
        assert_eq!(Some(m.0), model.pop_front());
        received += 1;
    }
    assert!(model.is_empty());
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));
    drop(rx);
    // Every message made (refused ones came back and were dropped by us).
    assert_eq!(drops.load(Ordering::SeqCst), id as usize);
    if std::env::var_os("CONTRACT_WALK_STATS").is_some() {
        eprintln!("{overflow:?}: made {id}, received {received}, evicted {evicted}");
    }
}

#[test]
fn mailbox_random_walks_match_a_queue_model() {
    for seed in 1..=30u64 {
        for overflow in [Overflow::Block, Overflow::DropOldest, Overflow::RejectNew] {
            mailbox_walk(overflow, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
    }
}

#[test]
#[should_panic(expected = "capacity")]
fn bounded_zero_panics_with_a_clear_message() {
    let _ = mailbox::bounded::<u32>(0);
}

#[test]
fn recv_is_cancel_safe() {
    let (tx, mut rx) = mailbox::bounded(1);
    {
        let mut recv = rx.recv();
        let _ = pend(&mut recv);
    }
    tx.try_send(5).unwrap();
    assert_eq!(rx.recv().now_or_never(), Some(Some(5)));
}

#[test]
fn reserve_is_cancel_safe_its_turn_passes_on() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(0).unwrap();
    let mut first = tx.reserve();
    let mut second = tx.reserve();
    let _ = pend(&mut first);
    let second_woken = pend(&mut second);
    assert_eq!(rx.try_recv(), Ok(0)); // a slot frees, for `first`
    drop(first);
    assert!(second_woken.get() >= 1);
    let permit = second.now_or_never().unwrap().unwrap();
    permit.send(1);
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn a_dropped_send_drops_its_message_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mailbox::bounded(1);
    tx.try_send(Counted(0, Arc::clone(&drops))).unwrap();
    let mut send = tx.send(Counted(1, Arc::clone(&drops)));
    let _ = pend(&mut send);
    drop(send);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(rx.try_recv().unwrap().0, 0);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn nothing_lost_buffered_messages_drop_once_with_the_receiver() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mailbox::bounded(8);
    for i in 0..5 {
        tx.try_send(Counted(i, Arc::clone(&drops))).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    let back = tx.try_send(Counted(9, Arc::clone(&drops))).unwrap_err();
    assert_eq!(back.into_inner().0, 9);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}
