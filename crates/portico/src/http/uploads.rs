//! Reading a form with files (`multipart/form-data`): text fields are kept,
//! files are streamed into the file store as they arrive.

use super::errors::PageError;
use crate::app::{App, AppError};
use crate::domain::PracticeId;
use crate::files::{FileError, StoredFile};
use axum::extract::Multipart;
use axum::http::StatusCode;
use futures_util::StreamExt;
use std::collections::HashMap;

/// What a form with files carried.
#[derive(Debug, Default)]
pub struct Upload {
    pub fields: HashMap<String, String>,
    pub files: Vec<StoredFile>,
    /// Raw bytes of small file fields kept in memory (a CSV to read).
    pub small_files: HashMap<String, String>,
}

impl Upload {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Why a form with files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error("The form could not be read: {0}")]
    Form(String),
    /// A text field (or a list read as text) holds a NUL character.
    #[error("{}", super::forms::UNSTORABLE)]
    Unstorable,
}

impl UploadError {
    /// What the person is told, with its status; a file that could not be
    /// stored is a failure on Portico's side: the error page, logged.
    pub fn refusal(self) -> Result<(StatusCode, String), PageError> {
        match self {
            UploadError::File(error) => super::forms::form_refusal(AppError::File(error)),
            other => Ok((StatusCode::UNPROCESSABLE_ENTITY, other.to_string())),
        }
    }
}

/// Reads the form; file fields named in `stored` go to the file store,
/// those named in `in_memory` are read as text (at most 5 MB). On any
/// failure, what was stored is removed again.
pub async fn read(
    app: &App,
    practice: PracticeId,
    mut form: Multipart,
    stored: &[&str],
    in_memory: &[&str],
) -> Result<Upload, UploadError> {
    let mut upload = Upload::default();
    let result = async {
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| UploadError::Form(e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            match file_name {
                Some(file_name) if stored.contains(&name.as_str()) => {
                    if file_name.is_empty() {
                        continue; // an empty file input
                    }
                    let mut field = field;
                    let stream = async_stream(&mut field);
                    let saved = app.files.save(practice, &file_name, stream).await;
                    match saved {
                        Ok(file) => upload.files.push(file),
                        // An empty file chosen by mistake is simply skipped.
                        Err(FileError::Empty { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(_) if in_memory.contains(&name.as_str()) => {
                    let bytes = field
                        .bytes()
                        .await
                        .map_err(|e| UploadError::Form(e.body_text()))?;
                    if bytes.len() > 5 * 1024 * 1024 {
                        return Err(UploadError::Form("the CSV file is larger than 5 MB".into()));
                    }
                    if bytes.contains(&0) {
                        return Err(UploadError::Unstorable);
                    }
                    upload
                        .small_files
                        .insert(name, String::from_utf8_lossy(&bytes).into_owned());
                }
                Some(_) => {}
                None => {
                    let text = field
                        .text()
                        .await
                        .map_err(|e| UploadError::Form(e.body_text()))?;
                    if text.contains('\0') || name.contains('\0') {
                        return Err(UploadError::Unstorable);
                    }
                    upload.fields.insert(name, text);
                }
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(upload),
        Err(error) => {
            app.discard_uploads(&upload.files).await;
            Err(error)
        }
    }
}

/// Reads the form like [`read`]; what it carried that was refused (a file
/// too large, a form cut short) is told with its status, to show on the
/// form again; a file that could not be stored is Portico's failure.
pub async fn read_or_refusal(
    app: &App,
    practice: PracticeId,
    form: Multipart,
    stored: &[&str],
    in_memory: &[&str],
) -> Result<Result<Upload, (StatusCode, String)>, PageError> {
    match read(app, practice, form, stored, in_memory).await {
        Ok(upload) => Ok(Ok(upload)),
        Err(error) => error.refusal().map(Err),
    }
}

/// A multipart field as a stream of chunks.
fn async_stream<'a>(
    field: &'a mut axum::extract::multipart::Field<'_>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Unpin + Send + 'a {
    futures_util::stream::unfold(field, |field| async move {
        match field.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), field)),
            Ok(None) => None,
            Err(e) => Some((Err(e.body_text()), field)),
        }
    })
    .boxed()
}

/// Reads a chat's form: like [`read`], but a refused file does not stop
/// the reading of the text fields after it, so that the message typed is
/// kept with the refusal. On a refusal no file is kept.
pub async fn read_keeping_text(
    app: &App,
    practice: PracticeId,
    mut form: Multipart,
    stored: &[&str],
) -> (Upload, Option<UploadError>) {
    let mut upload = Upload::default();
    let mut refused: Option<UploadError> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                refused.get_or_insert(UploadError::Form(e.body_text()));
                break;
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) if stored.contains(&name.as_str()) && refused.is_none() => {
                if file_name.is_empty() {
                    continue;
                }
                let mut field = field;
                let stream = async_stream(&mut field);
                match app.files.save(practice, &file_name, stream).await {
                    Ok(file) => upload.files.push(file),
                    Err(FileError::Empty { .. }) => {}
                    Err(e) => refused = Some(e.into()),
                }
            }
            // After a refusal, or not a field taken: its bytes are skipped.
            Some(_) => {}
            None => match field.text().await {
                Ok(text) if text.contains('\0') || name.contains('\0') => {
                    refused.get_or_insert(UploadError::Unstorable);
                }
                Ok(text) => {
                    upload.fields.insert(name, text);
                }
                Err(e) => {
                    refused.get_or_insert(UploadError::Form(e.body_text()));
                    break;
                }
            },
        }
    }
    if refused.is_some() {
        app.discard_uploads(&upload.files).await;
        upload.files.clear();
    }
    (upload, refused)
}
