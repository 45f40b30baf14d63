//! The contract (DESIGN.md §3) as an outside user reads it: each test takes
//! one sentence of the contract and checks it through the public API only,
//! grouped by module. No sleeps and no timing: futures are polled by hand
//! or run on `futures::executor::block_on`, time comes from a manual clock.

mod runtime_matrix;
mod support;

use futures::FutureExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use support::{counting, pend, poll_with};

/// A payload that counts its drops (and has neither `Debug` nor `Clone`).
struct Counted(u32, Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// A payload with no trait impls at all.
struct Opaque;

mod credit {
    use super::*;
    use flowgate::credit::{AcquireError, CreditSemaphore, OwnedCredits, TryAcquireError};

    #[test]
    fn the_snippet_as_written() {
        futures::executor::block_on(async {
            let credits = CreditSemaphore::new(10);
            let c = credits.acquire(3).await.unwrap();
            assert_eq!((c.count(), credits.available()), (3, 7));
            drop(c); // returns 3 on drop
            assert_eq!(credits.available(), 10);
            let c = credits.try_acquire(1).unwrap();
            assert_eq!(credits.available(), 9);
            c.forget(); // returns only via add_credits
            assert_eq!(credits.available(), 9);
            credits.add_credits(5);
            assert_eq!(credits.available(), 14);

            let sem = Arc::new(CreditSemaphore::new(2));
            let owned: OwnedCredits = Arc::clone(&sem).acquire_owned(2).await.unwrap();
            fn is_static<X: 'static>(_: &X) {}
            is_static(&owned);
            assert_eq!(sem.available(), 0);
            drop(owned);
            assert_eq!(sem.available(), 2);

            assert!(!credits.is_closed());
            credits.close();
            assert!(credits.is_closed());
        });
        // The root re-export.
        let _ = flowgate::CreditSemaphore::new(1);
    }

    #[test]
    fn try_acquire_errors_are_no_credits_then_closed() {
        let sem = CreditSemaphore::new(1);
        let _held = sem.try_acquire(1).unwrap();
        assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::NoCredits);
        sem.close();
        assert_eq!(sem.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
    }

    #[test]
    fn more_than_max_credits_resolves_at_once_to_an_error() {
        let max: usize = CreditSemaphore::MAX_CREDITS;
        let sem = Arc::new(CreditSemaphore::new(0));
        assert!(matches!(
            sem.acquire(max + 1).now_or_never(),
            Some(Err(AcquireError::TooMany))
        ));
        assert!(matches!(
            Arc::clone(&sem).acquire_owned(usize::MAX).now_or_never(),
            Some(Err(_))
        ));
        assert!(sem.try_acquire(max + 1).is_err());
        // Nothing was queued by the refused requests.
        sem.add_credits(1);
        assert!(sem.try_acquire(1).is_ok());
    }

    #[test]
    fn waiters_are_served_in_arrival_order_and_a_large_head_is_not_starved() {
        let sem = CreditSemaphore::new(0);
        let mut big = sem.acquire(3);
        let mut small = sem.acquire(1);
        let big_woken = pend(&mut big);
        let small_woken = pend(&mut small);
        sem.add_credits(1);
        sem.add_credits(1);
        // The small request behind it does not overtake the head.
        assert_eq!(small_woken.get(), 0);
        assert_eq!(
            sem.try_acquire(1).unwrap_err(),
            TryAcquireError::NoCredits,
            "try_acquire fails while others wait"
        );
        sem.add_credits(1);
        assert!(big_woken.get() >= 1);
        let got = big.now_or_never().unwrap().unwrap();
        assert_eq!(got.count(), 3);
        sem.add_credits(1);
        assert!(small_woken.get() >= 1);
        assert_eq!(small.now_or_never().unwrap().unwrap().count(), 1);
    }

    #[test]
    fn dropping_a_pending_acquire_gives_back_what_it_was_assigned_and_wakes_the_next() {
        let sem = CreditSemaphore::new(0);
        let mut head = sem.acquire(3);
        let mut next = sem.acquire(2);
        let _ = pend(&mut head);
        let next_woken = pend(&mut next);
        sem.add_credits(2); // partly assigned to the head
        assert_eq!(next_woken.get(), 0);
        drop(head);
        assert!(next_woken.get() >= 1, "the next waiter is woken");
        assert_eq!(next.now_or_never().unwrap().unwrap().count(), 2);
        assert_eq!(sem.available(), 2);
    }

    #[test]
    fn close_wakes_every_waiter_with_closed_and_outstanding_credits_stay_valid() {
        let sem = CreditSemaphore::new(2);
        let held = sem.try_acquire(2).unwrap();
        let mut a = sem.acquire(1);
        let mut b = sem.acquire(5);
        let a_woken = pend(&mut a);
        let b_woken = pend(&mut b);
        sem.close();
        assert!(a_woken.get() >= 1 && b_woken.get() >= 1);
        assert_eq!(a.now_or_never().unwrap().unwrap_err(), AcquireError::Closed);
        assert_eq!(b.now_or_never().unwrap().unwrap_err(), AcquireError::Closed);
        // Outstanding credits stay valid.
        assert_eq!(held.count(), 2);
        drop(held);
        assert!(matches!(
            sem.acquire(1).now_or_never(),
            Some(Err(AcquireError::Closed))
        ));
    }

    /// The semaphore's bookkeeping as DESIGN.md describes it: FIFO waiters
    /// with partial assignment, `shrink` debt repaid first by whatever comes
    /// back, forgotten credit returning only through `add_credits`.
    #[derive(Default)]
    struct Model {
        available: usize,
        debt: usize,
        total: usize,
        /// (wanted, assigned so far) per waiter, oldest first.
        waiters: std::collections::VecDeque<(usize, usize)>,
    }

    impl Model {
        fn release(&mut self, mut n: usize) {
            let repay = n.min(self.debt);
            self.debt -= repay;
            n -= repay;
            for w in self.waiters.iter_mut() {
                let give = n.min(w.0 - w.1);
                w.1 += give;
                n -= give;
            }
            self.available += n;
        }
    }

    /// A seeded random walk over `acquire` (completed at once, waiting,
    /// dropped while waiting), `try_acquire`, guard drops, `forget`,
    /// `split`, `add_credits` and `shrink`, against [`Model`]: the same
    /// `available` after every step, waiters completing exactly when the
    /// model says (so strictly in arrival order, partial assignment
    /// included), `try_acquire` never barging.
    fn credit_walk(seed: u64) {
        use flowgate::credit::{Acquire, Credits};
        use std::collections::VecDeque;
        let mut rng = seed.max(1);
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let sem = CreditSemaphore::new(4);
        let mut m = Model {
            available: 4,
            total: 4,
            ..Model::default()
        };
        let mut held: Vec<Credits<'_>> = Vec::new();
        let mut waiting: VecDeque<Acquire<'_>> = VecDeque::new();
        let waker = futures::task::noop_waker();
        for _ in 0..400 {
            match next(8) {
                0 | 1 => {
                    let n = 1 + next(3) as usize;
                    let mut fut = sem.acquire(n);
                    let now = m.waiters.is_empty() && m.available >= n;
                    match poll_with(&mut fut, &waker) {
                        Poll::Ready(Ok(c)) => {
                            assert!(now, "granted when the model says it waits");
                            m.available -= n;
                            held.push(c);
                        }
                        Poll::Ready(Err(e)) => panic!("{e}"),
                        Poll::Pending => {
                            assert!(!now, "waits when the model grants");
                            m.waiters.push_back((n, m.available));
                            m.available = 0;
                            waiting.push_back(fut);
                        }
                    }
                }
                2 => {
                    let n = 1 + next(3) as usize;
                    let ok = m.waiters.is_empty() && m.available >= n;
                    match sem.try_acquire(n) {
                        Ok(c) => {
                            assert!(ok, "try_acquire barged or overdrew");
                            m.available -= n;
                            held.push(c);
                        }
                        Err(TryAcquireError::NoCredits) => assert!(!ok),
                        Err(e) => panic!("{e}"),
                    }
                }
                3 if !held.is_empty() => {
                    let mut c = held.swap_remove(next(held.len() as u64) as usize);
                    match next(4) {
                        0 => c.forget(),
                        1 => {
                            if let Some(part) = c.split(1) {
                                held.push(part);
                            }
                            held.push(c);
                        }
                        _ => {
                            m.release(c.count());
                            drop(c);
                        }
                    }
                }
                4 if !waiting.is_empty() => {
                    let i = next(waiting.len() as u64) as usize;
                    drop(waiting.remove(i));
                    let (_, assigned) = m.waiters.remove(i).unwrap();
                    m.release(assigned);
                }
                5 => {
                    let n = next(3) as usize;
                    sem.add_credits(n);
                    m.total += n;
                    m.release(n);
                }
                6 if next(3) == 0 => {
                    let asked = next(4) as usize;
                    sem.shrink(asked);
                    let n = asked.min(m.total); // at most down to zero
                    m.total -= n;
                    let taken = n.min(m.available);
                    m.available -= taken;
                    m.debt += n - taken;
                }
                _ => {}
            }
            // Waiters complete exactly when fully assigned.
            let mut k = 0;
            while k < waiting.len() {
                let (want, assigned) = m.waiters[k];
                match poll_with(&mut waiting[k], &waker) {
                    Poll::Ready(Ok(c)) => {
                        assert_eq!((c.count(), assigned), (want, want), "completed early");
                        held.push(c);
                        drop(waiting.remove(k));
                        m.waiters.remove(k);
                    }
                    Poll::Ready(Err(e)) => panic!("{e}"),
                    Poll::Pending => {
                        assert!(assigned < want, "fully assigned yet pending");
                        k += 1;
                    }
                }
            }
            assert_eq!(sem.available(), m.available);
        }
    }

    #[test]
    fn credit_random_walks_conserve_credit_in_fifo_order() {
        for seed in 1..=40u64 {
            credit_walk(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
    }

    #[test]
    fn shrink_lowers_the_total_and_what_is_lent_out_is_repaid_on_return() {
        let sem = CreditSemaphore::new(5);
        let held = sem.try_acquire(4).unwrap();
        sem.shrink(4); // 1 available now, 3 still owed by the holder
        assert_eq!(sem.available(), 0);
        drop(held);
        assert_eq!(sem.available(), 1, "total is now 5 - 4");
    }
}

mod mailbox {
    use super::*;
    use flowgate::mailbox::{
        self, Builder, Overflow, Receiver, SendError, Sender, TryRecvError, TrySendError,
        WeakSender,
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
        let mut rng = seed.max(1);
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
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
}

mod dispatch {
    use super::*;
    use flowgate::dispatch::{
        ConsumerStats, DEFAULT_CAPACITY, Delivery, Dispatcher, PublishError, Requeue, Stats,
        Strategy, Subscription, TryPublishError, TryRecvError,
    };
    use flowgate::mailbox;
    use futures::StreamExt;

    #[derive(Debug, Clone, PartialEq)]
    struct Job(u32);

    async fn handle(_job: &Job) {}

    #[test]
    fn the_snippet_as_written() {
        futures::executor::block_on(async {
            let (dlq_tx, mut dlq_rx) = mailbox::bounded::<Job>(16);
            let queue = Dispatcher::<Job>::builder()
                .capacity(1024)
                .strategy(Strategy::RoundRobin)
                .max_attempts(5)
                .dead_letter(dlq_tx)
                .build();
            let publisher = queue.publisher();
            let publisher2 = publisher.clone();
            let mut consumer = queue.subscribe(Subscription::prefetch(10).weight(3).priority(0));
            publisher.publish(Job(1)).await.unwrap();
            publisher2.publish(Job(2)).await.unwrap();
            drop((publisher, publisher2));
            queue.close();
            let mut seen = Vec::new();
            while let Some(d) = consumer.recv().await {
                let d: Delivery<Job> = d;
                handle(&d).await;
                let job: &Job = &d; // Deref<Target = Job>
                seen.push(job.0);
                if job.0 == 1 {
                    d.ack();
                } else {
                    d.nack(Requeue::No);
                }
            }
            assert_eq!(seen, [1, 2]);
            assert_eq!(dlq_rx.try_recv().unwrap(), Job(2));
            let s: Stats = queue.stats();
            assert_eq!((s.published, s.acked, s.dead_lettered), (2, 1, 1));
        });
    }

    #[test]
    fn defaults_round_robin_documented_capacity_and_clone_handle() {
        assert_eq!(Strategy::default(), Strategy::RoundRobin);
        let queue = Dispatcher::<u32>::builder().build();
        let handle: Dispatcher<u32> = queue.clone();
        let publisher = handle.publisher();
        for i in 0..DEFAULT_CAPACITY {
            publisher.try_publish(i as u32).unwrap();
        }
        assert!(matches!(
            publisher.try_publish(0),
            Err(TryPublishError::Full(0))
        ));
        assert_eq!(queue.stats().backlog, DEFAULT_CAPACITY);
    }

    #[test]
    fn assignment_is_eager_on_publish_and_subscribe() {
        let queue = Dispatcher::<u32>::new();
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        publisher.try_publish(2).unwrap();
        assert_eq!((queue.stats().backlog, queue.stats().in_flight), (2, 0));
        let _consumer = queue.subscribe(Subscription::prefetch(1));
        let s = queue.stats();
        assert_eq!((s.backlog, s.in_flight), (1, 1), "assigned on subscribe");
        let queue2 = Dispatcher::<u32>::new();
        let _c = queue2.subscribe(Subscription::prefetch(4));
        queue2.publisher().try_publish(1).unwrap();
        let s = queue2.stats();
        assert_eq!((s.backlog, s.in_flight), (0, 1), "assigned on publish");
        assert_eq!(s.consumers[0].in_flight, 1);
    }

    #[test]
    fn assignment_is_eager_on_ack_nack_and_drop() {
        let queue = Dispatcher::<u32>::new();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        for i in 0..4 {
            publisher.try_publish(i).unwrap();
        }
        assert_eq!(queue.stats().backlog, 3);
        a.try_recv().unwrap().ack();
        assert_eq!(queue.stats().backlog, 2, "refilled on ack");
        a.try_recv().unwrap().nack(Requeue::No);
        assert_eq!(queue.stats().backlog, 1, "refilled on nack");
        drop(a.try_recv().unwrap()); // requeued at the front, and assigned again
        let s = queue.stats();
        assert_eq!((s.backlog, s.in_flight), (1, 1));
        let d = a.try_recv().unwrap();
        assert_eq!((*d, d.redelivered()), (2, true));
    }

    #[test]
    fn capacity_bounds_only_messages_not_yet_assigned() {
        let queue = Dispatcher::<u32>::builder().capacity(1).build();
        let _consumer = queue.subscribe(Subscription::prefetch(3));
        let publisher = queue.publisher();
        for i in 0..4 {
            publisher.try_publish(i).unwrap(); // 3 in flight + 1 in the backlog
        }
        assert!(matches!(
            publisher.try_publish(9),
            Err(TryPublishError::Full(9))
        ));
        let mut publish = publisher.publish(9);
        let _ = pend(&mut publish);
    }

    #[test]
    fn prefetch_is_never_exceeded_and_a_lower_one_takes_effect_as_deliveries_are_acked() {
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(2));
        let publisher = queue.publisher();
        for i in 0..6 {
            publisher.try_publish(i).unwrap();
        }
        assert_eq!(queue.stats().in_flight, 2);
        let d0 = consumer.try_recv().unwrap();
        let d1 = consumer.try_recv().unwrap();
        assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Empty);
        consumer.set_prefetch(1);
        d0.ack();
        assert_eq!(
            queue.stats().in_flight,
            1,
            "not refilled while at the new limit"
        );
        d1.ack();
        assert_eq!(queue.stats().in_flight, 1);
        let d2 = consumer.try_recv().unwrap();
        assert_eq!(*d2, 2);
        assert_eq!(consumer.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[test]
    fn auto_ack_counts_on_receipt_and_never_redelivers() {
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(1).auto_ack());
        queue.publisher().try_publish(1).unwrap();
        drop(consumer.try_recv().unwrap());
        let s = queue.stats();
        assert_eq!(
            (s.acked, s.redelivered, s.backlog, s.in_flight),
            (1, 0, 0, 0)
        );
    }

    #[test]
    fn round_robin_over_consumers_with_free_credit() {
        let queue = Dispatcher::<u32>::new();
        let mut consumers: Vec<_> = (0..3)
            .map(|_| queue.subscribe(Subscription::prefetch(1)))
            .collect();
        let publisher = queue.publisher();
        for i in 0..3 {
            publisher.try_publish(i).unwrap();
        }
        let mut got: Vec<u32> = consumers
            .iter_mut()
            .map(|c| *c.try_recv().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, [0, 1, 2], "each consumer got one");
    }

    #[test]
    fn weighted_gives_exact_proportions_and_weights_change_at_run_time() {
        let queue = Dispatcher::<u32>::builder()
            .strategy(Strategy::Weighted)
            .build();
        let a = queue.subscribe(Subscription::prefetch(100).weight(3));
        let b = queue.subscribe(Subscription::prefetch(100).weight(1));
        let publisher = queue.publisher();
        for i in 0..40 {
            publisher.try_publish(i).unwrap();
        }
        let s = queue.stats();
        let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
        assert_eq!((by_id(a.id()), by_id(b.id())), (30, 10));
        b.set_weight(3);
        for i in 0..40 {
            publisher.try_publish(i).unwrap();
        }
        let s = queue.stats();
        let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
        assert_eq!((by_id(a.id()), by_id(b.id())), (50, 30));
    }

    #[test]
    fn least_loaded_picks_fewest_unacked_relative_to_prefetch() {
        let queue = Dispatcher::<u32>::builder()
            .strategy(Strategy::LeastLoaded)
            .build();
        let mut a = queue.subscribe(Subscription::prefetch(4));
        let b = queue.subscribe(Subscription::prefetch(4));
        let publisher = queue.publisher();
        for i in 0..4 {
            publisher.try_publish(i).unwrap(); // 2 each
        }
        let d = a.try_recv().unwrap();
        d.ack(); // a now holds 1, b holds 2
        publisher.try_publish(9).unwrap();
        let s = queue.stats();
        let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
        assert_eq!(
            (by_id(a.id()), by_id(b.id())),
            (2, 2),
            "the less loaded got it"
        );
    }

    #[test]
    fn higher_priority_consumers_are_served_first_while_they_have_credit() {
        let queue = Dispatcher::<u32>::new();
        let low = queue.subscribe(Subscription::prefetch(10).priority(0));
        let high = queue.subscribe(Subscription::prefetch(2).priority(5));
        let publisher = queue.publisher();
        for i in 0..2 {
            publisher.try_publish(i).unwrap();
        }
        let s = queue.stats();
        let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
        assert_eq!((by_id(high.id()), by_id(low.id())), (2, 0));
        publisher.try_publish(2).unwrap();
        let s = queue.stats();
        let by_id = |id: u64| s.consumers.iter().find(|c| c.id == id).unwrap().in_flight;
        assert_eq!((by_id(high.id()), by_id(low.id())), (2, 1));
    }

    #[test]
    fn broadcast_gives_every_consumer_a_copy_within_its_own_credit() {
        let queue = Dispatcher::<String>::builder()
            .strategy(Strategy::Broadcast)
            .build();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        publisher.try_publish("one".to_string()).unwrap();
        publisher.try_publish("two".to_string()).unwrap();
        let a1 = a.try_recv().unwrap();
        let b1 = b.try_recv().unwrap();
        assert_eq!((a1.as_str(), b1.as_str()), ("one", "one"));
        assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty, "prefetch 1");
        a1.ack();
        assert_eq!(a.try_recv().unwrap().as_str(), "two");
        assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Empty);
        b1.ack();
        assert_eq!(b.try_recv().unwrap().as_str(), "two");
    }

    #[test]
    fn a_delivery_dropped_without_ack_is_requeued_at_the_front_and_flagged() {
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        publisher.try_publish(2).unwrap();
        let first = consumer.try_recv().unwrap();
        assert_eq!(
            (*first, first.redelivered(), first.attempt()),
            (1, false, 1)
        );
        drop(first);
        let again = consumer.try_recv().unwrap();
        assert_eq!((*again, again.redelivered(), again.attempt()), (1, true, 2));
        again.nack(Requeue::Yes);
        let third = consumer.try_recv().unwrap();
        assert_eq!((*third, third.attempt()), (1, 3));
        third.ack();
        let next = consumer.try_recv().unwrap();
        assert_eq!((*next, next.redelivered(), next.attempt()), (2, false, 1));
        next.ack();
        assert_eq!(queue.stats().redelivered, 2);
    }

    #[test]
    fn dropping_a_consumer_requeues_everything_and_its_live_deliveries_go_stale() {
        let queue = Dispatcher::<u32>::new();
        let mut a = queue.subscribe(Subscription::prefetch(2));
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        publisher.try_publish(2).unwrap();
        let held = a.try_recv().unwrap(); // 1 received, 2 assigned only
        drop(a);
        assert_eq!(*held, 1, "still readable");
        let mut b = queue.subscribe(Subscription::prefetch(2));
        let r1 = b.try_recv().unwrap();
        assert_eq!((*r1, r1.redelivered()), (1, true));
        held.ack(); // does nothing
        assert_eq!(queue.stats().acked, 0);
        r1.ack();
        let r2 = b.try_recv().unwrap();
        assert_eq!(*r2, 2);
        r2.ack();
        let s = queue.stats();
        assert_eq!((s.acked, s.backlog, s.in_flight), (2, 0, 0));
    }

    #[test]
    fn a_dropped_consumers_messages_go_back_to_the_front_in_order() {
        let queue = Dispatcher::<u32>::new();
        let mut a = queue.subscribe(Subscription::prefetch(2));
        let publisher = queue.publisher();
        for i in 1..=3 {
            publisher.try_publish(i).unwrap(); // a: [1, 2], backlog: [3]
        }
        let held = a.try_recv().unwrap();
        drop(a);
        drop(held);
        let mut b = queue.subscribe(Subscription::prefetch(3));
        let mut got = Vec::new();
        while let Ok(d) = b.try_recv() {
            got.push(*d);
            d.ack();
        }
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(queue.stats().acked, 3);
    }

    #[test]
    fn a_consumer_dropped_by_a_panicking_task_requeues() {
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        queue.publisher().try_publish(1).unwrap();
        let worker = std::thread::spawn(move || {
            let _d = consumer.try_recv().unwrap();
            panic!("worker died");
        });
        assert!(worker.join().is_err());
        let mut other = queue.subscribe(Subscription::prefetch(1));
        let d = other.try_recv().unwrap();
        assert_eq!((*d, d.redelivered()), (1, true));
    }

    #[test]
    fn max_attempts_then_dead_letter_without_waiting() {
        let (dlq, mut dead) = mailbox::bounded::<u32>(1);
        let queue = Dispatcher::<u32>::builder()
            .max_attempts(2)
            .dead_letter(dlq)
            .build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        drop(consumer.try_recv().unwrap()); // attempt 1
        let last = consumer.try_recv().unwrap();
        assert_eq!(last.attempt(), 2);
        drop(last); // the last attempt: dead-lettered
        assert_eq!(dead.try_recv(), Ok(1));
        // nack(No) dead-letters at once; a full dead-letter mailbox drops and counts.
        publisher.try_publish(2).unwrap();
        publisher.try_publish(3).unwrap();
        consumer.try_recv().unwrap().nack(Requeue::No);
        consumer.try_recv().unwrap().nack(Requeue::No); // dlq full now
        let s = queue.stats();
        assert_eq!((s.dead_lettered, s.dropped), (2, 1));
        assert_eq!(dead.try_recv(), Ok(2));
        // A closed dead-letter mailbox: dropped and counted.
        dead.close();
        publisher.try_publish(4).unwrap();
        consumer.try_recv().unwrap().nack(Requeue::No);
        assert_eq!(queue.stats().dropped, 2);
    }

    #[test]
    fn without_a_dead_letter_mailbox_rejected_messages_are_dropped_and_counted() {
        let drops = Arc::new(AtomicUsize::new(0));
        let queue = Dispatcher::<Counted>::builder().max_attempts(1).build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        queue
            .publisher()
            .try_publish(Counted(1, Arc::clone(&drops)))
            .unwrap();
        drop(consumer.try_recv().unwrap());
        assert_eq!(queue.stats().dropped, 1);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the message itself dropped once"
        );
    }

    #[test]
    fn recv_is_none_only_once_nothing_is_queued_or_unacked_anywhere() {
        let queue = Dispatcher::<u32>::new();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        publisher.try_publish(2).unwrap();
        let (da, db) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        da.ack();
        queue.close();
        // b still holds an unacked delivery that may come back to a.
        assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty);
        let mut a_recv = a.recv();
        let a_woken = pend(&mut a_recv);
        db.ack();
        assert!(a_woken.get() >= 1, "the last ack wakes a pending recv");
        assert!(matches!(a_recv.now_or_never(), Some(None)));
        assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Closed);
    }

    #[test]
    fn a_requeue_after_close_is_still_delivered_before_none() {
        let queue = Dispatcher::<u32>::new();
        let mut a = queue.subscribe(Subscription::prefetch(1));
        let mut b = queue.subscribe(Subscription::prefetch(1));
        queue.publisher().try_publish(1).unwrap();
        let (mut held, mut other) = match (a.try_recv(), b.try_recv()) {
            (Ok(d), Err(_)) => (d, b),
            (Err(_), Ok(d)) => (d, a),
            _ => unreachable!(),
        };
        queue.close();
        let mut recv = other.recv();
        let woken = pend(&mut recv);
        held.nack(Requeue::Yes);
        assert!(woken.get() >= 1);
        held = match recv.now_or_never() {
            Some(Some(d)) => d,
            r => panic!("expected the requeued delivery, got {}", r.is_some()),
        };
        assert!(held.redelivered());
        held.ack();
        assert!(matches!(other.recv().now_or_never(), Some(None)));
    }

    #[test]
    fn publish_after_close_hands_the_message_back() {
        futures::executor::block_on(async {
            let queue = Dispatcher::<Job>::new();
            let publisher = queue.publisher();
            queue.close();
            let PublishError(job) = publisher.publish(Job(3)).await.unwrap_err();
            assert_eq!(job, Job(3));
            assert!(matches!(
                publisher.try_publish(Job(4)),
                Err(TryPublishError::Closed(Job(4)))
            ));
        });
    }

    #[test]
    fn dropping_every_publisher_and_handle_closes_consumers_do_not_keep_it_open() {
        futures::executor::block_on(async {
            let queue = Dispatcher::<u32>::new();
            let mut consumer = queue.subscribe(Subscription::prefetch(1));
            let publisher = queue.publisher();
            publisher.publish(1).await.unwrap();
            drop(queue);
            let d = consumer.recv().await.unwrap();
            d.ack();
            let mut recv = consumer.recv();
            let _ = pend(&mut recv);
            drop(recv);
            drop(publisher);
            assert!(consumer.recv().await.is_none());
        });
    }

    #[test]
    fn recv_is_cancel_safe() {
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        {
            let mut recv = consumer.recv();
            let woken = pend(&mut recv);
            queue.publisher().try_publish(1).unwrap();
            assert!(woken.get() >= 1);
        } // notified, then dropped
        let d = consumer.recv().now_or_never().unwrap().unwrap();
        assert_eq!((*d, d.attempt()), (1, 1));
    }

    #[test]
    fn consumer_is_a_stream_of_deliveries() {
        futures::executor::block_on(async {
            let queue = Dispatcher::<u32>::new();
            let consumer = queue.subscribe(Subscription::prefetch(4));
            let publisher = queue.publisher();
            for i in 0..3 {
                publisher.publish(i).await.unwrap();
            }
            drop((publisher, queue));
            let got: Vec<u32> = consumer
                .map(|d| {
                    let v = *d;
                    d.ack();
                    v
                })
                .collect()
                .await;
            assert_eq!(got, [0, 1, 2]);
        });
    }

    #[test]
    fn stats_have_the_contract_fields_overall_and_per_consumer() {
        let (dlq, _dead) = mailbox::bounded::<u32>(4);
        let queue = Dispatcher::<u32>::builder().dead_letter(dlq).build();
        let mut c = queue.subscribe(Subscription::prefetch(2));
        let publisher = queue.publisher();
        for i in 0..5 {
            publisher.try_publish(i).unwrap();
        }
        // Window [0, 1]; 0 acked: [1, 2]; 1 requeued to the front and
        // assigned again: [2, 1']; 2 dead-lettered: [1', 3]; 4 waits.
        c.try_recv().unwrap().ack();
        c.try_recv().unwrap().nack(Requeue::Yes);
        c.try_recv().unwrap().nack(Requeue::No);
        let s: Stats = queue.stats();
        let Stats {
            published,
            delivered,
            acked,
            nacked,
            redelivered,
            dead_lettered,
            dropped,
            backlog,
            in_flight,
            ref consumers,
            ..
        } = s;
        assert_eq!(published, 5);
        assert_eq!(delivered, 5, "assignments, redeliveries included");
        assert_eq!((acked, nacked, redelivered), (1, 2, 1));
        assert_eq!((dead_lettered, dropped), (1, 0));
        assert_eq!((backlog, in_flight), (1, 2));
        let c0: &ConsumerStats = &consumers[0];
        assert_eq!(c0.id, c.id());
        assert_eq!(
            (c0.delivered, c0.acked, c0.nacked, c0.redelivered),
            (5, 1, 2, 1)
        );
        assert_eq!((c0.dead_lettered, c0.dropped, c0.in_flight), (1, 0, 2));
    }

    #[test]
    fn close_wakes_a_pending_recv_with_none_when_nothing_is_left() {
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let mut recv = consumer.recv();
        let woken = pend(&mut recv);
        queue.close();
        assert!(woken.get() >= 1);
        assert!(matches!(recv.now_or_never(), Some(None)));
    }

    #[test]
    fn the_last_handle_dropped_wakes_a_pending_recv_with_none() {
        let queue = Dispatcher::<u32>::new();
        let publisher = queue.publisher();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        let mut recv = consumer.recv();
        let woken = pend(&mut recv);
        drop(queue);
        assert_eq!(woken.get(), 0, "a publisher keeps it open");
        drop(publisher);
        assert!(woken.get() >= 1);
        assert!(matches!(recv.now_or_never(), Some(None)));
    }

    #[test]
    fn a_consumer_subscribing_after_close_still_drains_the_backlog() {
        let queue = Dispatcher::<u32>::new();
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        publisher.try_publish(2).unwrap();
        queue.close();
        let mut consumer = queue.subscribe(Subscription::prefetch(4));
        futures::executor::block_on(async {
            let mut got = Vec::new();
            while let Some(d) = consumer.recv().await {
                got.push(*d);
                d.ack();
            }
            assert_eq!(got, [1, 2]);
        });
    }

    #[test]
    fn a_consumer_dropped_on_the_last_attempt_dead_letters_what_it_held() {
        let (dlq, mut dead) = mailbox::bounded::<u32>(4);
        let queue = Dispatcher::<u32>::builder()
            .max_attempts(1)
            .dead_letter(dlq)
            .build();
        let mut consumer = queue.subscribe(Subscription::prefetch(1));
        queue.publisher().try_publish(1).unwrap();
        let held = consumer.try_recv().unwrap();
        assert_eq!(held.attempt(), 1);
        drop(consumer);
        // The stale delivery still reads the message, so it moves to the
        // dead-letter mailbox once that delivery is gone.
        assert_eq!(*held, 1);
        drop(held);
        assert_eq!(
            dead.try_recv(),
            Ok(1),
            "delivered at most max_attempts times"
        );
        let s = queue.stats();
        assert_eq!(
            (s.dead_lettered, s.dropped, s.backlog, s.in_flight),
            (1, 0, 0, 0)
        );
    }

    #[test]
    fn broadcast_messages_wait_for_the_first_consumer() {
        let queue = Dispatcher::<u32>::builder()
            .strategy(Strategy::Broadcast)
            .build();
        let publisher = queue.publisher();
        publisher.try_publish(1).unwrap();
        let mut a = queue.subscribe(Subscription::prefetch(4));
        let mut b = queue.subscribe(Subscription::prefetch(4));
        publisher.try_publish(2).unwrap();
        let take = |c: &mut flowgate::dispatch::Consumer<u32>| {
            let d = c.try_recv().unwrap();
            let v = *d;
            d.ack();
            v
        };
        assert_eq!(take(&mut a), 1);
        assert_eq!(take(&mut a), 2);
        assert_eq!(take(&mut b), 2, "a later subscriber gets later messages");
        assert_eq!(b.try_recv().unwrap_err(), TryRecvError::Empty);
        assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty);
    }

    #[test]
    fn stats_is_a_plain_struct() {
        let queue = Dispatcher::<u32>::new();
        queue.publisher().try_publish(1).unwrap();
        assert_eq!(
            queue.stats(),
            Stats {
                published: 1,
                backlog: 1,
                ..Default::default()
            }
        );
        let c = queue.subscribe(Subscription::prefetch(2));
        assert_eq!(
            queue.stats().consumers,
            [ConsumerStats {
                id: c.id(),
                prefetch: 2,
                weight: 1,
                delivered: 1,
                in_flight: 1,
                ..Default::default()
            }]
        );
    }

    #[test]
    fn headline_types_at_the_crate_root() {
        let _: flowgate::Dispatcher<u32> = flowgate::Dispatcher::builder()
            .strategy(flowgate::Strategy::RoundRobin)
            .build();
        let _ = flowgate::Subscription::prefetch(1);
        let _ = flowgate::RateLimiter::new(flowgate::Quota::per_second(1));
    }

    /// A seeded random walk over publish, subscribe, recv, ack, nack, drop
    /// (of deliveries and of consumers) and `set_prefetch`, checking the
    /// contract's invariants after every step: eager assignment (nothing
    /// waits in the backlog while a consumer has free credit), prefetch
    /// never exceeded (a lowered one only shrinks), the backlog bound,
    /// redeliveries flagged, attempts within `max_attempts`; and at the end
    /// every message acked exactly once, dead-lettered, or dropped and
    /// counted.
    fn random_walk(strategy: Strategy, seed: u64) {
        use std::collections::HashMap;
        let mut rng = seed.max(1);
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        const CAP: usize = 4;
        const MAX_ATTEMPTS: u32 = 3;
        let (dlq, mut dead) = mailbox::bounded::<u64>(2);
        let queue = Dispatcher::<u64>::builder()
            .capacity(CAP)
            .strategy(strategy)
            .max_attempts(MAX_ATTEMPTS)
            .dead_letter(dlq)
            .build();
        let publisher = queue.publisher();
        // (consumer, auto-ack); held deliveries: (delivery, owner index).
        let mut consumers: Vec<Option<(flowgate::dispatch::Consumer<u64>, bool)>> = Vec::new();
        let mut held: Vec<(Delivery<u64>, usize)> = Vec::new();
        let mut stale: Vec<Delivery<u64>> = Vec::new();
        let mut received: HashMap<u64, u32> = HashMap::new();
        let mut acked: HashMap<u64, u32> = HashMap::new();
        let mut dead_lettered: Vec<u64> = Vec::new();
        let mut last_in_flight: HashMap<u64, usize> = HashMap::new();
        let mut next_id = 0u64;

        let check_receipt = |d: &Delivery<u64>, received: &mut HashMap<u64, u32>| {
            assert!(d.attempt() >= 1 && d.attempt() <= MAX_ATTEMPTS);
            let seen = received.entry(**d).or_insert(0);
            if *seen > 0 {
                assert!(d.redelivered(), "a second receipt of {} is flagged", **d);
            }
            assert_eq!(d.redelivered(), d.attempt() > 1);
            *seen += 1;
        };

        for _ in 0..600 {
            let live: Vec<usize> = (0..consumers.len())
                .filter(|&i| consumers[i].is_some())
                .collect();
            match next(10) {
                0 | 1 => {
                    let before = queue.stats().backlog;
                    match publisher.try_publish(next_id) {
                        Ok(()) => next_id += 1,
                        Err(TryPublishError::Full(_)) => {
                            assert!(before >= CAP, "Full only at the backlog bound")
                        }
                        Err(TryPublishError::Closed(_)) => unreachable!(),
                    }
                }
                2 if live.len() < 4 => {
                    let auto = next(4) == 0;
                    let mut sub = Subscription::prefetch(1 + next(3) as usize)
                        .weight(1 + next(3) as u32)
                        .priority(next(2) as i32);
                    if auto {
                        sub = sub.auto_ack();
                    }
                    consumers.push(Some((queue.subscribe(sub), auto)));
                }
                3 | 4 if !live.is_empty() => {
                    let i = live[next(live.len() as u64) as usize];
                    let (c, auto) = consumers[i].as_mut().unwrap();
                    if let Ok(d) = c.try_recv() {
                        if *auto {
                            *acked.entry(*d).or_insert(0) += 1;
                        } else {
                            check_receipt(&d, &mut received);
                            held.push((d, i));
                        }
                    }
                }
                5..=7 if !held.is_empty() => {
                    let (d, _) = held.swap_remove(next(held.len() as u64) as usize);
                    match next(4) {
                        0 | 1 => {
                            *acked.entry(*d).or_insert(0) += 1;
                            d.ack();
                        }
                        2 => d.nack(if next(2) == 0 {
                            Requeue::Yes
                        } else {
                            Requeue::No
                        }),
                        _ => drop(d),
                    }
                }
                8 if !live.is_empty() && next(3) == 0 => {
                    let i = live[next(live.len() as u64) as usize];
                    consumers[i] = None;
                    let mut k = 0;
                    while k < held.len() {
                        if held[k].1 == i {
                            stale.push(held.swap_remove(k).0);
                        } else {
                            k += 1;
                        }
                    }
                }
                9 if !live.is_empty() => {
                    let i = live[next(live.len() as u64) as usize];
                    let (c, _) = consumers[i].as_ref().unwrap();
                    c.set_prefetch(1 + next(3) as usize);
                }
                _ => {
                    if let Some(d) = stale.pop() {
                        if next(2) == 0 {
                            d.ack(); // stale: does nothing
                        }
                    }
                }
            }
            if next(40) == 0 {
                // Drained now and then, so it is sometimes full.
                while let Ok(id) = dead.try_recv() {
                    dead_lettered.push(id);
                }
            }
            // Invariants.
            let s = queue.stats();
            for c in &s.consumers {
                let prefetch = consumers
                    .iter()
                    .flatten()
                    .find(|(k, _)| k.id() == c.id)
                    .map(|(k, _)| k.prefetch())
                    .unwrap();
                if c.in_flight > prefetch {
                    let before = last_in_flight.get(&c.id).copied().unwrap_or(0);
                    assert!(
                        c.in_flight <= before,
                        "over a lowered prefetch it only shrinks"
                    );
                }
                last_in_flight.insert(c.id, c.in_flight);
                if s.backlog > 0 && strategy != Strategy::Adaptive {
                    assert!(
                        c.in_flight >= prefetch,
                        "{strategy:?}: backlog {} while consumer {} has credit ({}/{})",
                        s.backlog,
                        c.id,
                        c.in_flight,
                        prefetch
                    );
                }
            }
        }

        // End: settle everything, close, drain with a fresh consumer.
        for (d, _) in held.drain(..) {
            drop(d);
        }
        drop(stale);
        drop(consumers);
        queue.close();
        let mut drain = queue.subscribe(Subscription::prefetch(8));
        loop {
            match drain.try_recv() {
                Ok(d) => {
                    check_receipt(&d, &mut received);
                    *acked.entry(*d).or_insert(0) += 1;
                    d.ack();
                }
                Err(TryRecvError::Closed) => break,
                Err(TryRecvError::Empty) => {
                    // Room in the dead-letter mailbox may be what is missing.
                    let before = dead_lettered.len();
                    while let Ok(id) = dead.try_recv() {
                        dead_lettered.push(id);
                    }
                    assert!(
                        dead_lettered.len() > before,
                        "drain stuck: {:?}",
                        queue.stats()
                    );
                }
            }
        }
        while let Ok(id) = dead.try_recv() {
            dead_lettered.push(id);
        }
        let s = queue.stats();
        assert_eq!(s.published, next_id);
        assert!(acked.values().all(|&n| n == 1), "acked exactly once");
        for id in &dead_lettered {
            assert!(!acked.contains_key(id), "{id} both acked and dead-lettered");
        }
        assert_eq!(s.acked, acked.len() as u64);
        assert_eq!(s.dead_lettered, dead_lettered.len() as u64);
        assert_eq!(
            acked.len() as u64 + dead_lettered.len() as u64 + s.dropped,
            next_id,
            "every message acked, dead-lettered or dropped and counted: {s:?}"
        );
        assert_eq!((s.backlog, s.in_flight), (0, 0));
        if std::env::var_os("CONTRACT_WALK_STATS").is_some() {
            eprintln!("{strategy:?} {seed}: {s:?}");
        }
    }

    /// Broadcast: consumers subscribed from the start each ack every
    /// message exactly once, through acks, nacks with requeue and dropped
    /// deliveries, never above their own prefetch.
    fn broadcast_walk(seed: u64) {
        let mut rng = seed.max(1);
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let queue = Dispatcher::<u64>::builder()
            .capacity(3)
            .strategy(Strategy::Broadcast)
            .build();
        let publisher = queue.publisher();
        let mut consumers: Vec<_> = (0..3)
            .map(|_| {
                let prefetch = 1 + next(3) as usize;
                (queue.subscribe(Subscription::prefetch(prefetch)), prefetch)
            })
            .collect();
        let mut held: Vec<Vec<Delivery<u64>>> = (0..3).map(|_| Vec::new()).collect();
        let mut acked: Vec<Vec<u64>> = vec![Vec::new(); 3];
        let mut published = 0u64;
        let settle = |d: Delivery<u64>, acked: &mut Vec<u64>, how: u64| match how {
            0 | 1 => {
                acked.push(*d);
                d.ack();
            }
            2 => d.nack(Requeue::Yes),
            _ => drop(d),
        };
        for _ in 0..500 {
            let i = next(3) as usize;
            match next(4) {
                0 if publisher.try_publish(published).is_ok() => published += 1,
                0 => {}
                1 => {
                    if let Ok(d) = consumers[i].0.try_recv() {
                        held[i].push(d);
                    }
                }
                _ if !held[i].is_empty() => {
                    let k = next(held[i].len() as u64) as usize;
                    let d = held[i].swap_remove(k);
                    settle(d, &mut acked[i], next(4));
                }
                _ => {}
            }
            let s = queue.stats();
            for (c, (consumer, prefetch)) in s.consumers.iter().zip(&consumers) {
                assert_eq!(c.id, consumer.id());
                assert!(c.in_flight <= *prefetch, "{} over its prefetch", c.id);
            }
        }
        queue.close();
        for (i, (consumer, _)) in consumers.iter_mut().enumerate() {
            for d in held[i].drain(..) {
                acked[i].push(*d);
                d.ack();
            }
            loop {
                match consumer.try_recv() {
                    Ok(d) => settle(d, &mut acked[i], 0),
                    Err(TryRecvError::Closed) => break,
                    Err(TryRecvError::Empty) => panic!("broadcast consumer {i} stuck"),
                }
            }
            acked[i].sort_unstable();
            assert_eq!(acked[i], (0..published).collect::<Vec<_>>(), "consumer {i}");
        }
        if std::env::var_os("CONTRACT_WALK_STATS").is_some() {
            eprintln!("broadcast: {:?}", queue.stats());
        }
    }

    #[test]
    fn broadcast_random_walks_give_every_consumer_every_message_once() {
        for seed in 1..=30u64 {
            broadcast_walk(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
    }

    #[test]
    fn random_walks_keep_every_invariant() {
        for seed in 1..=20u64 {
            for strategy in [
                Strategy::RoundRobin,
                Strategy::Weighted,
                Strategy::LeastLoaded,
                Strategy::Adaptive,
            ] {
                random_walk(strategy, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            }
        }
    }

    #[test]
    #[should_panic(expected = "prefetch")]
    fn zero_prefetch_panics_with_a_clear_message() {
        let _ = Subscription::prefetch(0);
    }

    #[test]
    fn no_background_task_everything_runs_on_threads_with_block_on() {
        let queue = Dispatcher::<u32>::builder().capacity(4).build();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let mut consumer = queue.subscribe(Subscription::prefetch(1));
                std::thread::spawn(move || {
                    futures::executor::block_on(async {
                        let mut n = 0u64;
                        while let Some(d) = consumer.recv().await {
                            n += u64::from(*d);
                            d.ack();
                        }
                        n
                    })
                })
            })
            .collect();
        let publisher = queue.publisher();
        futures::executor::block_on(async {
            for i in 1..=300 {
                publisher.publish(i).await.unwrap();
            }
        });
        drop((publisher, queue));
        let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(total, 300 * 301 / 2);
    }
}

