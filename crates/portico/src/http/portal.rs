//! The client portal's doors (A2–A4): sign-in by link or password, help,
//! invitations and sign-in links, and the portal home; reset links are in
//! [`super::password_links`].

use super::AppState;
use super::area::Portal;
use super::errors::PageError;
use super::forms::form_refusal;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::{ContactUser, MaybeIdentity, StaffUser, begin_session};
use super::sign_in::{Credentials, SignInDoor};
use super::staff_pages::Done;
use super::threads::{Draft, ThreadPage};
use super::urls;
use crate::app::AppError;
use crate::app::portal::{PortalOverview, PortalView};
use crate::app::questions::Thread;
use crate::app::sessions::{ClientInfo, Identity, Started};
use crate::domain::{ClientId, ContactId, QuestionId};
use crate::store::TokenPurpose;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "portal_sign_in.html")]
struct SignInPage {
    layout: Layout,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal_check_email.html")]
struct CheckEmailPage {
    layout: Layout,
    email: String,
}

#[derive(Template)]
#[template(path = "portal_help.html")]
struct HelpPage {
    layout: Layout,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

impl SignInDoor for Portal {
    fn signed_in_to(identity: &Identity) -> Option<&'static str> {
        identity.contact().is_some().then(urls::home::<Portal>)
    }

    async fn sign_in(
        state: &AppState,
        typed: Credentials,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        state
            .app
            .contact_password_sign_in(&typed.email, typed.password, client)
            .await
    }

    fn next(_started: &Started) -> &'static str {
        urls::home::<Portal>()
    }

    async fn page(
        _state: &AppState,
        layout: Layout,
        status: StatusCode,
        email: String,
        error: Option<String>,
    ) -> Result<Response, PageError> {
        Ok(render(
            status,
            &SignInPage {
                layout,
                email,
                error,
            },
        ))
    }
}

/// The answer to "e-mail me a link": the same page whether or not the
/// address is known, or the form again with what to correct.
fn link_requested(
    maybe: &MaybeIdentity,
    email: String,
    outcome: Result<(), AppError>,
    form_again: impl FnOnce(Layout, String, String) -> Response,
) -> Result<Response, PageError> {
    let layout = Layout::public(&maybe.csrf);
    match outcome {
        Ok(()) => Ok(render(
            StatusCode::OK,
            &CheckEmailPage {
                layout,
                email: email.trim().to_owned(),
            },
        )),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            Ok((status, form_again(layout, email, message)).into_response())
        }
    }
}

fn sign_in_again(layout: Layout, email: String, message: String) -> Response {
    render(
        StatusCode::OK,
        &SignInPage {
            layout,
            email,
            error: Some(message),
        },
    )
}

/// `POST /portal/sign-in/link`: e-mail me a link.
pub async fn link_request_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Form(form): Form<EmailForm>,
) -> Result<Response, PageError> {
    let outcome = state.app.request_sign_in_link(&form.email, &client).await;
    link_requested(&maybe, form.email, outcome, sign_in_again)
}

/// `GET /portal/help`
pub async fn help_get(maybe: MaybeIdentity) -> Response {
    render(
        StatusCode::OK,
        &HelpPage {
            layout: Layout::public(&maybe.csrf),
            email: String::new(),
            error: None,
        },
    )
}

/// `POST /portal/help`
pub async fn help_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Form(form): Form<EmailForm>,
) -> Result<Response, PageError> {
    let outcome = state.app.request_password_reset(&form.email, &client).await;
    link_requested(&maybe, form.email, outcome, |layout, email, message| {
        render(
            StatusCode::OK,
            &HelpPage {
                layout,
                email,
                error: Some(message),
            },
        )
    })
}

#[derive(Template)]
#[template(path = "portal_confirm.html")]
struct ConfirmPage {
    layout: Layout,
    heading: &'static str,
    contact_name: String,
    explanation: String,
    button: &'static str,
    action: String,
    error: Option<String>,
}

/// A link's page: its heading and its button.
fn confirm_words(purpose: TokenPurpose) -> (&'static str, &'static str) {
    match purpose {
        TokenPurpose::Invitation => ("Activate your account", "Activate my account"),
        _ => ("Sign in", "Sign me in"),
    }
}

/// Where a link's page posts: back to itself.
fn confirm_action(purpose: TokenPurpose, token: &str, next: Option<&str>) -> String {
    match purpose {
        TokenPurpose::Invitation => urls::portal_invitation(token),
        _ => urls::portal_link(token, next),
    }
}

