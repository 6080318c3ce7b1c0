//! Which queues a worker serves, how much of it each may take, and in which
//! order it asks the broker for work.
//!
//! A queue is written `name[:weight][@cap]`, as in
//! `reports:3,sms:2@2,files,default`:
//! - **weight** (default 1): its share of the worker. Each queue is
//!   *owed* `concurrency × weight / total weight` slots (at least one).
//! - **cap** (default none): never more than this many of its jobs at once,
//!   whatever else is idle (an SMS gateway that allows two connections).
//!
//! Every lease asks first for the queues running fewer jobs than they are
//! owed, in a weighted random order (Sidekiq's), then for the others, also
//! weighted; queues at their cap are left out. The broker serves the first
//! queue of that order that has a due job, so a queue only takes more than
//! its share while the queues owed a slot have nothing waiting: no queue
//! starves another, and no slot idles while any queue has work.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One queue a worker serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// The queue's name.
    pub name: String,
    /// Its weight (≥ 1).
    pub weight: u32,
    /// At most this many of its jobs at once.
    pub cap: Option<usize>,
}

/// A queue spec that does not parse; the message says which part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("queue {spec:?}: {reason}")]
pub struct QueueSpecError {
    /// The spec as written.
    pub spec: String,
    /// What is wrong.
    pub reason: String,
}

impl QueueSpec {
    /// A queue of weight 1 without a cap.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            weight: 1,
            cap: None,
        }
    }

    /// The same queue with another weight (0 counts as 1).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight.max(1);
        self
    }

    /// The same queue, capped at `cap` jobs at once (0 counts as 1).
    pub fn cap(mut self, cap: usize) -> Self {
        self.cap = Some(cap.max(1));
        self
    }

    /// Parses a comma-separated list: `reports:3,sms:2@2,default`. A queue
    /// named twice is an error.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, QueueSpecError> {
        let mut out: Vec<Self> = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let spec: Self = part.parse()?;
            if out.iter().any(|q| q.name == spec.name) {
                return Err(QueueSpecError {
                    spec: part.to_owned(),
                    reason: "named twice".to_owned(),
                });
            }
            out.push(spec);
        }
        if out.is_empty() {
            return Err(QueueSpecError {
                spec: list.to_owned(),
                reason: "no queue named".to_owned(),
            });
        }
        Ok(out)
    }
}

impl FromStr for QueueSpec {
    type Err = QueueSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| QueueSpecError {
            spec: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (rest, cap) = match s.split_once('@') {
            Some((rest, cap)) => {
                let cap: usize = cap
                    .trim()
                    .parse()
                    .map_err(|_| bad("the cap after '@' is not a whole number"))?;
                if cap == 0 {
                    return Err(bad("the cap after '@' must be at least 1"));
                }
                (rest, Some(cap))
            }
            None => (s, None),
        };
        let (name, weight) = match rest.split_once(':') {
            Some((name, w)) => {
                let w: u32 = w
                    .trim()
                    .parse()
                    .map_err(|_| bad("the weight after ':' is not a whole number"))?;
                if w == 0 {
                    return Err(bad("the weight after ':' must be at least 1"));
                }
                (name, w)
            }
            None => (rest, 1),
        };
        let name = name.trim();
        if name.is_empty()
            || name.len() > 100
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '{' | '}' | ':' | '@'))
        {
            return Err(bad(
                "a queue name is 1 to 100 characters without whitespace, braces, ':' or '@'",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            weight,
            cap,
        })
    }
}

impl fmt::Display for QueueSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.weight != 1 {
            write!(f, ":{}", self.weight)?;
        }
        if let Some(cap) = self.cap {
            write!(f, "@{cap}")?;
        }
        Ok(())
    }
}

impl From<&str> for QueueSpec {
    /// A queue of weight 1 without a cap, named `name` as given.
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

/// A queue's slots as the runtime counts them.
#[derive(Debug)]
pub(crate) struct QueueSlots {
    pub(crate) spec: QueueSpec,
    /// Its fair share of the worker's slots.
    pub(crate) owed: usize,
    /// Jobs of this queue leased and not yet settled (buffered or running).
    pub(crate) held: AtomicUsize,
    /// Lease calls on the wire that may bring a job of this queue (every
    /// queue a call names): what the cap counts, so it is never exceeded.
    pub(crate) asked: AtomicUsize,
    /// Lease calls on the wire that name this queue first, the one they
    /// most likely bring a job of: what its share counts.
    pub(crate) asked_first: AtomicUsize,
}

impl QueueSlots {
    /// Slots this queue may take at most, for its cap.
    fn used_at_most(&self) -> usize {
        self.held.load(Ordering::Acquire) + self.asked.load(Ordering::Acquire)
    }

    /// Slots this queue likely takes, for its share.
    fn used_likely(&self) -> usize {
        self.held.load(Ordering::Acquire) + self.asked_first.load(Ordering::Acquire)
    }
}

/// Every queue of a worker with its counts.
#[derive(Debug)]
pub(crate) struct QueuePlan {
    pub(crate) queues: Vec<QueueSlots>,
}

impl QueuePlan {
    pub(crate) fn new(specs: &[QueueSpec], concurrency: usize) -> Self {
        let mut unique: Vec<&QueueSpec> = Vec::new();
        for spec in specs {
            if unique.iter().any(|q| q.name == spec.name) {
                tracing::warn!(queue = %spec.name, "queue named twice; the first spec counts");
            } else {
                unique.push(spec);
            }
        }
        let total_weight: u64 = unique.iter().map(|q| u64::from(q.weight.max(1))).sum();
        let queues = unique
            .into_iter()
            .map(|spec| {
                let share = (concurrency as u64).saturating_mul(u64::from(spec.weight.max(1)))
                    / total_weight.max(1);
                let owed = usize::try_from(share).unwrap_or(usize::MAX).max(1);
                QueueSlots {
                    owed: spec.cap.map_or(owed, |c| owed.min(c)),
                    spec: spec.clone(),
                    held: AtomicUsize::new(0),
                    asked: AtomicUsize::new(0),
                    asked_first: AtomicUsize::new(0),
                }
            })
            .collect();
        Self { queues }
    }