mod rate {
    use super::*;
    use flowgate::rate::{Clock, NotUntil, Quota, RateLimited, RateLimiter};
    use flowgate::runtime::ManualClock;
    use futures::StreamExt;
    use std::time::{Duration, Instant};

    #[test]
    fn check_never_waits_and_tells_the_earliest_instant() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Quota::per_second(1000).burst(50), clock.clone());
        for _ in 0..50 {
            limiter.check().unwrap();
        }
        let NotUntil(at) = limiter.check().unwrap_err();
        assert_eq!(at, clock.now() + Duration::from_millis(1));
        clock.advance(Duration::from_millis(1));
        limiter.check().unwrap();
        // The contract's constructor exists with the real clock.
        let _ = RateLimiter::new(Quota::per_second(1000).burst(50));
    }

    #[test]
    fn until_n_ready_errs_when_n_exceeds_the_burst_never_hangs() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(5), clock.clone());
        assert!(matches!(
            limiter.until_n_ready_with(&clock, 6).now_or_never(),
            Some(Err(_))
        ));
        assert!(matches!(
            limiter.until_n_ready_with(&clock, 5).now_or_never(),
            Some(Ok(()))
        ));
    }

    #[test]
    fn until_ready_waits_on_the_timer_for_its_slot() {
        let clock = ManualClock::new();
        let limiter = RateLimiter::with_clock(Quota::per_second(10).burst(1), clock.clone());
        limiter.check().unwrap();
        let mut wait = Box::pin(limiter.until_ready_with(&clock));
        let (woken, waker) = counting();
        assert!(poll_with(&mut wait, &waker).is_pending());
        clock.advance(Duration::from_millis(99));
        assert!(poll_with(&mut wait, &waker).is_pending());
        clock.advance(Duration::from_millis(1));
        assert!(woken.get() >= 1);
        assert!(poll_with(&mut wait, &waker).is_ready());
    }

    #[test]
    fn a_user_clock_plugs_in() {
        struct Fixed(Instant);
        impl Clock for Fixed {
            fn now(&self) -> Instant {
                self.0
            }
        }
        let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(2), Fixed(Instant::now()));
        limiter.check().unwrap();
        limiter.check().unwrap();
        assert!(limiter.check().is_err());
    }

    #[test]
    fn a_rate_limited_stream() {
        let clock = ManualClock::new();
        let limiter = Arc::new(RateLimiter::with_clock(
            Quota::per_second(10).burst(1),
            clock.clone(),
        ));
        let mut paced =
            RateLimited::with_timer(futures::stream::iter(0..3), limiter, clock.clone());
        assert_eq!(paced.next().now_or_never(), Some(Some(0)));
        let (woken, waker) = counting();
        assert!(poll_with(&mut paced.next(), &waker).is_pending());
        clock.advance(Duration::from_millis(100));
        assert!(woken.get() >= 1);
        assert_eq!(paced.next().now_or_never(), Some(Some(1)));
    }

    #[test]
    fn a_rate_limited_publisher() {
        use flowgate::dispatch::{Dispatcher, Subscription};
        let clock = ManualClock::new();
        let limiter = Arc::new(RateLimiter::with_clock(
            Quota::per_second(10).burst(1),
            clock.clone(),
        ));
        let queue = Dispatcher::<u32>::new();
        let mut consumer = queue.subscribe(Subscription::prefetch(8));
        let publisher = queue
            .publisher()
            .with_rate_limit_with(clock.clone(), limiter);
        assert!(matches!(publisher.publish(1).now_or_never(), Some(Ok(()))));
        let mut second = Box::pin(publisher.publish(2));
        assert!(poll_with(&mut second, &futures::task::noop_waker()).is_pending());
        clock.advance(Duration::from_millis(100));
        assert!(matches!(second.now_or_never(), Some(Ok(()))));
        assert_eq!(*consumer.try_recv().unwrap(), 1);
        assert_eq!(*consumer.try_recv().unwrap(), 2);
    }
}

