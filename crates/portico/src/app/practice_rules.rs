//! What a client's send needs to know of its practice, kept in memory
//! between sends: the messaging settings (S6's length limit, S7's
//! automatic answer and its windows), the team's own automatic answers, and
//! the practice's name and time zone they are read in.
//!
//! Kept exactly as signed-in identities are (decision 0008): what was read
//! is used again only while nothing of the practice changed since (the
//! store marks the practice on every write to its settings, automatic
//! answers, team or the practice itself, on this instance at once and on
//! the others through the relay), and for at most
//! [`super::sessions::IDENTITY_KEPT_FOR`], the bound on a change no
//! instance announced.

use super::{App, AppResult};
use crate::domain::PracticeId;
use crate::store::changes::Stamp;
use crate::store::{MessagingSettings, StaffAutoresponder};
use std::sync::Arc;

/// How many practices' rules an instance keeps.
const PRACTICES_KEPT: u64 = 10_000;

/// A practice's messaging rules as a client's send reads them.
#[derive(Debug)]
pub struct PracticeRules {
    /// Who an automatic answer of the practice's comes from.
    pub name: String,
    /// The zone of the practice's answer windows (and of a team member's
    /// who chose none).
    pub time_zone: String,
    pub messaging: MessagingSettings,
    /// S7: every team member's own automatic answer.
    pub staff_autoresponders: Vec<StaffAutoresponder>,
}

#[derive(Debug)]
pub struct KeptRules {
    rules: Arc<PracticeRules>,
    /// Taken before the rules were read.
    read_at: Stamp,
}

pub type RulesCache = moka::sync::Cache<PracticeId, Arc<KeptRules>>;

pub(super) fn rules_cache() -> RulesCache {
    moka::sync::Cache::builder()
        .max_capacity(PRACTICES_KEPT)
        .time_to_live(super::sessions::IDENTITY_KEPT_FOR)
        .build()
}

impl App {
    /// `practice`'s messaging rules: as kept, while nothing of the practice
    /// changed since they were read; otherwise read again (three reads at
    /// once).
    pub(crate) async fn practice_rules(
        &self,
        practice: PracticeId,
    ) -> AppResult<Arc<PracticeRules>> {
        let changes = self.store.changes();
        if let Some(kept) = self.rules.get(&practice) {
            if changes.unchanged_since(practice, kept.read_at) {
                return Ok(kept.rules.clone());
            }
            self.rules.invalidate(&practice);
        }
        let read_at = changes.stamp();
        let (found, messaging, staff_autoresponders) = tokio::try_join!(
            self.store.get_practice(practice),
            self.store.messaging_settings(practice),
            self.store.staff_autoresponders(practice),
        )?;
        let rules = Arc::new(PracticeRules {
            name: found.name,
            time_zone: found.time_zone,
            messaging,
            staff_autoresponders,
        });
        self.rules.insert(
            practice,
            Arc::new(KeptRules {
                rules: rules.clone(),
                read_at,
            }),
        );
        Ok(rules)
    }
}
