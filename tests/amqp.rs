//! The RabbitMQ bridge against a real broker (`AMQP_URL`; `scripts/broker
//! start` runs one). Every test is `#[ignore]`d, so a plain `cargo test`
//! reports them as ignored, not passed; `scripts/test` runs them with
//! `--ignored` when `AMQP_URL` is set (by hand: `cargo test --features
//! amqp,tokio --test amqp -- --ignored`). CI sets
//! `FLOWGATE_REQUIRE_BROKER=1`, which turns a missing broker into a failure.

mod broker;

use flowgate::amqp::{BridgeError, ConsumerBridge, PublishErrorKind, Publisher};
use flowgate::dispatch::{Delivery, Requeue, Strategy, Subscription, TryRecvError};
use futures::FutureExt;
use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::{AMQPValue, FieldTable};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

type Msg = flowgate::amqp::Message;

/// Runs a test body, failing it (instead of hanging) if the broker never
/// answers.
async fn within(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(std::time::Duration::from_secs(60), test)
        .await
        .expect("the test did not finish in 60 s: a delivery or confirm never came");
}

/// Closes the bridge: the worker drains to `None` and the driver ends `Ok`.
async fn shut_down(
    bridge: &ConsumerBridge,
    worker: &mut flowgate::dispatch::Consumer<Msg>,
    run: tokio::task::JoinHandle<Result<(), BridgeError>>,
) {
    bridge.close();
    assert!(worker.recv().await.is_none(), "nothing left for the worker");
    run.await.unwrap().unwrap();
}

fn body(d: &Delivery<Msg>) -> Vec<u8> {
    d.data().to_vec()
}

/// The next message on `queue`, taken by a plain lapin consumer and acked.
async fn take_one(channel: &lapin::Channel, queue: &str) -> lapin::message::Delivery {
    use futures::StreamExt;
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let delivery = consumer.next().await.expect("a message").expect("delivery");
    delivery.ack(BasicAckOptions::default()).await.expect("ack");
    delivery
}

