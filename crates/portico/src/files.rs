//! The file store: every uploaded file of Portico, kept through the
//! `object_store` crate in a local folder (by default) or an S3-compatible
//! bucket. Uploads are streamed with a size limit and a type check; keys
//! are made here (`<practice>/<file id>`), never from a file's name.

use crate::domain::{FileId, PracticeId};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use std::sync::Arc;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// 25 MB, unless configured otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// Why a file was not kept, in words for the person who sent it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{name} is larger than {limit_mb} MB, the most Portico takes in one file.")]
    TooLarge { name: String, limit_mb: u64 },
    #[error(
        "{name} is not a kind of file Portico takes. Send documents (PDF, Word, Excel, PowerPoint, text, CSV), \
         pictures (JPEG, PNG, GIF, WebP, HEIC) or sound (MP3, M4A, WAV, OGG)."
    )]
    RefusedType { name: String },
    #[error("{name} is empty.")]
    Empty { name: String },
    #[error("could not store the file: {0}")]
    Storage(String),
    #[error("the upload was interrupted: {0}")]
    Upload(String),
}

/// A kind of file Portico takes: the types a person sends a practice.
fn allowed(extension: &str, sniffed: Option<&str>, first: &[u8]) -> Option<&'static str> {
    let by_extension = match extension {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" | "heif" => "image/heic",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "ppt" => "application/vnd.ms-powerpoint",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "wav" => "audio/wav",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "weba" | "webm" => "audio/webm",
        _ => return None,
    };
    // The content must agree with the name: a script renamed .pdf is refused.
    let agrees = match extension {
        "txt" | "csv" => sniffed.is_none() && !first.contains(&0) && utf8_prefix(first),
        "docx" | "xlsx" | "pptx" | "odt" | "ods" => {
            matches!(sniffed, Some(t) if t.starts_with("application/vnd.") || t == "application/zip")
        }
        "doc" | "xls" | "ppt" => {
            matches!(sniffed, Some(t) if t.contains("ms") || t.contains("ole"))
        }
        "heic" | "heif" => matches!(sniffed, Some(t) if t.starts_with("image/hei")),
        "m4a" | "aac" => matches!(sniffed, Some(t) if t.starts_with("audio/") || t == "video/mp4"),
        "weba" | "webm" => matches!(sniffed, Some(t) if t.ends_with("webm")),
        "ogg" | "oga" | "opus" => {
            matches!(sniffed, Some(t) if t.ends_with("ogg") || t.ends_with("opus"))
        }
        "wav" => matches!(sniffed, Some(t) if t.contains("wav")),
        _ => sniffed == Some(by_extension),
    };
    agrees.then_some(by_extension)
}

/// UTF-8, allowing the first chunk to end inside a character.
fn utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The content type to store for a file, or why it is refused.
pub fn check_type(name: &str, first: &[u8]) -> Result<&'static str, FileError> {
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let sniffed = infer::get(first).map(|t| t.mime_type());
    allowed(&extension, sniffed, first).ok_or_else(|| FileError::RefusedType {
        name: name.to_owned(),
    })
}

/// A file name safe to show and to offer for download: no path, no
/// control or format characters, at most 200 characters.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    // Controls, and format characters (category Cf: bidi overrides such as
    // U+202E, zero-width spaces and joiners) that would make a name show as
    // something else (`statement-\u{202E}fdp.txt` as `statement-txt.pdf`).
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && c.general_category() != GeneralCategory::Format)
        .take(200)
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.');
    if trimmed.is_empty() {
        "file".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// What was kept.
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub id: FileId,
    pub key: String,
    pub name: String,
    pub content_type: &'static str,
    pub size: i64,
}

impl StoredFile {
    /// Its record, not yet attached to a question's entry or a message.
    pub fn meta(
        &self,
        practice: crate::domain::PracticeId,
        now: crate::domain::Millis,
    ) -> crate::store::FileMeta {
        crate::store::FileMeta {
            id: self.id,
            practice_id: practice,
            question_id: None,
            entry_id: None,
            chat_id: None,
            message_seq: None,
            name: self.name.clone(),
            content_type: self.content_type.to_owned(),
            size: self.size,
            storage_key: self.key.clone(),
            created_at: now,
        }
    }
}

