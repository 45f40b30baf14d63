//! Traits the contract implies: errors are `Display + Error` and hand values
//! back with `Debug` for any payload; handles are `Send`/`Sync` for sendable
//! payloads; the cloneable handles are `Clone`.

use super::Opaque;
use flowgate::credit::{
    Acquire, AcquireError, AcquireOwned, CreditSemaphore, Credits, OwnedCredits, TryAcquireError,
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
fn unwind_safe<X: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}

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

/// The handles can cross `catch_unwind` (as tokio's do): no user code runs
/// under a flowgate lock and the locks ignore poison, so a panic leaves
/// every primitive consistent. For any payload: messages move whole.
#[test]
fn handles_are_unwind_safe() {
    /// Neither `UnwindSafe` nor `RefUnwindSafe`.
    struct Cellish(std::marker::PhantomData<std::cell::UnsafeCell<u8>>);
    unwind_safe::<Sender<Cellish>>();
    unwind_safe::<WeakSender<Cellish>>();
    unwind_safe::<Receiver<Cellish>>();
    unwind_safe::<Permit<'static, Cellish>>();
    unwind_safe::<OwnedPermit<Cellish>>();
    unwind_safe::<Reserve<'static, Cellish>>();
    unwind_safe::<ReserveOwned<Cellish>>();
    unwind_safe::<flowgate::mailbox::Closed<'static, Cellish>>();
    unwind_safe::<CreditSemaphore>();
    unwind_safe::<Credits<'static>>();
    unwind_safe::<OwnedCredits>();
    unwind_safe::<Dispatcher<u32>>();
    unwind_safe::<Publisher<u32>>();
    unwind_safe::<Consumer<u32>>();
    unwind_safe::<Delivery<u32>>();
}
