//! Errors of the API as RFC 9457 problem details
//! (`application/problem+json`): `type`, `title`, `status`, `detail`, and
//! for a refused field its name and sentence in `errors`. A failure on
//! Portico's side is logged whole and answered with a plain sentence; the
//! `x-request-id` header of the response finds the log line.

use crate::app::AppError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A problem, as the response body carries it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// What kind of problem (`urn:portico:problem:validation`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind in words; the same for every problem of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, in a sentence.
    pub detail: String,
    /// For a validation problem: each refused field with its sentence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One refused field.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The request's field (or query parameter) it is about; empty when it
    /// is about the request as a whole.
    pub field: String,
    pub detail: String,
}

impl FieldProblem {
    pub fn new(field: &str, detail: String) -> Self {
        Self {
            field: field.to_owned(),
            detail,
        }
    }
}

/// What an API handler fails with.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    /// A failure on Portico's side: the cause, for the log only.
    cause: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: String) -> Self {
        Self {
            status,
            kind,
            title,
            detail,
            errors: Vec::new(),
            cause: None,
        }
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Not authenticated",
            detail.to_owned(),
        )
    }

    pub fn forbidden(detail: String) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "There is nothing here, or it is not yours to see.".into(),
        )
    }

    pub fn bad_request(detail: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn validation(errors: Vec<FieldProblem>) -> Self {
        let detail = errors.first().map_or_else(
            || "The request was refused.".to_owned(),
            |e| e.detail.clone(),
        );
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
                detail,
            )
        }
    }

    pub fn rate_limited(retry_after_secs: i64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("This token made too many requests; try again in {retry_after_secs} seconds."),
        )
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid(e) => {
                Self::validation(vec![FieldProblem::new(e.field.unwrap_or(""), e.message)])
            }
            AppError::Fields(all) => Self::validation(
                all.into_iter()
                    .map(|e| FieldProblem::new(e.field.unwrap_or(""), e.message))
                    .collect(),
            ),
            AppError::NotFound => Self::not_found(),
            AppError::Forbidden => {
                Self::forbidden("The token's team member is not allowed to do this.".into())
            }
            AppError::Conflict { message, field } => Self {
                errors: field
                    .map(|f| vec![FieldProblem::new(f, message.clone())])
                    .unwrap_or_default(),
                ..Self::new(StatusCode::CONFLICT, "conflict", "Conflict", message)
            },
            other => match super::super::errors::refusal_status(&other) {
                Some((StatusCode::UNPROCESSABLE_ENTITY, message)) => {
                    Self::validation(vec![FieldProblem::new(
                        other.field().unwrap_or(""),
                        message,
                    )])
                }
                Some((status, message)) => Self::new(
                    status,
                    match status {
                        StatusCode::TOO_MANY_REQUESTS => "rate-limited",
                        StatusCode::UNAUTHORIZED => "unauthorized",
                        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                        _ => "bad-request",
                    },
                    status.canonical_reason().unwrap_or("Refused"),
                    message,
                ),
                None => Self {
                    cause: Some(format!("{other:#}")),
                    ..Self::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "Server error",
                        "Something went wrong on Portico's side; nothing was lost. Try again, \
                         and quote the x-request-id header if it keeps happening."
                            .into(),
                    )
                },
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(%cause, "API request failed");
        }
        let body = Problem {
            kind: format!("urn:portico:problem:{}", self.kind),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portico\""),
            );
        }
        response
    }
}
