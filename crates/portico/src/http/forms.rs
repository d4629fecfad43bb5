//! How a use case's refusal shows on a form: a status and a sentence next
//! to what the person typed. Failures that are not the person's go to the
//! error page instead.

use super::errors::PageError;
use crate::app::AppError;
use axum::http::StatusCode;

/// A refusal to show on the form, or the error page for anything else.
pub fn form_refusal(error: AppError) -> Result<(StatusCode, String), PageError> {
    match error {
        AppError::Invalid(e) => Ok((StatusCode::UNPROCESSABLE_ENTITY, e.0)),
        AppError::Password(e @ crate::app::password::PasswordError::TooShort)
        | AppError::Password(e @ crate::app::password::PasswordError::TooLong) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        }
        AppError::Denied(message) => Ok((StatusCode::UNAUTHORIZED, message)),
        e @ AppError::Throttled(_) => Ok((StatusCode::TOO_MANY_REQUESTS, e.to_string())),
        AppError::Conflict(message) => Ok((StatusCode::CONFLICT, message)),
        // Already logged where it failed; the person keeps the draft.
        AppError::Store(crate::store::StoreError::BatchFailed(_)) => Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            "Your message was not saved. Please send it again.".into(),
        )),
        other => Err(other.into()),
    }
}
