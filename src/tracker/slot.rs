//! A latest-value slot: the producer overwrites, readers take the newest value without ever waiting for the
//! producer's work (the GUI reads tracker snapshots this way).

use std::sync::{Arc, Mutex};

/// Holds the most recent value published, with a counter so readers can tell a new one from an old one.
pub struct Latest<T> {
    inner: Mutex<(u64, Option<Arc<T>>)>,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self { inner: Mutex::new((0, None)) }
    }
}

impl<T> Latest<T> {
    /// Replaces the value.
    pub fn publish(&self, value: T) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 += 1;
        guard.1 = Some(Arc::new(value));
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