/// A dead-letter setup: `queue`'s rejects go to `dlq` by the default
/// exchange.
fn dead_letter_to(dlq: &str) -> Vec<(&'static str, AMQPValue)> {
    vec![
        ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
        (
            "x-dead-letter-routing-key",
            AMQPValue::LongString(dlq.into()),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn prefetch_is_respected_end_to_end() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "prefetch", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        broker::publish_all(
            &broker::channel(conn).await,
            queue,
            (0..20u8).map(|i| vec![i]),
        )
        .await;

        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(3)
            .start()
            .await
            .unwrap();
        let mut workers: Vec<_> = (0..3)
            .map(|_| bridge.subscribe(Subscription::prefetch(1)))
            .collect();
        let run = tokio::spawn(bridge.run());

        let mut held = Vec::new();
        for worker in &mut workers {
            held.push(worker.recv().await.unwrap());
        }
        // The broker sent exactly the credit: its own count of ready messages
        // says so, and no worker holds more than its prefetch.
        assert_eq!(broker::ready(admin, queue).await, 17);
        for worker in &mut workers {
            assert!(matches!(worker.try_recv(), Err(TryRecvError::Empty)));
        }
        let stats = bridge.stats();
        assert_eq!((stats.in_flight, stats.backlog), (3, 0));

        let mut seen: BTreeSet<Vec<u8>> = held.iter().map(body).collect();
        let mut acked = 0;
        for turn in 0..17 {
            let i = turn % 3;
            held.remove(0).ack();
            acked += 1;
            // Whatever the broker sent, it never had more than the credit out
            // unacked: sent = 20 - ready <= acked + 3.
            let ready = broker::ready(admin, queue).await;
            assert!(
                20 - ready <= acked + 3,
                "broker sent {} with {acked} acked",
                20 - ready
            );
            let next = workers[i].recv().await.unwrap();
            assert!(!next.redelivered());
            assert!(seen.insert(body(&next)), "a message came twice");
            held.push(next);
        }
        for d in held.drain(..) {
            d.ack();
        }
        assert_eq!(seen.len(), 20);
        bridge.close();
        for worker in &mut workers {
            assert!(worker.recv().await.is_none());
        }
        run.await.unwrap().unwrap();
        assert_eq!(broker::ready(admin, queue).await, 0);
        assert_eq!(bridge.stats().acked, 20);
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn weighted_dispatch_across_local_workers() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "weighted", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let total = 400usize;
        broker::publish_all(
            &broker::channel(conn).await,
            queue,
            (0..total).map(|i| i.to_le_bytes().to_vec()),
        )
        .await;

        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(20)
            .strategy(Strategy::Weighted)
            .start()
            .await
            .unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for weight in [3, 1] {
            let mut worker = bridge.subscribe(Subscription::prefetch(20).weight(weight));
            let (bridge, done) = (bridge.clone(), Arc::clone(&done));
            tasks.push(tokio::spawn(async move {
                let mut got = 0usize;
                while let Some(d) = worker.recv().await {
                    d.ack();
                    got += 1;
                    if done.fetch_add(1, Ordering::AcqRel) + 1 == total {
                        bridge.close();
                    }
                }
                got
            }));
        }
        let run = tokio::spawn(bridge.run());
        let mut counts = Vec::new();
        for task in tasks {
            counts.push(task.await.unwrap());
        }
        run.await.unwrap().unwrap();
        assert_eq!(counts.iter().sum::<usize>(), total);
        // Weight 3 against weight 1: three quarters, give or take a window.
        assert!((280..=320).contains(&counts[0]), "{counts:?}");
        assert_eq!(broker::ready(admin, queue).await, 0);
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn nack_requeue_flags_and_dead_letter() {
    let url = broker_or_skip!();
    within(async move {
        let conn = broker::connect(&url).await;
        let admin = broker::channel(&conn).await;
        let (queue, dlq) = (broker::unique("nack"), broker::unique("nack-dlq"));
        broker::declare(&admin, &dlq, &[]).await;
        broker::declare(&admin, &queue, &dead_letter_to(&dlq)).await;
        broker::publish_all(&broker::channel(&conn).await, &queue, [b"job".to_vec()]).await;

        let channel = broker::channel(&conn).await;
        let bridge = ConsumerBridge::builder(&channel, &queue)
            .credit(1)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(1));
        let run = tokio::spawn(bridge.run());

        let first = worker.recv().await.unwrap();
        assert_eq!((first.attempt(), first.redelivered()), (1, false));
        assert!(!first.broker_redelivered());
        first.nack(Requeue::Yes); // basic.nack requeue=true

        let second = worker.recv().await.unwrap();
        assert_eq!(second.data(), b"job");
        assert_eq!((second.attempt(), second.redelivered()), (2, true));
        assert!(second.broker_redelivered());
        second.nack(Requeue::No); // basic.nack requeue=false: to the DLX

        let dead = take_one(&admin, &dlq).await;
        assert_eq!(dead.data, b"job");
        assert_eq!(broker::ready(&admin, &queue).await, 0);
        let stats = bridge.stats();
        assert_eq!((stats.nacked, stats.dead_lettered, stats.acked), (2, 1, 0));
        shut_down(&bridge, &mut worker, run).await;
        broker::delete(&admin, &queue).await;
        broker::delete(&admin, &dlq).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn quorum_delivery_count_and_max_attempts() {
    let url = broker_or_skip!();
    within(async move {
        let conn = broker::connect(&url).await;
        let admin = broker::channel(&conn).await;
        let (queue, dlq) = (broker::unique("quorum"), broker::unique("quorum-dlq"));
        broker::declare(&admin, &dlq, &[]).await;
        let mut args = dead_letter_to(&dlq);
        args.push(("x-queue-type", AMQPValue::LongString("quorum".into())));
        // Quorum queues are durable and cannot expire like this by default:
        // declare without the helper's x-expires.
        let mut table = FieldTable::default();
        for (key, value) in args {
            table.insert(key.into(), value);
        }
        let durable = lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        admin
            .queue_declare(queue.as_str().into(), durable, table)
            .await
            .unwrap();
        broker::publish_all(&broker::channel(&conn).await, &queue, [b"q".to_vec()]).await;

        let channel = broker::channel(&conn).await;
        let bridge = ConsumerBridge::builder(&channel, &queue)
            .credit(1)
            .max_attempts(3)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(1));
        let run = tokio::spawn(bridge.run());

        let first = worker.recv().await.unwrap();
        assert_eq!(first.attempt(), 1);
        drop(first); // dropped without ack: basic.nack requeue=true
        let second = worker.recv().await.unwrap();
        // The quorum queue counts: x-delivery-count 1, so attempt 2.
        assert_eq!((second.attempt(), second.redelivered()), (2, true));
        second.nack(Requeue::Yes);
        let third = worker.recv().await.unwrap();
        assert_eq!(third.attempt(), 3);
        third.nack(Requeue::Yes); // the last attempt: requeue=false, to the DLX
        let dead = take_one(&admin, &dlq).await;
        assert_eq!(dead.data, b"q");
        assert_eq!(bridge.stats().dead_lettered, 1);
        shut_down(&bridge, &mut worker, run).await;
        broker::delete(&admin, &queue).await;
        broker::delete(&admin, &dlq).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn dropped_worker_mid_delivery_is_redelivered() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "dropped", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        broker::publish_all(&broker::channel(conn).await, queue, [b"one".to_vec()]).await;

        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(2)
            .start()
            .await
            .unwrap();
        let mut first = bridge.subscribe(Subscription::prefetch(1));
        let run = tokio::spawn(bridge.run());
        let held = first.recv().await.unwrap();
        assert_eq!(held.data(), b"one");
        let mut second = bridge.subscribe(Subscription::prefetch(1));
        drop(first); // the worker dies holding it: basic.nack requeue=true
        let again = second.recv().await.unwrap();
        assert_eq!(again.data(), b"one");
        assert!(again.redelivered() && again.broker_redelivered());
        held.ack(); // stale: its worker is gone, nothing is sent
        again.ack();
        shut_down(&bridge, &mut second, run).await;
        assert_eq!(broker::ready(admin, queue).await, 0);
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn confirms_bound_the_outstanding_publishes() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "confirms", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let publisher = Publisher::builder(&broker::channel(conn).await)
            .max_unconfirmed(4)
            .build()
            .await
            .unwrap();

        let mut publishes: Vec<_> = (0..20u8)
            .map(|i| {
                Some(Box::pin(publisher.publish(
                    queue,
                    vec![i],
                    BasicProperties::default(),
                )))
            })
            .collect();
        // One poll each: four take credit and go out, the rest wait for it. (A
        // confirm can come back within one poll, lapin's IO running on another
        // thread; its credit then passes to the first waiter.)
        let mut done = 0;
        for slot in &mut publishes {
            if let Some(result) = slot.as_mut().and_then(|p| p.as_mut().now_or_never()) {
                result.unwrap();
                *slot = None;
                done += 1;
            }
        }
        assert!(done < 20);
        assert_eq!(publisher.unconfirmed(), 4.min(20 - done));
        for publish in publishes.into_iter().flatten() {
            publish.await.unwrap();
        }
        assert_eq!(publisher.unconfirmed(), 0);
        assert_eq!(broker::ready(admin, queue).await, 20);
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn nacked_and_returned_publishes_come_back_with_their_payload() {
    let url = broker_or_skip!();
    within(async move {
        let conn = broker::connect(&url).await;
        let admin = broker::channel(&conn).await;
        let queue = broker::unique("full");
        let full = [
            ("x-max-length", AMQPValue::LongInt(1)),
            ("x-overflow", AMQPValue::LongString("reject-publish".into())),
        ];
        broker::declare(&admin, &queue, &full).await;
        let publisher = Publisher::builder(&broker::channel(&conn).await)
            .build()
            .await
            .unwrap();

        publisher
            .publish(&queue, b"fits".to_vec(), BasicProperties::default())
            .await
            .unwrap();
        let err = publisher
            .publish(&queue, b"no room".to_vec(), BasicProperties::default())
            .await
            .unwrap_err();
        assert!(matches!(err.kind(), PublishErrorKind::Nacked), "{err}");
        assert_eq!(err.into_payload(), b"no room");

        let err = publisher
            .publish(
                "flowgate-no-such-queue",
                b"lost?".to_vec(),
                BasicProperties::default(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.kind(),
                PublishErrorKind::Returned {
                    reply_code: 312,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.payload(), b"lost?");

        publisher.close();
        let err = publisher
            .publish(&queue, b"late".to_vec(), BasicProperties::default())
            .await
            .unwrap_err();
        assert!(matches!(err.kind(), PublishErrorKind::Closed));
        assert_eq!(err.into_payload(), b"late");
        broker::delete(&admin, &queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn connection_loss_is_a_clear_error_and_nothing_is_lost() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "loss", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        broker::publish_all(admin, queue, (0..5u8).map(|i| vec![i])).await;

        let proxy = broker::Proxy::start(&url).await;
        let lossy = broker::connect(&proxy.url).await;
        let channel = broker::channel(&lossy).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(5)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(5));
        let run = tokio::spawn(bridge.run());
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(worker.recv().await.unwrap());
        }
        let acked: BTreeSet<Vec<u8>> = held
            .drain(..2)
            .map(|d| {
                let b = body(&d);
                d.ack();
                b
            })
            .collect();

        proxy.cut();
        let err = run.await.unwrap().unwrap_err();
        assert!(matches!(err, BridgeError::Lost(_)), "{err:?}");
        assert!(err.to_string().contains("lost its channel"), "{err}");
        // Acks after the loss go nowhere (the broker redelivers these).
        let late: BTreeSet<Vec<u8>> = held
            .drain(..)
            .map(|d| {
                let b = body(&d);
                d.ack();
                b
            })
            .collect();
        assert!(
            worker.recv().await.is_none(),
            "the dispatcher closes on loss"
        );
        // The stats tell those late acks went nowhere.
        assert!(
            bridge.broker_stats().unsent >= 3,
            "{:?}",
            bridge.broker_stats()
        );

        // On a healthy connection: everything not acked before the cut comes
        // back, flagged, and nothing comes back twice.
        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(5)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(5));
        let run = tokio::spawn(bridge.run());
        let mut again = BTreeSet::new();
        let take = |again: &mut BTreeSet<Vec<u8>>, d: Delivery<Msg>| {
            assert!(d.redelivered(), "a redelivery is flagged");
            assert!(again.insert(body(&d)), "redelivered twice");
            d.ack();
        };
        while !late.iter().all(|b| again.contains(b)) {
            take(&mut again, worker.recv().await.unwrap());
        }
        bridge.close();
        while let Some(d) = worker.recv().await {
            take(&mut again, d);
        }
        run.await.unwrap().unwrap();
        // An ack sent just before the cut may or may not have reached the
        // broker: those messages are acked or redelivered, never lost.
        let everything: BTreeSet<Vec<u8>> = acked.union(&again).cloned().collect();
        assert_eq!(everything.len(), 5, "nothing lost");
        broker::delete(admin, queue).await;
    })
    .await;
}

// ----- cancellation of each .await --------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn publish_cancelled_while_waiting_for_credit_publishes_nothing() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "cancel-credit", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let publisher = Publisher::builder(&broker::channel(conn).await)
            .max_unconfirmed(1)
            .build()
            .await
            .unwrap();
        let mut first =
            Box::pin(publisher.publish(queue, b"first".to_vec(), BasicProperties::default()));
        let first_done = first.as_mut().now_or_never();
        let mut waiting =
            Box::pin(publisher.publish(queue, b"never".to_vec(), BasicProperties::default()));
        if first_done.is_none() {
            // The only credit is out: the second waits, then is dropped.
            assert!(waiting.as_mut().now_or_never().is_none());
            drop(waiting);
            first.await.unwrap();
        } else {
            drop(waiting); // never polled: nothing to send
        }
        assert_eq!(
            publisher.unconfirmed(),
            0,
            "the cancelled waiter kept no credit"
        );
        publisher
            .publish(queue, b"last".to_vec(), BasicProperties::default())
            .await
            .unwrap();
        assert_eq!(
            broker::ready(admin, queue).await,
            2,
            "only first and last were published"
        );
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn publish_cancelled_after_sending_keeps_its_credit_until_confirmed() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "cancel-sent", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let publisher = Publisher::builder(&broker::channel(conn).await)
            .max_unconfirmed(1)
            .build()
            .await
            .unwrap();
        let mut sent =
            Box::pin(publisher.publish(queue, b"sent".to_vec(), BasicProperties::default()));
        if sent.as_mut().now_or_never().is_none() {
            drop(sent); // out on the wire (or about to be), not confirmed yet
            assert_eq!(
                publisher.unconfirmed(),
                1,
                "its credit stays until the confirm"
            );
        }
        // The next publish drives the dropped one's confirm, then gets the
        // credit.
        publisher
            .publish(queue, b"next".to_vec(), BasicProperties::default())
            .await
            .unwrap();
        assert_eq!(publisher.unconfirmed(), 0);
        assert_eq!(
            broker::ready(admin, queue).await,
            2,
            "the cancelled publish was stored"
        );
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn run_dropped_stops_the_bridge_and_the_broker_requeues() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "cancel-run", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        broker::publish_all(admin, queue, (0..3u8).map(|i| vec![i])).await;
        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(3)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(3));
        let mut run = bridge.run();
        let held = loop {
            // Drive the driver by hand until a delivery is in.
            assert!((&mut run).now_or_never().is_none());
            if let Ok(d) = worker.try_recv() {
                break d;
            }
            tokio::task::yield_now().await;
        };
        drop(run); // the dispatcher closes; nothing more is sent
        held.ack(); // not sent: its driver is gone
        while let Some(d) = worker.recv().await {
            d.ack();
        }
        channel.close(200, "test done".into()).await.unwrap();
        // The broker took every unsettled delivery back.
        assert_eq!(broker::ready(admin, queue).await, 3);
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn start_cancelled_takes_nothing() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "cancel-start", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        broker::publish_all(admin, queue, (0..2u8).map(|i| vec![i])).await;
        let channel = broker::channel(conn).await;
        let mut start = Box::pin(ConsumerBridge::builder(&channel, queue).credit(2).start());
        assert!(start.as_mut().now_or_never().is_none());
        drop(start);
        channel.close(200, "test done".into()).await.unwrap();
        assert_eq!(broker::ready(admin, queue).await, 2);
        // A second driver of one bridge is refused.
        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(2)
            .start()
            .await
            .unwrap();
        let first = bridge.run();
        let second = bridge.run().await;
        assert!(matches!(second, Err(BridgeError::AlreadyRunning)));
        drop(first);
        channel.close(200, "test done".into()).await.unwrap();
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn rate_limited_publisher_waits_for_its_cell() {
    use flowgate::rate::{Quota, RateLimiter};
    use flowgate::runtime::ManualClock;
    use std::time::Duration;

    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "rate", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let clock = ManualClock::new();
        let limiter = Arc::new(RateLimiter::with_clock(Quota::per_second(1), clock.clone()));
        let publisher = Publisher::builder(&broker::channel(conn).await)
            .rate_limit_with(clock.clone(), limiter)
            .build()
            .await
            .unwrap();
        publisher
            .publish(queue, b"now".to_vec(), BasicProperties::default())
            .await
            .unwrap();
        let mut later =
            Box::pin(publisher.publish(queue, b"later".to_vec(), BasicProperties::default()));
        assert!(
            later.as_mut().now_or_never().is_none(),
            "the second cell is a second away"
        );
        assert_eq!(
            broker::ready(admin, queue).await,
            1,
            "and nothing went out for it"
        );
        clock.advance(Duration::from_secs(1));
        later.await.unwrap();
        assert_eq!(broker::ready(admin, queue).await, 2);
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_takes_the_exchange_per_publish() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "publish-to", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        admin
            .queue_bind(
                queue.as_str().into(),
                "amq.direct".into(),
                "to-direct".into(),
                lapin::options::QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let channel = broker::channel(conn).await;
        let publisher = Publisher::builder(&channel).build().await.unwrap();
        // The publisher's own exchange is the default one.
        publisher
            .publish(queue, b"by-default".to_vec(), BasicProperties::default())
            .await
            .unwrap();
        broker::await_ready(admin, queue, 1).await;
        // amq.direct reaches the queue only through the binding (and an
        // unroutable mandatory publish would come back Returned).
        publisher
            .publish_to(
                "amq.direct",
                "to-direct",
                b"by-direct".to_vec(),
                BasicProperties::default(),
            )
            .await
            .unwrap();
        broker::await_ready(admin, queue, 2).await;
        let err = publisher
            .publish_to(
                "amq.direct",
                "nowhere",
                b"lost".to_vec(),
                BasicProperties::default(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), PublishErrorKind::Returned { .. }),
            "{err:?}"
        );
        broker::delete(admin, queue).await;
    })
    .await;
}
