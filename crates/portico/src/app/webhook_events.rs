//! X3: the webhook events the use cases queue, with the ids and what
//! changed; text people wrote goes in only where the practice allows it
//! (see [`WebhookPost::with_content`]).

use crate::domain::{ContactId, EntryId, Millis, PracticeId, StaffId};
use crate::store::{Author, Client, FileMeta, NewEntry, Question, WebhookEvent, WebhookPost};

fn author_kind(author: Author) -> (&'static str, String) {
    match author {
        Author::Staff(id) => ("staff", id.to_string()),
        Author::Contact(id) => ("contact", id.to_string()),
    }
}

pub(super) fn question_asked(question: &Question, now: Millis) -> WebhookPost {
    WebhookPost::new(question.practice_id, WebhookEvent::QuestionAsked, now)
        .with("question_id", question.id.to_string())
        .with("client_id", question.client_id.to_string())
        .with("asked_by_staff_id", question.asked_by.to_string())
        .with(
            "assignee_contact_id",
            question.assignee.map(|c| c.to_string()),
        )
        .with("status", question.status.as_str())
        .with_content("title", question.title.clone())
        .with_content("details", question.details.clone())
}

pub(super) fn question_answered(
    question: &Question,
    entry_id: EntryId,
    entry: &NewEntry,
    now: Millis,
) -> WebhookPost {
    let (kind, id) = author_kind(entry.author);
    WebhookPost::new(question.practice_id, WebhookEvent::QuestionAnswered, now)
        .with("question_id", question.id.to_string())
        .with("client_id", question.client_id.to_string())
        .with("entry_id", entry_id.to_string())
        .with("answered_by_kind", kind)
        .with("answered_by_id", id)
        .with("status", "answered")
        .with_content("text", entry.body.clone())
}

pub(super) fn question_resolved(question: &Question, by: Author, now: Millis) -> WebhookPost {
    let (kind, id) = author_kind(by);
    WebhookPost::new(question.practice_id, WebhookEvent::QuestionResolved, now)
        .with("question_id", question.id.to_string())
        .with("client_id", question.client_id.to_string())
        .with("resolved_by_kind", kind)
        .with("resolved_by_id", id)
        .with("status", "resolved")
}

pub(super) fn file_uploaded(file: &FileMeta, by: Author) -> WebhookPost {
    let (kind, id) = author_kind(by);
    WebhookPost::new(
        file.practice_id,
        WebhookEvent::FileUploaded,
        file.created_at,
    )
    .with("file_id", file.id.to_string())
    .with("question_id", file.question_id.map(|q| q.to_string()))
    .with("entry_id", file.entry_id.map(|e| e.to_string()))
    .with("uploaded_by_kind", kind)
    .with("uploaded_by_id", id)
    .with("content_type", file.content_type.clone())
    .with("size", file.size)
    .with_content("name", file.name.clone())
}

pub(super) fn contact_activated(
    practice: PracticeId,
    contact: ContactId,
    now: Millis,
) -> WebhookPost {
    WebhookPost::new(practice, WebhookEvent::ContactActivated, now)
        .with("contact_id", contact.to_string())
        .with("status", "active")
}

pub(super) fn client_created(client: &Client, by: StaffId) -> WebhookPost {
    WebhookPost::new(
        client.practice_id,
        WebhookEvent::ClientCreated,
        client.created_at,
    )
    .with("client_id", client.id.to_string())
    .with("kind", client.kind.as_str())
    .with("name", client.name.clone())
    .with("created_by_staff_id", by.to_string())
}
