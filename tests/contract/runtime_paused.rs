//! The plain timed forms inside tokio use tokio's timer (DESIGN.md §3,
//! `flowgate::runtime`: "tokio's inside a tokio runtime"), so tokio's
//! paused test time drives them: an hour-long deadline expires at once on
//! a paused clock, on both tokio runtimes, and what the timed-out operation
//! held goes back.

use super::*;
use flowgate::credit::{AcquireTimeoutError, CreditSemaphore};
use flowgate::dispatch::{Dispatcher, PublishTimeoutError, Subscription};
use flowgate::mailbox::{self, RecvTimeoutError, SendTimeoutError};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

/// A current-thread runtime whose clock starts paused.
fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

async fn every_plain_form_expires_on_paused_time() {
    let start = tokio::time::Instant::now();
    let sem = CreditSemaphore::new(1);
    let mut held = sem.try_acquire(1).unwrap();
    assert_eq!(
        sem.acquire_timeout(2, HOUR).await.unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    drop(held.split(1)); // nothing was kept by the timed-out acquire
    drop(held);
    assert_eq!(sem.available(), 1);
    let sem = Arc::new(sem);
    assert!(
        Arc::clone(&sem)
            .acquire_owned_timeout(2, HOUR)
            .await
            .is_err()
    );

    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    tx.try_send(1).unwrap();
    match tx.send_timeout(2, HOUR).await {
        Err(SendTimeoutError::Timeout(2)) => {}
        other => panic!("expected Timeout(2), got ok={}", other.is_ok()),
    }
    assert_eq!(rx.recv_timeout(HOUR).await, Ok(1));
    assert_eq!(rx.recv_timeout(HOUR).await, Err(RecvTimeoutError::Timeout));

    let queue = Dispatcher::<u32>::builder().capacity(1).build();
    let publisher = queue.publisher();
    publisher.try_publish(1).unwrap();
    match publisher.publish_timeout(2, HOUR).await {
        Err(PublishTimeoutError::Timeout(2)) => {}
        other => panic!("expected Timeout(2), got ok={}", other.is_ok()),
    }
    let mut consumer = queue.subscribe(Subscription::prefetch(1));
    consumer.recv_timeout(HOUR).await.unwrap().ack();
    assert!(consumer.recv_timeout(HOUR).await.is_err());
    // Paused time moved on by the deadlines alone.
    assert!(tokio::time::Instant::now() - start >= HOUR * 6);
}

#[test]
fn plain_forms_use_tokio_time_on_a_current_thread_runtime() {
    paused_runtime().block_on(every_plain_form_expires_on_paused_time());
}

#[tokio::test(start_paused = true)]
async fn plain_forms_use_tokio_time_under_the_test_attribute() {
    every_plain_form_expires_on_paused_time().await;
}

#[test]
fn plain_forms_use_tokio_time_in_a_spawned_task() {
    paused_runtime().block_on(async {
        tokio::spawn(every_plain_form_expires_on_paused_time())
            .await
            .unwrap();
    });
}

/// On paused time: a `recv_timeout` of an hour gets the message a task
/// sends ten seconds from now.
async fn a_send_ten_seconds_away_arrives_within_an_hour() {
    let (tx, mut rx) = mailbox::bounded::<u32>(1);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        tx.send(7).await.unwrap();
    });
    assert_eq!(rx.recv_timeout(HOUR).await, Ok(7));
    sender.await.unwrap();
}

#[test]
fn a_deadline_met_on_paused_time_hands_over_what_arrived() {
    paused_runtime().block_on(async {
        let sem = Arc::new(CreditSemaphore::new(0));
        let granter = {
            let sem = Arc::clone(&sem);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(10)).await;
                sem.add_credits(1);
            })
        };
        let held = sem.acquire_timeout(1, HOUR).await.unwrap();
        assert_eq!(held.count(), 1);
        granter.await.unwrap();
        a_send_ten_seconds_away_arrives_within_an_hour().await;
    });
}

/// Paused time runs ahead of the real clock: a deadline must count from
/// tokio's now, or every timeout after the clock has moved on would fire
/// at once.
#[tokio::test(start_paused = true)]
async fn a_timeout_counts_from_tokio_now_once_paused_time_has_moved_on() {
    tokio::time::sleep(HOUR * 2).await;
    a_send_ten_seconds_away_arrives_within_an_hour().await;
    let sem = CreditSemaphore::new(0);
    let before = tokio::time::Instant::now();
    assert!(sem.acquire_timeout(1, HOUR).await.is_err());
    assert_eq!(tokio::time::Instant::now() - before, HOUR);
}

/// A deadline of `Duration::MAX` ("no deadline") inside tokio neither
/// panics nor fires.
#[tokio::test]
async fn a_duration_max_deadline_inside_tokio_is_never() {
    let sem = CreditSemaphore::new(0);
    let mut acquire = Box::pin(sem.acquire_timeout(1, Duration::MAX));
    assert!(futures::poll!(&mut acquire).is_pending());
    let (_tx, mut rx) = mailbox::bounded::<u32>(1);
    assert!(futures::poll!(Box::pin(rx.recv_timeout(Duration::MAX))).is_pending());
    sem.add_credits(1);
    assert_eq!(acquire.await.unwrap().count(), 1);
}
