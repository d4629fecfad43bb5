//! `/app/settings/audit` (X2, admins): the audit log, filtered by person,
//! client, kind and dates, page by page, with its CSV export and the
//! practice's retention.

use super::AppState;
use super::errors::PageError;
use super::forms::refusal;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::staff_pages::Done;
use crate::app::audit::{AuditPage, AuditQuery};
use crate::app::sessions::ClientInfo;
use crate::store::{AuditEntry, AuditFilter, AuditKind};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "audit_log.html")]
struct AuditLogPage {
    layout: Layout,
    query: AuditQuery,
    entries: Vec<AuditEntry>,
    people: Vec<(String, String)>,
    clients: Vec<(String, String)>,
    kinds: Vec<&'static str>,
    /// The filters as a query string (for the export and the next page).
    filters: String,
    next: Option<String>,
    years: String,
    notice: Option<String>,
    error: Option<(&'static str, String)>,
}

impl AuditLogPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// The filters of `query` as a query string, optionally from entry `before`.
fn query_string(query: &AuditQuery, before: Option<i64>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("person", &query.person),
        ("client", &query.client),
        ("kind", &query.kind),
        ("from", &query.from),
        ("to", &query.to),
    ] {
        if !value.trim().is_empty() {
            out.append_pair(key, value.trim());
        }
    }
    if let Some(before) = before {
        out.append_pair("before", &before.to_string());
    }
    out.finish()
}

fn page(
    layout: Layout,
    query: AuditQuery,
    found: AuditPage,
    notice: Option<String>,
    error: Option<(&'static str, String)>,
) -> AuditLogPage {
    AuditLogPage {
        filters: query_string(&query, None),
        next: found.next_before.map(|b| query_string(&query, Some(b))),
        layout,
        query,
        entries: found.entries,
        people: found.people,
        clients: found
            .clients
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect(),
        kinds: AuditKind::ALL.iter().map(|k| k.code()).collect(),
        years: (found.retention_days * 100 / 36_525).to_string(),
        notice,
        error,
    }
}

/// `GET /app/settings/audit`
pub async fn audit_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(query): Query<AuditQuery>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let (filter, error, status) = match query.filter(&user.layout.time) {
        Ok(filter) => (filter, None, StatusCode::OK),
        Err(error) => {
            let refused = refusal(error)?;
            (
                AuditFilter::default(),
                Some((refused.field.unwrap_or("from"), refused.message)),
                refused.status,
            )
        }
    };
    let found = state
        .app
        .audit_log(&user.staff, &filter, query.before())
        .await?;
    Ok(render(
        status,
        &page(user.layout, query, found, done.notice(), error),
    ))
}

/// `GET /app/settings/audit/export.csv`: the filtered log, recorded.
pub async fn audit_export_get(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let filter = match query.filter(&user.layout.time) {
        Ok(filter) => filter,
        Err(error) => {
            let refused = refusal(error)?;
            return Ok((refused.status, refused.message).into_response());
        }
    };
    let file = state
        .app
        .export_audit_csv(&user.staff, &filter, &user.layout.time, &origin)
        .await?;
    let handle = tokio::fs::File::from_std(file);
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(handle));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct RetentionForm {
    #[serde(default)]
    years: String,
}

/// `POST /app/settings/audit/retention`
pub async fn retention_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Form(form): Form<RetentionForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .set_audit_retention(&user.staff, &form.years, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/settings/audit?done=saved").into_response()),
        Err(error) => {
            let refused = refusal(error)?;
            let found = state
                .app
                .audit_log(&user.staff, &AuditFilter::default(), None)
                .await?;
            let mut view = page(
                user.layout,
                AuditQuery::default(),
                found,
                None,
                Some(("years", refused.message)),
            );
            view.years = form.years;
            Ok(render(refused.status, &view))
        }
    }
}