mod runtime {
    use super::*;
    use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
    use flowgate::dispatch::{Dispatcher, Subscription};
    use flowgate::mailbox::{self, RecvTimeoutError, SendTimeoutError};
    use flowgate::rate::{Quota, RateLimiter};
    use flowgate::runtime::{ManualClock, Timer};
    use std::future::Future;
    use std::pin::Pin;
    use std::time::Duration;

    /// A user's own timer, written exactly to the trait in the contract: a
    /// sleep that completes when the test says so (here: at once, so every
    /// timeout fires on its first poll after the operation is pending).
    struct Instant0;

    impl Timer for Instant0 {
        type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;
        fn sleep(&self, _d: Duration) -> Self::Sleep {
            Box::pin(async {})
        }
    }

    #[test]
    fn the_with_forms_take_any_timer() {
        let timer = Instant0;
        let d = Duration::from_secs(1);
        futures::executor::block_on(async {
            let sem = CreditSemaphore::new(0);
            assert_eq!(
                sem.acquire_timeout_with(&timer, 1, d).await.unwrap_err(),
                AcquireTimeoutError::Timeout
            );
            let (tx, mut rx) = mailbox::bounded::<u32>(1);
            tx.try_send(1).unwrap();
            match tx.send_timeout_with(&timer, 2, d).await {
                Err(SendTimeoutError::Timeout(2)) => {}
                other => panic!("expected Timeout(2), got {:?}", other.is_ok()),
            }
            assert_eq!(rx.recv_timeout_with(&timer, d).await, Ok(1));
            assert_eq!(
                rx.recv_timeout_with(&timer, d).await,
                Err(RecvTimeoutError::Timeout)
            );
            let queue = Dispatcher::<u32>::builder().capacity(1).build();
            let publisher = queue.publisher();
            publisher.try_publish(1).unwrap();
            assert_eq!(
                publisher
                    .publish_timeout_with(&timer, 2, d)
                    .await
                    .unwrap_err()
                    .into_inner(),
                2
            );
            let mut consumer = queue.subscribe(Subscription::prefetch(1));
            consumer.recv_timeout_with(&timer, d).await.unwrap().ack();
            assert!(consumer.recv_timeout_with(&timer, d).await.is_err());
            let clock = ManualClock::new();
            let limiter = RateLimiter::with_clock(Quota::per_second(1).burst(1), clock);
            limiter.until_ready_with(&timer).await;
        });
    }

