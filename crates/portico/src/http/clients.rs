//! `/app/clients`: the clients list and a client's page with its tabs —
//! Overview (P2, P5), Contacts (P3, P4) and Send to (P8).

use super::AppState;
use super::area;
use super::errors::PageError;
use super::forms::{form_refusal, refusal};
use super::ids::{IdPath, parse};
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::staff_pages::Done;
use super::urls;
use crate::app::AppError;
use crate::app::people::{AddContact, ClientPage, SendChannel, SendOutcome, SendProblems};
use crate::app::sessions::ClientInfo;
use crate::domain::{ClientId, ContactId, StaffId};
use crate::store::{Client, ClientFilter, ClientSummary, Contact, Staff};
use askama::Template;
use axum::Form;
use axum::extract::{Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    assigned: String,
}

impl ClientsPage {
    /// Unread messages in this staff user's chats about a client: "3",
    /// or "1000+" when a chat has more unread than it counts.
    fn unread_of(&self, row: &ClientSummary) -> String {
        let (n, more) = self.unread.get(&row.client.id).copied().unwrap_or_default();
        crate::domain::words::unread_badge(n, more)
    }

    /// Q2: how many of a client's questions are in a state.
    fn count(&self, row: &ClientSummary, status: &str) -> i64 {
        crate::store::QuestionStatus::parse(status)
            .and_then(|s| self.counts.get(&row.client.id)?.get(&s).copied())
            .unwrap_or(0)
    }
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage {
    layout: Layout,
    clients: Vec<ClientSummary>,
    counts: std::collections::HashMap<
        ClientId,
        std::collections::HashMap<crate::store::QuestionStatus, i64>,
    >,
    unread: std::collections::HashMap<ClientId, (i64, bool)>,
    team: Vec<Staff>,
    me: StaffId,
    q: String,
    assigned: String,
    new_name: String,
    new_kind: String,
    errors: NewClientErrors,
}

/// Why a new client was refused, by field.
#[derive(Default)]
struct NewClientErrors {
    name: Option<String>,
    kind: Option<String>,
}

async fn clients_page(
    state: &AppState,
    user: StaffUser,
    query: ListQuery,
    status: StatusCode,
    new_name: String,
    new_kind: String,
    errors: NewClientErrors,
) -> Result<Response, PageError> {
    let filter = ClientFilter {
        search: Some(query.q.clone()),
        assigned_to: query.assigned.parse().ok(),
    };
    let clients = state.app.list_clients(&user.staff, &filter).await?;
    let team = state.app.staff_directory(&user.staff).await?;
    let counts = state.app.question_counts(&user.staff).await?;
    let mut unread = std::collections::HashMap::new();
    for chat in state
        .app
        .chats_for(crate::app::questions::Actor::Staff(&user.staff))
        .await?
    {
        if let Some(client) = chat.chat.client_id {
            let (n, more) = unread.entry(client).or_insert((0, false));
            *n += chat.unread;
            *more |= chat.unread_more;
        }
    }
    Ok(render(
        status,
        &ClientsPage {
            counts,
            unread,
            me: user.staff.id,
            layout: user.layout,
            clients,
            team,
            q: query.q,
            assigned: query.assigned,
            new_name,
            new_kind,
            errors,
        },
    ))
}

/// `GET /app/clients`
pub async fn clients_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    clients_page(
        &state,
        user,
        query,
        StatusCode::OK,
        String::new(),
        "business".into(),
        NewClientErrors::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct NewClientForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

/// `POST /app/clients`
pub async fn clients_post(
    State(state): State<AppState>,
    user: StaffUser,
    Form(form): Form<NewClientForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .create_client(&user.staff, &form.name, &form.kind)
        .await
    {
        Ok(client) => Ok(Redirect::to(&urls::client_contacts(client.id)).into_response()),
        Err(error) => {
            let refusal = refusal(error)?;
            let errors = NewClientErrors {
                name: refusal
                    .for_field("name")
                    .or_else(|| (!refusal.about_any(&["kind"])).then(|| refusal.message.clone())),
                kind: refusal.for_field("kind"),
            };
            clients_page(
                &state,
                user,
                ListQuery::default(),
                refusal.status,
                form.name,
                form.kind,
                errors,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "client_overview.html")]
struct OverviewPage {
    layout: Layout,
    tab: &'static str,
    client: Client,
    primary: Option<Client>,
    members: Vec<Client>,
    assigned: Vec<Staff>,
    team: Vec<Staff>,
    possible_primaries: Vec<Client>,
    /// The id of the family's primary record, or empty.
    current_primary: String,
    name_value: String,
    name_error: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    /// S3: the client's own setting, and whether its contacts may start chats.
    chats_own: Option<bool>,
    chats_allowed: bool,
}

fn overview(
    layout: Layout,
    page: ClientPage,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    name: Option<(String, String)>,
) -> Response {
    let (name_value, name_error) = match name {
        Some((value, error)) => (value, Some(error)),
        None => (page.client.name.clone(), None),
    };
    render(
        status,
        &OverviewPage {
            layout,
            tab: "overview",
            current_primary: page
                .client
                .primary_client_id
                .map(|p| p.to_string())
                .unwrap_or_default(),
            client: page.client,
            primary: page.primary,
            members: page.members,
            assigned: page.assigned,
            team: page.team,
            possible_primaries: page.possible_primaries,
            chats_own: page.client_chats.0,
            chats_allowed: page.client_chats.1,
            name_value,
            name_error,
            notice,
            error,
        },
    )
}

/// `GET /app/clients/{id}`
pub async fn client_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let page = state.app.client_page(&user.staff, id).await?;
    Ok(overview(
        user.layout,
        page,
        StatusCode::OK,
        done.notice(),
        None,
        None,
    ))
}

#[derive(Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    name: String,
    assignable: Option<String>,
}

/// `POST /app/clients/{id}`: name and settings.
pub async fn client_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Form(form): Form<ClientForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .update_client(&user.staff, id, &form.name, form.assignable.is_some())
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::client_done::<area::Staff>(id, "saved")).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let page = state.app.client_page(&user.staff, id).await?;
            Ok(overview(
                user.layout,
                page,
                status,
                None,
                None,
                Some((form.name, message)),
            ))
        }
    }
}

