//! Single-use, expiring tokens sent to contacts by e-mail (A2–A4).

use super::{StoreResult, StoreTx, parse_id};
use crate::domain::{ContactId, Millis, PracticeId};

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Activate an invited contact's account (A4).
    Invitation,
    /// Sign in without a password (A2).
    SignIn,
    /// Set a new password (A3).
    Reset,
}

impl TokenPurpose {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Invitation => "invitation",
            TokenPurpose::SignIn => "sign_in",
            TokenPurpose::Reset => "reset",
        }
    }
}

/// A token found valid: whose it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenHolder {
    pub practice_id: PracticeId,
    pub contact_id: ContactId,
}

impl StoreTx {
    pub async fn insert_token(
        &mut self,
        hash: &str,
        purpose: TokenPurpose,
        practice: PracticeId,
        contact: ContactId,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tokens (token_hash, practice_id, purpose, contact_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash)
        .bind(practice)
        .bind(purpose.as_str())
        .bind(contact)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Uses up a token: valid only once, before it expires, for its purpose.
    /// `None` for an unknown, used, expired or mis-purposed token alike.
    pub async fn consume_token(
        &mut self,
        hash: &str,
        purpose: TokenPurpose,
        now: Millis,
    ) -> StoreResult<Option<TokenHolder>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "UPDATE tokens SET used_at = $3 \
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING practice_id, contact_id",
        )
        .bind(hash)
        .bind(purpose.as_str())
        .bind(now.0)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|(practice, contact)| {
            Ok(TokenHolder {
                practice_id: parse_id(&practice)?,
                contact_id: parse_id(&contact)?,
            })
        })
        .transpose()
    }

    /// Ends every unused token of one purpose for a contact (a new
    /// password makes older reset links worthless).
    pub async fn revoke_tokens(
        &mut self,
        practice: PracticeId,
        contact: ContactId,
        purpose: TokenPurpose,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE tokens SET used_at = $4 \
             WHERE practice_id = $1 AND contact_id = $2 AND purpose = $3 AND used_at IS NULL",
        )
        .bind(practice)
        .bind(contact)
        .bind(purpose.as_str())
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

/// A4: the latest invitation sent to a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvitationSent {
    pub contact_id: ContactId,
    pub sent_at: Millis,
    pub expires_at: Millis,
}

impl super::Store {
    /// Whose a token is, used or not, expired or not (to tell a person who
    /// follows an old invitation that she is already in).
    pub async fn token_holder_any(
        &self,
        hash: &str,
        purpose: TokenPurpose,
    ) -> StoreResult<Option<TokenHolder>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT practice_id, contact_id FROM tokens WHERE token_hash = $1 AND purpose = $2",
        )
        .bind(hash)
        .bind(purpose.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(practice, contact)| {
            Ok(TokenHolder {
                practice_id: parse_id(&practice)?,
                contact_id: parse_id(&contact)?,
            })
        })
        .transpose()
    }

    /// Each contact's latest invitation, for every contact of the practice
    /// who was ever sent one.
    pub async fn latest_invitations(
        &self,
        practice: PracticeId,
    ) -> StoreResult<Vec<InvitationSent>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT contact_id, MAX(created_at), MAX(expires_at) FROM tokens \
             WHERE practice_id = $1 AND purpose = 'invitation' GROUP BY contact_id",
        )
        .bind(practice)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(contact, sent_at, expires_at)| {
                Ok(InvitationSent {
                    contact_id: parse_id(&contact)?,
                    sent_at: Millis(sent_at),
                    expires_at: Millis(expires_at),
                })
            })
            .collect()
    }

    /// Whether a token would be accepted now, without using it (for the page
    /// that asks the person to confirm).
    pub async fn peek_token(
        &self,
        hash: &str,
        purpose: TokenPurpose,
        now: Millis,
    ) -> StoreResult<Option<TokenHolder>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT practice_id, contact_id FROM tokens \
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(hash)
        .bind(purpose.as_str())
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(practice, contact)| {
            Ok(TokenHolder {
                practice_id: parse_id(&practice)?,
                contact_id: parse_id(&contact)?,
            })
        })
        .transpose()
    }
}
