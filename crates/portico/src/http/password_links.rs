//! Links to choose a password (A3, P1): a contact's reset link
//! (`/portal/reset/{token}`) and a new team member's welcome
//! (`/app/welcome/{token}`). Both are one flow, generic over the kind of
//! link: the page says whose link it is (or why it no longer works), and
//! the two passwords typed, when they agree, are saved and sign the person
//! in. What differs between the kinds is data of the [`Kind`].

use super::AppState;
use super::area::{Portal, Staff};
use super::errors::PageError;
use super::forms::form_refusal;
use super::layout::Layout;
use super::pages::render;
use super::session::{MaybeIdentity, begin_session};
use super::urls;
use crate::app::password::MIN_PASSWORD_CHARS;
use crate::app::sessions::{ClientInfo, Started};
use crate::app::{App, AppError};
use crate::store::{Practice, SessionStage, TokenPurpose};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use secrecy::SecretString;
use serde::Deserialize;

/// What a link's page shows: whose link it is, or why it no longer works.
pub struct NewPassword {
    link_ok: bool,
    name: String,
    email: String,
    practice_name: String,
    min_chars: usize,
    action: String,
    error: Option<String>,
}

/// The kinds of link to choose a password with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new team member's welcome: her password, then her practice's
    /// app (or the set-up of two-factor sign-in where the practice
    /// requires it).
    Welcome,
    /// A contact's reset link: a new password, then her portal.
    Reset,
}

/// A kind of link, as a type: its handlers are registered once for each.
pub trait PasswordLink: Send + Sync + 'static {
    const KIND: Kind;
}

/// `/app/welcome/{token}`
pub struct Welcome;

impl PasswordLink for Welcome {
    const KIND: Kind = Kind::Welcome;
}

/// `/portal/reset/{token}`
pub struct Reset;

impl PasswordLink for Reset {
    const KIND: Kind = Kind::Reset;
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage {
    layout: Layout,
    link: NewPassword,
}

#[derive(Template)]
#[template(path = "portal_reset.html")]
struct ResetPage {
    layout: Layout,
    link: NewPassword,
}

impl Kind {
    /// Whose the link is (their name and address, and their practice),
    /// without using it up.
    async fn peek(self, app: &App, token: &str) -> Result<(String, String, Practice), AppError> {
        Ok(match self {
            Kind::Welcome => {
                let (practice, staff) = app.peek_staff_invitation(token).await?;
                (staff.name, staff.email, practice)
            }
            Kind::Reset => {
                let (practice, contact) = app.peek_access_link(TokenPurpose::Reset, token).await?;
                (contact.name, contact.email, practice)
            }
        })
    }

    /// Saves the password and signs the person in.
    async fn choose(
        self,
        app: &App,
        token: &str,
        password: SecretString,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        match self {
            Kind::Welcome => app.accept_staff_invitation(token, password, client).await,
            Kind::Reset => app.reset_contact_password(token, password, client).await,
        }
    }

    /// Where the link's page posts: back to itself.
    fn action(self, token: &str) -> String {
        match self {
            Kind::Welcome => urls::staff_welcome(token),
            Kind::Reset => urls::portal_reset(token),
        }
    }

    /// Where the person goes once signed in.
    fn next(self, started: &Started) -> &'static str {
        match self {
            Kind::Welcome if started.stage == SessionStage::Enrol => urls::TWO_FACTOR,
            Kind::Welcome => urls::home::<Staff>(),
            Kind::Reset => urls::home::<Portal>(),
        }
    }

    /// Whether the session the browser had before is ended first, as at
    /// sign-in.
    fn ends_browser_session(self) -> bool {
        self == Kind::Welcome
    }

    /// The link's page.
    fn render(self, status: StatusCode, layout: Layout, link: NewPassword) -> Response {
        match self {
            Kind::Welcome => render(status, &WelcomePage { layout, link }),
            Kind::Reset => render(status, &ResetPage { layout, link }),
        }
    }
}

async fn link_page<L: PasswordLink>(
    state: &AppState,
    maybe: &MaybeIdentity,
    token: &str,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    match L::KIND.peek(&state.app, token).await {
        // X15: the page wears the practice's name and brand, as the
        // e-mail that brought the person here did.
        Ok((name, email, practice)) => Ok(L::KIND.render(
            status,
            Layout::public_of(&maybe.csrf, &practice),
            NewPassword {
                link_ok: true,
                name,
                email,
                practice_name: practice.name,
                min_chars: MIN_PASSWORD_CHARS,
                action: L::KIND.action(token),
                error,
            },
        )),
        Err(AppError::Denied(message)) => Ok(L::KIND.render(
            StatusCode::GONE,
            Layout::public(&maybe.csrf),
            NewPassword {
                link_ok: false,
                name: String::new(),
                email: String::new(),
                practice_name: String::new(),
                min_chars: MIN_PASSWORD_CHARS,
                action: String::new(),
                error: Some(message),
            },
        )),
        Err(other) => Err(other.into()),
    }
}

/// `GET /app/welcome/{token}`, `GET /portal/reset/{token}`
pub async fn link_get<L: PasswordLink>(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    link_page::<L>(&state, &maybe, &token, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /app/welcome/{token}`, `POST /portal/reset/{token}`
pub async fn link_post<L: PasswordLink>(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    if form.password != form.confirm {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        let error = "The two passwords are not the same. Type them again.";
        return link_page::<L>(&state, &maybe, &token, status, Some(error.into())).await;
    }
    let password = SecretString::from(form.password);
    match L::KIND.choose(&state.app, &token, password, &client).await {
        Ok(started) => {
            let kind = L::KIND;
            let old = maybe
                .secret
                .as_deref()
                .filter(|_| kind.ends_browser_session());
            begin_session(&state, CookieJar::new(), old, &started, kind.next(&started)).await
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            link_page::<L>(&state, &maybe, &token, status, Some(message)).await
        }
    }
}
