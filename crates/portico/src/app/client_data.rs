//! X5: a client's data, to take or to erase (admins).
//!
//! The export is one ZIP: `index.html` to read, `data.json` for machines,
//! and the files themselves under `files/`. It is written in constant
//! memory: this task reads the store page by page and the file store chunk
//! by chunk, and hands each piece through a short queue to a blocking
//! thread that writes the archive into a temporary file (the page and the
//! JSON into two temporary files of their own, copied in at the end).
//!
//! Erasure takes a typed confirmation and happens in one transaction (with
//! its audit entry); the files' bytes go after commit, through the file
//! deletion queue; the erased people's sessions end and their sockets close.

use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::domain::{ClientId, ContactId, ValidationError};
use crate::local_time::Viewer;
use crate::store::{AuditEntry, AuditFilter, AuditKind, Client, Contact, FileMeta, Staff};
use askama::Template;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;
use std::io::{Seek, Write};
use tracing::instrument;

fn admin(actor: &Staff) -> AppResult<()> {
    if policy::staff_may_manage_practice(actor, actor.practice_id) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The typed confirmation matches the name (spaces around and case aside).
fn confirmed(typed: &str, name: &str) -> bool {
    let typed = typed.trim();
    !typed.is_empty() && typed.to_lowercase() == name.trim().to_lowercase()
}

/// What goes to the thread writing the archive.
enum Part {
    Json(String),
    Html(String),
    /// A file of the archive starts; its bytes follow.
    File(String),
    Chunk(Bytes),
}

/// A line of a thread or a chat: when, who, the text, and its files as
/// `(path in the archive, name)`.
type Line = (String, String, String, Vec<(String, String)>);

/// The pieces of `index.html`, each rendered as it comes.
enum Page<'a> {
    Head {
        practice: &'a str,
        client: &'a Client,
        contacts: &'a [Contact],
        exported: String,
    },
    Question {
        title: &'a str,
        details: &'a str,
        status: &'a str,
        asked: String,
        entries: Vec<Line>,
    },
    Section {
        title: &'a str,
    },
    Chat {
        title: &'a str,
    },
    Messages {
        lines: Vec<Line>,
    },
    Audit {
        entries: Vec<(String, String, String, String)>,
    },
    Tail,
}

#[derive(Template)]
#[template(path = "client_export.html")]
struct PagePiece<'p, 'a> {
    piece: &'p Page<'a>,
}

/// Where a file goes in the archive: its id and a safe name.
fn archive_path(file: &FileMeta) -> String {
    let name: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("files/{}-{}", file.id, name.trim())
}

/// Sends a part; the writer stopping early is reported when it is joined.
struct Parts {
    tx: tokio::sync::mpsc::Sender<Part>,
}

impl Parts {
    async fn send(&self, part: Part) -> AppResult<()> {
        self.tx
            .send(part)
            .await
            .map_err(|_| AppError::Internal("the export writer stopped".into()))
    }

    async fn json(&self, text: String) -> AppResult<()> {
        self.send(Part::Json(text)).await
    }

    async fn html(&self, page: &Page<'_>) -> AppResult<()> {
        let text = PagePiece { piece: page }
            .render()
            .map_err(|e| AppError::internal("could not write the export's page", e))?;
        self.send(Part::Html(text)).await
    }
}

/// A JSON array written item by item.
struct Items {
    first: bool,
}

impl Items {
    fn new() -> Self {
        Self { first: true }
    }

    fn sep(&mut self) -> &'static str {
        let sep = if self.first { "" } else { "," };
        self.first = false;
        sep
    }

    fn next(&mut self, value: &serde_json::Value) -> String {
        format!("{}{value}", self.sep())
    }
}

