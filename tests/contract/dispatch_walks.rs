//! Seeded random walks over the dispatcher, checking the contract's
//! invariants after every step.

use super::rng;
use flowgate::dispatch::{
    Delivery, Dispatcher, Requeue, Strategy, Subscription, TryPublishError, TryRecvError,
};
use flowgate::mailbox;

/// A seeded random walk over publish, subscribe, recv, ack, nack, drop
/// (of deliveries and of consumers) and `set_prefetch`, checking the
/// contract's invariants after every step: eager assignment (nothing
/// waits in the backlog while a consumer has free credit), prefetch
/// never exceeded (a lowered one only shrinks), the backlog bound,
/// redeliveries flagged, attempts within `max_attempts`; and at the end
/// every message acked exactly once, dead-lettered, or dropped and
/// counted.
fn random_walk(strategy: Strategy, seed: u64) {
    use std::collections::HashMap;
    let mut next = rng(seed);
    const CAP: usize = 4;
    const MAX_ATTEMPTS: u32 = 3;
    let (dlq, mut dead) = mailbox::bounded::<u64>(2);
    let queue = Dispatcher::<u64>::builder()
        .capacity(CAP)
        .strategy(strategy)
        .max_attempts(MAX_ATTEMPTS)
        .dead_letter(dlq)
        .build();
    let publisher = queue.publisher();
    // (consumer, auto-ack); held deliveries: (delivery, owner index).
    let mut consumers: Vec<Option<(flowgate::dispatch::Consumer<u64>, bool)>> = Vec::new();
    let mut held: Vec<(Delivery<u64>, usize)> = Vec::new();
    let mut stale: Vec<Delivery<u64>> = Vec::new();
    let mut received: HashMap<u64, u32> = HashMap::new();
    let mut acked: HashMap<u64, u32> = HashMap::new();
    let mut dead_lettered: Vec<u64> = Vec::new();
    let mut last_in_flight: HashMap<u64, usize> = HashMap::new();
    let mut next_id = 0u64;

    let check_receipt = |d: &Delivery<u64>, received: &mut HashMap<u64, u32>| {
        assert!(d.attempt() >= 1 && d.attempt() <= MAX_ATTEMPTS);
        let seen = received.entry(**d).or_insert(0);
        if *seen > 0 {
            assert!(d.redelivered(), "a second receipt of {} is flagged", **d);
        }
        assert_eq!(d.redelivered(), d.attempt() > 1);
        *seen += 1;
    };

    for _ in 0..600 {
        let live: Vec<usize> = (0..consumers.len())
            .filter(|&i| consumers[i].is_some())
            .collect();
        match next(10) {
            0 | 1 => {
                let before = queue.stats().backlog;
                match publisher.try_publish(next_id) {
                    Ok(()) => next_id += 1,
                    Err(TryPublishError::Full(_)) => {
                        assert!(before >= CAP, "Full only at the backlog bound")
                    }
                    Err(TryPublishError::Closed(_)) => unreachable!(),
                }
            }
            2 if live.len() < 4 => {
                let auto = next(4) == 0;
                let mut sub = Subscription::prefetch(1 + next(3) as usize)
                    .weight(1 + next(3) as u32)
                    .priority(next(2) as i32);
                if auto {
                    sub = sub.auto_ack();
                }
                consumers.push(Some((queue.subscribe(sub), auto)));
            }
            3 | 4 if !live.is_empty() => {
                let i = live[next(live.len() as u64) as usize];
                let (c, auto) = consumers[i].as_mut().unwrap();
                if let Ok(d) = c.try_recv() {
                    if *auto {
                        *acked.entry(*d).or_insert(0) += 1;
                    } else {
                        check_receipt(&d, &mut received);
                        held.push((d, i));
                    }
                }
            }
            5..=7 if !held.is_empty() => {
                let (d, _) = held.swap_remove(next(held.len() as u64) as usize);
                match next(4) {
                    0 | 1 => {
                        *acked.entry(*d).or_insert(0) += 1;
                        d.ack();
                    }
                    2 => d.nack(if next(2) == 0 {
                        Requeue::Yes
                    } else {
                        Requeue::No
                    }),
                    _ => drop(d),
                }
            }
            8 if !live.is_empty() && next(3) == 0 => {
                let i = live[next(live.len() as u64) as usize];
                consumers[i] = None;
                let mut k = 0;
                while k < held.len() {
                    if held[k].1 == i {
                        stale.push(held.swap_remove(k).0);
                    } else {
                        k += 1;
                    }
                }
            }
            9 if !live.is_empty() => {
                let i = live[next(live.len() as u64) as usize];
                let (c, _) = consumers[i].as_ref().unwrap();
                c.set_prefetch(1 + next(3) as usize);
            }
            _ => {
                if let Some(d) = stale.pop() {
                    if next(2) == 0 {
                        d.ack(); // stale: does nothing
                    }
                }
            }
        }
        if next(40) == 0 {
            // Drained now and then, so it is sometimes full.
            while let Ok(id) = dead.try_recv() {
                dead_lettered.push(id);
            }
        }
        // Invariants.
        let s = queue.stats();
        for c in &s.consumers {
            let prefetch = consumers
                .iter()
                .flatten()
                .find(|(k, _)| k.id() == c.id)
                .map(|(k, _)| k.prefetch())
                .unwrap();
            if c.in_flight > prefetch {
                let before = last_in_flight.get(&c.id).copied().unwrap_or(0);
                assert!(
                    c.in_flight <= before,
                    "over a lowered prefetch it only shrinks"
                );
            }
            last_in_flight.insert(c.id, c.in_flight);
            if s.backlog > 0 && strategy != Strategy::Adaptive {
                assert!(
                    c.in_flight >= prefetch,
                    "{strategy:?}: backlog {} while consumer {} has credit ({}/{})",
                    s.backlog,
                    c.id,
                    c.in_flight,
                    prefetch
                );
            }
        }
    }

    // End: settle everything, close, drain with a fresh consumer.
    for (d, _) in held.drain(..) {
        drop(d);
    }
    drop(stale);
    drop(consumers);
    queue.close();
    let mut drain = queue.subscribe(Subscription::prefetch(8));
    loop {
        match drain.try_recv() {
            Ok(d) => {
                check_receipt(&d, &mut received);
                *acked.entry(*d).or_insert(0) += 1;
                d.ack();
            }
            Err(TryRecvError::Closed) => break,
            Err(TryRecvError::Empty) => {
                // Room in the dead-letter mailbox may be what is missing.
                let before = dead_lettered.len();
                while let Ok(id) = dead.try_recv() {
                    dead_lettered.push(id);
                }
                assert!(
                    dead_lettered.len() > before,
                    "drain stuck: {:?}",
                    queue.stats()
                );
            }
        }
    }
    while let Ok(id) = dead.try_recv() {
        dead_lettered.push(id);
    }
    let s = queue.stats();
    assert_eq!(s.published, next_id);
    assert!(acked.values().all(|&n| n == 1), "acked exactly once");
    for id in &dead_lettered {
        assert!(!acked.contains_key(id), "{id} both acked and dead-lettered");
    }
    assert_eq!(s.acked, acked.len() as u64);
    assert_eq!(s.dead_lettered, dead_lettered.len() as u64);
    assert_eq!(
        acked.len() as u64 + dead_lettered.len() as u64 + s.dropped,
        next_id,
        "every message acked, dead-lettered or dropped and counted: {s:?}"
    );
    assert_eq!((s.backlog, s.in_flight), (0, 0));
    if std::env::var_os("CONTRACT_WALK_STATS").is_some() {
        eprintln!("{strategy:?} {seed}: {s:?}");
    }
}

