//! Sign-in throttling that slows a guesser without locking the real user
//! out, in a fixed amount of memory.
//!
//! # The approach
//!
//! OWASP's guidance on brute force ("Slow Down Online Guessing Attacks with
//! Device Cookies") is to limit failed attempts per account only for
//! clients the account has not seen succeed, so an attack on an account
//! does not lock its owner out. We apply it with the client address in
//! place of a device cookie (API clients carry no cookie):
//!
//! - **Per client address** ([`ADDRESS_BURST`] attempts, then one more every
//!   [`ADDRESS_REFILL_MS`]): every attempt takes a token before the
//!   password is checked and a successful sign-in gives it back, so what
//!   counts is failures. Spraying many usernames from one address gets 429
//!   after the burst, whichever usernames it names. IPv6 addresses count by
//!   their /64 (one host usually holds a whole /64).
//! - **Per account** ([`ACCOUNT_BURST`] failed attempts, then one more every
//!   [`ACCOUNT_REFILL_MS`]): while an account's budget is spent, an attempt
//!   from an address that signed in to it in the last
//!   [`KNOWN_ADDRESS_TTL_MS`] is checked as usual (a wrong password there
//!   still costs that address a token); any other address gets 429 *before
//!   the password is checked*, so a guesser spread over many addresses gets
//!   no answer either way. The real user at their usual address signs in;
//!   one at a new address waits for the budget to refill.
//!
//! The account key is the lowercased, trimmed username whether or not such
//! an account exists (a 429 tells nothing about existence).
//!
//! # Memory
//!
//! Three fixed-size tables, allocated at start (about 2.3 MiB): keys are
//! hashed with a key drawn at random per process (nobody can aim a
//! collision at another account) into slots holding a 64-bit fingerprint
//! and a time; nothing else of a username or address is kept. State
//! expires by itself: a bucket whose time has passed is full again and its
//! slot free for another key. Two live keys that land in one rate slot
//! share it, which can only make their limit stricter, never looser.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// The longest username (an email address) a sign-in may name.
pub const USERNAME_MAX_CHARS: usize = 254;

/// Attempts an address may fail in a burst.
pub const ADDRESS_BURST: u64 = 20;
/// After the burst, one more attempt per address every this many ms (10 a
/// minute).
pub const ADDRESS_REFILL_MS: u64 = 6_000;
/// Failed attempts an account takes in a burst before unknown addresses
/// are refused.
pub const ACCOUNT_BURST: u64 = 10;
/// After the burst, one more failure per account every this many ms.
pub const ACCOUNT_REFILL_MS: u64 = 60_000;
/// How long an address that signed in to an account stays known to it.
pub const KNOWN_ADDRESS_TTL_MS: u64 = 30 * 24 * 3_600_000;

const ADDRESS_SLOTS: usize = 1 << 14;
const ACCOUNT_SLOTS: usize = 1 << 16;
const KNOWN_SLOTS: usize = 1 << 16;

/// A sign-in refused for now: when to try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// Whole seconds until an attempt would be let through (at least 1).
    pub retry_after_s: u64,
    /// Whether the address (rather than the account) is over its limit.
    pub by_address: bool,
}

/// A sign-in let through: pass it back to [`LoginLimiter::succeeded`] when
/// the password was right.
#[derive(Clone, Copy, Debug)]
#[must_use = "tell the limiter when the sign-in succeeds"]
pub struct Attempt {
    address: u64,
    account: u64,
    pair: u64,
    took_account_token: bool,
}

