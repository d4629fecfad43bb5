//! Questions for staff (Q1–Q5): a client's Questions tab (ask one or many,
//! reminders), the practice-wide list, and a question's thread.

use super::AppState;
use super::area::Staff;
use super::errors::PageError;
use super::forms::{form_refusal, refusal};
use super::ids::{IdPath, parse};
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::staff_pages::Done;
use super::threads::{Draft, ThreadPage};
use super::uploads;
use super::urls;
use crate::app::AppError;
use crate::app::questions::{Actor, QuestionInput, Thread, questions_from_text};
use crate::app::reminders::ReminderStatus;
use crate::app::scheduled::ScheduledQuestionView;
use crate::domain::{
    ClientId, ContactId, QuestionId, ValidationError, bounded_integer, time_of_day,
};
use crate::store::{
    Client, Contact, QuestionFilter, QuestionStatus, QuestionSummary, ReminderSchedule,
};
use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct StatusQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    mine: String,
    #[serde(default)]
    done: Option<String>,
    /// Rows of a bank export left out: `4-in.6-date` (line and why).
    #[serde(default)]
    skipped: String,
}

impl StatusQuery {
    /// "Skipped line 4 (money in, not a payment), line 6 (no date)."
    fn skipped(&self) -> Option<String> {
        let lines: Vec<String> = self
            .skipped
            .split('.')
            .filter_map(|item| {
                let (line, code) = item.split_once('-')?;
                let line: usize = line.parse().ok()?;
                let skip = crate::app::questions::Skip::from_code(code)?;
                Some(format!("line {line} ({})", skip.reason()))
            })
            .take(50)
            .collect();
        (!lines.is_empty()).then(|| format!("Left out of the bank export: {}.", lines.join(", ")))
    }

    fn status(&self) -> QuestionStatus {
        QuestionStatus::parse(&self.status).unwrap_or(QuestionStatus::Open)
    }

    fn notice(&self) -> Option<String> {
        Done {
            done: self.done.clone(),
        }
        .notice()
    }
}

#[derive(Default)]
struct AskForm {
    title: String,
    details: String,
    assignee: String,
    list: String,
    /// X10: empty to ask now.
    send_at: String,
    /// X7: the contact is told even in her quiet hours.
    urgent: bool,
}

#[derive(Default)]
struct AskErrors {
    title: Option<String>,
    details: Option<String>,
    assignee: Option<String>,
    send_at: Option<String>,
    list: Option<String>,
    reminders: Option<String>,
}

#[derive(Template)]
#[template(path = "client_questions.html")]
struct ClientQuestionsPage {
    layout: Layout,
    tab: &'static str,
    client: Client,
    primary: Option<Client>,
    status: &'static str,
    counts: (i64, i64, i64),
    questions: Vec<QuestionSummary>,
    show_client: bool,
    contacts: Vec<Contact>,
    form: AskForm,
    errors: AskErrors,
    schedule: ReminderSchedule,
    reminder_time: String,
    reminders: Vec<ReminderStatus>,
    /// X10: the signed-in member's own questions waiting to be asked.
    scheduled: Vec<ScheduledQuestionView>,
    notice: Option<String>,
    /// Rows of a bank export that were not made questions, and why.
    skipped: Option<String>,
}

async fn client_questions_page(
    state: &AppState,
    user: StaffUser,
    client: ClientId,
    query: &StatusQuery,
    status: StatusCode,
    form: AskForm,
    errors: AskErrors,
) -> Result<Response, PageError> {
    let page = state.app.client_page(&user.staff, client).await?;
    let wanted = query.status();
    let all = state
        .app
        .staff_questions(
            &user.staff,
            &QuestionFilter {
                client: Some(client),
                ..Default::default()
            },
        )
        .await?;
    let count = |s: QuestionStatus| {
        i64::try_from(all.iter().filter(|q| q.question.status == s).count()).unwrap_or(0)
    };
    let counts = (
        count(QuestionStatus::Open),
        count(QuestionStatus::Answered),
        count(QuestionStatus::Resolved),
    );
    let questions = all
        .into_iter()
        .filter(|q| q.question.status == wanted)
        .collect();
    let contacts = state.app.client_contacts(&user.staff, client).await?;
    let (schedule, reminders) = state.app.reminder_status(&user.staff, client).await?;
    let scheduled = state.app.scheduled_questions(&user.staff, client).await?;
    Ok(render(
        status,
        &ClientQuestionsPage {
            layout: user.layout,
            tab: "questions",
            client: page.client,
            primary: page.primary,
            status: wanted.as_str(),
            counts,
            questions,
            show_client: false,
            contacts,
            form,
            errors,
            reminder_time: format!(
                "{:02}:{:02}",
                schedule.minute_of_day / 60,
                schedule.minute_of_day % 60
            ),
            schedule,
            reminders,
            scheduled,
            notice: query.notice(),
            skipped: query.skipped(),
        },
    ))
}