    #[test]
    fn the_manual_clock_is_a_timer() {
        let clock = ManualClock::new();
        let sem = CreditSemaphore::new(0);
        let mut acquire = Box::pin(sem.acquire_timeout_with(&clock, 1, Duration::from_secs(2)));
        assert!(poll_with(&mut acquire, &futures::task::noop_waker()).is_pending());
        clock.advance(Duration::from_secs(2));
        assert!(matches!(
            acquire.now_or_never(),
            Some(Err(AcquireTimeoutError::Timeout))
        ));
    }

    /// The plain forms exist whenever any runtime feature is on, and work
    /// on every executor (tokio's timer inside tokio, async-io's elsewhere).
    #[cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]
    #[test]
    fn plain_forms_on_every_executor() {
        super::runtime_matrix::each_executor(|| async {
            let short = Duration::from_millis(1);
            let sem = CreditSemaphore::new(0);
            assert!(sem.acquire_timeout(1, short).await.is_err());
            let (tx, mut rx) = mailbox::bounded::<u32>(1);
            tx.try_send(1).unwrap();
            assert!(tx.send_timeout(2, short).await.is_err());
            assert_eq!(rx.recv_timeout(short).await, Ok(1));
            assert_eq!(rx.recv_timeout(short).await, Err(RecvTimeoutError::Timeout));
            let limiter = RateLimiter::new(Quota::per_second(1000).burst(1));
            limiter.until_ready().await;
            assert!(limiter.until_n_ready(2).await.is_err());
        });
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn tokio_adapter() {
        fn timer<T: Timer>(_: T) {}
        timer(flowgate::runtime::Tokio);
    }

    #[cfg(feature = "smol")]
    #[test]
    fn smol_adapter() {
        fn timer<T: Timer>(_: T) {}
        timer(flowgate::runtime::Smol);
    }

    #[cfg(feature = "async-std")]
    #[test]
    fn async_std_adapter() {
        fn timer<T: Timer>(_: T) {}
        timer(flowgate::runtime::AsyncStd);
    }
}

/// Traits the contract implies: errors are `Display + Error` and hand values
/// back with `Debug` for any payload; handles are `Send`/`Sync` for sendable
/// payloads; the cloneable handles are `Clone`.
mod traits {
    use super::Opaque;
    use flowgate::credit::{
        Acquire, AcquireError, AcquireOwned, CreditSemaphore, Credits, OwnedCredits,
        TryAcquireError,
    };
    use flowgate::dispatch::{
        Consumer, Delivery, Dispatcher, Publish, PublishError, Publisher, Requeue, Stats, Strategy,
        Subscription, TryPublishError,
    };
    use flowgate::mailbox::{
        OwnedPermit, Permit, Receiver, Recv, RecvMany, Reserve, ReserveOwned, Send, SendError,
        SendSink, Sender, TryRecvError, TrySendError, WeakSender,
    };
    use flowgate::rate::{InsufficientCapacity, NotUntil, Quota, RateLimiter};
    use std::fmt::Debug;

