//! The last `audit verify` run on this node, as the console's audit page shows it: when, and its
//! verdict. Kept in [`Console`](super::Console) beside the sessions; `audit.rs` runs and reads it.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A verification's time and verdict: `Ok(entries checked)` or why the chain is broken.
type Verdict = (DateTime<Utc>, Result<u64, String>);

/// The last verification on this node.
#[derive(Default)]
pub struct AuditStatus {
    last: Mutex<Option<Verdict>>,
}

impl AuditStatus {
    pub fn get(&self) -> Option<Verdict> {
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn set(&self, verdict: Result<u64, String>) {
        *self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Utc::now(), verdict));
    }
}
