//! The contract (DESIGN.md §3) as an outside user reads it: each test takes
//! one sentence of the contract and checks it through the public API only,
//! grouped by module. No sleeps and no timing: futures are polled by hand
//! or run on `futures::executor::block_on`, time comes from a manual clock.

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
#[path = "contract/wakeups.rs"]
mod wakeups;