    fn error<E: std::error::Error + std::fmt::Display + Debug>() {}
    /// What `Box<dyn Error + Send + Sync>` (and anyhow) need.
    fn boxable<E: std::error::Error + std::marker::Send + Sync + 'static>() {}
    fn debug<D: Debug>() {}
    fn send_sync<X: std::marker::Send + Sync>() {}
    fn send<X: std::marker::Send>() {}
    fn unpin<X: Unpin>() {}
    fn clone<X: Clone>() {}

    /// `Send` but not `Sync`.
    struct SendOnly(std::marker::PhantomData<std::cell::Cell<u8>>);

    #[test]
    fn errors_are_errors_with_any_payload() {
        error::<AcquireError>();
        error::<TryAcquireError>();
        error::<SendError<SendOnly>>();
        error::<TrySendError<SendOnly>>();
        error::<TryRecvError>();
        error::<flowgate::mailbox::SendTimeoutError<SendOnly>>();
        error::<flowgate::mailbox::RecvTimeoutError>();
        error::<flowgate::credit::AcquireTimeoutError>();
        error::<PublishError<SendOnly>>();
        error::<TryPublishError<SendOnly>>();
        error::<flowgate::dispatch::TryRecvError>();
        error::<flowgate::dispatch::PublishTimeoutError<SendOnly>>();
        error::<NotUntil>();
        error::<InsufficientCapacity>();
        error::<flowgate::rate::CheckNError>();
        boxable::<SendError<u32>>();
        boxable::<TrySendError<u32>>();
        boxable::<flowgate::mailbox::SendTimeoutError<u32>>();
        boxable::<PublishError<u32>>();
        boxable::<TryPublishError<u32>>();
        boxable::<flowgate::dispatch::PublishTimeoutError<u32>>();
        boxable::<AcquireError>();
        boxable::<NotUntil>();
        assert!(!format!("{:?}", SendError(Opaque)).is_empty());
        assert!(!SendError(Opaque).to_string().is_empty());
        assert!(!PublishError(Opaque).to_string().is_empty());
    }

