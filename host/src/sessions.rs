//! The host's `session-store`: server sessions kept for 0-RTT resumption, shared by every
//! guest instance in the process, so one connection's ticket resumes on another connection's
//! instance, and a session is taken (single use) wherever it resumes first.
//!
//! Limits: in memory, per process (lost on restart; processes do not share it), at most
//! [`CAPACITY`] sessions (the oldest go first), each kept at most [`LIFETIME`] — the
//! lifetime the guest's tickets advertise.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::bindings::tlsbox::tls::session_store::Host;
use crate::runtime::HostState;

/// Most sessions kept at once.
pub const CAPACITY: usize = 16 * 1024;
/// Longest a session is kept.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Largest key or value accepted; anything longer is a guest bug or an attack.
const MAX_LEN: usize = 64 * 1024;

/// Sessions by key, with their insertion order for eviction. Values arrive sealed by the
/// guest (see `wit/sessions.wit`) and are wiped when they leave the store all the same.
#[derive(Default)]
struct Sessions {
    by_key: HashMap<Vec<u8>, (Zeroizing<Vec<u8>>, Instant)>,
    order: VecDeque<Vec<u8>>,
}

impl Sessions {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> bool {
        if key.len() > MAX_LEN || value.len() > MAX_LEN {
            return false;
        }
        while self.by_key.len() >= CAPACITY {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.by_key.remove(&oldest);
                }
                None => break,
            }
        }
        if self
            .by_key
            .insert(key.clone(), (Zeroizing::new(value), Instant::now()))
            .is_none()
        {
            self.order.push_back(key);
        }
        if self.order.len() > 2 * CAPACITY {
            // Taken sessions leave their keys in `order`; drop those now and then.
            let by_key = &self.by_key;
            self.order.retain(|k| by_key.contains_key(k));
        }
        true
    }

    fn live(&self, key: &[u8]) -> bool {
        self.by_key
            .get(key)
            .is_some_and(|(_, at)| at.elapsed() < LIFETIME)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.live(key).then(|| self.by_key[key].0.to_vec())
    }

    fn take(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let live = self.live(key);
        let (value, _) = self.by_key.remove(key)?;
        // The order entry goes when it reaches the front; a stale one evicts nothing.
        live.then(|| value.to_vec())
    }
}

fn sessions() -> &'static Mutex<Sessions> {
    static SESSIONS: OnceLock<Mutex<Sessions>> = OnceLock::new();
    SESSIONS.get_or_init(Mutex::default)
}

fn with<T>(f: impl FnOnce(&mut Sessions) -> T) -> T {
    let mut guard = sessions()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

impl Host for HostState {
    async fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> bool {
        with(|s| s.put(key, value))
    }

    async fn get(&mut self, key: Vec<u8>) -> Option<Vec<u8>> {
        with(|s| s.get(&key))
    }

    async fn take(&mut self, key: Vec<u8>) -> Option<Vec<u8>> {
        with(|s| s.take(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_taken_once() {
        let mut s = Sessions::default();
        assert!(s.put(b"k".to_vec(), b"v".to_vec()));
        assert_eq!(s.get(b"k"), Some(b"v".to_vec()));
        assert_eq!(s.take(b"k"), Some(b"v".to_vec()));
        assert_eq!(s.take(b"k"), None);
    }

    #[test]
    fn the_oldest_go_first_at_capacity() {
        let mut s = Sessions::default();
        for i in 0..=CAPACITY {
            assert!(s.put(i.to_be_bytes().to_vec(), vec![1]));
        }
        assert_eq!(s.by_key.len(), CAPACITY);
        assert_eq!(s.get(&0usize.to_be_bytes()), None);
        assert_eq!(s.get(&CAPACITY.to_be_bytes()), Some(vec![1]));
    }

    #[test]
    fn oversized_entries_are_refused() {
        let mut s = Sessions::default();
        assert!(!s.put(vec![0; MAX_LEN + 1], vec![]));
    }
}