/// A link's page: it asks to confirm with a button, so that mail scanners
/// that open links do not use them up.
async fn confirm_get(
    state: &AppState,
    maybe: &MaybeIdentity,
    purpose: TokenPurpose,
    token: &str,
    next: Option<&str>,
) -> Result<Response, PageError> {
    let (heading, button) = confirm_words(purpose);
    match state.app.peek_access_link(purpose, token).await {
        Ok((practice, contact)) => Ok(render(
            StatusCode::OK,
            &ConfirmPage {
                layout: Layout::public(&maybe.csrf),
                heading,
                explanation: match purpose {
                    TokenPurpose::Invitation => format!(
                        "{} invites you to their secure client portal. Activate your account to continue.",
                        practice.name
                    ),
                    _ => format!("Continue to sign in to {}'s client portal.", practice.name),
                },
                contact_name: contact.name,
                button,
                action: confirm_action(purpose, token, next),
                error: None,
            },
        )),
        Err(AppError::Denied(message)) => link_gone(state, maybe, purpose, token, message).await,
        Err(other) => Err(other.into()),
    }
}

/// A link that no longer works: why, on its page (410).
async fn link_gone(
    state: &AppState,
    maybe: &MaybeIdentity,
    purpose: TokenPurpose,
    token: &str,
    message: String,
) -> Result<Response, PageError> {
    // An invitation already used by a contact who is active: she signs in,
    // her invitation did not "expire".
    let message =
        if purpose == TokenPurpose::Invitation && state.app.invitation_already_used(token).await? {
            ALREADY_ACTIVE.to_owned()
        } else {
            message
        };
    let (heading, button) = confirm_words(purpose);
    Ok(render(
        StatusCode::GONE,
        &ConfirmPage {
            layout: Layout::public(&maybe.csrf),
            heading,
            contact_name: String::new(),
            explanation: String::new(),
            button,
            action: String::new(),
            error: Some(message),
        },
    ))
}

/// What an active contact reads when she follows her used invitation.
const ALREADY_ACTIVE: &str = "You have already activated your account with this invitation. Sign in below: we e-mail you a link, or use your password if you set one.";

async fn confirm_post(
    state: &AppState,
    maybe: &MaybeIdentity,
    client: &ClientInfo,
    purpose: TokenPurpose,
    token: &str,
    next: Option<&str>,
) -> Result<Response, PageError> {
    match state.app.use_access_link(purpose, token, client).await {
        Ok(started) => {
            let to = next.unwrap_or(urls::home::<Portal>());
            let old = maybe.secret.as_deref();
            begin_session(state, CookieJar::new(), old, &started, to).await
        }
        Err(AppError::Denied(message)) => link_gone(state, maybe, purpose, token, message).await,
        Err(other) => Err(other.into()),
    }
}

/// `GET /portal/invitation/{token}`
pub async fn invitation_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    confirm_get(&state, &maybe, TokenPurpose::Invitation, &token, None).await
}

/// `POST /portal/invitation/{token}`
pub async fn invitation_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    confirm_post(
        &state,
        &maybe,
        &client,
        TokenPurpose::Invitation,
        &token,
        None,
    )
    .await
}

/// Where a sign-in link lands (N2: the exact chat or question): a path of
/// the portal only, never another site.
#[derive(Deserialize, Default)]
pub struct Landing {
    next: Option<String>,
}

impl Landing {
    fn path(&self) -> Option<&str> {
        self.next.as_deref().filter(|p| {
            p.starts_with("/portal/")
                && !p.contains("//")
                && !p.contains('\\')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-_".contains(c))
        })
    }
}

/// `GET /portal/link/{token}`
pub async fn link_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    Path(token): Path<String>,
    Query(landing): Query<Landing>,
) -> Result<Response, PageError> {
    confirm_get(&state, &maybe, TokenPurpose::SignIn, &token, landing.path()).await
}

/// `POST /portal/link/{token}`
pub async fn link_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Path(token): Path<String>,
    Query(landing): Query<Landing>,
) -> Result<Response, PageError> {
    confirm_post(
        &state,
        &maybe,
        &client,
        TokenPurpose::SignIn,
        &token,
        landing.path(),
    )
    .await
}

#[derive(Template)]
#[template(path = "portal_client.html")]
struct ClientPage {
    layout: Layout,
    view: PortalView,
    preview_of: Option<String>,
    exit_preview: String,
    /// Where this portal's pages are: `/portal`, or a preview's own.
    base: String,
    notice: Option<String>,
}

/// `GET /portal`: where what waits for her is (N2): her only client, the
/// one client that needs her, or the overview of all of them.
pub async fn home_get(
    State(state): State<AppState>,
    user: ContactUser,
) -> Result<Response, PageError> {
    match state.app.portal_overview(&user.contact).await {
        Ok(overview) => Ok(match overview.landing() {
            Some(client) => Redirect::to(&urls::client::<Portal>(client)),
            None => Redirect::to(urls::portal_overview()),
        }
        .into_response()),
        Err(AppError::NotFound) => Err(not_shared(&user)),
        Err(other) => Err(other.into()),
    }
}