    /// Whether the worker serves a single queue (then every lease asks for
    /// all free slots at once, and an ack leases the next job in the same
    /// call).
    pub(crate) fn is_single(&self) -> bool {
        self.queues.len() == 1 && self.queues[0].spec.cap.is_none()
    }

    /// The index of a queue by name.
    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.queues.iter().position(|q| q.spec.name == name)
    }

    /// The order of the next lease: indexes of the queues owed a slot
    /// (weighted random order), then of the others below their cap
    /// (weighted random order). Empty when every queue is at its cap.
    pub(crate) fn order(&self, rng: &mut fastrand::Rng) -> Vec<usize> {
        let mut owed = Vec::new();
        let mut rest = Vec::new();
        for (i, q) in self.queues.iter().enumerate() {
            if q.spec.cap.is_some_and(|c| q.used_at_most() >= c) {
                continue;
            }
            if q.used_likely() < q.owed {
                owed.push(i);
            } else {
                rest.push(i);
            }
        }
        let mut out = self.weighted_shuffle(owed, rng);
        out.extend(self.weighted_shuffle(rest, rng));
        out
    }

    /// A weighted random order without repeats: each next queue is drawn
    /// with probability proportional to its weight among those left.
    fn weighted_shuffle(&self, mut left: Vec<usize>, rng: &mut fastrand::Rng) -> Vec<usize> {
        let mut out = Vec::with_capacity(left.len());
        while !left.is_empty() {
            let total: u64 = left
                .iter()
                .map(|&i| u64::from(self.queues[i].spec.weight.max(1)))
                .sum();
            let mut pick = rng.u64(0..total.max(1));
            let mut at = 0;
            for (k, &i) in left.iter().enumerate() {
                let w = u64::from(self.queues[i].spec.weight.max(1));
                if pick < w {
                    at = k;
                    break;
                }
                pick -= w;
            }
            out.push(left.remove(at));
        }
        out
    }

    /// A job of `queue` was leased: it holds a slot until it settles.
    pub(crate) fn hold(&self, queue: &str) {
        if let Some(i) = self.index(queue) {
            self.queues[i].held.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A job of `queue` settled or was handed back: its slot is free.
    pub(crate) fn free(&self, queue: &str) {
        if let Some(i) = self.index(queue) {
            let _ = self.queues[i]
                .held
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
    }

    /// A lease call asking for `order` went on the wire, or came back.
    pub(crate) fn asking(&self, order: &[usize], on_the_wire: bool) {
        let counters = order.iter().enumerate().flat_map(|(k, &i)| {
            let q = &self.queues[i];
            std::iter::once(&q.asked).chain((k == 0).then_some(&q.asked_first))
        });
        for n in counters {
            if on_the_wire {
                n.fetch_add(1, Ordering::AcqRel);
            } else {
                let _ = n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_list_parses_weights_and_caps_and_names_what_is_wrong() {
        let list = QueueSpec::parse_list("reports:3, sms:2@2,files,default@1").unwrap();
        assert_eq!(
            list,
            vec![
                QueueSpec::new("reports").weight(3),
                QueueSpec::new("sms").weight(2).cap(2),
                QueueSpec::new("files"),
                QueueSpec::new("default").cap(1),
            ]
        );
        let text: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["reports:3", "sms:2@2", "files", "default@1"]);
        for (bad, says) in [
            ("sms:0", "weight"),
            ("sms:x", "weight"),
            ("sms@0", "cap"),
            ("sms@two", "cap"),
            ("a,a", "twice"),
            ("", "no queue"),
            ("{x}", "braces"),
        ] {
            let e = QueueSpec::parse_list(bad).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn each_queue_is_owed_its_weighted_share_and_at_least_one_slot() {
        let specs = QueueSpec::parse_list("a:3,b,c@1").unwrap();
        let plan = QueuePlan::new(&specs, 10);
        let owed: Vec<usize> = plan.queues.iter().map(|q| q.owed).collect();
        assert_eq!(owed, [6, 2, 1]);
        let plan = QueuePlan::new(&QueueSpec::parse_list("a,b,c,d,e").unwrap(), 4);
        assert!(plan.queues.iter().all(|q| q.owed == 1));
    }

    #[test]
    fn queues_owed_a_slot_come_first_and_capped_ones_are_left_out() {
        let specs = QueueSpec::parse_list("a,b@2,c").unwrap();
        let plan = QueuePlan::new(&specs, 6);
        let mut rng = fastrand::Rng::with_seed(7);
        // a holds its share (2) and more; b is at its cap; c holds none.
        plan.queues[0].held.store(3, Ordering::Release);
        plan.queues[1].held.store(1, Ordering::Release);
        plan.queues[1].asked.store(1, Ordering::Release);
        for _ in 0..50 {
            assert_eq!(plan.order(&mut rng), [2, 0]);
        }
    }

    #[test]
    fn the_order_follows_the_weights() {
        let specs = QueueSpec::parse_list("heavy:3,light").unwrap();
        let plan = QueuePlan::new(&specs, 100);
        let mut rng = fastrand::Rng::with_seed(1);
        let first_heavy = (0..4000).filter(|_| plan.order(&mut rng)[0] == 0).count();
        // Expected 3000 of 4000; a fair draw stays well inside ±200.
        assert!((2800..=3200).contains(&first_heavy), "{first_heavy}");
    }
}