/// `GET /app/clients/{id}/questions`
pub async fn client_questions_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Query(query): Query<StatusQuery>,
) -> Result<Response, PageError> {
    client_questions_page(
        &state,
        user,
        id,
        &query,
        StatusCode::OK,
        AskForm::default(),
        AskErrors::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct AskOneForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    assignee: String,
    /// X10: a date and time to ask it later; empty to ask now.
    #[serde(default)]
    send_at: String,
    urgent: Option<String>,
}

/// `POST /app/clients/{id}/questions`: ask one question, now or later (X10).
pub async fn ask_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(client): IdPath<ClientId>,
    Form(form): Form<AskOneForm>,
) -> Result<Response, PageError> {
    let assignee = match form.assignee.trim() {
        "" => None,
        text => Some(parse::<ContactId>(text)?),
    };
    let input = QuestionInput {
        title: form.title.clone(),
        details: form.details.clone(),
        assignee,
        urgent: form.urgent.is_some(),
    };
    let later = !form.send_at.trim().is_empty();
    let result = if later {
        state
            .app
            .schedule_question(&user.staff, client, &input, &form.send_at)
            .await
            .map(|_| "scheduled")
    } else {
        state
            .app
            .ask_questions(&user.staff, client, &[input])
            .await
            .map(|_| "asked")
    };
    match result {
        Ok(done) => Ok(Redirect::to(&urls::client_questions_done(client, done)).into_response()),
        Err(error) => {
            let refusal = refusal(error)?;
            let status = refusal.status;
            // Every field's refusal by its field; one about the form as a
            // whole shows under the title, the first field.
            let errors = AskErrors {
                title: refusal.for_field("title").or_else(|| {
                    (!refusal.about_any(&["details", "assignee", "send_at"]))
                        .then(|| refusal.message.clone())
                }),
                details: refusal.for_field("details"),
                assignee: refusal.for_field("assignee"),
                send_at: refusal.for_field("send_at"),
                ..AskErrors::default()
            };
            let kept = AskForm {
                title: form.title,
                details: form.details,
                assignee: form.assignee,
                list: String::new(),
                send_at: form.send_at,
                urgent: form.urgent.is_some(),
            };
            client_questions_page(
                &state,
                user,
                client,
                &StatusQuery::default(),
                status,
                kept,
                errors,
            )
            .await
        }
    }
}

/// `POST /app/clients/{id}/questions/many`: a pasted list or a CSV file.
pub async fn ask_many_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(client): IdPath<ClientId>,
    form: Multipart,
) -> Result<Response, PageError> {
    let practice = user.staff.practice_id;
    let upload = match uploads::read_or_refusal(&state.app, practice, form, &[], &["csv"]).await? {
        Ok(upload) => upload,
        Err((status, message)) => {
            let errors = AskErrors {
                list: Some(message),
                ..Default::default()
            };
            return client_questions_page(
                &state,
                user,
                client,
                &StatusQuery::default(),
                status,
                AskForm::default(),
                errors,
            )
            .await;
        }
    };
    let text = match upload
        .small_files
        .get("csv")
        .filter(|t| !t.trim().is_empty())
    {
        Some(csv) => csv.clone(),
        None => upload.field("list").to_owned(),
    };
    let result = match questions_from_text(&text) {
        Ok(read) => {
            let inputs: Vec<QuestionInput> = read
                .titles
                .into_iter()
                .map(|title| QuestionInput {
                    title,
                    ..Default::default()
                })
                .collect();
            state
                .app
                .ask_questions(&user.staff, client, &inputs)
                .await
                .map(|asked| (asked, read.skipped))
        }
        Err(error) => Err(error),
    };
    match result {
        Ok((asked, skipped)) => {
            // The rows of a bank export that were not payments, said on the page.
            let skipped: Vec<String> = skipped
                .iter()
                .map(|(line, skip)| format!("{line}-{}", skip.code()))
                .collect();
            let skipped = if skipped.is_empty() {
                String::new()
            } else {
                format!("&skipped={}", skipped.join("."))
            };
            let done = if asked.len() == 1 {
                "asked"
            } else {
                "asked-many"
            };
            Ok(Redirect::to(&urls::client_questions_done(
                client,
                &format!("{done}{skipped}"),
            ))
            .into_response())
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let kept = AskForm {
                list: upload.field("list").to_owned(),
                ..Default::default()
            };
            let errors = AskErrors {
                list: Some(message),
                ..Default::default()
            };
            client_questions_page(
                &state,
                user,
                client,
                &StatusQuery::default(),
                status,
                kept,
                errors,
            )
            .await
        }
    }
}

