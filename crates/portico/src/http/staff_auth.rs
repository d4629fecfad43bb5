//! `/app/sign-in`, its second step, and the set-up of two-factor sign-in.

use super::AppState;
use super::errors::PageError;
use super::forms::form_refusal;
use super::layout::Layout;
use super::pages::render;
use super::session::{MaybeIdentity, StaffUser, session_cookie};
use crate::app::sessions::{ClientInfo, Started};
use crate::app::two_factor::Enrolment;
use crate::store::SessionStage;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "staff_sign_in.html")]
pub(super) struct SignInPage {
    pub layout: Layout,
    pub email: String,
    pub error: Option<String>,
    /// X13: the address typed in the single sign-on form, and its refusal.
    pub sso_email: String,
    pub sso_error: Option<String>,
    /// X13: the provider of the practice of the address typed, if it has one.
    pub sso_name: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Where a staff session goes next, by its stage.
pub(super) fn next_for(stage: SessionStage) -> &'static str {
    match stage {
        SessionStage::Active => "/app",
        SessionStage::Totp => "/app/sign-in/code",
        SessionStage::Enrol => "/app/two-factor",
    }
}

fn signed_in(state: &AppState, started: &Started, to: &str) -> Response {
    let jar = CookieJar::new().add(session_cookie(state, started));
    (jar, Redirect::to(to)).into_response()
}

/// `GET /app/sign-in`
pub async fn sign_in_get(maybe: MaybeIdentity) -> Response {
    if let Some(identity) = maybe.identity.as_ref().filter(|i| i.staff().is_some()) {
        return Redirect::to(next_for(identity.session.stage)).into_response();
    }
    render(
        StatusCode::OK,
        &SignInPage {
            layout: Layout::public(&maybe.csrf),
            email: String::new(),
            error: None,
            sso_email: String::new(),
            sso_error: None,
            sso_name: None,
        },
    )
}

/// `POST /app/sign-in`
pub async fn sign_in_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .staff_sign_in(&form.email, SecretString::from(form.password), &client)
        .await
    {
        Ok(started) => {
            // Whatever session this browser had before is ended: a new id at sign-in.
            if let Some(old) = &maybe.secret {
                state.app.sign_out(old).await?;
            }
            Ok(signed_in(&state, &started, next_for(started.stage)))
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            // X13: the way to the provider, where the address has one.
            let sso_name = state.app.sso_name_for(&form.email).await?;
            Ok(render(
                status,
                &SignInPage {
                    layout: Layout::public(&maybe.csrf),
                    sso_email: form.email.clone(),
                    email: form.email,
                    error: Some(message),
                    sso_error: None,
                    sso_name,
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "staff_code.html")]
struct CodePage {
    layout: Layout,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `GET /app/sign-in/code`
pub async fn code_get(maybe: MaybeIdentity) -> Response {
    match &maybe.identity {
        Some(identity)
            if identity.staff().is_some() && identity.session.stage == SessionStage::Totp =>
        {
            render(
                StatusCode::OK,
                &CodePage {
                    layout: Layout::public(&maybe.csrf),
                    error: None,
                },
            )
        }
        _ => Redirect::to("/app/sign-in").into_response(),
    }
}

/// `POST /app/sign-in/code`
pub async fn code_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some(identity) = maybe
        .identity
        .filter(|i| i.staff().is_some() && i.session.stage == SessionStage::Totp)
    else {
        return Ok(Redirect::to("/app/sign-in").into_response());
    };
    match state
        .app
        .complete_two_factor(&identity, &form.code, &client)
        .await
    {
        Ok(started) => Ok(signed_in(&state, &started, "/app")),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            Ok(render(
                status,
                &CodePage {
                    layout: Layout::public(&maybe.csrf),
                    error: Some(message),
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    must_enrol: bool,
    enabled: bool,
    can_disable: bool,
    codes_left: i64,
    enrolment: Option<Enrolment>,
    recovery_codes: Option<Vec<String>>,
    error: Option<String>,
}

/// A staff identity that may see the two-factor page: signed in, or
/// required to enrol before going on.
fn enrolling_or_active(maybe: &MaybeIdentity) -> Option<&crate::app::sessions::Identity> {
    maybe.identity.as_ref().filter(|i| {
        i.staff().is_some() && matches!(i.session.stage, SessionStage::Active | SessionStage::Enrol)
    })
}

fn two_factor_layout(maybe: &MaybeIdentity, identity: &crate::app::sessions::Identity) -> Layout {
    if identity.session.stage == SessionStage::Active {
        Layout::for_identity(&maybe.csrf, identity)
    } else {
        Layout::public(&maybe.csrf)
    }
}

/// `GET /app/two-factor`
pub async fn two_factor_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
) -> Result<Response, PageError> {
    let Some(identity) = enrolling_or_active(&maybe) else {
        return Ok(Redirect::to("/app/sign-in").into_response());
    };
    let enabled = identity.staff().is_some_and(|s| s.totp_enabled);
    let (enrolment, codes_left) = if enabled {
        (None, state.app.recovery_codes_left(identity).await?)
    } else {
        (Some(state.app.begin_two_factor(identity).await?), 0)
    };
    Ok(render(
        StatusCode::OK,
        &TwoFactorPage {
            layout: two_factor_layout(&maybe, identity),
            must_enrol: identity.session.stage == SessionStage::Enrol,
            enabled,
            can_disable: !identity.practice.require_totp,
            codes_left,
            enrolment,
            recovery_codes: None,
            error: None,
        },
    ))
}

/// `POST /app/two-factor`: confirms the set-up with a code.
pub async fn two_factor_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    origin: ClientInfo,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some(identity) = enrolling_or_active(&maybe) else {
        return Ok(Redirect::to("/app/sign-in").into_response());
    };
    match state
        .app
        .confirm_two_factor(identity, &form.code, &origin)
        .await
    {
        Ok((codes, started)) => {
            let mut layout = two_factor_layout(&maybe, identity);
            if let Some(started) = &started {
                // The page is the first of the new session: its forms carry
                // the new session's token.
                layout.csrf = super::csrf::session_token(&state, &started.secret);
            }
            let page = render(
                StatusCode::OK,
                &TwoFactorPage {
                    layout,
                    must_enrol: false,
                    enabled: true,
                    can_disable: false,
                    codes_left: 0,
                    enrolment: None,
                    recovery_codes: Some(codes),
                    error: None,
                },
            );
            Ok(match started {
                Some(started) => {
                    (CookieJar::new().add(session_cookie(&state, &started)), page).into_response()
                }
                None => page,
            })
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            Ok(render(
                status,
                &TwoFactorPage {
                    layout: two_factor_layout(&maybe, identity),
                    must_enrol: identity.session.stage == SessionStage::Enrol,
                    enabled: false,
                    can_disable: false,
                    codes_left: 0,
                    enrolment: Some(state.app.begin_two_factor(identity).await?),
                    recovery_codes: None,
                    error: Some(message),
                },
            ))
        }
    }
}

/// `POST /app/two-factor/disable`
pub async fn two_factor_disable_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
) -> Result<Response, PageError> {
    match state.app.disable_two_factor(&user.identity, &origin).await {
        Ok(()) => Ok(Redirect::to("/app/two-factor").into_response()),
        Err(crate::app::AppError::Denied(message)) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}