#[derive(Deserialize)]
pub struct StaffForm {
    staff: String,
}

/// `POST /app/clients/{id}/staff`
pub async fn assign_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Form(form): Form<StaffForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .assign_staff(&user.staff, id, parse(&form.staff)?)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::client_done::<area::Staff>(id, "saved")).into_response()),
        Err(error) => {
            let refusal = refusal(error)?;
            let page = state.app.client_page(&user.staff, id).await?;
            Ok(overview(
                user.layout,
                page,
                refusal.status,
                None,
                Some(refusal.message),
                None,
            ))
        }
    }
}

/// `POST /app/clients/{id}/staff/{staff}/remove`
pub async fn unassign_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath((id, staff)): IdPath<(ClientId, StaffId)>,
) -> Result<Response, PageError> {
    state.app.unassign_staff(&user.staff, id, staff).await?;
    Ok(Redirect::to(&urls::client_done::<area::Staff>(id, "saved")).into_response())
}

#[derive(Deserialize)]
pub struct FamilyForm {
    #[serde(default)]
    primary: String,
}

/// `POST /app/clients/{id}/family`
pub async fn family_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Form(form): Form<FamilyForm>,
) -> Result<Response, PageError> {
    let primary = match form.primary.trim() {
        "" => None,
        text => Some(parse(text)?),
    };
    match state.app.set_family(&user.staff, id, primary).await {
        Ok(()) => Ok(Redirect::to(&urls::client_done::<area::Staff>(id, "saved")).into_response()),
        Err(AppError::Conflict { message, .. }) => {
            let page = state.app.client_page(&user.staff, id).await?;
            Ok(overview(
                user.layout,
                page,
                StatusCode::CONFLICT,
                None,
                Some(message),
                None,
            ))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct ContactForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

#[derive(Default)]
struct ContactErrors {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Template)]
#[template(path = "client_contacts.html")]
struct ContactsPage {
    layout: Layout,
    tab: &'static str,
    client: Client,
    primary: Option<Client>,
    contacts: Vec<Contact>,
    existing: Option<Contact>,
    existing_has_access: bool,
    form: ContactForm,
    errors: ContactErrors,
    notice: Option<String>,
    /// A4: each contact's latest invitation.
    invitations: Vec<crate::store::InvitationSent>,
}

impl ContactsPage {
    fn invitation_of(&self, contact: &Contact) -> Option<&crate::store::InvitationSent> {
        self.invitations.iter().find(|i| i.contact_id == contact.id)
    }

    fn expired(&self, invitation: &crate::store::InvitationSent) -> bool {
        invitation.expires_at <= self.layout.time.now()
    }
}

struct ContactsState {
    status: StatusCode,
    existing: Option<(Contact, bool)>,
    form: ContactForm,
    errors: ContactErrors,
    notice: Option<String>,
}

async fn contacts_tab(
    state: &AppState,
    user: StaffUser,
    id: ClientId,
    view: ContactsState,
) -> Result<Response, PageError> {
    let page = state.app.client_page(&user.staff, id).await?;
    let contacts = state.app.client_contacts(&user.staff, id).await?;
    let invitations = state.app.invitations_sent(&user.staff).await?;
    let (existing, existing_has_access) = match view.existing {
        Some((contact, has_access)) => (Some(contact), has_access),
        None => (None, false),
    };
    Ok(render(
        view.status,
        &ContactsPage {
            layout: user.layout,
            tab: "contacts",
            client: page.client,
            primary: page.primary,
            contacts,
            existing,
            existing_has_access,
            form: view.form,
            errors: view.errors,
            notice: view.notice,
            invitations,
        },
    ))
}

/// `GET /app/clients/{id}/contacts`
pub async fn contacts_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let view = ContactsState {
        status: StatusCode::OK,
        existing: None,
        form: ContactForm::default(),
        errors: ContactErrors::default(),
        notice: done.notice(),
    };
    contacts_tab(&state, user, id, view).await
}

/// `POST /app/clients/{id}/contacts`: "Add contact".
pub async fn contacts_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<ClientId>,
    Form(form): Form<ContactForm>,
) -> Result<Response, PageError> {
    let outcome = state
        .app
        .add_contact_to_client(
            &user.staff,
            id,
            &form.name,
            &form.email,
            &form.phone,
            &origin,
        )
        .await;
    let mut view = ContactsState {
        status: StatusCode::OK,
        existing: None,
        form: ContactForm::default(),
        errors: ContactErrors::default(),
        notice: None,
    };
    match outcome {
        Ok(AddContact::Created(_)) => {
            return Ok(
                Redirect::to(&urls::client_contacts_done(id, "contact-added")).into_response(),
            );
        }
        Ok(AddContact::Existing {
            contact,
            has_access,
        }) => {
            view.status = StatusCode::CONFLICT;
            view.existing = Some((contact, has_access));
        }
        Err(error) => {
            let refusal = refusal(error)?;
            view.status = refusal.status;
            // Every field's refusal by its field; one about the form as a
            // whole shows under the name, the first field.
            view.errors = ContactErrors {
                name: refusal.for_field("name").or_else(|| {
                    (!refusal.about_any(&["email", "phone"])).then(|| refusal.message.clone())
                }),
                email: refusal.for_field("email"),
                phone: refusal.for_field("phone"),
            };
            view.form = form;
        }
    }
    contacts_tab(&state, user, id, view).await
}

