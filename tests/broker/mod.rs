//! A real RabbitMQ for the broker tests: where it is, fresh queues on it,
//! its own counters, and a TCP proxy that can cut a connection.
#![allow(dead_code)]

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties};
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::{AsyncReadExt, copy_bidirectional};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The broker's URL from `AMQP_URL`, or `None` (with a line saying the test
/// is skipped). With `FLOWGATE_REQUIRE_BROKER=1` (CI) a missing broker
/// fails the test instead.
pub fn url() -> Option<String> {
    match std::env::var("AMQP_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FLOWGATE_REQUIRE_BROKER").as_deref() != Ok("1"),
                "FLOWGATE_REQUIRE_BROKER=1 but AMQP_URL is not set"
            );
            eprintln!("SKIPPED: AMQP_URL is not set (start a broker with scripts/broker start)");
            None
        }
    }
}

/// Skips the calling test (returns) when no broker is configured.
#[macro_export]
macro_rules! broker_or_skip {
    () => {
        match broker::url() {
            Some(url) => url,
            None => return,
        }
    };
}

pub async fn connect(url: &str) -> Connection {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {url}: {err}"))
}

/// A connection the broker lists under `name`, for [`force_close`].
pub async fn connect_named(url: &str, name: &str) -> Connection {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, properties)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {url}: {err}"))
}

/// `rabbitmqctl` on the node `scripts/broker start` runs (its own
/// environment), with a 20 s limit; its stdout.
pub fn ctl(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/broker");
    let out = std::process::Command::new("timeout")
        .arg("20")
        .arg(script)
        .arg("ctl")
        .args(args)
        .output()
        .expect("run scripts/broker ctl");
    assert!(
        out.status.success(),
        "scripts/broker ctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Force-closes (as `rabbitmqctl close_connection` does, with
/// `CONNECTION_FORCED`) the connections named `name` (see
/// [`connect_named`]), and only those: other tests run alongside.
pub fn force_close(name: &str, reason: &str) {
    // `user_provided_name` is newer than 3.10: the name is in the client
    // properties (`connection_name`), unique per test run.
    let listed = ctl(&[
        "list_connections",
        "-q",
        "--no-table-headers",
        "pid",
        "client_properties",
    ]);
    let quoted = format!("\"{name}\"");
    let pids: Vec<&str> = listed
        .lines()
        .filter(|line| line.contains(&quoted))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(!pids.is_empty(), "no connection named {name}: {listed}");
    for pid in pids {
        ctl(&["close_connection", pid, reason]);
    }
}

pub async fn channel(conn: &Connection) -> Channel {
    conn.create_channel().await.expect("create channel")
}

/// A queue name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "flowgate-{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Declares a durable-enough queue for a test (it expires a minute after
/// its last use, so a failed test leaves nothing behind), with extra
/// `arguments`.
pub async fn declare(channel: &Channel, name: &str, arguments: &[(&str, AMQPValue)]) {
    let mut args = FieldTable::default();
    args.insert("x-expires".into(), AMQPValue::LongInt(60_000));
    for (key, value) in arguments {
        args.insert((*key).into(), value.clone());
    }
    channel
        .queue_declare(name.into(), QueueDeclareOptions::default(), args)
        .await
        .unwrap_or_else(|err| panic!("declare {name}: {err}"));
}

/// The broker's count of messages ready in `name` (not delivered or
/// requeued): `queue.declare` with `passive`.
pub async fn ready(channel: &Channel, name: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), passive, FieldTable::default())
        .await
        .unwrap_or_else(|err| panic!("passive declare {name}: {err}"))
        .message_count()
}

/// The broker's count of consumers on `name`.
pub async fn consumers(channel: &Channel, name: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), passive, FieldTable::default())
        .await
        .unwrap_or_else(|err| panic!("passive declare {name}: {err}"))
        .consumer_count()
}

/// Polls `ready(name)` until it is `want`, failing after 10 s.
pub async fn await_ready(channel: &Channel, name: &str, want: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = ready(channel, name).await;
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: {got} ready after 10 s, want {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub async fn delete(channel: &Channel, name: &str) {
    let _ = channel
        .queue_delete(name.into(), QueueDeleteOptions::default())
        .await;
}

/// Publishes `bodies` to `queue` through the default exchange and waits
/// for every confirm.
pub async fn publish_all(
    channel: &Channel,
    queue: &str,
    bodies: impl IntoIterator<Item = Vec<u8>>,
) {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm.select");
    let mut confirms = Vec::new();
    for body in bodies {
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &body,
                lapin::BasicProperties::default(),
            )
            .await
            .expect("publish");
        confirms.push(confirm);
    }
    for confirm in confirms {
        assert!(confirm.await.expect("confirm").is_ack());
    }
}

/// One test's broker setup: a connection, a channel for checks, and a
/// fresh queue declared with `arguments`.
pub struct Fixture {
    pub conn: Connection,
    pub admin: Channel,
    pub queue: String,
}

impl Fixture {
    pub async fn new(url: &str, prefix: &str, arguments: &[(&str, AMQPValue)]) -> Self {
        let conn = connect(url).await;
        let admin = channel(&conn).await;
        let queue = unique(prefix);
        declare(&admin, &queue, arguments).await;
        Self { conn, admin, queue }
    }
}

/// A TCP proxy in front of the broker whose connections can be cut, to
/// lose a connection the way a network does.
pub struct Proxy {
    pub url: String,
    cut: watch::Sender<bool>,
    stall: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(broker_url: &str) -> Self {
        let target = broker_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', '?']).next())
            .map(|auth| auth.rsplit('@').next().unwrap_or(auth).to_string())
            .expect("AMQP_URL has a host:port");
        let target = if target.contains(':') {
            target
        } else {
            format!("{target}:5672")
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let (cut, watch_cut) = watch::channel(false);
        let (stall, watch_stall) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let mut watch_cut = watch_cut.clone();
                let mut watch_stall = watch_stall.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let stalled = tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => false,
                        _ = watch_cut.wait_for(|cut| *cut) => false,
                        _ = watch_stall.wait_for(|stall| *stall) => true,
                    };
                    if stalled {
                        // A silent partition: both sockets stay open, what
                        // the client sends is swallowed, nothing reaches
                        // it; bounded so a test can never hang on it.
                        let swallow = async {
                            let mut buf = [0u8; 4096];
                            while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
                        };
                        let _ =
                            tokio::time::timeout(std::time::Duration::from_secs(60), swallow).await;
                        drop(server);
                    }
                });
            }
        });
        let mut url = broker_url.to_string();
        let at = url.find("://").map_or(0, |at| at + 3);
        let end = url[at..].find(['/', '?']).map_or(url.len(), |end| at + end);
        let creds = url[at..end]
            .rfind('@')
            .map_or(String::new(), |c| url[at..at + c + 1].to_string());
        url.replace_range(at..end, &format!("{creds}127.0.0.1:{port}"));
        Self { url, cut, stall }
    }

    /// Stops forwarding without closing anything (a silent partition):
    /// only heartbeats can tell.
    pub fn stall(&self) {
        let _ = self.stall.send(true);
    }

    /// Drops every proxied connection, both ways.
    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }
}