fn not_shared(user: &ContactUser) -> PageError {
    PageError::Forbidden(format!(
        "{} has not shared any account with you yet. Ask your adviser to give you access.",
        user.identity.practice.name
    ))
}

#[derive(Template)]
#[template(path = "portal_overview.html")]
struct OverviewPage {
    layout: Layout,
    view: PortalOverview,
}

/// `GET /portal/overview`: what waits for her in every client she reaches.
pub async fn overview_get(
    State(state): State<AppState>,
    user: ContactUser,
) -> Result<Response, PageError> {
    match state.app.portal_overview(&user.contact).await {
        Ok(view) => {
            // Every client's latest status is on the page: seen.
            state.app.status_seen(&user.contact, None).await;
            Ok(render(
                StatusCode::OK,
                &OverviewPage {
                    layout: user.layout,
                    view,
                },
            ))
        }
        Err(AppError::NotFound) => Err(not_shared(&user)),
        Err(other) => Err(other.into()),
    }
}

/// `GET /portal/clients/{id}`
pub async fn client_get(
    State(state): State<AppState>,
    user: ContactUser,
    IdPath(id): IdPath<ClientId>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let view = state.app.portal_view(&user.contact, Some(id)).await?;
    // Its status is on the page: seen (N2).
    state
        .app
        .status_seen(&user.contact, Some(view.current.client.id))
        .await;
    Ok(render(
        StatusCode::OK,
        &ClientPage {
            layout: user.layout,
            view,
            preview_of: None,
            exit_preview: String::new(),
            base: urls::home::<Portal>().into(),
            notice: done.notice(),
        },
    ))
}

/// `GET /app/preview/{contact}`: the contact's first client, previewed.
pub async fn preview_home_get(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(contact): IdPath<ContactId>,
) -> Result<Response, PageError> {
    match state
        .app
        .preview_view(&user.staff, contact, None, &origin)
        .await
    {
        Ok(view) => Ok(
            Redirect::to(&urls::preview_client(contact, view.current.client.id)).into_response(),
        ),
        Err(AppError::Denied(message)) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}

/// `GET /app/preview/{contact}/clients/{client}` (P7)
pub async fn preview_get(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath((contact, client)): IdPath<(ContactId, ClientId)>,
) -> Result<Response, PageError> {
    let view = state
        .app
        .preview_view(&user.staff, contact, Some(client), &origin)
        .await?;
    Ok(render(
        StatusCode::OK,
        &ClientPage {
            layout: Layout::preview(&user.layout.csrf, &view.contact, &view.practice)
                .seen_at(state.app.clock.now()),
            preview_of: Some(view.contact.name.clone()),
            exit_preview: urls::client_contacts(client),
            base: urls::preview(view.contact.id),
            notice: None,
            view,
        },
    ))
}

/// `GET /app/preview/{contact}/questions/{id}` (P7): a question as the
/// contact sees it, read-only.
pub async fn preview_question_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath((contact, id)): IdPath<(ContactId, QuestionId)>,
) -> Result<Response, PageError> {
    let (contact, thread) = state.app.preview_thread(&user.staff, contact, id).await?;
    Ok(render(
        StatusCode::OK,
        &QuestionPage {
            layout: Layout::preview(&user.layout.csrf, &contact, &user.identity.practice)
                .seen_at(state.app.clock.now()),
            practice_name: user.identity.practice.name.clone(),
            base: urls::preview(contact.id),
            thread,
            // A preview takes no answer.
            draft: Draft {
                status: StatusCode::OK,
                body: String::new(),
                max_mb: 0,
                notice: None,
                error: None,
            },
        },
    ))
}

/// Any change posted while previewing is refused: a preview is read-only.
pub async fn preview_post(_user: StaffUser) -> PageError {
    PageError::Forbidden(
        "This is a preview of a contact's portal: nothing can be changed from it.".into(),
    )
}

#[derive(Template)]
#[template(path = "portal_question.html")]
struct QuestionPage {
    layout: Layout,
    practice_name: String,
    /// Where this portal's pages are: `/portal`, or a preview's own.
    base: String,
    thread: Thread,
    /// The answer as typed, and what was just done or refused.
    draft: Draft,
}

impl ThreadPage for Portal {
    const REPLIED: &'static str = "answered";

    fn render(user: ContactUser, thread: Thread, draft: Draft) -> Response {
        let status = draft.status;
        let page = QuestionPage {
            practice_name: user.identity.practice.name.clone(),
            base: urls::home::<Portal>().into(),
            layout: user.layout,
            thread,
            draft,
        };
        render(status, &page)
    }
}