/// The reminder settings as typed: each number is read as a bounded
/// integer here, so a crafted value is refused, never wrapped.
#[derive(Deserialize)]
pub struct ReminderForm {
    #[serde(default)]
    every_days: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    max: String,
    #[serde(default)]
    sms_from: String,
}

impl ReminderForm {
    fn schedule(&self) -> Result<ReminderSchedule, ValidationError> {
        Ok(ReminderSchedule {
            every_days: bounded_integer(
                &self.every_days,
                0..=365,
                "Remind every 1 to 365 days (or turn reminders off).",
            )?,
            minute_of_day: time_of_day(&self.at)?,
            max: bounded_integer(&self.max, 1..=20, "Send between 1 and 20 reminders.")?,
            sms_from_step: bounded_integer(
                &self.sms_from,
                1..=21,
                "Text messages start from a reminder between 1 and 21 (21: never).",
            )?,
        })
    }
}

/// `POST /app/clients/{id}/reminders`
pub async fn reminders_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(client): IdPath<ClientId>,
    Form(form): Form<ReminderForm>,
) -> Result<Response, PageError> {
    let saved = match form.schedule() {
        Ok(schedule) => {
            state
                .app
                .set_reminder_schedule(&user.staff, client, schedule)
                .await
        }
        Err(invalid) => Err(AppError::Invalid(invalid)),
    };
    match saved {
        Ok(()) => Ok(
            Redirect::to(&urls::client_questions_done(client, "saved#reminders")).into_response(),
        ),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let errors = AskErrors {
                reminders: Some(message),
                ..Default::default()
            };
            client_questions_page(
                &state,
                user,
                client,
                &StatusQuery::default(),
                status,
                AskForm::default(),
                errors,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "questions.html")]
struct QuestionsPage {
    layout: Layout,
    status: &'static str,
    mine: bool,
    questions: Vec<QuestionSummary>,
    show_client: bool,
}

/// `GET /app/questions`: every client's questions in one state (Q2).
pub async fn questions_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(query): Query<StatusQuery>,
) -> Result<Response, PageError> {
    let status = query.status();
    let mine = !query.mine.is_empty();
    let questions = state
        .app
        .staff_questions(
            &user.staff,
            &QuestionFilter {
                client: None,
                status: Some(status),
                assigned_to: mine.then_some(user.staff.id),
            },
        )
        .await?;
    Ok(render(
        StatusCode::OK,
        &QuestionsPage {
            layout: user.layout,
            status: status.as_str(),
            mine,
            questions,
            show_client: true,
        },
    ))
}

#[derive(Template)]
#[template(path = "question.html")]
struct QuestionPage {
    layout: Layout,
    thread: Thread,
    /// The follow-up as typed, and what was just done or refused.
    draft: Draft,
    /// Q4: the reassign form as typed, and why it was refused.
    reassign: ReassignKept,
}

#[derive(Default)]
struct ReassignKept {
    to: String,
    follow_up: String,
    error: Option<String>,
}

impl ThreadPage for Staff {
    const REPLIED: &'static str = "followed-up";

    fn render(user: StaffUser, thread: Thread, draft: Draft) -> Response {
        question_page(user, thread, draft, ReassignKept::default())
    }
}

fn question_page(
    user: StaffUser,
    thread: Thread,
    draft: Draft,
    reassign: ReassignKept,
) -> Response {
    let status = draft.status;
    let page = QuestionPage {
        layout: user.layout,
        thread,
        draft,
        reassign,
    };
    render(status, &page)
}

/// `POST /app/questions/{id}/resolve`
pub async fn resolve_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<QuestionId>,
) -> Result<Response, PageError> {
    state
        .app
        .set_question_resolved(&user.staff, id, true)
        .await?;
    Ok(Redirect::to(&urls::question_done::<Staff>(id, "resolved")).into_response())
}

