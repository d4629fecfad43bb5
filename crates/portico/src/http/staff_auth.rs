//! `/app/sign-in`, its second step, and the set-up of two-factor sign-in.

use super::AppState;
use super::area::{Area, Staff};
use super::errors::PageError;
use super::forms::form_refusal;
use super::layout::Layout;
use super::pages::render;
use super::session::{MaybeIdentity, StaffUser, begin_session, session_cookie};
use super::sign_in::{Credentials, SignInDoor};
use super::urls;
use crate::app::AppError;
use crate::app::sessions::{ClientInfo, Identity, Started};
use crate::app::two_factor::Enrolment;
use crate::store::SessionStage;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
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

/// Where a staff session goes next, by its stage.
pub(super) fn next_for(stage: SessionStage) -> &'static str {
    match stage {
        SessionStage::Active => urls::home::<Staff>(),
        SessionStage::Totp => urls::TWO_FACTOR_CODE,
        SessionStage::Enrol => urls::TWO_FACTOR,
    }
}

impl SignInDoor for Staff {
    fn signed_in_to(identity: &Identity) -> Option<&'static str> {
        identity
            .staff()
            .is_some()
            .then(|| next_for(identity.session.stage))
    }

    async fn sign_in(
        state: &AppState,
        typed: Credentials,
        client: &ClientInfo,
    ) -> Result<Started, AppError> {
        let Credentials { email, password } = typed;
        state.app.staff_sign_in(&email, password, client).await
    }

    fn next(started: &Started) -> &'static str {
        next_for(started.stage)
    }

    async fn page(
        state: &AppState,
        layout: Layout,
        status: StatusCode,
        email: String,
        error: Option<String>,
    ) -> Result<Response, PageError> {
        // X13: after a refusal, the way to the provider, where the address
        // has one.
        let sso_name = match error {
            Some(_) => state.app.sso_name_for(&email).await?,
            None => None,
        };
        Ok(render(
            status,
            &SignInPage {
                layout,
                sso_email: email.clone(),
                email,
                error,
                sso_error: None,
                sso_name,
            },
        ))
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
        _ => Redirect::to(Staff::SIGN_IN).into_response(),
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
        return Ok(Redirect::to(Staff::SIGN_IN).into_response());
    };
    match state
        .app
        .complete_two_factor(&identity, &form.code, &client)
        .await
    {
        Ok(started) => {
            let to = urls::home::<Staff>();
            begin_session(&state, CookieJar::new(), None, &started, to).await
        }
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
        return Ok(Redirect::to(Staff::SIGN_IN).into_response());
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
        return Ok(Redirect::to(Staff::SIGN_IN).into_response());
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
        Ok(()) => Ok(Redirect::to(urls::TWO_FACTOR).into_response()),
        Err(crate::app::AppError::Denied(message)) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}
