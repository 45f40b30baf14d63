//! Bug 11 of VERIFICATION.md under `Overflow::DropOldest`: the receiver is
//! dropped (and drains) while senders evict with `try_send`. Every message
//! is dropped exactly once: counted here, and a double read or a read of
//! an empty slot is undefined behaviour that miri reports
//! (`cargo +nightly miri test --test mailbox_drop_oldest_race`, small
//! counts under miri).

use flowgate::mailbox::{Builder, Overflow, TrySendError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

const ROUNDS: usize = if cfg!(miri) { 8 } else { 2_000 };
const SENDS: usize = if cfg!(miri) { 4 } else { 16 };

/// Counts its drops in a shared counter; owns a heap value, so that a
/// double drop is also a double free (caught by miri).
struct Msg {
    drops: Arc<AtomicUsize>,
    _heap: Box<usize>,
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn msg(drops: &Arc<AtomicUsize>, n: usize) -> Msg {
    Msg {
        drops: Arc::clone(drops),
        _heap: Box::new(n),
    }
}

#[test]
fn receiver_drop_racing_evicting_senders_drops_each_message_once() {
    for round in 0..ROUNDS {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = Builder::new(2).overflow(Overflow::DropOldest).build();
        tx.try_send(msg(&drops, 0)).ok().unwrap();
        tx.try_send(msg(&drops, 1)).ok().unwrap();
        let start = Arc::new(Barrier::new(3));
        let senders: Vec<_> = (0..2)
            .map(|id| {
                let (tx, drops, start) = (tx.clone(), Arc::clone(&drops), Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    let mut closed = 0;
                    for n in 0..SENDS {
                        match tx.try_send(msg(&drops, id * SENDS + n)) {
                            Ok(()) => {}
                            // A message handed back is dropped here.
                            Err(TrySendError::Closed(_)) => closed += 1,
                            Err(TrySendError::Full(_)) => {}
                        }
                    }
                    closed
                })
            })
            .collect();
        start.wait();
        // Alternate which side the receiver's drop lands on.
        if round % 2 == 0 {
            thread::yield_now();
        }
        drop(rx);
        let closed: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
        assert!(tx.is_closed());
        assert!(closed <= 2 * SENDS);
        // Whatever is still in the ring goes with the last handle.
        drop(tx);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2 + 2 * SENDS,
            "round {round}: every message dropped exactly once"
        );
    }
}
