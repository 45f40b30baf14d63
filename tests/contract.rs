//! The contract (DESIGN.md §3) as an outside user reads it: each test takes
//! one sentence of the contract and checks it through the public API only,
//! grouped by module. No sleeps and no timing: futures are polled by hand
//! or run on `futures::executor::block_on`, time comes from a manual clock.
//!
//! VERIFICATION.md's bug list, and where each class is tested (loom models
//! in `loom-tests/tests/`, which also run once on real threads):
//!
//! 1. dropped queued waiter: `credit::dropping_a_pending_acquire_..`,
//!    `credit_exact::a_cancelled_head_hands_its_partial_credit_..`,
//!    `wakeups::*` (every future), loom `credit::cancel_after_partial_assignment`.
//! 2. waiter list dangling: slab keys, no pointers (`src/waitlist.rs`);
//!    miri on the core, loom `credit::notified_then_cancelled_passes_on`.
//! 3. closed receiver never woken: `tests/mailbox.rs` `bug3_..`,
//!    `verification::bug3_a_closed_receiver_waiting_on_an_outstanding_permit_..`,
//!    loom `mailbox::last_sender_in_dropped_permit_wakes_receiver`.
//! 4. credit-return paths that forgot to wake: `tests/credit.rs`
//!    `every_credit_return_path_wakes`, `verification::bug4_*` (mailbox
//!    slots, dispatcher backlog room).
//! 5. memory growth under cancelled waits: `tests/credit_alloc.rs`,
//!    `tests/mailbox_alloc.rs`, `tests/dispatch_alloc.rs`, `tests/cancel_alloc.rs`.
//! 6. `try_send` racing the receiver's drop: `tests/mailbox.rs` `bug6_..`,
//!    loom `mailbox::receiver_dropped_with_buffered_messages_racing_try_send`.
//! 7. cloned handles get free room: `tests/mailbox.rs` `bug7_..`,
//!    `verification::bug7_a_thousand_cloned_publishers_..`.
//! 8. second waiter sleeps with a message queued: `tests/mailbox.rs` `bug8_..`,
//!    loom `mailbox::two_waiting_senders_both_wake`,
//!    loom `dispatch::two_waiting_consumers_two_publishes_both_wake`.
//! 9. closed seen before the last message: `tests/mailbox.rs` `bug9_..`,
//!    loom `mailbox::send_recv_at_empty_then_sender_dropped`.
//! 10. cancelled recv swallows its wake-up: `tests/mailbox.rs` `bug10_..`,
//!     `wakeups::notified_then_dropped_the_turn_passes_to_the_next_waiter`,
//!     loom `mailbox::cancelled_recv_racing_send`, `dispatch::cancelled_recv_racing_publish`.
//! 11. concurrent drop, double free: loom `dispatch::*` (`Track`ed messages),
//!     `edges::every_teardown_order_drops_every_message_once`, miri.
//! 12. a held slot blocks free ones: `tests/mailbox.rs` `bug12_held_permit_..`.

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

/// The random walks' source: xorshift64 from `seed`, each call giving a
/// number below its argument.
fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed.max(1);
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// A payload with no trait impls at all.
struct Opaque;

// One module per area of DESIGN.md §3, under tests/contract/.
#[path = "contract/credit.rs"]
mod credit;
#[path = "contract/credit_exact.rs"]
mod credit_exact;
#[path = "contract/dispatch.rs"]
mod dispatch;
#[path = "contract/dispatch_walks.rs"]
mod dispatch_walks;
#[path = "contract/edges.rs"]
mod edges;
#[path = "contract/mailbox.rs"]
mod mailbox;
#[path = "contract/names.rs"]
mod names;
#[path = "contract/rate.rs"]
mod rate;
#[path = "contract/rate_exact.rs"]
mod rate_exact;
#[path = "contract/runtime.rs"]
mod runtime;
#[cfg(feature = "tokio")]
#[path = "contract/runtime_paused.rs"]
mod runtime_paused;
#[path = "contract/stats_exact.rs"]
mod stats_exact;
#[path = "contract/streams.rs"]
mod streams;
#[path = "contract/traits.rs"]
mod traits;
#[path = "contract/verification.rs"]
mod verification;
#[path = "contract/wakeups.rs"]
mod wakeups;
