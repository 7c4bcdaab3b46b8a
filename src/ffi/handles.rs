//! Handles given to the host: opaque pointers that are validated against a
//! registry before use, so a NULL, freed or never-created handle is reported
//! as an invalid argument instead of being dereferenced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

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

    /// Registers a value and returns its handle. The handle points to a
    /// one-byte allocation that only serves as a unique address while live.
    pub(crate) fn insert(&self, value: T) -> *mut u8 {
        let token = Box::into_raw(Box::new(0u8));
        self.lock().insert(token as usize, Arc::new(value));
        token
    }

    /// Returns the value of a live handle. The `Arc` keeps the value alive
    /// even if another thread frees the handle during the call.
    pub(crate) fn get(&self, handle: *const u8) -> Option<Arc<T>> {
        self.lock().get(&(handle as usize)).cloned()
    }

    /// Unregisters a handle. Returns false for NULL, unknown or already freed handles.
    pub(crate) fn remove(&self, handle: *mut u8) -> bool {
        let removed = self.lock().remove(&(handle as usize));
        match removed {
            Some(_) => {
                // SAFETY: the handle was registered, so it is the live address
                // of the `Box<u8>` leaked by `insert`, and removing it from
                // the map makes this the only place that frees it.
                drop(unsafe { Box::from_raw(handle) });
                true
            }
            None => false,
        }
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
    fn value_outlives_concurrent_free() {
        let registry = Registry::new();
        let handle = registry.insert(String::from("client"));
        let borrowed = registry.get(handle).unwrap();
        assert!(registry.remove(handle));
        assert_eq!(borrowed.as_str(), "client");
    }
}
