//! Throttling (A6): limits on attempts per account and per address,
//! counted in the store so that every instance shares them.

use super::{App, AppError, AppResult};
use crate::domain::Millis;

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
/// Messages one person sends in a minute (a flood is throttled).
pub const SENDS_PER_MEMBER: Limit = Limit {
    max: 60,
    window_ms: MINUTE,
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