    #[test]
    fn debug_without_payload_debug() {
        debug::<Sender<Opaque>>();
        debug::<WeakSender<Opaque>>();
        debug::<Receiver<Opaque>>();
        debug::<Permit<'static, Opaque>>();
        debug::<OwnedPermit<Opaque>>();
        debug::<SendSink<Opaque>>();
        debug::<Send<'static, Opaque>>();
        debug::<Reserve<'static, Opaque>>();
        debug::<ReserveOwned<Opaque>>();
        debug::<Recv<'static, Opaque>>();
        debug::<RecvMany<'static, Opaque>>();
        debug::<flowgate::mailbox::Closed<'static, Opaque>>();
        debug::<flowgate::mailbox::Builder>();
        debug::<Dispatcher<Opaque>>();
        debug::<flowgate::dispatch::Builder<Opaque>>();
        debug::<Publisher<Opaque>>();
        debug::<Consumer<Opaque>>();
        debug::<Delivery<Opaque>>();
        debug::<Publish<'static, Opaque>>();
        debug::<flowgate::dispatch::Recv<'static, Opaque>>();
        debug::<Stats>();
        debug::<Subscription>();
        debug::<CreditSemaphore>();
        debug::<Credits<'static>>();
        debug::<OwnedCredits>();
        debug::<Acquire<'static>>();
        debug::<AcquireOwned>();
        debug::<RateLimiter>();
        debug::<Quota>();
        debug::<flowgate::runtime::ManualClock>();
    }

