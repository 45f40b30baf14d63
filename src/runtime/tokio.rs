//! The tokio adapter (feature `tokio`, which turns on only tokio's `rt`
//! and `time` features).

use super::Timer;
use core::time::Duration;
use std::time::Instant;

/// tokio's timer: `tokio::time::sleep`.
///
/// # Panics
///
/// Its sleep panics if created outside a tokio runtime, or in one built
/// without the time driver (`Builder::enable_time` / `enable_all`). Use
/// [`DefaultTimer`](super::DefaultTimer) where the code may run elsewhere.
///
/// # Examples
///
/// ```
/// use flowgate::runtime::{Timer, Tokio};
/// use std::time::Duration;
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// // The sleep is created inside the runtime (tokio needs its context).
/// rt.block_on(async { Tokio.sleep(Duration::from_millis(1)).await });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Timer for Tokio {
    type Sleep = ::tokio::time::Sleep;

    fn sleep(&self, d: Duration) -> ::tokio::time::Sleep {
        ::tokio::time::sleep(d)
    }

    fn sleep_until(&self, deadline: Instant) -> ::tokio::time::Sleep {
        ::tokio::time::sleep_until(deadline.into())
    }
}
