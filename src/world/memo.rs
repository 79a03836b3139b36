//! Values derived from the world that several tables share: computed once, by whichever
//! render asks first, and handed to the others.
//!
//! Every value is a pure function of the world and its key (a name and, for hour-keyed
//! values, an hour), so it does not matter which thread or table computes it, nor whether
//! it was evicted and computed again: the output is the same.
//!
//! - [`World::shared`] (hour-keyed): at most [`HOURS_KEPT`] hours per (type, name) are
//!   kept; inserting one more evicts the oldest hour (the pipeline renders hour-major, so
//!   the hours in flight are the newest). Memory stays bounded by the work in flight, not
//!   by the time range. A render that needs an evicted hour again keeps its own `Arc`.
//! - [`World::shared_run`] (run-wide): computed once per world, never evicted; the keys
//!   are names in the code, so there are few.
//!
//! The map lock is held only to find or insert a slot; the value is computed outside it,
//! through the slot's `OnceLock`: computing one value may ask for another (hour h for
//! hour h - 1, transitions for datapoints) without deadlock, and concurrent askers of
//! the same key wait for the one computation instead of repeating it. Dependencies
//! between shared values must not form a cycle (a value may not ask for itself).

use super::World;
use crate::time::Micros;
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// Hour-keyed entries kept per (type, name): the hours in flight (a few neighbours with
/// hour-major scheduling) and the hours just before them that the alarms look back on.
pub const HOURS_KEPT: usize = 8;

/// A slot: an `OnceLock<Arc<T>>` behind `dyn Any`, keyed by `T`'s `TypeId` so that the
/// downcast always succeeds.
type Slot = Arc<dyn Any + Send + Sync>;
type Key = (TypeId, &'static str);

#[derive(Default)]
struct Inner {
    run: HashMap<Key, Slot>,
    hourly: HashMap<Key, BTreeMap<Micros, Slot>>,
}

/// The shared values of one world (see the module documentation).
pub struct Memo {
    inner: Mutex<Inner>,
    hours_kept: usize,
}

impl Default for Memo {
    fn default() -> Self {
        Memo::new()
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("hours_kept", &self.hours_kept)
            .finish_non_exhaustive()
    }
}

impl Memo {
    pub fn new() -> Memo {
        Memo::with_hours_kept(HOURS_KEPT)
    }

    /// A memo keeping `hours` hour-keyed entries per (type, name) (at least one).
    pub fn with_hours_kept(hours: usize) -> Memo {
        Memo {
            inner: Mutex::new(Inner::default()),
            hours_kept: hours.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while the lock was held left the maps consistent (they are only ever
        // changed by single insertions and removals): carry on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key` (a name and an hour), computed by `compute` if no one has.
    pub fn get<T: Send + Sync + 'static>(
        &self,
        key: (&'static str, Micros),
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        let slot = {
            let mut inner = self.lock();
            let hours = inner.hourly.entry((TypeId::of::<T>(), key.0)).or_default();
            match hours.get(&key.1) {
                Some(s) => s.clone(),
                None => {
                    let s: Slot = Arc::new(OnceLock::<Arc<T>>::new());
                    hours.insert(key.1, s.clone());
                    while hours.len() > self.hours_kept {
                        hours.pop_first();
                    }
                    s
                }
            }
        };
        fill(slot, compute)
    }

    /// The run-wide value of `name`, computed by `compute` if no one has.
    pub fn get_run<T: Send + Sync + 'static>(
        &self,
        name: &'static str,
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        let slot = self
            .lock()
            .run
            .entry((TypeId::of::<T>(), name))
            .or_insert_with(|| Arc::new(OnceLock::<Arc<T>>::new()))
            .clone();
        fill(slot, compute)
    }

    /// Hour-keyed entries currently kept (all names and types).
    pub fn hours_len(&self) -> usize {
        self.lock().hourly.values().map(|h| h.len()).sum()
    }
}

fn fill<T: Send + Sync + 'static>(slot: Slot, compute: impl FnOnce() -> T) -> Arc<T> {
    match slot.downcast::<OnceLock<Arc<T>>>() {
        Ok(cell) => cell.get_or_init(|| Arc::new(compute())).clone(),
        // Unreachable (slots are keyed by their type); computing is always correct.
        Err(_) => Arc::new(compute()),
    }
}

impl World {
    /// The value of `key` (a name and an hour) shared by every table of this world,
    /// computed by `compute` if no one has (or after it was evicted); see [`Memo`].
    /// `compute` must be a pure function of the world and the key.
    pub fn shared<T: Send + Sync + 'static>(
        &self,
        key: (&'static str, Micros),
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        self.memo.get(key, compute)
    }

    /// The run-wide value of `name` shared by every table of this world (computed once).
    pub fn shared_run<T: Send + Sync + 'static>(
        &self,
        name: &'static str,
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        self.memo.get_run(name, compute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_computation_per_key_across_threads() {
        let memo = Memo::new();
        let calls = AtomicUsize::new(0);
        let results: Vec<Vec<Arc<u64>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..6)
                            .map(|h| {
                                memo.get(("square", h), || {
                                    calls.fetch_add(1, Ordering::SeqCst);
                                    std::thread::sleep(std::time::Duration::from_millis(5));
                                    (h * h) as u64
                                })
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        for r in &results {
            for (h, v) in r.iter().enumerate() {
                assert_eq!(**v, (h * h) as u64);
                assert!(Arc::ptr_eq(v, &results[0][h]));
            }
        }
    }

    #[test]
    fn computing_an_hour_may_ask_for_the_previous_one() {
        fn sum_to(memo: &Memo, h: Micros, calls: &AtomicUsize) -> Arc<i64> {
            memo.get(("sum", h), || {
                calls.fetch_add(1, Ordering::SeqCst);
                if h == 0 {
                    0
                } else {
                    h + *sum_to(memo, h - 1, calls)
                }
            })
        }
        let memo = Memo::new();
        let calls = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| assert_eq!(*sum_to(&memo, 10, &calls), 55));
            }
        });
        assert_eq!(calls.load(Ordering::SeqCst), 11);
    }

    #[test]
    fn eviction_keeps_the_bound_and_recomputes_equal_values() {
        let memo = Memo::with_hours_kept(3);
        let calls = AtomicUsize::new(0);
        let f = |h: Micros| {
            memo.get(("v", h), || {
                calls.fetch_add(1, Ordering::SeqCst);
                vec![h; 4]
            })
        };
        let first = f(0);
        for h in 0..20 {
            f(h);
            assert!(memo.hours_len() <= 3);
        }
        // Other names and types have their own bound.
        memo.get(("w", 1), || 1u8);
        memo.get(("v", 1), || 1u8);
        assert!(memo.hours_len() <= 5);
        let n = calls.load(Ordering::SeqCst);
        let again = f(0);
        assert_eq!(calls.load(Ordering::SeqCst), n + 1, "hour 0 was evicted");
        assert_eq!(first, again);
        // The newest hours are kept.
        f(19);
        assert_eq!(calls.load(Ordering::SeqCst), n + 1);
    }

    #[test]
    fn run_wide_values_are_computed_once() {
        let memo = Memo::with_hours_kept(1);
        let calls = AtomicUsize::new(0);
        for h in 0..5 {
            memo.get(("h", h), || h);
            let v = memo.get_run("model", || {
                calls.fetch_add(1, Ordering::SeqCst);
                String::from("m")
            });
            assert_eq!(*v, "m");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
