use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use urbis_core::UrbisError;

/// Pending writes: `None` deletes the key. Ordered, so applying it is deterministic.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A page of keys and values, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Read access to committed state, keyed by logical key.
pub trait StateView: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError>;

    /// Up to `limit` entries whose keys start with `prefix`, in key order, strictly after
    /// `after` when given.
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, UrbisError>;
}

/// The bounds of a prefix scan: from `after` (exclusive) or the prefix itself (inclusive).
pub fn scan_start<'k>(prefix: &'k [u8], after: Option<&'k [u8]>) -> Bound<&'k [u8]> {
    match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    }
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

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, UrbisError> {
        let map = self.map.lock().expect("lock poisoned");
        Ok(map
            .range::<[u8], _>((scan_start(prefix, after), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// A view of `base` with one write set applied on top.
pub type Overlay<'a> = Layered<'a, [&'a WriteSet; 1]>;

/// A view of `base` through write sets not yet applied to it, the newest first (a call's own
/// writes over its block's, or blocks executed but not yet stored).
pub struct Layered<'a, L> {
    pub base: &'a dyn StateView,
    pub layers: L,
}

impl<'a, L: AsRef<[&'a WriteSet]> + Send + Sync> StateView for Layered<'a, L> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, UrbisError> {
        for layer in self.layers.as_ref() {
            if let Some(v) = layer.get(key) {
                return Ok(v.clone());
            }
        }
        self.base.get(key)
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, UrbisError> {
        scan_layers(self.base, self.layers.as_ref(), prefix, after, limit)
    }
}

/// A prefix scan of `base` seen through pending write sets (`layers`, the newest first).
pub fn scan_layers(
    base: &dyn StateView,
    layers: &[&WriteSet],
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Entries, UrbisError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    // The layers' entries in range, the newest layer winning.
    let mut pending: BTreeMap<&[u8], Option<&Vec<u8>>> = BTreeMap::new();
    for layer in layers.iter().rev() {
        for (k, v) in layer
            .range::<[u8], _>((scan_start(prefix, after), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            pending.insert(k.as_slice(), v.as_ref());
        }
    }
    if pending.is_empty() {
        return base.scan(prefix, after, limit);
    }
    // At most `pending.len()` base entries are shadowed: fetch that many more.
    let fetched = base.scan(prefix, after, limit.saturating_add(pending.len()))?;
    let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = fetched.into_iter().collect();
    let base_complete_to = merged.keys().next_back().cloned();
    let base_exhausted = merged.len() < limit.saturating_add(pending.len());
    for (k, v) in pending {
        // A pending key beyond the last base key fetched may only be used if the base had
        // nothing more to give (otherwise an unfetched base key could sort before it).
        let beyond = base_complete_to.as_deref().is_some_and(|last| k > last);
        match v {
            Some(v) if !beyond || base_exhausted => {
                merged.insert(k.to_vec(), v.clone());
            }
            Some(_) => {}
            None => {
                merged.remove(k);
            }
        }
    }
    Ok(merged.into_iter().take(limit).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(items: &[(&str, Option<&str>)]) -> WriteSet {
        items
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    fn keys(e: &Entries) -> Vec<String> {
        e.iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn scans_merge_layers_in_order() {
        let base = MemState::default();
        base.apply(&ws(&[
            ("a/1", Some("x")),
            ("a/3", Some("x")),
            ("a/5", Some("x")),
            ("a/7", Some("x")),
            ("b/1", Some("x")),
        ]));
        let block = ws(&[("a/3", None), ("a/4", Some("block")), ("a/9", Some("b"))]);
        let call = ws(&[("a/5", Some("call")), ("a/4", None), ("a/2", Some("c"))]);
        let all = scan_layers(&base, &[&call, &block], b"a/", None, 100).unwrap();
        assert_eq!(keys(&all), ["a/1", "a/2", "a/5", "a/7", "a/9"]);
        assert_eq!(all[2].1, b"call");
        // Pages of two, resuming after the last key, give the same sequence.
        let mut seen = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = scan_layers(&base, &[&call, &block], b"a/", after.as_deref(), 2).unwrap();
            if page.is_empty() {
                break;
            }
            after = Some(page.last().unwrap().0.clone());
            seen.extend(keys(&page));
        }
        assert_eq!(seen, keys(&all));
        // Limits, empty layers and prefixes.
        assert_eq!(
            keys(&scan_layers(&base, &[], b"a/", None, 2).unwrap()),
            ["a/1", "a/3"]
        );
        assert!(
            scan_layers(&base, &[&call], b"c/", None, 5)
                .unwrap()
                .is_empty()
        );
        assert!(
            scan_layers(&base, &[&call], b"a/", None, 0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_pending_key_past_a_short_fetch_waits_for_the_base() {
        // The base has many keys; the layer adds one far away: it must not jump the queue.
        let base = MemState::default();
        let items: Vec<(String, Option<&str>)> =
            (0..10).map(|i| (format!("a/{i}"), Some("x"))).collect();
        let refs: Vec<(&str, Option<&str>)> = items.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        base.apply(&ws(&refs));
        let layer = ws(&[("a/99", Some("late")), ("a/0", None)]);
        let page = scan_layers(&base, &[&layer], b"a/", None, 3).unwrap();
        assert_eq!(keys(&page), ["a/1", "a/2", "a/3"]);
        let all = scan_layers(&base, &[&layer], b"a/", None, 100).unwrap();
        assert_eq!(all.len(), 10);
        assert_eq!(keys(&all).last().unwrap(), "a/99");
    }

    #[test]
    fn layers_shadow_the_base_newest_first() {
        let base = MemState::default();
        base.apply(&ws(&[
            ("a", Some("base")),
            ("b", Some("base")),
            ("c", Some("base")),
        ]));
        // An older layer rewrote a and deleted b; a newer one rewrote a again.
        let older = ws(&[("a", Some("older")), ("b", None), ("d", Some("older"))]);
        let newer = ws(&[("a", Some("newer"))]);
        let view = Layered {
            base: &base,
            layers: [&newer, &older],
        };
        let get = |k: &str| {
            view.get(k.as_bytes())
                .unwrap()
                .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(get("a").as_deref(), Some("newer"));
        assert_eq!(get("b"), None);
        assert_eq!(get("c").as_deref(), Some("base"));
        assert_eq!(get("d").as_deref(), Some("older"));
        assert_eq!(keys(&view.scan(b"", None, 10).unwrap()), ["a", "c", "d"]);
        // A base that has meanwhile caught up with the older layer reads the same.
        base.apply(&older);
        assert_eq!(get("a").as_deref(), Some("newer"));
        assert_eq!(get("b"), None);
        assert_eq!(get("d").as_deref(), Some("older"));
    }
}