/// Sign-in attempts per client address and per account.
#[derive(Debug)]
pub struct LoginLimiter {
    addresses: Buckets,
    accounts: Buckets,
    known: Known,
    hasher: std::collections::hash_map::RandomState,
    epoch: Instant,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginLimiter {
    /// The limiter with the documented limits.
    pub fn new() -> Self {
        Self {
            addresses: Buckets::new(ADDRESS_SLOTS, ADDRESS_BURST, ADDRESS_REFILL_MS),
            accounts: Buckets::new(ACCOUNT_SLOTS, ACCOUNT_BURST, ACCOUNT_REFILL_MS),
            known: Known::new(KNOWN_SLOTS),
            hasher: std::collections::hash_map::RandomState::new(),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        // Starts at one window so that time 0 is never "now" for a slot.
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX / 2)
            .saturating_add(KNOWN_ADDRESS_TTL_MS)
    }

    /// Counts an attempt by `client` (its address, when known) on
    /// `username`; refused while the address, or the account for an
    /// address it does not know, is over its limit.
    pub fn begin(&self, username: &str, client: Option<IpAddr>) -> Result<Attempt, Throttled> {
        self.begin_at(username, client, self.now_ms())
    }

    /// A sign-in of `attempt` succeeded: its tokens come back and its
    /// address becomes known to the account.
    pub fn succeeded(&self, attempt: Attempt) {
        self.succeeded_at(attempt, self.now_ms());
    }

    fn keys(&self, username: &str, client: Option<IpAddr>) -> (u64, u64, u64) {
        let account = self
            .hasher
            .hash_one(("account", username.trim().to_lowercase()));
        let address = self.hasher.hash_one(("address", address_key(client)));
        let pair = self.hasher.hash_one(("known", account, address));
        (address, account, pair)
    }

    fn begin_at(
        &self,
        username: &str,
        client: Option<IpAddr>,
        now: u64,
    ) -> Result<Attempt, Throttled> {
        let (address, account, pair) = self.keys(username, client);
        self.addresses
            .take(address, now)
            .map_err(|wait_ms| Throttled {
                retry_after_s: whole_seconds(wait_ms),
                by_address: true,
            })?;
        let took_account_token = match self.accounts.take(account, now) {
            Ok(()) => true,
            Err(_) if self.known.contains(pair, now) => false,
            Err(wait_ms) => {
                return Err(Throttled {
                    retry_after_s: whole_seconds(wait_ms),
                    by_address: false,
                });
            }
        };
        Ok(Attempt {
            address,
            account,
            pair,
            took_account_token,
        })
    }

    fn succeeded_at(&self, attempt: Attempt, now: u64) {
        self.addresses.give_back(attempt.address, now);
        if attempt.took_account_token {
            self.accounts.give_back(attempt.account, now);
        }
        self.known
            .insert(attempt.pair, now.saturating_add(KNOWN_ADDRESS_TTL_MS));
    }
}

/// What an address counts as: IPv4 whole, IPv6 by its /64; no address
/// (a test harness without a socket) is one client.
fn address_key(client: Option<IpAddr>) -> u128 {
    match client.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => u128::from(u32::from(v4)),
        Some(IpAddr::V6(v6)) => (u128::from(v6) >> 64) << 64 | 1,
        None => u128::MAX,
    }
}

fn whole_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    fingerprint: u64,
    /// Rate slots: when the bucket is full again (GCRA's theoretical
    /// arrival time). Known slots: when the entry expires.
    at_ms: u64,
}

fn slot_of(len: usize, key: u64) -> usize {
    // `len` is a power of two; the fingerprint is the whole key.
    usize::try_from(key).unwrap_or(usize::MAX) & (len - 1)
}

/// Token buckets in a fixed table (the generic cell rate algorithm: one
/// time per slot).
#[derive(Debug)]
struct Buckets {
    slots: Mutex<Box<[Slot]>>,
    burst: u64,
    refill_ms: u64,
}

impl Buckets {
    fn new(len: usize, burst: u64, refill_ms: u64) -> Self {
        Self {
            slots: Mutex::new(vec![Slot::default(); len].into_boxed_slice()),
            burst,
            refill_ms,
        }
    }

    /// Takes a token for `key`, or says how many ms until one is free.
    fn take(&self, key: u64, now: u64) -> Result<(), u64> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let i = slot_of(slots.len(), key);
        let slot = &mut slots[i];
        // An idle slot is free for any key; a live one of another key is
        // shared (stricter, never looser).
        if slot.fingerprint != key && slot.at_ms <= now {
            *slot = Slot {
                fingerprint: key,
                at_ms: now,
            };
        }
        let next = slot.at_ms.max(now).saturating_add(self.refill_ms);
        let allowance = self.burst.saturating_mul(self.refill_ms);
        let ahead = next - now;
        if ahead > allowance {
            return Err(ahead - allowance);
        }
        slot.at_ms = next;
        Ok(())
    }

    /// Returns a token taken for `key`.
    fn give_back(&self, key: u64, now: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let i = slot_of(slots.len(), key);
        let slot = &mut slots[i];
        if slot.fingerprint == key {
            slot.at_ms = slot.at_ms.saturating_sub(self.refill_ms).max(now);
        }
    }
}

