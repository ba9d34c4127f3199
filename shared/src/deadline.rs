//! Lambda's deadlines. The Runtime API (`Lambda-Runtime-Deadline-Ms`) and the
//! Extensions API (`deadlineMs`) give them as milliseconds since the Unix
//! epoch; code needs the time left.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time from now until an epoch-milliseconds deadline (zero once past).
pub fn remaining(deadline_ms: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_until_a_deadline_and_zero_after_it() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = remaining(now + 2_000);
        assert!(left > Duration::from_millis(1_900) && left <= Duration::from_millis(2_000));
        assert_eq!(remaining(now - 1), Duration::ZERO);
        assert_eq!(remaining(0), Duration::ZERO);
    }
}
