//! X15: Settings → Branding (admins), the brand's stylesheet and logo
//! (public: a sign-in page and an e-mail show them without a session), and
//! what makes the portal installable: the favicon, icons and the web app
//! manifest.

use super::AppState;
use super::errors::PageError;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use crate::app::AppError;
use crate::app::branding::MAX_LOGO_BYTES;
use crate::app::sessions::ClientInfo;
use crate::domain::PracticeId;
use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "branding.html")]
struct BrandingPage {
    layout: Layout,
    practice_name: String,
    colour: String,
    colour_error: Option<String>,
    logo_error: Option<String>,
    notice: Option<&'static str>,
    max_kb: usize,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

#[derive(Default)]
struct Errors {
    typed_colour: Option<String>,
    colour: Option<String>,
    logo: Option<String>,
}

async fn branding_page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    notice: Option<&'static str>,
    errors: Errors,
) -> Result<Response, PageError> {
    if !user.staff.is_admin() {
        return Err(AppError::Forbidden.into());
    }
    let stored = state
        .app
        .accent_colour(user.staff.practice_id)
        .await?
        .map(|c| c.as_str().to_owned());
    Ok(render(
        status,
        &BrandingPage {
            practice_name: user.identity.practice.name.clone(),
            colour: errors.typed_colour.or(stored).unwrap_or_default(),
            colour_error: errors.colour,
            logo_error: errors.logo,
            notice,
            max_kb: MAX_LOGO_BYTES / 1024,
            layout: user.layout,
        },
    ))
}

/// `GET /app/settings/branding`
pub async fn branding_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match done.done.as_str() {
        "colour" => Some("The colour is saved."),
        "logo" => Some("The logo is saved."),
        "logo-removed" => Some("The logo is removed."),
        _ => None,
    };
    branding_page(&state, user, StatusCode::OK, notice, Errors::default()).await
}

#[derive(Deserialize)]
pub struct ColourForm {
    #[serde(default)]
    accent_colour: String,
}

/// `POST /app/settings/branding/colour`
pub async fn colour_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Form(form): Form<ColourForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .set_accent_colour(&user.staff, &form.accent_colour, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/settings/branding?done=colour").into_response()),
        Err(AppError::Invalid(e)) => {
            let errors = Errors {
                typed_colour: Some(form.accent_colour),
                colour: Some(e.message),
                logo: None,
            };
            branding_page(&state, user, StatusCode::UNPROCESSABLE_ENTITY, None, errors).await
        }
        Err(other) => Err(other.into()),
    }
}

/// Reads the `logo` field, at most one byte more than a logo may have (so
/// a larger one is told apart without reading it all).
async fn logo_bytes(mut form: Multipart) -> Result<Vec<u8>, String> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        format!("The form could not be read: {}", e.body_text())
    };
    while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
        if field.name() != Some("logo") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_LOGO_BYTES {
                break;
            }
        }
        return Ok(bytes);
    }
    Ok(Vec::new())
}

/// `POST /app/settings/branding/logo` (multipart, field `logo`)
pub async fn logo_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    form: Multipart,
) -> Result<Response, PageError> {
    if !user.staff.is_admin() {
        return Err(AppError::Forbidden.into());
    }
    let result = match logo_bytes(form).await {
        Ok(bytes) => state
            .app
            .set_logo(&user.staff, &bytes, &origin)
            .await
            .map_err(|e| match e {
                AppError::Invalid(e) => Ok(e.message),
                other => Err(other),
            }),
        Err(message) => Err(Ok(message)),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/app/settings/branding?done=logo").into_response()),
        Err(Ok(message)) => {
            let errors = Errors {
                logo: Some(message),
                ..Errors::default()
            };
            branding_page(&state, user, StatusCode::UNPROCESSABLE_ENTITY, None, errors).await
        }
        Err(Err(other)) => Err(other.into()),
    }
}

/// `POST /app/settings/branding/logo/remove`
pub async fn logo_remove_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
) -> Result<Response, PageError> {
    state.app.remove_logo(&user.staff, &origin).await?;
    Ok(Redirect::to("/app/settings/branding?done=logo-removed").into_response())
}

/// Brand assets change address with every change (`?v=`), so they may be
/// kept a long time.
const BRAND_CACHE: &str = "public, max-age=86400";

/// `GET /brand/{practice}/style.css`: the practice's accent colour as CSS
/// custom properties. Only a validated `#rrggbb` is ever written.
pub async fn style_get(
    State(state): State<AppState>,
    IdPath(practice): IdPath<PracticeId>,
) -> Result<Response, PageError> {
    let css = match state.app.accent_colour(practice).await? {
        Some(colour) => format!(
            ":root {{ --accent: {}; --accent-ink: #ffffff; }}\n",
            colour.as_str()
        ),
        None => String::new(),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, BRAND_CACHE),
        ],
        css,
    )
        .into_response())
}

/// `GET /brand/{practice}/logo`
pub async fn logo_get(
    State(state): State<AppState>,
    IdPath(practice): IdPath<PracticeId>,
) -> Result<Response, PageError> {
    let Some(logo) = state.app.logo(practice).await? else {
        return Err(PageError::NotFound);
    };
    // The type was checked from the bytes on upload; the image is never
    // a document of this site (no script, no sniffing).
    Ok((
        [
            (header::CONTENT_TYPE, logo.content_type),
            (header::CACHE_CONTROL, BRAND_CACHE.to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        logo.bytes,
    )
        .into_response())
}

const FAVICON: &str = include_str!("../../static/favicon.svg");
const ICON_192: &[u8] = include_bytes!("../../static/icon-192.png");
const ICON_512: &[u8] = include_bytes!("../../static/icon-512.png");

/// `GET /favicon.svg` and `GET /favicon.ico` (browsers ask for the
/// latter by themselves; an SVG of our own is served under both names).
pub async fn favicon_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}

/// `GET /static/icon-192.png`
pub async fn icon_192_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON_192,
    )
}

/// `GET /static/icon-512.png`
pub async fn icon_512_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON_512,
    )
}

/// `GET /manifest.webmanifest`: the portal as an app on a phone's home
/// screen. Its service worker (`/sw.js`, X12) shows push notifications
/// only and caches nothing: nothing private is kept on the device; the app
/// opens the portal as the browser would.
pub async fn manifest_get() -> impl IntoResponse {
    let manifest = serde_json::json!({
        "name": "Client portal",
        "short_name": "Portal",
        "description": "Your secure client portal: questions, messages and documents.",
        "start_url": "/portal",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f4f6f9",
        "theme_color": "#1f5f8b",
        "icons": [
            { "src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any" },
            { "src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable" },
            { "src": "/favicon.svg", "sizes": "any", "type": "image/svg+xml" }
        ]
    });
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        manifest.to_string(),
    )
}