impl App {
    /// X5: the client and its contacts, for the Data tab (admins).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn client_data(
        &self,
        actor: &Staff,
        client: ClientId,
    ) -> AppResult<(Client, Vec<Contact>)> {
        admin(actor)?;
        let client = self.store.get_client(actor.practice_id, client).await?;
        let contacts = self
            .store
            .client_contacts(actor.practice_id, client.id)
            .await?;
        Ok((client, contacts))
    }

    /// X5: everything Portico holds on a client, as one ZIP (see the
    /// module's note); recorded once written.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn export_client(
        &self,
        actor: &Staff,
        client: ClientId,
        time: &Viewer,
        origin: &ClientInfo,
    ) -> AppResult<(Client, std::fs::File)> {
        admin(actor)?;
        let p = actor.practice_id;
        let client = self.store.get_client(p, client).await?;
        let practice = self.store.get_practice(p).await?;
        let contacts = self.store.client_contacts(p, client.id).await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Part>(4);
        let writer = tokio::task::spawn_blocking(move || write_zip(rx));
        let parts = Parts { tx };
        let written = self
            .write_client_export(&parts, &practice.name, &client, &contacts, time)
            .await;
        drop(parts);
        let file = writer
            .await
            .map_err(|e| AppError::internal("could not write the export", e))?
            .map_err(|e| AppError::internal("could not write the export", e));
        written?;
        let file = file?;
        self.store
            .audit(
                &self
                    .audit_entry(p, actor, AuditKind::ClientExported, origin)
                    .on("client", client.id)
                    .client(Some(client.id)),
            )
            .await?;
        Ok((client, file))
    }

    async fn write_client_export(
        &self,
        parts: &Parts,
        practice_name: &str,
        client: &Client,
        contacts: &[Contact],
        time: &Viewer,
    ) -> AppResult<()> {
        let p = client.practice_id;
        let now = self.clock.now();
        parts
            .json(format!(
                "{{\"format\":\"portico-client-export\",\"version\":1,\"exported_at\":{},\"practice\":{},\"client\":{},\"contacts\":[",
                json!(time.rfc3339(now)),
                json!(practice_name),
                json!({
                    "id": client.id.to_string(),
                    "name": client.name,
                    "kind": client.kind.as_str(),
                    "created_at": time.rfc3339(client.created_at),
                }),
            ))
            .await?;
        let mut items = Items::new();
        for c in contacts {
            parts
                .json(items.next(&json!({
                    "id": c.id.to_string(),
                    "name": c.name,
                    "email": c.email,
                    "phone": c.phone,
                    "status": c.status.as_str(),
                    "time_zone": c.time_zone,
                    "activated_at": c.activated_at.map(|t| time.rfc3339(t)),
                    "last_sign_in_at": c.last_sign_in_at.map(|t| time.rfc3339(t)),
                    "created_at": time.rfc3339(c.created_at),
                })))
                .await?;
        }
        parts
            .html(&Page::Head {
                practice: practice_name,
                client,
                contacts,
                exported: time.full(now),
            })
            .await?;

        // Questions, each with its thread and files.
        parts.json("],\"questions\":[".into()).await?;
        parts.html(&Page::Section { title: "Questions" }).await?;
        let questions = self
            .store
            .list_questions(
                p,
                &crate::store::QuestionFilter {
                    client: Some(client.id),
                    ..Default::default()
                },
            )
            .await?;
        let mut items = Items::new();
        for q in &questions {
            let q = &q.question;
            let entries = self.store.question_entries(p, q.id).await?;
            let mut json_entries = Vec::with_capacity(entries.len());
            let mut html_entries = Vec::with_capacity(entries.len());
            for e in &entries {
                let files: Vec<(String, String)> = e
                    .files
                    .iter()
                    .map(|f| (archive_path(f), f.name.clone()))
                    .collect();
                json_entries.push(json!({
                    "at": time.rfc3339(e.created_at),
                    "author": e.author_name,
                    "kind": e.kind.as_str(),
                    "text": e.body,
                    "files": files.iter().map(|(path, name)| json!({"name": name, "path": path})).collect::<Vec<_>>(),
                }));
                html_entries.push((
                    time.full(e.created_at),
                    e.author_name.clone(),
                    e.body.clone(),
                    files,
                ));
            }
            parts
                .json(items.next(&json!({
                    "id": q.id.to_string(),
                    "title": q.title,
                    "details": q.details,
                    "status": q.status.as_str(),
                    "asked_at": time.rfc3339(q.asked_at),
                    "entries": json_entries,
                })))
                .await?;
            parts
                .html(&Page::Question {
                    title: &q.title,
                    details: &q.details,
                    status: q.status.as_str(),
                    asked: time.full(q.asked_at),
                    entries: html_entries,
                })
                .await?;
            for e in &entries {
                for f in &e.files {
                    self.copy_file(parts, f).await?;
                }
            }
        }

        // Chats about the client, message by message.
        parts.json("],\"chats\":[".into()).await?;
        parts.html(&Page::Section { title: "Chats" }).await?;
        let mut chats = Items::new();
        for chat in self.store.client_chats(p, client.id).await? {
            parts
                .json(format!(
                    "{}{{\"id\":{},\"title\":{},\"messages\":[",
                    chats.sep(),
                    json!(chat.id.to_string()),
                    json!(chat.title)
                ))
                .await?;
            parts.html(&Page::Chat { title: &chat.title }).await?;
            let mut messages = Items::new();
            let mut after = 0;
            loop {
                let batch = self.store.messages_from(p, chat.id, after, 500).await?;
                let Some(last) = batch.last() else { break };
                let files = self
                    .store
                    .chat_files(p, chat.id, batch[0].seq, last.seq)
                    .await?;
                after = last.seq;
                let mut lines = Vec::with_capacity(batch.len());
                for m in &batch {
                    let mine: Vec<&FileMeta> = files
                        .iter()
                        .filter(|f| f.message_seq == Some(m.seq))
                        .collect();
                    let text = if m.deleted { "" } else { m.body.as_str() };
                    parts
                        .json(messages.next(&json!({
                            "number": m.seq,
                            "at": time.rfc3339(m.created_at),
                            "sender": m.sender_name,
                            "text": text,
                            "deleted": m.deleted,
                            "files": mine.iter().map(|f| json!({"name": f.name, "path": archive_path(f)})).collect::<Vec<_>>(),
                        })))
                        .await?;
                    lines.push((
                        time.full(m.created_at),
                        m.sender_name.clone(),
                        if m.deleted {
                            "(message deleted)".to_owned()
                        } else {
                            m.body.clone()
                        },
                        mine.iter()
                            .map(|f| (archive_path(f), f.name.clone()))
                            .collect(),
                    ));
                }
                parts.html(&Page::Messages { lines }).await?;
                for f in &files {
                    self.copy_file(parts, f).await?;
                }
            }
            parts.json("]}".into()).await?;
        }

        // The audit entries about the client, and those of its contacts.
        parts.json("],\"audit\":[".into()).await?;
        parts.html(&Page::Section { title: "Audit log" }).await?;
        let mut items = Items::new();
        let mut filters = vec![AuditFilter {
            client: Some(client.id),
            ..Default::default()
        }];
        filters.extend(contacts.iter().map(|c| AuditFilter {
            person: Some(("contact".into(), c.id.to_string())),
            ..Default::default()
        }));
        for filter in &filters {
            let mut before = None;
            loop {
                let page: Vec<AuditEntry> =
                    self.store.audit_entries(p, filter, before, 500).await?;
                let Some(last) = page.last() else { break };
                before = Some(last.seq);
                let mut rows = Vec::with_capacity(page.len());
                for e in &page {
                    parts
                        .json(items.next(&json!({
                            "number": e.seq,
                            "at": time.rfc3339(e.at),
                            "who": e.actor_name,
                            "what": e.action,
                            "record": e.subject,
                            "detail": e.detail,
                            "ip": e.ip,
                            "request_id": e.request_id,
                        })))
                        .await?;
                    rows.push((
                        time.full(e.at),
                        e.actor_name.clone(),
                        e.action.clone(),
                        e.detail.clone(),
                    ));
                }
                parts.html(&Page::Audit { entries: rows }).await?;
            }
        }
        parts.json("]}".into()).await?;
        parts.html(&Page::Tail).await
    }

    /// Copies a stored file into the archive, chunk by chunk.
    async fn copy_file(&self, parts: &Parts, file: &FileMeta) -> AppResult<()> {
        let mut stream = self.files.open(&file.storage_key).await?;
        parts.send(Part::File(archive_path(file))).await?;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| AppError::internal("could not read a file to export", e))?;
            parts.send(Part::Chunk(chunk)).await?;
        }
        Ok(())
    }

    /// X5: erases a client after its name was typed (see
    /// [`crate::store::StoreTx::erase_client`]); recorded in the same
    /// transaction.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn erase_client(
        &self,
        actor: &Staff,
        client: ClientId,
        typed: &str,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        let p = actor.practice_id;
        let client = self.store.get_client(p, client).await?;
        if !confirmed(typed, &client.name) {
            return Err(AppError::Invalid(
                ValidationError::new(format!(
                    "Type the client's name, {}, to confirm.",
                    client.name
                ))
                .at("confirm"),
            ));
        }
        let entry = self
            .audit_entry(p, actor, AuditKind::ClientErased, origin)
            .on("client", client.id)
            .client(Some(client.id));
        let mut tx = self.store.begin().await?;
        let ended = tx.erase_client(p, client.id, entry.at).await?;
        self.erased(tx, ended, &entry).await
    }

    /// X5: erases a contact of a client after her name was typed.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client, contact = %contact
    ))]
    pub async fn erase_contact(
        &self,
        actor: &Staff,
        client: ClientId,
        contact: ContactId,
        typed: &str,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        let p = actor.practice_id;
        let (client, contacts) = self.client_data(actor, client).await?;
        let contact = contacts
            .into_iter()
            .find(|c| c.id == contact)
            .ok_or(AppError::NotFound)?;
        if !confirmed(typed, &contact.name) {
            return Err(AppError::Invalid(
                ValidationError::new(format!(
                    "Type the contact's name, {}, to confirm.",
                    contact.name
                ))
                .at("confirm"),
            ));
        }
        let entry = self
            .audit_entry(p, actor, AuditKind::ContactErased, origin)
            .on("contact", contact.id)
            .client(Some(client.id));
        let mut tx = self.store.begin().await?;
        let ended = tx.erase_contact(p, contact.id, entry.at).await?;
        self.erased(tx, ended, &entry).await
    }

    /// The erasure's entry commits with it; then the sessions' sockets
    /// close (as at sign-out, on every instance) and the file sweeper
    /// removes the bytes.
    async fn erased(
        &self,
        mut tx: crate::store::StoreTx,
        ended: Vec<String>,
        entry: &crate::store::NewAudit,
    ) -> AppResult<()> {
        tx.audit(entry).await?;
        tx.commit().await?;
        self.live.end_sessions(ended);
        self.file_sweep_wake.notify_one();
        Ok(())
    }
}