/// The prefix of `s3://bucket/prefix` (empty when there is none).
fn s3_prefix(url: &str) -> &str {
    url.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .map_or("", |(_, prefix)| prefix.trim_matches('/'))
}

#[derive(Clone, Debug)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
    max_bytes: u64,
}

impl FileStore {
    /// Files in a local folder (created if missing).
    pub fn local(dir: &std::path::Path, max_bytes: u64) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("could not create the files folder {}: {e}", dir.display()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("could not use the files folder {}: {e}", dir.display()))?;
        Ok(Self {
            inner: Arc::new(store),
            max_bytes,
        })
    }

    /// Files in an S3-compatible bucket: `s3://bucket[/prefix]`, credentials
    /// and region from the usual `AWS_*` variables, and `endpoint` for
    /// storage that is not Amazon's.
    pub fn s3(url: &str, endpoint: Option<&str>, max_bytes: u64) -> Result<Self, String> {
        // A person is waiting on every upload and download: storage that is
        // down fails the request within seconds, not after object_store's
        // default of three minutes of retries.
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(10),
            ..Default::default()
        };
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_url(url)
            .with_retry(retry);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| format!("files_url (PORTICO_FILES_URL) is not usable: {e}"))?;
        // The bucket is all the S3 builder takes from the URL: the files go
        // under the prefix that follows it, when there is one.
        let prefix = s3_prefix(url);
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self { inner, max_bytes })
    }

    /// In memory, for tests.
    pub fn memory(max_bytes: u64) -> Self {
        Self {
            inner: Arc::new(object_store::memory::InMemory::new()),
            max_bytes,
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Streams an upload into the store, checking its type from its first
    /// bytes and its size as it comes; on any refusal nothing is kept.
    pub async fn save<S, E>(
        &self,
        practice: PracticeId,
        name: &str,
        mut chunks: S,
    ) -> Result<StoredFile, FileError>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let name = clean_name(name);
        let id = FileId::new();
        let key = format!("{practice}/{id}");
        let path = StorePath::from(key.as_str());
        // Gather enough of the start to know the type.
        let mut head = Vec::new();
        let mut ended = false;
        while head.len() < 8192 {
            match chunks.next().await {
                Some(Ok(bytes)) => head.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(FileError::Upload(e.to_string())),
                None => {
                    ended = true;
                    break;
                }
            }
            if u64::try_from(head.len()).unwrap_or(u64::MAX) > self.max_bytes {
                return Err(self.too_large(&name));
            }
        }
        if head.is_empty() {
            return Err(FileError::Empty { name });
        }
        let content_type = check_type(&name, &head)?;
        let upload = self
            .inner
            .put_multipart(&path)
            .await
            .map_err(|e| FileError::Storage(e.to_string()))?;
        let mut writer = WriteMultipart::new(upload);
        let mut size = u64::try_from(head.len()).unwrap_or(u64::MAX);
        writer.write(&head);
        if !ended {
            while let Some(chunk) = chunks.next().await {
                let bytes = match chunk {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(FileError::Upload(e.to_string()));
                    }
                };
                size += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                if size > self.max_bytes {
                    let _ = writer.abort().await;
                    return Err(self.too_large(&name));
                }
                writer.put(bytes);
            }
        }
        writer
            .finish()
            .await
            .map_err(|e| FileError::Storage(e.to_string()))?;
        Ok(StoredFile {
            id,
            key,
            name,
            content_type,
            size: i64::try_from(size).unwrap_or(i64::MAX),
        })
    }

    fn too_large(&self, name: &str) -> FileError {
        FileError::TooLarge {
            name: name.to_owned(),
            limit_mb: self.max_bytes / (1024 * 1024),
        }
    }

    /// The bytes of a stored file, as a stream.
    pub async fn open(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, object_store::Error>>, FileError> {
        let result = self
            .inner
            .get(&StorePath::from(key))
            .await
            .map_err(|e| FileError::Storage(e.to_string()))?;
        Ok(result.into_stream())
    }

    /// Removes a stored file (gone for good) and its thumbnail if any; one
    /// already gone is no error.
    pub async fn delete(&self, key: &str) -> Result<(), FileError> {
        let _ = self
            .inner
            .delete(&StorePath::from(format!("{key}.thumb")))
            .await;
        match self.inner.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(FileError::Storage(e.to_string())),
        }
    }

    /// A whole stored file of at most `max` bytes, or `None` when there is
    /// no such file (a thumbnail not made yet).
    pub async fn read_small(&self, key: &str, max: usize) -> Result<Option<Vec<u8>>, FileError> {
        let mut stream = match self.inner.get(&StorePath::from(key)).await {
            Ok(result) => result.into_stream(),
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(FileError::Storage(e.to_string())),
        };
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FileError::Storage(e.to_string()))?;
            if out.len() + chunk.len() > max {
                return Err(FileError::Storage(format!("{key} is larger than expected")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(out))
    }

    /// Keeps a small file Portico made itself (a thumbnail) under `key`.
    pub async fn write_small(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        self.inner
            .put(&StorePath::from(key), bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| FileError::Storage(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];

    fn stream(
        parts: Vec<&'static [u8]>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin {
        futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p))))
    }

    #[test]
    fn types_must_match_their_names() {
        assert_eq!(check_type("statement.pdf", PDF).unwrap(), "application/pdf");
        assert_eq!(check_type("receipt.PNG", PNG).unwrap(), "image/png");
        assert_eq!(
            check_type("notes.txt", "Hello, Zoë".as_bytes()).unwrap(),
            "text/plain; charset=utf-8"
        );
        assert!(
            check_type("statement.pdf", PNG).is_err(),
            "a PNG named .pdf"
        );
        assert!(check_type("page.html", b"<html><script>alert(1)</script>").is_err());
        assert!(check_type("image.svg", b"<svg onload=alert(1)>").is_err());
        assert!(check_type("run.exe", b"MZ\x90\x00").is_err());
        assert!(check_type("notes.txt", PDF).is_err(), "a PDF named .txt");
        assert!(check_type("noextension", PDF).is_err());
    }

    #[test]
    fn an_s3_url_names_the_bucket_and_perhaps_a_prefix() {
        assert_eq!(s3_prefix("s3://bucket"), "");
        assert_eq!(s3_prefix("s3://bucket/"), "");
        assert_eq!(s3_prefix("s3://bucket/portico"), "portico");
        assert_eq!(s3_prefix("s3://bucket/firm/portico/"), "firm/portico");
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\bank\u{7}.pdf"), "bank.pdf");
        assert_eq!(clean_name(".hidden"), "hidden");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name("statement-\u{202E}fdp.txt"), "statement-fdp.txt");
        assert_eq!(
            clean_name("in\u{200B}voice\u{2066}\u{FEFF}\u{200D}.pdf"),
            "invoice.pdf"
        );
        assert_eq!(clean_name("\u{202E}\u{200F}"), "file");
        assert_eq!(clean_name("Café Ümlaut 報告.pdf"), "Café Ümlaut 報告.pdf");
    }

    #[tokio::test]
    async fn a_file_is_kept_and_read_back() {
        let files = FileStore::memory(1024);
        let practice = PracticeId::new();
        let saved = files
            .save(practice, "bank.pdf", stream(vec![&PDF[..5], &PDF[5..]]))
            .await
            .unwrap();
        assert_eq!(saved.size, i64::try_from(PDF.len()).unwrap());
        assert!(saved.key.starts_with(&practice.to_string()));
        let mut back = Vec::new();
        let mut body = files.open(&saved.key).await.unwrap();
        while let Some(chunk) = body.next().await {
            back.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(back, PDF);
    }

    #[tokio::test]
    async fn too_large_and_refused_files_are_not_kept() {
        let files = FileStore::memory(40);
        let practice = PracticeId::new();
        let big: &'static [u8] = &[b'a'; 30];
        let err = files
            .save(practice, "notes.txt", stream(vec![big, big]))
            .await
            .unwrap_err();
        assert!(matches!(err, FileError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("notes.txt is larger than"));
        let err = files
            .save(practice, "x.html", stream(vec![b"<html>"]))
            .await
            .unwrap_err();
        assert!(matches!(err, FileError::RefusedType { .. }));
        let err = files
            .save(practice, "x.pdf", stream(vec![]))
            .await
            .unwrap_err();
        assert!(matches!(err, FileError::Empty { .. }));
    }
}