    #[test]
    fn send_sync_unpin_clone() {
        send_sync::<CreditSemaphore>();
        send_sync::<Credits<'static>>();
        send_sync::<OwnedCredits>();
        send_sync::<Acquire<'static>>();
        send_sync::<AcquireOwned>();
        unpin::<Acquire<'static>>();
        unpin::<AcquireOwned>();
        // A mailbox moves values between threads: `T: Send` is enough.
        send_sync::<Sender<SendOnly>>();
        send_sync::<WeakSender<SendOnly>>();
        send::<Receiver<SendOnly>>();
        send::<Send<'static, SendOnly>>();
        send::<Reserve<'static, SendOnly>>();
        send::<Recv<'static, SendOnly>>();
        unpin::<Sender<Opaque>>();
        unpin::<Receiver<Opaque>>();
        unpin::<Recv<'static, Opaque>>();
        unpin::<Reserve<'static, Opaque>>();
        unpin::<Send<'static, std::marker::PhantomPinned>>();
        clone::<Sender<Opaque>>();
        clone::<WeakSender<Opaque>>();
        // Dispatcher handles, for `T: Send + Sync`.
        send_sync::<Dispatcher<u32>>();
        send_sync::<Publisher<u32>>();
        send_sync::<Consumer<u32>>();
        send_sync::<Delivery<u32>>();
        send::<Publish<'static, u32>>();
        send::<flowgate::dispatch::Recv<'static, u32>>();
        unpin::<Consumer<Opaque>>();
        unpin::<Publish<'static, Opaque>>();
        unpin::<flowgate::dispatch::Recv<'static, Opaque>>();
        clone::<Dispatcher<Opaque>>();
        clone::<Publisher<Opaque>>();
        clone::<Subscription>();
        clone::<Strategy>();
        clone::<Requeue>();
        clone::<Stats>();
        clone::<Quota>();
        send_sync::<RateLimiter>();
        send_sync::<std::sync::Arc<RateLimiter>>();
    }

