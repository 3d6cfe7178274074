//! The hash chain: each entry's hash covers its own content and the previous entry's hash, so
//! changing, removing or reordering any entry breaks every link after it.

use sha2::{Digest, Sha256};

use crate::audit::AuditEntry;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) over the entry's position, content and predecessor. Fields are newline-separated;
/// none of them can contain a raw newline (the payload is compact JSON).
pub fn entry_hash(
    seq: i64,
    kind: &str,
    event_id: Option<&str>,
    payload: &str,
    recorded_at_micros: i64,
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        seq.to_string().as_str(),
        kind,
        event_id.unwrap_or(""),
        payload,
        recorded_at_micros.to_string().as_str(),
        prev_hash,
    ] {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// Whether a stored entry's hash is the one its own fields give (its link to the previous entry
/// is the [`Verifier`]'s to check).
pub fn hash_matches(entry: &AuditEntry) -> bool {
    entry.hash
        == entry_hash(
            entry.seq,
            &entry.kind,
            entry.event_id.as_deref(),
            &entry.payload,
            entry.recorded_at_micros,
            &entry.prev_hash,
        )
}

/// The first entry that does not verify, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq} is broken: {reason}")]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// Walks a chain entry by entry (so it can be fed page by page).
#[derive(Debug)]
pub struct Verifier {
    next_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS.to_owned(),
            checked: 0,
        }
    }
}

impl Verifier {
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), BrokenLink> {
        let broken = |reason: String| BrokenLink { seq: entry.seq, reason };
        if entry.seq != self.next_seq {
            return Err(broken(format!("expected entry {} next", self.next_seq)));
        }
        if entry.prev_hash != self.prev_hash {
            return Err(broken("prev_hash does not match the previous entry's hash".into()));
        }
        if !hash_matches(entry) {
            return Err(broken("content does not match its hash".into()));
        }
        self.next_seq += 1;
        self.prev_hash.clone_from(&entry.hash);
        self.checked += 1;
        Ok(())
    }

    /// Entries verified so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The seq of the last verified entry (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.next_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let payload = format!("{{\"n\":{seq}}}");
                let hash = entry_hash(seq, "test", None, &payload, seq * 10, &prev);
                let entry = AuditEntry {
                    seq,
                    kind: "test".into(),
                    event_id: None,
                    payload,
                    recorded_at_micros: seq * 10,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry]) -> Result<u64, BrokenLink> {
        let mut verifier = Verifier::default();
        entries.iter().try_for_each(|e| verifier.check(e))?;
        Ok(verifier.checked())
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn changed_content_is_caught_at_that_entry() {
        let mut entries = chain(5);
        entries[2].payload = "{\"n\":99}".into();
        assert_eq!(verify(&entries).unwrap_err().seq, 3);
    }

    #[test]
    fn a_recomputed_hash_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].payload = "{\"n\":99}".into();
        let e = &entries[2];
        entries[2].hash = entry_hash(e.seq, &e.kind, None, &e.payload, e.recorded_at_micros, &e.prev_hash);
        assert_eq!(verify(&entries).unwrap_err().seq, 4);
    }

    #[test]
    fn a_removed_entry_is_caught() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(verify(&entries).unwrap_err().seq, 3);
    }
}
