//! How a use case's refusal shows on a form: a status and a sentence next
//! to what the person typed, by the field the refusal names. Failures that
//! are not the person's go to the error page instead.

use super::errors::{PageError, refusal_status};
use crate::app::AppError;
use axum::http::StatusCode;

/// A refusal to show on a form.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    /// The form field (input name) it is about; `None`: the form as a whole.
    pub field: Option<&'static str>,
    /// Every field refused at once (the first is `field` and `message`).
    pub fields: Vec<(&'static str, String)>,
}

impl Refusal {
    /// The sentence, if the refusal is about `field`.
    pub fn for_field(&self, field: &str) -> Option<String> {
        if self.field == Some(field) {
            return Some(self.message.clone());
        }
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, message)| message.clone())
    }

    /// Whether the refusal is about one of `fields` (else it is shown
    /// above the form).
    pub fn about_any(&self, fields: &[&str]) -> bool {
        self.field.is_some_and(|f| fields.contains(&f))
    }
}

/// A refusal to show on the form with its field, or the error page for
/// anything else.
pub fn refusal(error: AppError) -> Result<Refusal, PageError> {
    let field = error.field();
    let fields = match &error {
        AppError::Fields(all) => all
            .iter()
            .filter_map(|e| Some((e.field?, e.message.clone())))
            .collect(),
        _ => Vec::new(),
    };
    match error {
        // Pages of their own, whatever the form.
        AppError::NotFound | AppError::Forbidden => Err(error.into()),
        other => match refusal_status(&other) {
            Some((status, message)) => Ok(Refusal {
                status,
                message,
                field,
                fields,
            }),
            None => Err(other.into()),
        },
    }
}

/// A refusal to show on the form, or the error page for anything else.
pub fn form_refusal(error: AppError) -> Result<(StatusCode, String), PageError> {
    refusal(error).map(|r| (r.status, r.message))
}

/// What a person is told when a form, a multipart text field or an
/// address's query carries a NUL character: text Portico cannot store
/// (PostgreSQL refuses it, and no person means to type it).
pub const UNSTORABLE: &str = "What you sent contains a character Portico cannot store \
     (an invisible NUL character, often left by text copied out of another program). \
     Remove it and send again.";

/// Forms bigger than this are not forms a person typed.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Whether urlencoded text (a query or a form body) decodes to a NUL
/// character in any name or value.
fn has_nul(encoded: &[u8]) -> bool {
    form_urlencoded::parse(encoded).any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

/// The 422 page for text that cannot be stored.
pub fn unstorable() -> axum::response::Response {
    super::errors::render_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "That could not be saved",
        UNSTORABLE,
    )
}

/// Refuses, for every route at once, a query string or urlencoded form
/// whose text holds a NUL character: 422 before any handler runs, so no
/// field of any form can reach the store with one. (Text fields of forms
/// with files are checked where they are read, in `uploads::read`.)
pub async fn refuse_unstorable(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    // A NUL can only reach a path encoded; such an address names nothing.
    if request.uri().path().to_ascii_lowercase().contains("%00") {
        return super::errors::render_error(
            StatusCode::NOT_FOUND,
            "We could not find that page",
            "The address may be mistyped, or what it pointed to is not yours to see or no longer exists.",
        );
    }
    if request.uri().query().is_some_and(|q| has_nul(q.as_bytes())) {
        return unstorable();
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return super::errors::render_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "That form is too large",
            "What was sent is larger than any form of Portico takes.",
        );
    };
    if has_nul(&bytes) {
        return unstorable();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::has_nul;

    #[test]
    fn nul_is_found_encoded_anywhere_in_a_form() {
        assert!(has_nul(b"title=a%00b"));
        assert!(has_nul(b"a%00=b"));
        assert!(has_nul(b"x=1&body=%00"));
        assert!(!has_nul(b"title=a%2500b&body=caf%C3%A9"));
        assert!(!has_nul(b""));
    }
}
