//! A latest-value slot: the producer overwrites, readers take the newest value without ever waiting for the
//! producer's work (the GUI reads tracker snapshots this way).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Holds the most recent value published, with a counter so readers can tell a new one from an old one.
pub struct Latest<T> {
    inner: Mutex<(u64, Option<Arc<T>>)>,
    /// Signalled on every publish, for readers that do want to wait ([`Latest::wait_for`]).
    published: Condvar,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self { inner: Mutex::new((0, None)), published: Condvar::new() }
    }
}

impl<T> Latest<T> {
    /// Replaces the value.
    pub fn publish(&self, value: T) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 += 1;
        guard.1 = Some(Arc::new(value));
        self.published.notify_all();
    }

    /// Blocks until the value satisfies `ready` or `timeout` has passed without one that does; true if it
    /// does. For a reader that must not run ahead of the producer (lockstep replay), without polling.
    pub fn wait_for(&self, timeout: Duration, ready: impl Fn(&T) -> bool) -> bool {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let not_ready = |g: &mut (u64, Option<Arc<T>>)| !g.1.as_deref().is_some_and(&ready);
        let (guard, _) =
            self.published.wait_timeout_while(guard, timeout, not_ready).unwrap_or_else(|e| e.into_inner());
        guard.1.as_deref().is_some_and(ready)
    }

    /// The newest value and its version (0 before the first publish).
    pub fn get(&self) -> (u64, Option<Arc<T>>) {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (guard.0, guard.1.clone())
    }

    /// The newest value if it is newer than `seen` (updating `seen`).
    pub fn newer_than(&self, seen: &mut u64) -> Option<Arc<T>> {
        let (version, value) = self.get();
        (version > *seen).then(|| {
            *seen = version;
            value
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_reader_wakes_on_the_value_it_waits_for_and_gives_up_after_its_timeout() {
        let slot = Arc::new(Latest::<u32>::default());
        let producer = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                for v in 1..=5 {
                    std::thread::sleep(Duration::from_millis(20));
                    slot.publish(v);
                }
            })
        };
        assert!(slot.wait_for(Duration::from_secs(10), |v| *v >= 3));
        assert!(slot.get().1.is_some_and(|v| (3..=5).contains(&*v)));
        producer.join().unwrap();
        let start = std::time::Instant::now();
        assert!(!slot.wait_for(Duration::from_millis(50), |v| *v > 5), "5 is the last value");
        assert!(start.elapsed() >= Duration::from_millis(50));
    }
}
