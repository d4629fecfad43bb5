//! Exports as spreadsheets (M13, X9): a chat, for its staff and contact
//! members, and a contact's own answers to questions. Both are recorded.

use crate::app::chats::ExportFormat;
use crate::app::sessions::ClientInfo;
use crate::domain::ChatId;
use crate::http::AppState;
use crate::http::area::Area;
use crate::http::errors::PageError;
use crate::http::ids::IdPath;
use crate::http::session::ContactUser;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

fn format_of(format: &str) -> Result<ExportFormat, PageError> {
    match format {
        "csv" => Ok(ExportFormat::Csv),
        "xlsx" => Ok(ExportFormat::Xlsx),
        _ => Err(PageError::NotFound),
    }
}

fn content_type(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
}

/// A spreadsheet to download, streamed from an open handle on a file
/// already unlinked.
fn download(file: std::fs::File, format: ExportFormat, name: &str) -> Response {
    let handle = tokio::fs::File::from_std(file);
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(handle));
    (
        [
            (header::CONTENT_TYPE, content_type(format).to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// `GET /app/messages/{chat}/export/{format}` (M13: csv or xlsx),
/// `GET /portal/messages/{chat}/export/{format}` (X9: a contact downloads a
/// chat she is in, the same spreadsheet as the practice's).
pub async fn export_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    client: ClientInfo,
    IdPath((chat, format)): IdPath<(ChatId, String)>,
) -> Result<Response, PageError> {
    let format = format_of(&format)?;
    let (chat, file) = state
        .app
        .export_chat(A::actor(&user), chat, format, &client)
        .await?;
    let name = format!("chat-{}.{}", chat.id, format.extension());
    Ok(download(file, format, &name))
}

/// `GET /portal/answers/export/{format}` (X9): a contact downloads her own
/// answers to questions; recorded.
pub async fn portal_answers_export_get(
    State(state): State<AppState>,
    user: ContactUser,
    client: ClientInfo,
    Path(format): Path<String>,
) -> Result<Response, PageError> {
    let format = format_of(&format)?;
    let file = state
        .app
        .export_my_answers(&user.contact, format, &client)
        .await?;
    let name = format!("my-answers.{}", format.extension());
    Ok(download(file, format, &name))
}
