use std::collections::BTreeMap;
use std::sync::Mutex;

use urbis_core::UrbisError;

/// Pending writes: `None` deletes the key. Ordered, so applying it is deterministic.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Read access to committed state, keyed by logical key.
pub trait StateView: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError>;
}

/// A plain in-memory state, for tests and tools.
#[derive(Default, Debug)]
pub struct MemState {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemState {
    pub fn apply(&self, writes: &WriteSet) {
        let mut map = self.map.lock().expect("lock poisoned");
        for (k, v) in writes {
            match v {
                Some(v) => {
                    map.insert(k.clone(), v.clone());
                }
                None => {
                    map.remove(k);
                }
            }
        }
    }

    pub fn snapshot(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.map.lock().expect("lock poisoned").clone()
    }
}

impl StateView for MemState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError> {
        Ok(self.map.lock().expect("lock poisoned").get(key).cloned())
    }
}

/// A view of `base` with `writes` applied on top.
pub struct Overlay<'a> {
    pub base: &'a dyn StateView,
    pub writes: &'a WriteSet,
}

impl StateView for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
}