/// `POST /app/questions/{id}/reopen`
pub async fn reopen_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<QuestionId>,
) -> Result<Response, PageError> {
    state
        .app
        .set_question_resolved(&user.staff, id, false)
        .await?;
    Ok(Redirect::to(&urls::question_done::<Staff>(id, "reopened")).into_response())
}

#[derive(Deserialize)]
pub struct ReassignForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    follow_up: String,
}

/// `POST /app/questions/{id}/reassign` (Q4): to one contact, or back to
/// every contact (`to=everyone`).
pub async fn reassign_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<QuestionId>,
    Form(form): Form<ReassignForm>,
) -> Result<Response, PageError> {
    let outcome = match form.to.trim() {
        "" => Err(AppError::Invalid(
            ValidationError::new("Choose who the question moves to.").at("to"),
        )),
        "everyone" => Ok(None),
        text => text.parse::<ContactId>().map(Some).map_err(|_| {
            AppError::Invalid(
                ValidationError::new("Choose a contact who can open this client.").at("to"),
            )
        }),
    };
    let outcome = match outcome {
        Ok(to) => {
            state
                .app
                .reassign_question(&user.staff, id, to, &form.follow_up)
                .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&urls::question_done::<Staff>(id, "reassigned")).into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let (status, message) = form_refusal(error)?;
            let kept = ReassignKept {
                to: form.to,
                follow_up: form.follow_up,
                error: Some(message),
            };
            let thread = state.app.thread(Actor::Staff(&user.staff), id).await?;
            let draft = Draft::new(&state, status, String::new(), None, None);
            Ok(question_page(user, thread, draft, kept))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "question_scheduled_edit.html")]
struct ScheduledQuestionPage {
    layout: Layout,
    id: uuid::Uuid,
    client: ClientId,
    contacts: Vec<Contact>,
    assignable: bool,
    form: AskForm,
    error: Option<String>,
}

async fn scheduled_question_page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    view: ScheduledQuestionView,
    form: Option<AskForm>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let item = view.item;
    let page = state.app.client_page(&user.staff, item.client_id).await?;
    let contacts = state
        .app
        .client_contacts(&user.staff, item.client_id)
        .await?;
    let form = form.unwrap_or(AskForm {
        title: item.title,
        details: item.details,
        assignee: item.assignee.map(|c| c.to_string()).unwrap_or_default(),
        list: String::new(),
        send_at: view.input,
        urgent: item.urgent,
    });
    Ok(render(
        status,
        &ScheduledQuestionPage {
            layout: user.layout,
            id: item.id,
            client: item.client_id,
            contacts,
            assignable: page.client.assignable_questions,
            form,
            error,
        },
    ))
}

/// `GET /app/questions/scheduled/{id}` (X10: its author only)
pub async fn scheduled_question_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    let view = state.app.scheduled_question(&user.staff, id).await?;
    scheduled_question_page(&state, user, StatusCode::OK, view, None, None).await
}

/// `POST /app/questions/scheduled/{id}`: change it before it is asked.
pub async fn scheduled_question_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
    Form(form): Form<AskOneForm>,
) -> Result<Response, PageError> {
    let assignee = match form.assignee.trim() {
        "" => None,
        text => Some(parse::<ContactId>(text)?),
    };
    let input = QuestionInput {
        title: form.title.clone(),
        details: form.details.clone(),
        assignee,
        urgent: form.urgent.is_some(),
    };
    match state
        .app
        .edit_scheduled_question(&user.staff, id, &input, &form.send_at)
        .await
    {
        Ok(client) => Ok(
            Redirect::to(&urls::client_questions_done(client, "saved#scheduled")).into_response(),
        ),
        Err(error) => {
            let view = state.app.scheduled_question(&user.staff, id).await?;
            let (status, message) = form_refusal(error)?;
            let kept = AskForm {
                title: form.title,
                details: form.details,
                assignee: form.assignee,
                list: String::new(),
                send_at: form.send_at,
                urgent: form.urgent.is_some(),
            };
            scheduled_question_page(&state, user, status, view, Some(kept), Some(message)).await
        }
    }
}

/// `POST /app/questions/scheduled/{id}/cancel`
pub async fn scheduled_question_cancel_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    match state.app.cancel_scheduled_question(&user.staff, id).await {
        Ok(client) => Ok(Redirect::to(&urls::client_questions_done(
            client,
            "scheduled-cancelled#scheduled",
        ))
        .into_response()),
        Err(AppError::Conflict { message, .. }) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}
