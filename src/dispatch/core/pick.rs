//! Choosing the consumer for the next message (every strategy but
//! Broadcast, which gives every consumer a copy).
//!
//! Only consumers with free prefetch credit are candidates, and only those
//! of the highest priority among them. `Core::ranks` keeps consumers sorted
//! by priority, so that group is one contiguous run of it.
//!
//! - Round robin: the candidate picked least recently (each pick stamps a
//!   turn), so candidates take turns and one skipped for want of credit is
//!   first when it has credit again.
//! - Least loaded: the lowest `unacked / prefetch`, ties by turn.
//! - Weighted: smooth weighted round-robin (nginx's): each candidate adds
//!   its weight to its current value, the largest current wins and loses
//!   the sum of the candidates' weights. Over a cycle of that sum, each gets
//!   exactly its weight, interleaved rather than in bursts.
//! - Adaptive: the same with weights `weight * fastest / mean`, `mean`
//!   being the consumer's average service time, `recv` to ack, and
//!   `fastest` the lowest such mean in the group (so the weights keep one
//!   scale, at most `weight * SCALE`, and SWRR's state stays meaningful as
//!   latencies move). The average is an EWMA over about 16 samples, each
//!   sample counted as at most 4 times the current mean, so one stall (the
//!   thread descheduled mid-delivery) moves it little. A consumer without a
//!   sample yet counts as the fastest. See also `adapt_limits`, which
//!   scales each consumer's window by the same speed.
//!
//!   A peak-EWMA (a slower sample replaces the average at once, a faster
//!   one decays in over 100 ms), which DESIGN.md names as an example, was
//!   used before: with equal consumers on a busy runtime every
//!   descheduling is such a peak, and shares drifted to a Jain index of
//!   about 0.99; the clamped mean keeps it at 0.9999+ and still gives a
//!   consumer 4 times slower about a quarter of the others' share.

use super::{Core, Rank};
use crate::dispatch::Strategy;

/// Scale of adaptive weights: `weight * SCALE * fastest / mean`.
const SCALE: f64 = 1024.0;

/// Weight of one sample in the mean service time behind Adaptive weights
/// and windows.
const MEAN_GAIN: f64 = 1.0 / 16.0;

/// A sample counts as at most this many times the current mean, so one
/// stall (the thread descheduled mid-delivery) moves it little.
const MEAN_CLAMP: f64 = 4.0;

/// Weights and windows are computed again when a consumer's mean has moved
/// by more than this fraction since they last were: closer than that, they
/// would not change a share measurably, and recomputing them after every
/// ack cost more than the rest of the pick.
const MEAN_SLACK: f64 = 1.0 / 32.0;

impl Rank {
    /// Records one service-time sample into the clamped mean. Returns
    /// whether the mean moved by more than [`MEAN_SLACK`] from the one that
    /// weighs picks and sizes windows (`weighed_ns`), which then follows it:
    /// the caller computes weights and windows again.
    pub(super) fn observe(&mut self, rtt_ns: u64) -> bool {
        // Plain comparisons rather than `f64::max`/`min`, whose NaN
        // handling costs instructions on every ack: nothing here is NaN.
        // Converted through `i64` (one instruction on x86-64; `u64` takes
        // several): the same value below 2^63 ns (292 years), saturated
        // above.
        let rtt = rtt_ns.min(i64::MAX as u64) as i64 as f64;
        let rtt = if rtt < 1.0 { 1.0 } else { rtt };
        if self.mean_ns == 0.0 {
            self.mean_ns = rtt;
        } else {
            let cap = self.mean_ns * MEAN_CLAMP;
            let sample = if rtt < cap { rtt } else { cap };
            self.mean_ns += (sample - self.mean_ns) * MEAN_GAIN;
        }
        let moved = (self.mean_ns - self.weighed_ns).abs() > self.weighed_ns * MEAN_SLACK;
        if moved {
            self.weighed_ns = self.mean_ns;
        }
        moved
    }
}

