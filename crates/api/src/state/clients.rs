//! Generations in flight per client address (an IPv6 /64), for `--max-client-requests`;
//! the `guard::clients` layer takes and holds the slots.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Generations in flight per client key.
#[derive(Debug)]
pub struct ClientSlots {
    limit: Option<usize>,
    in_flight: Mutex<HashMap<IpAddr, usize>>,
}

/// Held while a client's generation runs; frees the slot on drop.
#[derive(Debug)]
pub struct ClientPermit {
    slots: Arc<ClientSlots>,
    key: IpAddr,
}

impl ClientSlots {
    /// `None` means no per-client limit.
    pub fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// A slot for `key`, or `None` when it has `limit` in flight already.
    pub fn try_acquire(self: &Arc<Self>, key: IpAddr) -> Option<ClientPermit> {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key).or_insert(0);
        if self.limit.is_some_and(|limit| *n >= limit) {
            return None;
        }
        *n += 1;
        Some(ClientPermit {
            slots: Arc::clone(self),
            key,
        })
    }

    /// Clients with something in flight (the table never keeps idle entries).
    pub fn clients(&self) -> usize {
        self.in_flight.lock().map_or(0, |m| m.len())
    }
}

impl Drop for ClientPermit {
    fn drop(&mut self) {
        let mut map = self
            .slots
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_key_and_freed_on_drop() {
        let slots = Arc::new(ClientSlots::new(Some(2)));
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let p1 = slots.try_acquire(a).unwrap();
        let _p2 = slots.try_acquire(a).unwrap();
        assert!(slots.try_acquire(a).is_none(), "third for the same client");
        let _q = slots
            .try_acquire(b)
            .expect("another client is not affected");
        drop(p1);
        assert!(slots.try_acquire(a).is_some());
        drop(_q);
        assert_eq!(slots.clients(), 1);
    }
}
