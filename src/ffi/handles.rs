//! Handles given to the host: opaque pointer-sized values that are looked up
//! in a registry and never dereferenced, so a NULL, freed or never-created
//! handle is reported as an invalid argument instead of crashing the host.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Distance between consecutive handle values. Handles look like aligned
/// addresses in a debugger and a value off by a few bytes is never valid.
const HANDLE_STEP: usize = 16;

/// The next handle value, shared by every registry so that a config handle
/// is never mistaken for a client handle. Values are never reused, so a
/// freed handle stays invalid even after new objects are created.
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(0x1000);

/// Live handles of one type, by address.
pub(crate) struct Registry<T> {
    live: Mutex<HashMap<usize, Arc<T>>>,
}

impl<T> Registry<T> {
    pub(crate) fn new() -> Registry<T> {
        Registry {
            live: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<usize, Arc<T>>> {
        // A panic while the lock was held cannot leave the map half-changed:
        // every operation on it is a single insert, lookup or removal.
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a value and returns its handle.
    pub(crate) fn insert(&self, value: T) -> *mut u8 {
        let handle = NEXT_HANDLE.fetch_add(HANDLE_STEP, Ordering::Relaxed);
        self.lock().insert(handle, Arc::new(value));
        std::ptr::without_provenance_mut(handle)
    }

    /// Returns the value of a live handle. The `Arc` keeps the value alive
    /// even if another thread frees the handle during the call.
    pub(crate) fn get(&self, handle: *const u8) -> Option<Arc<T>> {
        self.lock().get(&handle.addr()).cloned()
    }

    /// Unregisters a handle. Returns false for NULL, unknown or already freed handles.
    pub(crate) fn remove(&self, handle: *mut u8) -> bool {
        self.lock().remove(&handle.addr()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lifecycle() {
        let registry = Registry::new();
        let handle = registry.insert(7);
        assert_eq!(registry.get(handle).as_deref(), Some(&7));
        assert!(registry.get(std::ptr::null()).is_none());
        assert!(registry.remove(handle));
        assert!(registry.get(handle).is_none());
        assert!(!registry.remove(handle), "a second free must be detected");
        assert!(!registry.remove(std::ptr::null_mut()));
    }

    #[test]
    fn freed_handle_is_never_reissued() {
        let registry = Registry::new();
        let first = registry.insert(1);
        assert!(registry.remove(first));
        let second = registry.insert(2);
        assert_ne!(first, second);
        assert!(
            !registry.remove(first),
            "a stale handle must not free a newer object"
        );
        assert_eq!(registry.get(second).as_deref(), Some(&2));
    }

    #[test]
    fn value_outlives_concurrent_free() {
        let registry = Registry::new();
        let handle = registry.insert(String::from("client"));
        let borrowed = registry.get(handle).unwrap();
        assert!(registry.remove(handle));
        assert_eq!(borrowed.as_str(), "client");
    }
}
