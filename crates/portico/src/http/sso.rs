//! X13: Settings → Single sign-on (admins), and the sign-in with the
//! practice's identity provider: `/app/sso/start` sends the browser off,
//! `/app/sso/callback` is where it comes back.

use super::AppState;
use super::errors::PageError;
use super::forms::{form_refusal, refusal};
use super::layout::Layout;
use super::pages::render;
use super::session::{MaybeIdentity, StaffUser, secure_cookies, session_cookie};
use super::staff_auth::{SignInPage, next_for};
use crate::app::AppError;
use crate::app::sessions::ClientInfo;
use crate::app::sso::{CALLBACK_PATH, SsoCallback, SsoForm, SsoView};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use secrecy::SecretString;
use serde::Deserialize;

/// The cookie that ties a sign-in sent to the provider to this browser.
const STATE_COOKIE: &str = "portico_sso";
const SECURE_STATE_COOKIE: &str = "__Host-portico_sso";

fn state_cookie_name(state: &AppState) -> &'static str {
    if secure_cookies(state) {
        SECURE_STATE_COOKIE
    } else {
        STATE_COOKIE
    }
}

fn state_cookie(state: &AppState, value: String) -> Cookie<'static> {
    // Lax: the provider's redirect back is a top-level GET, which carries it.
    Cookie::build((state_cookie_name(state), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_cookies(state))
        .build()
}

fn cleared_state_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = state_cookie(state, String::new());
    cookie.make_removal();
    cookie
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    email: String,
}

/// `POST /app/sso/start`: the e-mail address names the practice, whose
/// provider the browser is sent to.
pub async fn start_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    match state.app.begin_sso(&form.email, &client).await {
        Ok(redirect) => {
            let jar = CookieJar::new().add(state_cookie(&state, redirect.state));
            Ok((jar, Redirect::to(&redirect.url)).into_response())
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            Ok(render(
                status,
                &SignInPage {
                    layout: Layout::public(&maybe.csrf),
                    email: form.email.clone(),
                    error: None,
                    sso_email: form.email,
                    sso_error: Some(message),
                    sso_name: None,
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "sso_refused.html")]
struct RefusedPage {
    layout: Layout,
    message: String,
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /app/sso/callback`
pub async fn callback_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let cookie_state = jar
        .get(state_cookie_name(&state))
        .map(|c| c.value().to_owned());
    let back = SsoCallback {
        code: query.code,
        state: query.state,
        error: query.error,
        error_description: query.error_description,
    };
    let cleared = CookieJar::new().add(cleared_state_cookie(&state));
    match state
        .app
        .finish_sso(&back, cookie_state.as_deref(), &client)
        .await
    {
        Ok(started) => {
            if let Some(old) = &maybe.secret {
                state.app.sign_out(old).await?;
            }
            let jar = cleared.add(session_cookie(&state, &started));
            Ok((jar, Redirect::to(next_for(started.stage))).into_response())
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let status = if status == StatusCode::TOO_MANY_REQUESTS {
                status
            } else {
                StatusCode::FORBIDDEN
            };
            let page = render(
                status,
                &RefusedPage {
                    layout: Layout::public(&maybe.csrf),
                    message,
                },
            );
            Ok((cleared, page).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "sso_settings.html")]
struct SettingsPage {
    layout: Layout,
    notice: Option<&'static str>,
    error: Option<String>,
    configured: bool,
    view: SsoView,
    redirect_uri: String,
    issuer_error: Option<String>,
    client_id_error: Option<String>,
    secret_error: Option<String>,
    name_error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

#[derive(Deserialize, Default)]
pub struct SettingsForm {
    #[serde(default)]
    issuer_url: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    display_name: String,
    require_sso: Option<String>,
    counts_as_two_factor: Option<String>,
}

fn settings_page(state: &AppState, user: StaffUser, view: Option<SsoView>) -> SettingsPage {
    SettingsPage {
        layout: user.layout,
        notice: None,
        error: None,
        configured: view.is_some(),
        view: view.unwrap_or_default(),
        redirect_uri: state.app.link(CALLBACK_PATH),
        issuer_error: None,
        client_id_error: None,
        secret_error: None,
        name_error: None,
    }
}

/// `GET /app/settings/sso` (admins)
pub async fn settings_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let view = state.app.sso_settings_view(&user.identity).await?;
    let mut page = settings_page(&state, user, view);
    page.notice = match done.done.as_str() {
        "saved" => Some("Single sign-on is saved: the provider's discovery document was read."),
        "removed" => Some("Single sign-on is turned off: the team signs in with passwords."),
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/settings/sso` (admins): checked against the provider's
/// discovery document before it is saved.
pub async fn settings_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Form(form): Form<SettingsForm>,
) -> Result<Response, PageError> {
    let typed = SsoForm {
        issuer_url: form.issuer_url,
        client_id: form.client_id,
        client_secret: SecretString::from(form.client_secret),
        display_name: form.display_name,
        require_sso: form.require_sso.is_some(),
        counts_as_two_factor: form.counts_as_two_factor.is_some(),
    };
    match state
        .app
        .save_sso_settings(&user.identity, &typed, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/settings/sso?done=saved").into_response()),
        Err(error @ (AppError::Forbidden | AppError::NotFound)) => Err(error.into()),
        Err(error) => {
            let stored = state.app.sso_settings_view(&user.identity).await?;
            let refused = refusal(error)?;
            let mut page = settings_page(&state, user, stored.clone());
            page.view = SsoView {
                issuer_url: typed.issuer_url,
                client_id: typed.client_id,
                has_secret: stored.is_some_and(|s| s.has_secret),
                display_name: typed.display_name,
                require_sso: typed.require_sso,
                counts_as_two_factor: typed.counts_as_two_factor,
            };
            page.issuer_error = refused.for_field("issuer_url");
            page.client_id_error = refused.for_field("client_id");
            page.secret_error = refused.for_field("client_secret");
            page.name_error = refused.for_field("display_name");
            if !refused.about_any(&["issuer_url", "client_id", "client_secret", "display_name"]) {
                page.error = Some(refused.message.clone());
            }
            Ok(render(refused.status, &page))
        }
    }
}

/// `POST /app/settings/sso/remove` (admins)
pub async fn remove_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
) -> Result<Response, PageError> {
    state
        .app
        .remove_sso_settings(&user.identity, &origin)
        .await?;
    Ok(Redirect::to("/app/settings/sso?done=removed").into_response())
}
