//! Many threads at once: per-producer FIFO, exactly-once delivery, drop
//! accounting under races. Sizes shrink under miri.

use flowgate::mailbox::{self, Builder, Overflow};
use futures::executor::block_on;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const PRODUCERS: u64 = 4;

fn per_producer() -> u64 {
    if cfg!(miri) { 200 } else { 100_000 }
}

/// 4 producer threads × 100k messages through `capacity` slots: every
/// message arrives exactly once, each producer's in order.
fn fifo_per_producer(capacity: usize) {
    let n = per_producer();
    let (tx, mut rx) = mailbox::bounded::<(u64, u64)>(capacity);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                block_on(async {
                    for seq in 0..n {
                        tx.send((id, seq)).await.unwrap();
                    }
                })
            })
        })
        .collect();
    drop(tx);
    let mut next = [0u64; PRODUCERS as usize];
    block_on(async {
        while let Some((id, seq)) = rx.recv().await {
            assert_eq!(seq, next[id as usize], "producer {id} out of order");
            next[id as usize] += 1;
        }
    });
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(next, [n; PRODUCERS as usize]);
}

#[test]
fn four_producers_fifo_capacity_64() {
    fifo_per_producer(64);
}

#[test]
fn four_producers_fifo_capacity_1() {
    fifo_per_producer(1);
}

/// Producers mixing `send`, `try_send` and permits, a batching receiver.
#[test]
fn mixed_senders_batching_receiver_exactly_once() {
    let n = per_producer() / 4;
    let (tx, mut rx) = mailbox::bounded::<(u64, u64)>(7);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                block_on(async {
                    for seq in 0..n {
                        match seq % 3 {
                            0 => tx.send((id, seq)).await.unwrap(),
                            1 => tx.reserve().await.unwrap().send((id, seq)),
                            _ => {
                                let mut msg = (id, seq);
                                while let Err(e) = tx.try_send(msg) {
                                    assert!(e.is_full());
                                    msg = e.into_inner();
                                    std::thread::yield_now();
                                }
                            }
                        }
                    }
                })
            })
        })
        .collect();
    drop(tx);
    let mut next = [0u64; PRODUCERS as usize];
    let mut buf = Vec::new();
    block_on(async {
        while rx.recv_many(&mut buf, 5).await > 0 {
            for (id, seq) in buf.drain(..) {
                assert_eq!(seq, next[id as usize]);
                next[id as usize] += 1;
            }
        }
    });
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(next, [n; PRODUCERS as usize]);
}

/// `DropOldest` under contention: received + evicted == sent, each
/// producer's received messages in order, nothing dropped twice.
#[test]
fn drop_oldest_accounts_for_every_message() {
    let n = per_producer() / 4;
    let drops = Arc::new(AtomicUsize::new(0));
    struct Msg(u64, u64, Arc<AtomicUsize>);
    impl Drop for Msg {
        fn drop(&mut self) {
            self.2.fetch_add(1, Ordering::Relaxed);
        }
    }
    let (tx, mut rx) = Builder::new(4)
        .overflow(Overflow::DropOldest)
        .build::<Msg>();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let (tx, drops) = (tx.clone(), Arc::clone(&drops));
            std::thread::spawn(move || {
                for seq in 0..n {
                    if seq % 2 == 0 {
                        // `Full` is possible only while every slot is in
                        // someone's hands with nothing buffered: retry.
                        let mut msg = Msg(id, seq, Arc::clone(&drops));
                        while let Err(e) = tx.try_send(msg) {
                            assert!(e.is_full());
                            msg = e.into_inner();
                            std::thread::yield_now();
                        }
                    } else {
                        block_on(tx.send(Msg(id, seq, Arc::clone(&drops)))).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut received = 0u64;
    let mut last = [None::<u64>; PRODUCERS as usize];
    let mut buf = Vec::new();
    while block_on(rx.recv_many(&mut buf, 3)) > 0 {
        for Msg(id, seq, _) in buf.drain(..) {
            if let Some(prev) = last[id as usize] {
                assert!(seq > prev, "producer {id}: {seq} after {prev}");
            }
            last[id as usize] = Some(seq);
            received += 1;
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    let evicted = rx.dropped() as u64;
    assert_eq!(received + evicted, PRODUCERS * n);
    drop(rx);
    assert_eq!(drops.load(Ordering::Relaxed) as u64, PRODUCERS * n);
}

/// Receiver dropped while producers are sending: every message is dropped
/// exactly once (received, handed back, or dropped by the receiving side).
#[test]
fn receiver_drop_while_sending_drops_each_once() {
    let rounds = if cfg!(miri) { 2 } else { 50 };
    for _ in 0..rounds {
        let drops = Arc::new(AtomicUsize::new(0));
        struct Msg(Arc<AtomicUsize>);
        impl Drop for Msg {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (tx, mut rx) = mailbox::bounded::<Msg>(4);
        let each = 200;
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (tx, drops) = (tx.clone(), Arc::clone(&drops));
                std::thread::spawn(move || {
                    block_on(async {
                        for _ in 0..each {
                            if let Ok(permit) = tx.reserve().await {
                                permit.send(Msg(Arc::clone(&drops)));
                            } else {
                                // Closed: the message is handed back.
                                let _ = tx.send(Msg(Arc::clone(&drops))).await;
                            }
                        }
                    })
                })
            })
            .collect();
        drop(tx);
        for _ in 0..10 {
            drop(block_on(rx.recv()));
        }
        drop(rx);
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(drops.load(Ordering::Relaxed), 2 * each);
    }
}
