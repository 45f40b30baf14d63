//! Every method the issues name exists with the expected receiver and
//! argument types (a compile-time check: each is taken as a function).

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
