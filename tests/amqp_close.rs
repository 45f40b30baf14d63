//! How the RabbitMQ bridge ends, against a real broker (`AMQP_URL`, see
//! `tests/amqp.rs`): `close()` completes with no worker left, the driver's
//! waker is never dropped under its own lock, a broker-side cancel says so,
//! and a forced close reports the broker's own reason.

mod broker;

use flowgate::amqp::{BridgeError, ConsumerBridge};
use flowgate::dispatch::Subscription;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

/// Runs a test body, failing it (instead of hanging) if the broker never
/// answers.
async fn within(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test did not finish in 60 s");
}

/// Issue 15: `close()` completes with no worker left, and the local
/// backlog goes back to the broker (`basic.nack` requeue), whether the
/// last worker leaves before or after the close.
async fn close_without_workers(url: String, worker_leaves_first: bool) {
    let fx = broker::Fixture::new(&url, "close-no-worker", &[]).await;
    let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
    broker::publish_all(admin, queue, (0..10u8).map(|i| vec![i])).await;
    let channel = broker::channel(conn).await;
    let bridge = ConsumerBridge::builder(&channel, queue)
        .credit(10)
        .start()
        .await
        .unwrap();
    let mut worker = bridge.subscribe(Subscription::prefetch(1));
    let run = tokio::spawn(bridge.run());
    let held = worker.recv().await.expect("a delivery");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while bridge.stats().published < 10 {
        assert!(std::time::Instant::now() < deadline, "not all taken in");
        tokio::task::yield_now().await;
    }
    if worker_leaves_first {
        // The only worker dies holding a delivery, as in a panic.
        drop((held, worker));
        bridge.close();
    } else {
        bridge.close();
        drop((held, worker));
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("close() completes with no worker left");
    out.unwrap().unwrap();
    let sent = bridge.broker_stats();
    // Each delivery taken in (the dropped one may have come back before
    // the close) went back by a nack on the wire.
    let taken = bridge.stats().published;
    assert_eq!(
        (sent.acks_sent, sent.nacks_sent, sent.unsent),
        (0, taken, 0)
    );
    broker::await_ready(admin, queue, 10).await;
    assert_eq!(broker::consumers(admin, queue).await, 0);
    broker::delete(admin, queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn close_completes_after_the_last_worker_left() {
    let url = broker_or_skip!();
    within(close_without_workers(url, true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn close_completes_when_the_last_worker_leaves_after_it() {
    let url = broker_or_skip!();
    within(close_without_workers(url, false)).await;
}

/// The bridge a waker closes, once armed.
struct Probe {
    bridge: ConsumerBridge,
    armed: AtomicBool,
}

/// A waker every copy of which, once armed, re-enters the bridge when
/// dropped (`close()` takes the driver's waker lock): whichever copy the
/// driver replaces, its drop is the re-entry.
fn closes_on_every_drop(probe: Arc<Probe>) -> Waker {
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_one);
    unsafe fn clone(p: *const ()) -> RawWaker {
        // SAFETY: `p` came from `Arc::into_raw` of an `Arc<Probe>`
        // and that copy is alive (the caller holds a waker made of it).
        unsafe { Arc::increment_strong_count(p.cast::<Probe>()) };
        RawWaker::new(p, &VTABLE)
    }
    unsafe fn wake(p: *const ()) {
        // SAFETY: as `drop_one`: `wake` consumes the waker.
        unsafe { drop_one(p) }
    }
    unsafe fn wake_by_ref(_: *const ()) {}
    unsafe fn drop_one(p: *const ()) {
        // SAFETY: `p` is one strong count of an `Arc<Probe>`
        // (from `into_raw` or `clone`), given up here exactly once.
        let probe = unsafe { Arc::from_raw(p.cast::<Probe>()) };
        if probe.armed.load(Ordering::Acquire) {
            probe.bridge.close();
        }
    }
    let p = Arc::into_raw(probe).cast::<()>();
    // SAFETY: the vtable's functions keep the `Arc` count contract above.
    unsafe { Waker::from_raw(RawWaker::new(p, &VTABLE)) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn a_replaced_driver_waker_is_dropped_after_the_lock() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "waker-drop", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(1)
            .start()
            .await
            .unwrap();
        let mut run = Box::pin(bridge.run());
        let probe = Arc::new(Probe {
            bridge: bridge.clone(),
            armed: AtomicBool::new(false),
        });
        // Polled on a plain thread: a self-deadlock there fails the test
        // by the deadline instead of blocking the runtime.
        let (done, finished) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let first = closes_on_every_drop(Arc::clone(&probe));
            let _ = run.as_mut().poll(&mut Context::from_waker(&first));
            drop(first);
            // Now the driver holds a copy; replacing it drops it.
            probe.armed.store(true, Ordering::Release);
            let second = run.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            let _ = done.send((run, second));
        });
        let (run, second) = tokio::time::timeout(Duration::from_secs(10), finished)
            .await
            .expect("re-polling the driver with another waker deadlocked")
            .unwrap();
        // The replaced waker's drop closed the bridge: the driver ends.
        let out = match second {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => tokio::time::timeout(Duration::from_secs(10), run)
                .await
                .expect("the driver ends after close()"),
        };
        out.unwrap();
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn a_broker_cancel_ends_run_with_cancelled() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "broker-cancel", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        broker::publish_all(admin, queue, (0..4u8).map(|i| vec![i])).await;
        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(4)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(4));
        let run = tokio::spawn(bridge.run());
        let held = worker.recv().await.unwrap();
        broker::delete(admin, queue).await; // the broker cancels the consumer
        held.ack();
        while let Some(d) = worker.recv().await {
            d.ack();
        }
        let out = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("run ends after a broker cancel")
            .unwrap();
        assert!(matches!(out, Err(BridgeError::Cancelled)), "{out:?}");
        assert!(channel.status().connected(), "the channel stays usable");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn a_forced_close_reports_the_brokers_reason() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "forced", &[]).await;
        let (admin, queue) = (&fx.admin, &fx.queue);
        broker::publish_all(admin, queue, (0..200u32).map(|i| i.to_be_bytes().to_vec())).await;
        let name = broker::unique("forced-conn");
        let conn = broker::connect_named(&url, &name).await;
        let channel = broker::channel(&conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(8)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(8));
        let run = tokio::spawn(bridge.run());
        // The worker keeps acking (and requeueing, so the queue never
        // runs dry) while the broker closes the connection under it.
        let acking = tokio::spawn(async move {
            while let Some(d) = worker.recv().await {
                d.nack(flowgate::dispatch::Requeue::Yes);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while bridge.stats().published < 50 {
            assert!(std::time::Instant::now() < deadline, "deliveries flow");
            tokio::task::yield_now().await;
        }
        let name2 = name.clone();
        tokio::task::spawn_blocking(move || broker::force_close(&name2, "flowgate-test"))
            .await
            .unwrap();
        let out = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("run ends on a forced close")
            .unwrap();
        let Err(BridgeError::Lost(err)) = out else {
            panic!("want Lost, got {out:?}");
        };
        let text = err.to_string();
        assert!(
            text.contains("CONNECTION_FORCED"),
            "the broker's reason: {text}"
        );
        tokio::time::timeout(Duration::from_secs(10), acking)
            .await
            .expect("the worker drains")
            .unwrap();
        // Every delivery taken in was settled once: on the wire or nowhere.
        let sent = bridge.broker_stats();
        assert_eq!(
            sent.acks_sent + sent.nacks_sent + sent.unsent,
            bridge.stats().published,
            "{sent:?}"
        );
        broker::await_ready(admin, queue, 200).await; // nothing lost
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn a_silent_partition_is_noticed_by_heartbeats() {
    let url = broker_or_skip!();
    within(async move {
        let fx = broker::Fixture::new(&url, "partition", &[]).await;
        let (admin, queue) = (&fx.admin, &fx.queue);
        broker::publish_all(admin, queue, (0..20u8).map(|i| vec![i])).await;
        let proxy = broker::Proxy::start(&url).await;
        let sep = if proxy.url.contains('?') { '&' } else { '?' };
        let conn = broker::connect(&format!("{}{sep}heartbeat=1", proxy.url)).await;
        let channel = broker::channel(&conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(4)
            .start()
            .await
            .unwrap();
        let mut worker = bridge.subscribe(Subscription::prefetch(4));
        let run = tokio::spawn(bridge.run());
        let first = worker.recv().await.unwrap();
        first.ack();
        let started = std::time::Instant::now();
        proxy.stall();
        let out = tokio::time::timeout(Duration::from_secs(15), run)
            .await
            .expect("a silent partition is noticed within 15 s at heartbeat=1")
            .unwrap();
        let waited = started.elapsed();
        assert!(matches!(out, Err(BridgeError::Lost(_))), "{out:?}");
        eprintln!("partition noticed after {waited:?}: {out:?}");
        while let Some(d) = worker.recv().await {
            d.ack(); // goes nowhere
        }
        // On the broker's side the stalled connection lives on until its
        // own heartbeat check closes it: then nothing is lost.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ready = broker::ready(admin, queue).await;
            if ready >= 19 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "only {ready} ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        broker::delete(admin, queue).await;
    })
    .await;
}