/// `POST /app/clients/{id}/contacts/{contact}/grant` (admins)
pub async fn grant_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath((id, contact)): IdPath<(ClientId, ContactId)>,
) -> Result<Response, PageError> {
    state
        .app
        .grant_access(&user.staff, contact, id, &origin)
        .await?;
    Ok(Redirect::to(&urls::client_contacts_done(id, "access-given")).into_response())
}

/// `POST /app/clients/{id}/contacts/{contact}/remove` (admins)
pub async fn revoke_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath((id, contact)): IdPath<(ClientId, ContactId)>,
) -> Result<Response, PageError> {
    state
        .app
        .revoke_access(&user.staff, contact, id, &origin)
        .await?;
    Ok(Redirect::to(&urls::client_contacts_done(id, "access-removed")).into_response())
}

#[derive(Template)]
#[template(path = "client_send.html")]
struct SendPage {
    layout: Layout,
    tab: &'static str,
    client: Client,
    primary: Option<Client>,
    contacts: Vec<Contact>,
    chosen: Vec<String>,
    channel: String,
    subject: String,
    message: String,
    problems: SendProblems,
    notice: Option<String>,
}

struct SendState {
    status: StatusCode,
    chosen: Vec<String>,
    channel: String,
    subject: String,
    message: String,
    problems: SendProblems,
    notice: Option<String>,
}

async fn send_tab(
    state: &AppState,
    user: StaffUser,
    id: ClientId,
    view: SendState,
) -> Result<Response, PageError> {
    let page = state.app.client_page(&user.staff, id).await?;
    let contacts = state.app.client_contacts(&user.staff, id).await?;
    Ok(render(
        view.status,
        &SendPage {
            layout: user.layout,
            tab: "send",
            client: page.client,
            primary: page.primary,
            contacts,
            chosen: view.chosen,
            channel: view.channel,
            subject: view.subject,
            message: view.message,
            problems: view.problems,
            notice: view.notice,
        },
    ))
}

/// `GET /app/clients/{id}/send`
pub async fn send_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let view = SendState {
        status: StatusCode::OK,
        chosen: Vec::new(),
        channel: "email".into(),
        subject: String::new(),
        message: String::new(),
        problems: SendProblems::default(),
        notice: done.notice(),
    };
    send_tab(&state, user, id, view).await
}

/// `POST /app/clients/{id}/send`: the form repeats `to` once per contact.
pub async fn send_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let mut chosen = Vec::new();
    let (mut channel, mut subject, mut message) =
        (String::from("email"), String::new(), String::new());
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "to" => chosen.push(value.into_owned()),
            "channel" => channel = value.into_owned(),
            "subject" => subject = value.into_owned(),
            "message" => message = value.into_owned(),
            _ => {}
        }
    }
    let recipients: Vec<ContactId> = chosen.iter().filter_map(|c| c.parse().ok()).collect();
    let how = if channel == "sms" {
        SendChannel::Sms
    } else {
        SendChannel::Email
    };
    match state
        .app
        .send_to_contacts(&user.staff, id, &recipients, how, &subject, &message)
        .await
    {
        Ok(_) => Ok(Redirect::to(&urls::client_send_done(id, "sent")).into_response()),
        Err(SendOutcome::Problems(problems)) => {
            let view = SendState {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                chosen,
                channel,
                subject,
                message,
                problems,
                notice: None,
            };
            send_tab(&state, user, id, view).await
        }
        Err(SendOutcome::Failed(error)) => Err(error.into()),
    }
}