/// The blocking side: writes the archive into a temporary file and returns
/// an open handle on it (already unlinked).
fn write_zip(mut parts: tokio::sync::mpsc::Receiver<Part>) -> Result<std::fs::File, String> {
    use zip::write::SimpleFileOptions;
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let file = tempfile::NamedTempFile::new().map_err(|e| text(&e))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(
        file.reopen().map_err(|e| text(&e))?,
    ));
    let mut json = std::io::BufWriter::new(tempfile::tempfile().map_err(|e| text(&e))?);
    let mut html = std::io::BufWriter::new(tempfile::tempfile().map_err(|e| text(&e))?);
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut started = std::collections::HashSet::new();
    let mut skipping = false;
    while let Some(part) = parts.blocking_recv() {
        match part {
            Part::Json(t) => json.write_all(t.as_bytes()).map_err(|e| text(&e))?,
            Part::Html(t) => html.write_all(t.as_bytes()).map_err(|e| text(&e))?,
            Part::File(path) => {
                // A file appears once however often it is named.
                skipping = !started.insert(path.clone());
                if !skipping {
                    zip.start_file(path, stored).map_err(|e| text(&e))?;
                }
            }
            Part::Chunk(bytes) => {
                if !skipping {
                    zip.write_all(&bytes).map_err(|e| text(&e))?;
                }
            }
        }
    }
    for (name, part) in [("data.json", json), ("index.html", html)] {
        let mut part = part.into_inner().map_err(|e| text(&e))?;
        part.rewind().map_err(|e| text(&e))?;
        zip.start_file(name, deflated).map_err(|e| text(&e))?;
        std::io::copy(&mut part, &mut zip).map_err(|e| text(&e))?;
    }
    zip.finish()
        .map_err(|e| text(&e))?
        .flush()
        .map_err(|e| text(&e))?;
    let handle = file.reopen().map_err(|e| text(&e))?;
    drop(file);
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Millis;

    #[test]
    fn the_confirmation_is_the_name_case_aside() {
        assert!(confirmed(" northwind bakery ", "Northwind Bakery"));
        assert!(!confirmed("Northwind", "Northwind Bakery"));
        assert!(!confirmed("", ""));
    }

    #[test]
    fn archive_paths_are_safe() {
        let file = FileMeta {
            id: crate::domain::FileId::new(),
            practice_id: crate::domain::PracticeId::new(),
            question_id: None,
            entry_id: None,
            chat_id: None,
            message_seq: None,
            name: "../../etc/pass wd.pdf".into(),
            content_type: "application/pdf".into(),
            size: 1,
            storage_key: "k".into(),
            created_at: Millis(0),
        };
        let path = archive_path(&file);
        assert!(path.starts_with("files/"));
        assert_eq!(path.matches('/').count(), 1, "{path}");
        assert!(path.ends_with(".._.._etc_pass wd.pdf"), "{path}");
    }
}
