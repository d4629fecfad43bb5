//! Throttling (A6): limits on attempts per account and per address,
//! counted in the store so that every instance shares them, except sends,
//! which are counted in memory ([`SendLimiter`]).

use super::{App, AppError, AppResult};
use crate::domain::Millis;
use crate::store::Member;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// A limit: at most `max` attempts in `window_ms`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: i64,
    pub window_ms: i64,
}

const MINUTE: i64 = 60_000;

/// Failed password sign-ins per account.
pub const SIGN_IN_PER_ACCOUNT: Limit = Limit {
    max: 5,
    window_ms: 15 * MINUTE,
};
/// Failed sign-ins (password or code) from one address.
pub const SIGN_IN_PER_IP: Limit = Limit {
    max: 30,
    window_ms: 15 * MINUTE,
};
/// Wrong two-factor codes per staff user.
pub const CODE_PER_ACCOUNT: Limit = Limit {
    max: 5,
    window_ms: 15 * MINUTE,
};
/// Sign-in link and password reset requests per e-mail address.
pub const LINKS_PER_ADDRESS: Limit = Limit {
    max: 5,
    window_ms: 60 * MINUTE,
};
/// Sign-in link and password reset requests from one address.
pub const LINKS_PER_IP: Limit = Limit {
    max: 20,
    window_ms: 60 * MINUTE,
};

impl App {
    /// Refuses with "try again in N minutes" when `scope` has used up `limit`.
    pub async fn check_throttle(&self, scope: &str, limit: Limit) -> AppResult<()> {
        let now = self.clock.now();
        let (count, oldest) = self
            .store
            .attempts_since(scope, Millis(now.0 - limit.window_ms))
            .await?;
        if count >= limit.max {
            let free_at = oldest.map_or(now.0 + limit.window_ms, |o| o.0 + limit.window_ms);
            let minutes = ((free_at - now.0) + MINUTE - 1) / MINUTE;
            return Err(AppError::Throttled(minutes.max(1)));
        }
        Ok(())
    }

    pub async fn record_attempt(&self, scope: &str) -> AppResult<()> {
        let now = self.clock.now();
        self.store.record_attempt(scope, now).await?;
        // Keep the table small: nothing looks back further than a day.
        if rand::random::<u8>() == 0 {
            self.store
                .prune_attempts(Millis(now.0 - 24 * 60 * MINUTE))
                .await?;
        }
        Ok(())
    }
}

/// Messages sent in the last minute, per person, kept in memory: a send is
/// the hottest write there is, and counting it in the store would be a
/// second write per message. Each instance counts its own sends.
#[derive(Debug)]
pub struct SendLimiter {
    per_minute: u32,
    recent: Mutex<HashMap<Member, VecDeque<i64>>>,
}

impl SendLimiter {
    /// `per_minute` 0: no limit.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a send by `member` at `now`, or says in how many minutes the
    /// next one is allowed.
    pub fn allow(&self, member: Member, now: Millis) -> AppResult<()> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let since = now.0 - MINUTE;
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() > 4096 {
            // People who stopped sending are forgotten.
            recent.retain(|_, sent| sent.back().is_some_and(|&at| at > since));
        }
        let sent = recent.entry(member).or_default();
        while sent.front().is_some_and(|&at| at <= since) {
            sent.pop_front();
        }
        if sent.len() >= self.per_minute as usize {
            let free_at = sent.front().map_or(now.0, |&at| at + MINUTE);
            let minutes = ((free_at - now.0) + MINUTE - 1) / MINUTE;
            return Err(AppError::Throttled(minutes.max(1)));
        }
        sent.push_back(now.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StaffId;

    #[test]
    fn a_person_may_send_the_limit_in_a_minute_and_then_waits() {
        let limiter = SendLimiter::new(3);
        let anna = Member::Staff(StaffId::new());
        let ben = Member::Staff(StaffId::new());
        for i in 0..3 {
            assert!(limiter.allow(anna, Millis(i * 1000)).is_ok());
        }
        assert!(matches!(
            limiter.allow(anna, Millis(10_000)),
            Err(AppError::Throttled(1))
        ));
        // Someone else is not held up.
        assert!(limiter.allow(ben, Millis(10_000)).is_ok());
        // A minute after the first send, one more is allowed.
        assert!(limiter.allow(anna, Millis(60_001)).is_ok());
        assert!(limiter.allow(anna, Millis(60_002)).is_err());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = SendLimiter::new(0);
        let anna = Member::Staff(StaffId::new());
        for _ in 0..10_000 {
            assert!(limiter.allow(anna, Millis(0)).is_ok());
        }
    }
}