/// Broadcast: consumers subscribed from the start each ack every
/// message exactly once, through acks, nacks with requeue and dropped
/// deliveries, never above their own prefetch.
fn broadcast_walk(seed: u64) {
    let mut next = rng(seed);
    let queue = Dispatcher::<u64>::builder()
        .capacity(3)
        .strategy(Strategy::Broadcast)
        .build();
    let publisher = queue.publisher();
    let mut consumers: Vec<_> = (0..3)
        .map(|_| {
            let prefetch = 1 + next(3) as usize;
            (queue.subscribe(Subscription::prefetch(prefetch)), prefetch)
        })
        .collect();
    let mut held: Vec<Vec<Delivery<u64>>> = (0..3).map(|_| Vec::new()).collect();
    let mut acked: Vec<Vec<u64>> = vec![Vec::new(); 3];
    let mut published = 0u64;
    let settle = |d: Delivery<u64>, acked: &mut Vec<u64>, how: u64| match how {
        0 | 1 => {
            acked.push(*d);
            d.ack();
        }
        2 => d.nack(Requeue::Yes),
        _ => drop(d),
    };
    for _ in 0..500 {
        let i = next(3) as usize;
        match next(4) {
            0 if publisher.try_publish(published).is_ok() => published += 1,
            0 => {}
            1 => {
                if let Ok(d) = consumers[i].0.try_recv() {
                    held[i].push(d);
                }
            }
            _ if !held[i].is_empty() => {
                let k = next(held[i].len() as u64) as usize;
                let d = held[i].swap_remove(k);
                settle(d, &mut acked[i], next(4));
            }
            _ => {}
        }
        let s = queue.stats();
        for (c, (consumer, prefetch)) in s.consumers.iter().zip(&consumers) {
            assert_eq!(c.id, consumer.id());
            assert!(c.in_flight <= *prefetch, "{} over its prefetch", c.id);
        }
    }
    queue.close();
    for (i, (consumer, _)) in consumers.iter_mut().enumerate() {
        for d in held[i].drain(..) {
            acked[i].push(*d);
            d.ack();
        }
        loop {
            match consumer.try_recv() {
                Ok(d) => settle(d, &mut acked[i], 0),
                Err(TryRecvError::Closed) => break,
                Err(TryRecvError::Empty) => panic!("broadcast consumer {i} stuck"),
            }
        }
        acked[i].sort_unstable();
        assert_eq!(acked[i], (0..published).collect::<Vec<_>>(), "consumer {i}");
    }
    if std::env::var_os("CONTRACT_WALK_STATS").is_some() {
        eprintln!("broadcast: {:?}", queue.stats());
    }
}