impl<T> Core<T> {
    /// Adaptive: grants each consumer a window in proportion to its speed,
    /// `ceil(prefetch * fastest_mean / mean)`, at least 1, `mean` being the
    /// clamped mean service time (as of the last move past
    /// [`MEAN_SLACK`]: `weighed_ns`). Whenever a
    /// burst of messages finds every window with room, or under a backlog
    /// where every window refills as soon as it has room, the windows'
    /// sizes, not the picks, decide the shares; a slow consumer holding
    /// fewer messages also delays fewer of them.
    pub(super) fn adapt_limits(&mut self) {
        let fastest = self
            .ranks
            .iter()
            .map(|r| r.weighed_ns)
            .filter(|&l| l > 0.0)
            .fold(f64::INFINITY, f64::min);
        for r in &mut self.ranks {
            r.limit = if r.weighed_ns > 0.0 && fastest.is_finite() {
                let share = r.prefetch as f64 * fastest / r.weighed_ns;
                ceil(share).clamp(1, r.prefetch)
            } else {
                r.prefetch
            };
        }
    }

    /// The consumer for the next message, or `None` if no one has credit.
    #[inline(always)]
    pub(super) fn pick(&mut self) -> Option<usize> {
        let chosen = match self.strategy {
            Strategy::RoundRobin | Strategy::Broadcast => self.least_recent()?,
            Strategy::LeastLoaded => self.least_loaded()?,
            Strategy::Weighted | Strategy::Adaptive => self.pick_weighed()?,
        };
        self.turn += 1;
        let rank = &mut self.ranks[chosen];
        rank.turn = self.turn;
        Some(rank.ci)
    }

    /// Round robin in one pass over `ranks` (the hot path of the common
    /// strategy): the least recently picked consumer with credit among the
    /// highest priority that has any. As [`best_in_group`](Self::best_in_group),
    /// but the best turn so far is kept by value, in a register, rather
    /// than re-read through a reference at each rank.
    fn least_recent(&self) -> Option<usize> {
        let first = self.first_with_credit()?;
        let (head, rest) = self.ranks.get(first..)?.split_first()?;
        let mut best = 0;
        let mut best_turn = head.turn;
        for (at, r) in rest.iter().enumerate() {
            if r.priority != head.priority {
                break;
            }
            if r.has_credit() && r.turn < best_turn {
                best = at + 1;
                best_turn = r.turn;
            }
        }
        Some(first + best)
    }

    /// Weighted and Adaptive, over the highest priority group with credit
    /// (out of line, so that the other strategies' picks are small enough
    /// to inline).
    #[inline(never)]
    fn pick_weighed(&mut self) -> Option<usize> {
        let adaptive = self.strategy == Strategy::Adaptive;
        // The weights change only with a latency sample, a weight or the
        // group's members: computed again after any of those
        // (`weights_for` is then cleared), not per pick.
        match self.swrr(adaptive) {
            Ok(chosen) => chosen,
            Err(priority) => {
                self.adaptive_weights(priority);
                self.weights_for = Some(priority);
                self.swrr(adaptive).ok()?
            }
        }
    }

    /// Least loaded, in one pass over `ranks`: the lowest `unacked /
    /// prefetch` among the highest priority with credit, ties by turn.
    fn least_loaded(&self) -> Option<usize> {
        self.best_in_group(|r, best| {
            // r.unacked / r.prefetch vs best.unacked / best.prefetch
            let lhs = r.unacked as u128 * best.prefetch as u128;
            let rhs = best.unacked as u128 * r.prefetch as u128;
            lhs < rhs || (lhs == rhs && r.turn < best.turn)
        })
    }

