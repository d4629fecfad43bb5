//! X11: replies by text. The SMS provider's inbound webhook hands over a
//! text (`From`, `Body`); STOP and START (and their usual synonyms) turn
//! texts off and on for the number; anything else lands in the contact's
//! most recent chat when the number is hers alone, and otherwise is
//! answered with a text asking her to reply in the portal. Texts never
//! carry content, so the answers say nothing of any conversation.

use super::questions::Actor;
use super::{App, AppError, AppResult};
use crate::domain::{ContactId, PhoneNumber, PracticeId};
use crate::store::{Channel, ContactStatus, NewOutboxItem};
use tracing::instrument;

/// Keywords that turn texts off (carriers' and providers' usual set).
const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "OPT-OUT",
    "REVOKE",
];
/// Keywords that turn them on again.
const START_WORDS: &[&str] = &["START", "UNSTOP", "SUBSCRIBE", "OPTIN", "OPT-IN", "RESUME"];

/// What became of a received text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsOutcome {
    Posted,
    Stopped,
    Started,
    /// Answered with "reply in the portal" (a number several contacts
    /// share, or a contact with no chat).
    AskedToUsePortal,
    /// A number no contact has: not answered.
    Unknown,
    Duplicate,
}

impl SmsOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsOutcome::Posted => "posted",
            SmsOutcome::Stopped => "stopped",
            SmsOutcome::Started => "started",
            SmsOutcome::AskedToUsePortal => "asked_to_use_portal",
            SmsOutcome::Unknown => "unknown",
            SmsOutcome::Duplicate => "duplicate",
        }
    }
}

fn keyword(body: &str) -> Option<bool> {
    let word = body
        .trim()
        .trim_end_matches(['.', '!'])
        .to_ascii_uppercase();
    if STOP_WORDS.contains(&word.as_str()) {
        Some(false)
    } else if START_WORDS.contains(&word.as_str()) {
        Some(true)
    } else {
        None
    }
}

impl App {
    /// Takes one received text; `provider_id` (the provider's message id)
    /// makes a second delivery of it a no-op.
    #[instrument(skip_all)]
    pub async fn receive_sms(
        &self,
        from: &str,
        body: &str,
        provider_id: Option<&str>,
    ) -> AppResult<SmsOutcome> {
        let Ok(phone) = PhoneNumber::parse(from) else {
            return Ok(SmsOutcome::Unknown);
        };
        let phone = phone.to_string();
        let provider_id = provider_id
            .filter(|id| !id.trim().is_empty())
            .map(|id| id.trim().chars().take(100).collect::<String>())
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let now = self.clock.now();
        if let Some(on) = keyword(body) {
            let mut tx = self.store.begin().await?;
            if !tx
                .record_inbound_sms(&provider_id, &phone, if on { "start" } else { "stop" }, now)
                .await?
            {
                return Ok(SmsOutcome::Duplicate);
            }
            // The confirmation is queued before the number is turned off,
            // so it is the last text the number gets.
            if on {
                tx.sms_opt_in(&phone).await?;
            }
            let text = if on {
                "You will get texts from your client portal again. Reply STOP to turn them off."
            } else {
                "You will get no more texts from your client portal. Reply START to get them again."
            };
            tx.enqueue(
                &NewOutboxItem {
                    practice_id: None,
                    channel: Channel::Sms,
                    idempotency_key: format!("sms-keyword-{provider_id}"),
                    recipient: phone.clone(),
                    subject: String::new(),
                    body_text: text.to_owned(),
                    body_html: None,
                },
                now,
            )
            .await?;
            if !on {
                tx.sms_opt_out(&phone, now).await?;
            }
            tx.commit().await?;
            self.outbox_wake.notify_one();
            tracing::info!(
                on,
                "a number turned texts {}",
                if on { "on" } else { "off" }
            );
            return Ok(if on {
                SmsOutcome::Started
            } else {
                SmsOutcome::Stopped
            });
        }
        let holders = self.store.contacts_with_phone(&phone).await?;
        let target = match holders.as_slice() {
            [] => None,
            [(practice, contact)] => Some(self.latest_chat_for(*practice, *contact).await?),
            _ => Some(None),
        };
        let outcome = match target {
            None => SmsOutcome::Unknown,
            Some(Some((contact, chat))) => {
                let sent = self
                    .send_message(
                        Actor::Contact(&contact),
                        chat,
                        &super::chats::SendInput {
                            body: body.trim().to_owned(),
                            key: format!("sms:{provider_id}"),
                            ..Default::default()
                        },
                    )
                    .await;
                match sent {
                    Ok(_) => SmsOutcome::Posted,
                    Err(AppError::Invalid(_) | AppError::NotFound | AppError::Forbidden) => {
                        SmsOutcome::AskedToUsePortal
                    }
                    Err(other) => return Err(other),
                }
            }
            Some(None) => SmsOutcome::AskedToUsePortal,
        };
        let mut tx = self.store.begin().await?;
        if !tx
            .record_inbound_sms(&provider_id, &phone, outcome.as_str(), now)
            .await?
        {
            return Ok(SmsOutcome::Duplicate);
        }
        if outcome == SmsOutcome::AskedToUsePortal {
            tx.enqueue(
                &NewOutboxItem {
                    practice_id: holders.first().map(|(p, _)| *p).filter(|_| holders.len() == 1),
                    channel: Channel::Sms,
                    idempotency_key: format!("sms-answer-{provider_id}"),
                    recipient: phone.clone(),
                    subject: String::new(),
                    body_text: format!(
                        "We could not tell which conversation your text was for. Please reply in your client portal: {}",
                        self.link("/portal")
                    ),
                    body_html: None,
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(outcome)
    }

    /// The active contact and her most recent chat, when she has one.
    async fn latest_chat_for(
        &self,
        practice: PracticeId,
        contact: ContactId,
    ) -> AppResult<Option<(crate::store::Contact, crate::domain::ChatId)>> {
        let contact = self.store.get_contact(practice, contact).await?;
        if contact.status != ContactStatus::Active {
            return Ok(None);
        }
        Ok(self
            .store
            .latest_chat_of(practice, contact.id)
            .await?
            .map(|chat| (contact, chat)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_read_in_any_case() {
        assert_eq!(keyword("stop"), Some(false));
        assert_eq!(keyword(" StopAll "), Some(false));
        assert_eq!(keyword("UNSUBSCRIBE"), Some(false));
        assert_eq!(keyword("start"), Some(true));
        assert_eq!(keyword("Stop."), Some(false));
        assert_eq!(keyword("stop sending me the papers"), None);
    }
}