    /// The timed futures can be spawned (`Send`) and printed, whatever the
    /// payload's `Debug`.
    #[test]
    fn timed_futures_are_send_and_debug() {
        use flowgate::runtime::{ManualClock, ManualSleep};
        type Rl = flowgate::rate::MonotonicClock;
        send::<flowgate::credit::AcquireTimeout<'static, ManualSleep>>();
        send::<flowgate::credit::AcquireOwnedTimeout<ManualSleep>>();
        send::<flowgate::mailbox::SendTimeout<'static, u32, ManualSleep>>();
        send::<flowgate::mailbox::RecvTimeout<'static, u32, ManualSleep>>();
        send::<flowgate::dispatch::PublishTimeout<'static, u32, ManualSleep>>();
        send::<flowgate::dispatch::RecvTimeout<'static, u32, ManualSleep>>();
        send::<flowgate::rate::UntilReady<'static, Rl, ManualClock>>();
        send::<flowgate::rate::UntilNReady<'static, Rl, ManualClock>>();
        debug::<flowgate::credit::AcquireTimeout<'static, ManualSleep>>();
        debug::<flowgate::mailbox::SendTimeout<'static, Opaque, ManualSleep>>();
        debug::<flowgate::mailbox::RecvTimeout<'static, Opaque, ManualSleep>>();
        debug::<flowgate::dispatch::PublishTimeout<'static, Opaque, ManualSleep>>();
        debug::<flowgate::dispatch::RecvTimeout<'static, Opaque, ManualSleep>>();
        debug::<flowgate::rate::UntilReady<'static, Rl, ManualClock>>();
        debug::<flowgate::dispatch::RateLimitedPublisher<Opaque, ManualClock, Rl>>();
        clone::<flowgate::dispatch::RateLimitedPublisher<Opaque, ManualClock, Rl>>();
        send_sync::<flowgate::dispatch::RateLimitedPublisher<u32, ManualClock, Rl>>();

        // `RateLimitedPublisher::publish` (an `async fn`) can be spawned.
        fn spawnable<F: std::future::Future + std::marker::Send>(_: F) {}
        let queue = Dispatcher::<u32>::new();
        let clock = ManualClock::new();
        let limiter = std::sync::Arc::new(RateLimiter::new(Quota::per_second(1)));
        let publisher = queue.publisher().with_rate_limit_with(clock, limiter);
        spawnable(publisher.publish(1));
    }
}

/// Every method the issues name exists with the expected receiver and
/// argument types (a compile-time check: each is taken as a function).
mod names {
    use flowgate::credit::{CreditSemaphore, Credits, OwnedCredits};
    use flowgate::dispatch::{Consumer, Delivery, Dispatcher, Publisher, Subscription};
    use flowgate::mailbox::{Receiver, Sender, TrySendError, WeakSender};
    use flowgate::rate::{Quota, RateLimiter};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn methods_exist() {
        let _: fn(usize) -> CreditSemaphore = CreditSemaphore::new;
        let _: fn(&CreditSemaphore, usize) = CreditSemaphore::add_credits;
        let _: fn(&CreditSemaphore, usize) = CreditSemaphore::shrink;
        let _: fn(&CreditSemaphore) -> usize = CreditSemaphore::available;
        let _: fn(&CreditSemaphore) = CreditSemaphore::close;
        let _: fn(&CreditSemaphore) -> bool = CreditSemaphore::is_closed;
        let _: fn(Arc<CreditSemaphore>, usize) -> _ = CreditSemaphore::acquire_owned;
        let _: fn(&mut Credits<'static>, usize) -> Option<Credits<'static>> = Credits::split;
        let _: fn(&mut Credits<'static>, Credits<'static>) = Credits::merge;
        let _: fn(&Credits<'static>) -> usize = Credits::count;
        let _: fn(Credits<'static>) = Credits::forget;
        let _: fn(&mut OwnedCredits, usize) -> Option<OwnedCredits> = OwnedCredits::split;
        let _: fn(&mut OwnedCredits, OwnedCredits) = OwnedCredits::merge;
        let _: fn(OwnedCredits) = OwnedCredits::forget;

        let _: fn(&Sender<u32>, u32) -> Result<(), TrySendError<u32>> = Sender::try_send;
        let _: fn(&Sender<u32>) -> bool = Sender::is_closed;
        let _: fn(&Sender<u32>) -> usize = Sender::capacity;
        let _: fn(&Sender<u32>) -> usize = Sender::len;
        let _: fn(&Sender<u32>, &Sender<u32>) -> bool = Sender::same_channel;
        let _: fn(&Sender<u32>) -> WeakSender<u32> = Sender::downgrade;
        let _: fn(&Sender<u32>) -> usize = Sender::sender_count;
        let _: fn(&Sender<u32>) -> usize = Sender::dropped;
        let _: fn(Sender<u32>) -> _ = Sender::reserve_owned;
        let _: fn(&WeakSender<u32>) -> Option<Sender<u32>> = WeakSender::upgrade;
        let _: fn(&mut Receiver<u32>) = Receiver::close;
        let _: fn(&Receiver<u32>) -> usize = Receiver::len;
        let _: fn(&Receiver<u32>) -> bool = Receiver::is_empty;
        let _: fn(&Receiver<u32>) -> bool = Receiver::is_closed;
        let _: fn(&Receiver<u32>) -> usize = Receiver::capacity;

        let _: fn() -> Dispatcher<u32> = Dispatcher::new;
        let _: fn(&Dispatcher<u32>) -> Publisher<u32> = Dispatcher::publisher;
        let _: fn(&Dispatcher<u32>, Subscription) -> Consumer<u32> = Dispatcher::subscribe;
        let _: fn(&Dispatcher<u32>) = Dispatcher::close;
        let _: fn(&Consumer<u32>, usize) = Consumer::set_prefetch;
        let _: fn(&Consumer<u32>, u32) = Consumer::set_weight;
        let _: fn(Delivery<u32>) = Delivery::ack;
        let _: fn(Delivery<u32>) -> Option<u32> = Delivery::ack_take;
        let _: fn(&Delivery<u32>) -> bool = Delivery::redelivered;
        let _: fn(&Delivery<u32>) -> u32 = Delivery::attempt;

        let _: fn(u32) -> Quota = Quota::per_second;
        let _: fn(u32) -> Quota = Quota::per_minute;
        let _: fn(Duration) -> Quota = Quota::with_period;
        let _: fn(Quota, u32) -> Quota = Quota::burst;
        let _: fn(Quota) -> RateLimiter = RateLimiter::new;
        let _: fn(&RateLimiter, Quota) = RateLimiter::set_quota;
    }
}