    /// In one pass over `ranks`: among the highest priority group with
    /// credit, the index of the first rank with credit that no later one
    /// is `better` than.
    #[inline]
    fn best_in_group(&self, better: impl Fn(&Rank, &Rank) -> bool) -> Option<usize> {
        let ranks = &self.ranks[..];
        let mut chosen = self.first_with_credit()?;
        let mut best = &ranks[chosen];
        let mut at = chosen + 1;
        while let Some(r) = ranks.get(at) {
            if r.priority != best.priority {
                break;
            }
            if r.has_credit() && better(r, best) {
                chosen = at;
                best = r;
            }
            at += 1;
        }
        Some(chosen)
    }

    /// Smooth weighted round-robin in one pass over `ranks`, among the
    /// highest priority with credit: each candidate adds its weight to its
    /// current value, the largest current wins and loses the sum of the
    /// candidates' weights. `Err(priority)` under Adaptive when that
    /// group's weights are stale, before anything changed: the caller
    /// computes them and picks again. Returns an index in `ranks`.
    fn swrr(&mut self, adaptive: bool) -> Result<Option<usize>, i32> {
        let Some(first) = self.first_with_credit() else {
            return Ok(None);
        };
        let priority = self.ranks[first].priority;
        if adaptive && self.weights_for != Some(priority) {
            return Err(priority);
        }
        Ok(self.swrr_from(first))
    }

    /// [`swrr`](Self::swrr) over the group of the rank at `first`, its
    /// first member with credit.
    #[inline]
    fn swrr_from(&mut self, first: usize) -> Option<usize> {
        let ranks = self.ranks.get_mut(first..)?;
        let (head, rest) = ranks.split_first_mut()?;
        let priority = head.priority;
        // `first` has credit: the first candidate, and the best so far
        // (ties go to the earliest).
        head.current = head.current.saturating_add(head.swrr);
        let mut total = head.swrr;
        let mut best_cur = head.current;
        let mut best = 0;
        for (at, r) in rest.iter_mut().enumerate() {
            if r.priority != priority {
                break;
            }
            if !r.has_credit() {
                continue;
            }
            let cur = r.current.saturating_add(r.swrr);
            r.current = cur;
            total = total.saturating_add(r.swrr);
            if cur > best_cur {
                best_cur = cur;
                best = at + 1;
            }
        }
        let r = &mut ranks[best];
        r.current = best_cur.saturating_sub(total);
        Some(first + best)
    }

    /// The index in `ranks` of the first consumer with credit.
    #[inline]
    fn first_with_credit(&self) -> Option<usize> {
        self.ranks.iter().position(Rank::has_credit)
    }

    /// Adaptive: sets the SWRR weight of each member of the group of
    /// `priority` from its first member with credit on, `weight * SCALE *
    /// fastest / mean`; a consumer without a sample yet counts as the
    /// fastest.
    fn adaptive_weights(&mut self, priority: i32) {
        let Some(first) = self
            .ranks
            .iter()
            .position(|r| r.has_credit() && r.priority == priority)
        else {
            return;
        };
        let len = self.ranks[first..]
            .iter()
            .take_while(|r| r.priority == priority)
            .count();
        adaptive_weights(&mut self.ranks[first..first + len]);
    }
}

/// `x.ceil() as usize` for `x` in `0..=usize::MAX`, without the call to
/// libm's `ceil` that the baseline x86-64 target makes.
fn ceil(x: f64) -> usize {
    let whole = x as usize;
    if (whole as f64) < x { whole + 1 } else { whole }
}

/// Adaptive: sets each group member's SWRR weight, `weight * SCALE *
/// fastest / mean`; a consumer without a sample yet counts as the fastest.
fn adaptive_weights(group: &mut [Rank]) {
    let fastest = group
        .iter()
        .map(|r| r.weighed_ns)
        .filter(|&l| l > 0.0)
        .fold(f64::INFINITY, f64::min);
    for r in group {
        let speed = if r.weighed_ns > 0.0 && fastest.is_finite() {
            fastest / r.weighed_ns
        } else {
            1.0
        };
        r.swrr = (f64::from(r.weight) * SCALE * speed).clamp(1.0, 1e12) as i64;
    }
}
