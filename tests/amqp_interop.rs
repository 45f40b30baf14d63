//! Interop with a client no one here wrote: Python's `pika` publishes what
//! the bridge consumes, and consumes what flowgate's publisher publishes.
//! Needs a broker (`AMQP_URL`) and `python3` with pika (`pip install
//! pika`); `#[ignore]`d, so reported as ignored unless run with
//! `--ignored` (`scripts/test` does when it has both), and failed without
//! them under `FLOWGATE_REQUIRE_BROKER=1` (CI).

mod broker;

use flowgate::amqp::{ConsumerBridge, Publisher};
use flowgate::dispatch::Subscription;
use lapin::BasicProperties;
use lapin::types::AMQPValue;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/pika_peer.py");

/// `python3`, if it can import pika.
fn pika() -> Option<&'static str> {
    let ok = Command::new("python3")
        .args(["-c", "import pika"])
        .output()
        .is_ok_and(|out| out.status.success());
    if ok {
        return Some("python3");
    }
    assert!(
        std::env::var("FLOWGATE_REQUIRE_BROKER").as_deref() != Ok("1"),
        "FLOWGATE_REQUIRE_BROKER=1 but python3 cannot import pika (pip install pika)"
    );
    eprintln!("SKIPPED: python3 with pika is not available (pip install pika)");
    None
}

/// Runs the pika peer to completion on a blocking thread.
async fn peer(python: &'static str, args: [String; 4]) -> String {
    let shown = args.clone();
    let out =
        tokio::task::spawn_blocking(move || Command::new(python).arg(PEER).args(&args).output())
            .await
            .unwrap()
            .expect("run the pika peer");
    assert!(
        out.status.success(),
        "pika peer {shown:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 bodies")
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("interop did not finish in 120 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn pika_publishes_the_bridge_consumes_nothing_lost() {
    let url = broker_or_skip!();
    let Some(python) = pika() else { return };
    bounded(async move {
        let fx = broker::Fixture::new(&url, "from-pika", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let n = 300usize;
        let channel = broker::channel(conn).await;
        let bridge = ConsumerBridge::builder(&channel, queue)
            .credit(16)
            .start()
            .await
            .unwrap();
        let workers: Vec<_> = (0..3)
            .map(|_| bridge.subscribe(Subscription::prefetch(4)))
            .collect();
        let run = tokio::spawn(bridge.run());
        // pika publishes while the bridge consumes.
        let publish = tokio::spawn(peer(
            python,
            ["publish".into(), url.clone(), queue.clone(), n.to_string()],
        ));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for mut worker in workers {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(d) = worker.recv().await {
                    let seq = d.properties().headers().as_ref().and_then(|h| {
                        match h.inner().get("seq") {
                            Some(AMQPValue::LongInt(i)) => Some(i64::from(*i)),
                            Some(AMQPValue::LongLongInt(i)) => Some(*i),
                            _ => None,
                        }
                    });
                    let _ = tx.send((String::from_utf8(d.data().to_vec()).unwrap(), seq));
                    d.ack();
                }
            });
        }
        drop(tx);
        let mut got = BTreeSet::new();
        while got.len() < n {
            let (body, seq) = rx.recv().await.unwrap();
            let seq = seq.expect("pika's seq header arrives");
            assert_eq!(body, format!("pika-{seq}"));
            assert!(got.insert(body), "a message arrived twice");
        }
        publish.await.unwrap();
        bridge.close();
        assert!(rx.recv().await.is_none(), "nothing beyond what pika sent");
        run.await.unwrap().unwrap();
        assert_eq!(bridge.stats().acked, n as u64);
        assert_eq!(broker::ready(admin, queue).await, 0);
        broker::delete(admin, queue).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a broker: AMQP_URL (scripts/test runs it with one)"]
async fn flowgate_publishes_pika_consumes_nothing_lost() {
    let url = broker_or_skip!();
    let Some(python) = pika() else { return };
    bounded(async move {
        let fx = broker::Fixture::new(&url, "to-pika", &[]).await;
        let (conn, admin, queue) = (&fx.conn, &fx.admin, &fx.queue);
        let n = 300usize;
        let publisher = Publisher::builder(&broker::channel(conn).await)
            .max_unconfirmed(8)
            .build()
            .await
            .unwrap();
        let consume = tokio::spawn(peer(
            python,
            ["consume".into(), url.clone(), queue.clone(), n.to_string()],
        ));
        let mut tasks = Vec::new();
        for t in 0..3 {
            let (publisher, queue) = (publisher.clone(), queue.clone());
            tasks.push(tokio::spawn(async move {
                for i in (t..n).step_by(3) {
                    let body = format!("flowgate-{i}").into_bytes();
                    publisher
                        .publish(&queue, body, BasicProperties::default())
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let printed = consume.await.unwrap();
        let got: Vec<&str> = printed.lines().collect();
        let unique: BTreeSet<&str> = got.iter().copied().collect();
        let want: BTreeSet<String> = (0..n).map(|i| format!("flowgate-{i}")).collect();
        assert_eq!(got.len(), n, "pika got each message once");
        assert_eq!(unique, want.iter().map(String::as_str).collect());
        assert_eq!(broker::ready(admin, queue).await, 0);
        broker::delete(admin, queue).await;
    })
    .await;
}