/// (account, address) pairs that signed in, each until it expires; a new
/// pair may take an older one's slot (that address is then unknown again).
#[derive(Debug)]
struct Known {
    slots: Mutex<Box<[Slot]>>,
}

impl Known {
    fn new(len: usize) -> Self {
        Self {
            slots: Mutex::new(vec![Slot::default(); len].into_boxed_slice()),
        }
    }

    fn contains(&self, key: u64, now: u64) -> bool {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = slots[slot_of(slots.len(), key)];
        slot.fingerprint == key && slot.at_ms > now
    }

    fn insert(&self, key: u64, until: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let i = slot_of(slots.len(), key);
        slots[i] = Slot {
            fingerprint: key,
            at_ms: until,
        };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::Ipv6Addr;

    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    const T: u64 = 1_000_000_000;

    #[test]
    fn an_address_spraying_usernames_is_refused_after_its_burst_then_let_through_as_it_refills() {
        let l = LoginLimiter::new();
        for i in 0..ADDRESS_BURST {
            assert!(l.begin_at(&format!("u{i}@example.com"), ip(1), T).is_ok());
        }
        let refused = l.begin_at("another@example.com", ip(1), T).unwrap_err();
        assert!(refused.by_address);
        assert_eq!(refused.retry_after_s, ADDRESS_REFILL_MS / 1000);
        assert!(
            l.begin_at("another@example.com", ip(2), T).is_ok(),
            "another address is not affected"
        );
        assert!(
            l.begin_at("another@example.com", ip(1), T + ADDRESS_REFILL_MS)
                .is_ok(),
            "one more once a token is back"
        );
    }

    #[test]
    fn successful_sign_ins_cost_an_address_nothing() {
        let l = LoginLimiter::new();
        for i in 0..ADDRESS_BURST * 3 {
            let a = l
                .begin_at(&format!("staff{i}@example.com"), ip(1), T)
                .unwrap();
            l.succeeded_at(a, T);
        }
        assert!(l.begin_at("x@example.com", ip(1), T).is_ok());
    }

    #[test]
    fn a_spent_account_refuses_new_addresses_but_not_one_it_knows() {
        let l = LoginLimiter::new();
        let owner = l.begin_at("Ana@Example.com", ip(1), T).unwrap();
        l.succeeded_at(owner, T);
        // Guesses from many addresses, one each.
        for i in 0..ACCOUNT_BURST {
            let last = u8::try_from(10 + i).unwrap();
            assert!(l.begin_at("ana@example.com ", ip(last), T).is_ok());
        }
        let refused = l.begin_at("ana@example.com", ip(200), T).unwrap_err();
        assert!(!refused.by_address);
        assert_eq!(refused.retry_after_s, ACCOUNT_REFILL_MS / 1000);
        // The owner's address still gets its password checked.
        let owner = l.begin_at("ana@example.com", ip(1), T).unwrap();
        l.succeeded_at(owner, T);
        assert!(
            l.begin_at("luis@example.com", ip(200), T).is_ok(),
            "another account is not affected"
        );
        // A known address expires.
        let later = T + KNOWN_ADDRESS_TTL_MS + 1;
        for i in 0..ACCOUNT_BURST {
            let last = u8::try_from(100 + i).unwrap();
            let _ = l.begin_at("ana@example.com", ip(last), later);
        }
        assert!(l.begin_at("ana@example.com", ip(1), later).is_err());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(
            address_key(Some(IpAddr::V6(a))),
            address_key(Some(IpAddr::V6(b)))
        );
        assert_ne!(
            address_key(Some(IpAddr::V6(a))),
            address_key(Some(IpAddr::V6(c)))
        );
        let mapped: Ipv6Addr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(Some(IpAddr::V6(mapped))), address_key(ip(1)));
    }

    #[test]
    fn the_tables_never_grow() {
        let l = LoginLimiter::new();
        for i in 0..200_000u32 {
            let _ = l.begin_at(&format!("{i}"), Some(IpAddr::from(i.to_be_bytes())), T);
        }
        let len = |b: &Buckets| b.slots.lock().map(|s| s.len()).unwrap_or(0);
        assert_eq!(len(&l.addresses), ADDRESS_SLOTS);
        assert_eq!(len(&l.accounts), ACCOUNT_SLOTS);
    }
}
