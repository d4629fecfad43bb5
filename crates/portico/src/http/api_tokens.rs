//! X3: "API tokens" under My account: make a token (shown once), see the
//! tokens with their scopes, expiry and last use, revoke one. Admins may
//! make a token that acts as another team member (an integration user),
//! and see and revoke every token of the practice.

use super::AppState;
use super::errors::PageError;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use crate::app::AppError;
use crate::app::api_tokens::{Access, Area, EXPIRY_DAYS, NewTokenInput};
use crate::app::sessions::ClientInfo;
use crate::domain::StaffId;
use crate::store::{ApiToken, Staff};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// A line of the tokens table.
struct TokenRow {
    token: ApiToken,
    acts_as: String,
    made_by: String,
    state: &'static str,
}

/// What the form had and what was wrong with it.
#[derive(Default)]
struct FormState {
    name: String,
    scopes: Vec<String>,
    expires_in_days: String,
    acts_as: String,
    errors: Vec<(Option<&'static str>, String)>,
}

impl FormState {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == Some(field))
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "api_tokens.html")]
struct TokensPage {
    layout: Layout,
    admin: bool,
    rows: Vec<TokenRow>,
    team: Vec<Staff>,
    me: StaffId,
    areas: Vec<(&'static str, bool)>,
    expiries: &'static [i64],
    form: FormState,
    /// A token just made: shown this once.
    made: Option<(String, String)>,
    notice: Option<&'static str>,
}

impl TokensPage {
    fn checked(&self, area: &str, access: &str) -> bool {
        self.form
            .scopes
            .iter()
            .any(|s| *s == format!("{area}:{access}"))
    }
}

async fn page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    form: FormState,
    made: Option<(String, String)>,
    notice: Option<&'static str>,
) -> Result<Response, PageError> {
    let tokens = state.app.api_tokens(&user.staff).await?;
    let team = state.app.staff_directory(&user.staff).await?;
    let name_of = |id: StaffId| {
        team.iter()
            .find(|s| s.id == id)
            .map_or_else(String::new, |s| s.name.clone())
    };
    let now = state.app.clock.now();
    let rows = tokens
        .into_iter()
        .map(|token| TokenRow {
            acts_as: name_of(token.staff_id),
            made_by: name_of(token.created_by),
            state: if token.revoked_at.is_some() {
                "revoked"
            } else if token.expires_at <= now {
                "expired"
            } else {
                "active"
            },
            token,
        })
        .collect();
    let admin = user.staff.is_admin();
    let page = TokensPage {
        admin,
        rows,
        team: team.into_iter().filter(|s| s.active).collect(),
        me: user.staff.id,
        areas: Area::ALL
            .into_iter()
            .map(|a| (a.code(), a.writable()))
            .collect(),
        expiries: EXPIRY_DAYS,
        form,
        made,
        notice,
        layout: user.layout,
    };
    Ok(render(status, &page))
}

/// `GET /app/account/api-tokens`
pub async fn tokens_get(
    State(state): State<AppState>,
    user: StaffUser,
    axum::extract::Query(done): axum::extract::Query<super::staff_pages::Done>,
) -> Result<Response, PageError> {
    let notice = (done.done.as_deref() == Some("revoked"))
        .then_some("The token was revoked: it no longer works.");
    let form = FormState {
        expires_in_days: "90".into(),
        scopes: vec![crate::app::api_tokens::scope_code(
            Area::Clients,
            Access::Read,
        )],
        ..FormState::default()
    };
    page(&state, user, StatusCode::OK, form, None, notice).await
}

/// `POST /app/account/api-tokens`: makes a token and shows it once.
pub async fn tokens_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let mut form = FormState::default();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "name" => form.name = value.into_owned(),
            "scope" => form.scopes.push(value.into_owned()),
            "expires_in_days" => form.expires_in_days = value.into_owned(),
            "acts_as" => form.acts_as = value.into_owned(),
            _ => {}
        }
    }
    let input = NewTokenInput {
        name: form.name.clone(),
        scopes: form.scopes.clone(),
        expires_in_days: form.expires_in_days.clone(),
        acts_as: form.acts_as.parse().ok(),
    };
    match state
        .app
        .create_api_token(&user.staff, &input, &origin)
        .await
    {
        Ok(made) => {
            let fresh = FormState {
                expires_in_days: "90".into(),
                ..FormState::default()
            };
            page(
                &state,
                user,
                StatusCode::CREATED,
                fresh,
                Some((made.token.name, made.secret)),
                None,
            )
            .await
        }
        Err(AppError::Invalid(e)) => {
            form.errors.push((e.field, e.message));
            page(
                &state,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                None,
                None,
            )
            .await
        }
        Err(AppError::Fields(all)) => {
            form.errors = all.into_iter().map(|e| (e.field, e.message)).collect();
            page(
                &state,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                None,
                None,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /app/account/api-tokens/{id}/revoke`
pub async fn revoke_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    state.app.revoke_api_token(&user.staff, id, &origin).await?;
    Ok(Redirect::to("/app/account/api-tokens?done=revoked").into_response())
}

impl TokenRow {
    fn scopes(&self) -> String {
        self.token.scopes.replace(' ', ", ")
    }
}
