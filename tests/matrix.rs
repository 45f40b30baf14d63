//! End-to-end flows of every primitive, run on each executor of the test
//! matrix (futures always; tokio current- and multi-thread, smol and
//! async-std's executor with their features): the core needs no runtime,
//! and behaves the same on each.

mod runtime_matrix;

use flowgate::credit::CreditSemaphore;
use flowgate::dispatch::{Consumer, Dispatcher, Strategy, Subscription};
use flowgate::mailbox;
use futures::StreamExt;
use std::sync::Arc;

#[test]
fn mailbox_producers_and_receiver() {
    runtime_matrix::each_executor(|| async {
        let (tx, mut rx) = mailbox::bounded::<(u8, u32)>(4);
        let producers: Vec<_> = (0..3u8)
            .map(|id| {
                let tx = tx.clone();
                async move {
                    for n in 0..200 {
                        tx.send((id, n)).await.unwrap();
                    }
                }
            })
            .collect();
        drop(tx);
        let receiver = async move {
            let mut next = [0u32; 3];
            while let Some((id, n)) = rx.next().await {
                assert_eq!(n, next[usize::from(id)], "FIFO per producer");
                next[usize::from(id)] += 1;
            }
            next
        };
        let (_, next) = futures::join!(futures::future::join_all(producers), receiver);
        assert_eq!(next, [200; 3]);
    });
}

#[test]
fn credit_window_between_tasks() {
    runtime_matrix::each_executor(|| async {
        let credit = Arc::new(CreditSemaphore::new(2));
        let (tx, mut rx) = mailbox::bounded::<u32>(16);
        let producer = {
            let credit = Arc::clone(&credit);
            async move {
                for n in 0..100 {
                    credit.acquire(1).await.unwrap().forget();
                    tx.send(n).await.unwrap();
                }
            }
        };
        let consumer = async {
            for expected in 0..100 {
                assert_eq!(rx.recv().await, Some(expected));
                credit.add_credits(1);
            }
        };
        futures::join!(producer, consumer);
        assert_eq!(credit.available(), 2);
    });
}

/// A dispatcher with `capacity` and three consumers of prefetch 2 (no
/// handle kept, so it closes once the producer is done), and the producer
/// that publishes `0..messages` to it.
fn three_consumers(
    strategy: Strategy,
    capacity: usize,
    messages: u32,
) -> (impl std::future::Future<Output = ()>, Vec<Consumer<u32>>) {
    let queue = Dispatcher::<u32>::builder()
        .capacity(capacity)
        .strategy(strategy)
        .build();
    let publisher = queue.publisher();
    let consumers = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(2)))
        .collect();
    let producer = async move {
        for n in 0..messages {
            publisher.publish(n).await.unwrap();
        }
    };
    (producer, consumers)
}

#[test]
fn dispatcher_work_queue() {
    runtime_matrix::each_executor(|| async {
        let (producer, consumers) = three_consumers(Strategy::RoundRobin, 8, 300);
        let workers = consumers.into_iter().map(|mut consumer| async move {
            let mut got = 0u32;
            while let Some(delivery) = consumer.recv().await {
                got += 1;
                delivery.ack();
            }
            got
        });
        let ((), counts) = futures::join!(producer, futures::future::join_all(workers));
        assert_eq!(counts.iter().sum::<u32>(), 300);
    });
}

#[test]
fn broadcast_fanout_to_every_consumer() {
    runtime_matrix::each_executor(|| async {
        let (producer, consumers) = three_consumers(Strategy::Broadcast, 4, 100);
        let readers = consumers.into_iter().map(|consumer| {
            consumer
                .map(|delivery| {
                    let n = *delivery; // copies share one message
                    delivery.ack();
                    n
                })
                .collect::<Vec<u32>>()
        });
        let ((), seen) = futures::join!(producer, futures::future::join_all(readers));
        for got in seen {
            assert_eq!(got, (0..100).collect::<Vec<_>>(), "every copy, in order");
        }
    });
}

#[test]
fn sink_into_mailbox_into_stream() {
    use futures::SinkExt;
    runtime_matrix::each_executor(|| async {
        let (tx, rx) = mailbox::bounded::<u32>(2);
        let mut sink = tx.into_sink();
        let producer = async move {
            let mut items = futures::stream::iter(0..200).map(Ok);
            sink.send_all(&mut items).await.unwrap();
            sink.close().await.unwrap();
        };
        let ((), sum) = futures::join!(producer, rx.fold(0u32, |sum, n| async move { sum + n }));
        assert_eq!(sum, 199 * 200 / 2);
    });
}