#[test]
fn broadcast_random_walks_give_every_consumer_every_message_once() {
    for seed in 1..=30u64 {
        broadcast_walk(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

#[test]
fn random_walks_keep_every_invariant() {
    for seed in 1..=20u64 {
        for strategy in [
            Strategy::RoundRobin,
            Strategy::Weighted,
            Strategy::LeastLoaded,
            Strategy::Adaptive,
        ] {
            random_walk(strategy, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
    }
}

/// Broadcast with rejections: a seeded walk of three consumers that
/// ack, nack (either way) or drop their copies, one of them dropped and
/// subscribed again now and then, with `max_attempts(2)` and a
/// dead-letter mailbox. At the end: the consumers that lived throughout
/// settled every message exactly once; the dead-letter mailbox holds
/// exactly the messages some consumer rejected (a `nack(No)`, or a
/// requeue or drop of the last attempt), each once; and every payload
/// was dropped exactly once.
fn broadcast_rejections_walk(seed: u64) {
    use super::Counted;
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const MAX_ATTEMPTS: u32 = 2;
    let mut next = rng(seed);
    let drops = Arc::new(AtomicUsize::new(0));
    let (dlq, mut dead) = mailbox::bounded::<Counted>(1000);
    let queue = Dispatcher::<Counted>::builder()
        .capacity(3)
        .strategy(Strategy::Broadcast)
        .max_attempts(MAX_ATTEMPTS)
        .dead_letter(dlq)
        .build();
    let publisher = queue.publisher();
    let mut consumers: Vec<_> = (0..3)
        .map(|_| queue.subscribe(Subscription::prefetch(1 + next(3) as usize)))
        .collect();
    let mut held: Vec<Vec<Delivery<Counted>>> = (0..3).map(|_| Vec::new()).collect();
    let mut settled: Vec<HashMap<u32, &str>> = vec![HashMap::new(); 3];
    let mut rejected = HashSet::new();
    let mut published = 0u32;
    for _ in 0..400 {
        let i = next(3) as usize;
        match next(6) {
            0 => match publisher.try_publish(Counted(published, Arc::clone(&drops))) {
                Ok(()) => published += 1,
                // Not made, as far as the count goes.
                Err(refused) => std::mem::forget(refused.into_inner()),
            },
            1 => {
                if let Ok(d) = consumers[i].try_recv() {
                    held[i].push(d);
                }
            }
            5 if i == 2 && next(10) == 0 => {
                // Its live deliveries go stale (dropping them then does
                // nothing); the new one gets later messages only.
                consumers[2] = queue.subscribe(Subscription::prefetch(2));
                held[2].clear();
                settled[2].clear();
            }
            _ if !held[i].is_empty() => {
                let k = next(held[i].len() as u64) as usize;
                let d = held[i].swap_remove(k);
                let (id, last) = (d.0, d.attempt() >= MAX_ATTEMPTS);
                let how = match next(5) {
                    0 => {
                        d.nack(Requeue::No);
                        "rejected"
                    }
                    1 => {
                        drop(d);
                        if last { "rejected" } else { "" }
                    }
                    2 => {
                        d.nack(Requeue::Yes);
                        if last { "rejected" } else { "" }
                    }
                    _ => {
                        d.ack();
                        "acked"
                    }
                };
                if how == "rejected" {
                    rejected.insert(id);
                }
                if !how.is_empty() {
                    let before = settled[i].insert(id, how);
                    assert!(before.is_none(), "{id} settled twice by consumer {i}");
                }
            }
            _ => {}
        }
    }
    queue.close();
    for (i, consumer) in consumers.iter_mut().enumerate() {
        for d in held[i].drain(..) {
            settled[i].insert(d.0, "acked");
            d.ack();
        }
        loop {
            match consumer.try_recv() {
                Ok(d) => {
                    assert!(settled[i].insert(d.0, "acked").is_none(), "{} again", d.0);
                    d.ack();
                }
                Err(TryRecvError::Closed) => break,
                Err(TryRecvError::Empty) => panic!("consumer {i} stuck (seed {seed})"),
            }
        }
    }
    for (i, settled) in settled.iter().enumerate().take(2) {
        let mut ids: Vec<u32> = settled.keys().copied().collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..published).collect::<Vec<_>>(), "consumer {i}");
    }
    let mut dead_lettered = HashSet::new();
    while let Ok(m) = dead.try_recv() {
        assert!(dead_lettered.insert(m.0), "{} dead-lettered twice", m.0);
    }
    assert_eq!(dead_lettered, rejected, "seed {seed}");
    drop((consumers, queue, publisher, dead));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        published as usize,
        "seed {seed}"
    );
}

#[test]
fn broadcast_walks_dead_letter_exactly_the_rejected() {
    for seed in 1..=100u64 {
        broadcast_rejections_walk(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}

/// Every payload is dropped exactly once, whatever happens to it: a
/// seeded walk per strategy over publish, subscribe (priorities,
/// weights, auto-ack), consumer drops with live deliveries, ack,
/// `ack_take`, nack both ways, delivery drops, `set_prefetch`, a small
/// dead-letter mailbox read now and then, and teardown in either order.
fn payload_drop_walk(strategy: Strategy, seed: u64) {
    use super::Counted;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut next = rng(seed);
    let drops = Arc::new(AtomicUsize::new(0));
    let mut made = 0;
    {
        let (dlq, mut dead) = mailbox::bounded::<Counted>(2);
        let queue = Dispatcher::<Counted>::builder()
            .capacity(3)
            .strategy(strategy)
            .max_attempts(2)
            .dead_letter(dlq)
            .build();
        let publisher = queue.publisher();
        let mut consumers = Vec::new();
        let mut held: Vec<Delivery<Counted>> = Vec::new();
        let mut taken = Vec::new();
        for _ in 0..300 {
            match next(9) {
                0 | 1 => {
                    made += 1;
                    let _ = publisher.try_publish(Counted(made, Arc::clone(&drops)));
                }
                2 if consumers.len() < 4 => {
                    let mut sub = Subscription::prefetch(1 + next(3) as usize)
                        .priority(next(2) as i32)
                        .weight(1 + next(3) as u32);
                    if next(4) == 0 {
                        sub = sub.auto_ack();
                    }
                    consumers.push(queue.subscribe(sub));
                }
                3 if !consumers.is_empty() => {
                    let k = next(consumers.len() as u64) as usize;
                    drop(consumers.swap_remove(k));
                }
                4 | 5 if !consumers.is_empty() => {
                    let k = next(consumers.len() as u64) as usize;
                    if let Ok(d) = consumers[k].try_recv() {
                        held.push(d);
                    }
                }
                6 | 7 if !held.is_empty() => {
                    let k = next(held.len() as u64) as usize;
                    let d = held.swap_remove(k);
                    match next(5) {
                        0 => d.nack(Requeue::No),
                        1 => d.nack(Requeue::Yes),
                        2 => drop(d),
                        3 => taken.extend(d.ack_take()),
                        _ => d.ack(),
                    }
                }
                8 => {
                    let _ = dead.try_recv();
                }
                _ if !consumers.is_empty() && next(3) == 0 => {
                    let k = next(consumers.len() as u64) as usize;
                    consumers[k].set_prefetch(1 + next(4) as usize);
                }
                _ => {}
            }
        }
        drop((held, taken));
        if next(2) == 0 {
            drop((consumers, queue, publisher, dead));
        } else {
            drop((dead, publisher, queue, consumers));
        }
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        made as usize,
        "{strategy:?}, seed {seed}"
    );
}

#[test]
fn every_payload_is_dropped_exactly_once() {
    for seed in 1..=60u64 {
        for strategy in super::support::STRATEGIES {
            payload_drop_walk(strategy, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
    }
}
