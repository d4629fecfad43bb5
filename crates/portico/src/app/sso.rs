//! Single sign-on for staff (X13): OpenID Connect, Authorization Code flow
//! with PKCE, state and nonce, configured per practice by its admins. Staff
//! are matched by their provider's verified e-mail address to an active team
//! member of the same practice; no account is ever made here.

use super::policy;
use super::sessions::{ClientInfo, Started};
use super::spans::person;
use super::{App, AppError, AppResult, FieldCheck};
use crate::domain::{EmailAddress, Millis, PracticeId, ValidationError, hash_secret};
use crate::store::{
    AuditActor, AuditKind, PendingSsoLogin, SessionStage, SessionSubject, SsoSettings,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use std::sync::OnceLock;
use std::time::Duration;
use tracing::instrument;

/// Where the provider sends people back.
pub const CALLBACK_PATH: &str = "/app/sso/callback";
/// How long a sign-in sent to the provider may take to come back.
const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;
/// The most a provider's answer may weigh.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

pub const NOT_SET_UP: &str = "Single sign-on is not set up for that address. Sign in with your \
     e-mail address and password.";
const START_AGAIN: &str = "This sign-in has expired or was already used. Start again from the \
     sign-in page.";
const NO_MATCH: &str = "Your identity provider signed you in, but that e-mail address is not an \
     active team member of this practice. Ask an admin of your practice.";
const UNVERIFIED: &str = "Your identity provider has not verified your e-mail address, so \
     Portico cannot match it to a team member. Ask an admin of your practice.";
const PROVIDER_FAILED: &str = "Portico could not complete the sign-in with your identity \
     provider. Start again, or ask an admin of your practice to check the single sign-on \
     settings.";

/// The signing algorithms accepted on ID tokens: asymmetric ones only (a
/// token signed with the client secret is refused).
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// What the settings page shows (never the client secret).
#[derive(Clone, Debug, Default)]
pub struct SsoView {
    pub issuer_url: String,
    pub client_id: String,
    pub has_secret: bool,
    pub display_name: String,
    pub require_sso: bool,
    pub counts_as_two_factor: bool,
}

impl From<&SsoSettings> for SsoView {
    fn from(s: &SsoSettings) -> Self {
        SsoView {
            issuer_url: s.issuer_url.clone(),
            client_id: s.client_id.clone(),
            has_secret: true,
            display_name: s.display_name.clone(),
            require_sso: s.require_sso,
            counts_as_two_factor: s.counts_as_two_factor,
        }
    }
}

/// The settings form as typed; an empty secret keeps the stored one.
#[derive(Debug, Default)]
pub struct SsoForm {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub display_name: String,
    pub require_sso: bool,
    pub counts_as_two_factor: bool,
}

/// Where to send the browser, and the state its cookie keeps until it is
/// back.
#[derive(Debug)]
pub struct SsoRedirect {
    pub url: String,
    pub state: String,
}

/// What the provider sent back to the callback.
#[derive(Debug, Default)]
pub struct SsoCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A failure talking to the provider (for the log, never for a page).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SsoHttpError(String);

/// The HTTP client for providers: no redirects followed (a provider's
/// endpoint answering with a redirect elsewhere is refused), short timeouts.
fn http_client() -> Result<reqwest::Client, SsoHttpError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SsoHttpError(format!("could not prepare the HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// The adapter between `openidconnect`'s requests and the project's reqwest.
async fn send(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, SsoHttpError> {
    let client = http_client()?;
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| SsoHttpError(format!("request to the provider failed: {e}")))?;
    let status = response.status();
    let headers = response.headers().clone();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(SsoHttpError("the provider's answer is too large".into()));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| SsoHttpError(format!("reading the provider's answer failed: {e}")))?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(SsoHttpError("the provider's answer is too large".into()));
    }
    let mut answer = openidconnect::HttpResponse::new(bytes.to_vec());
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

/// The whole cause chain of an error, for the log.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// An issuer as an admin may enter it: https, or http to this machine
/// itself (a provider run for testing).
pub fn parse_issuer(text: &str) -> Result<IssuerUrl, ValidationError> {
    let text = text.trim().trim_end_matches('/');
    let refuse = |why: &str| ValidationError::new(why).at("issuer_url");
    let issuer = IssuerUrl::new(text.to_owned())
        .map_err(|_| refuse("Enter the issuer's address, such as https://accounts.google.com."))?;
    let url = issuer.url();
    let loopback = match url.host() {
        Some(openidconnect::url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(refuse(
                "The issuer's address must start with https:// (plain http only to this machine itself, for testing).",
            ));
        }
        _ => {
            return Err(refuse(
                "Enter the issuer's address, such as https://accounts.google.com.",
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(refuse(
            "The issuer's address has no query, fragment or user name.",
        ));
    }
    Ok(issuer)
}

/// The provider's metadata, fetched from its discovery document; the
/// crate checks that the document names the same issuer.
async fn discover(issuer: &IssuerUrl) -> Result<CoreProviderMetadata, String> {
    CoreProviderMetadata::discover_async(issuer.clone(), &send)
        .await
        .map_err(|e| chain(&e))
}

impl App {
    /// A5 and X13: whether practice settings may be seen and changed.
    fn sso_admin(&self, identity: &super::sessions::Identity) -> AppResult<()> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        if !policy::staff_may_manage_practice(staff, identity.practice.id) {
            return Err(AppError::Forbidden);
        }
        Ok(())
    }

    pub(super) fn sso_context(practice: PracticeId) -> String {
        format!("sso-client-secret:{practice}")
    }

    /// The practice's settings as the settings page shows them (admins only).
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn sso_settings_view(
        &self,
        identity: &super::sessions::Identity,
    ) -> AppResult<Option<SsoView>> {
        self.sso_admin(identity)?;
        Ok(self
            .store
            .sso_settings(identity.practice.id)
            .await?
            .as_ref()
            .map(SsoView::from))
    }

    /// Saves the practice's provider after fetching its discovery document
    /// (a provider that cannot be reached or does not answer as OpenID
    /// Connect requires is refused, with the reason).
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn save_sso_settings(
        &self,
        identity: &super::sessions::Identity,
        form: &SsoForm,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.sso_admin(identity)?;
        let practice = identity.practice.id;
        let current = self.store.sso_settings(practice).await?;
        let mut check = FieldCheck::new();
        let issuer = check.take(parse_issuer(&form.issuer_url));
        let client_id = form.client_id.trim();
        if client_id.is_empty() || client_id.len() > 500 {
            check.refuse(
                ValidationError::new("Enter the client id your provider gave you.").at("client_id"),
            );
        }
        let display_name = form.display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 60 {
            check.refuse(
                ValidationError::new(
                    "Enter the provider's name as your team knows it (up to 60 characters), such as Google Workspace.",
                )
                .at("display_name"),
            );
        }
        let typed_secret = form.client_secret.expose_secret().trim();
        let sealed = if typed_secret.is_empty() {
            match &current {
                Some(current) => Some(current.client_secret_sealed.clone()),
                None => {
                    check.refuse(
                        ValidationError::new("Enter the client secret your provider gave you.")
                            .at("client_secret"),
                    );
                    None
                }
            }
        } else if typed_secret.len() > 2000 {
            check.refuse(
                ValidationError::new("That client secret is too long.").at("client_secret"),
            );
            None
        } else {
            Some(self.keys.seal(typed_secret, &Self::sso_context(practice)))
        };
        check.finish()?;
        let (Some(issuer), Some(sealed)) = (issuer, sealed) else {
            return Err(AppError::Internal("a checked field had no value".into()));
        };
        if let Err(why) = discover(&issuer).await {
            tracing::info!(%why, "single sign-on discovery failed");
            return Err(AppError::Invalid(
                ValidationError::new(format!(
                    "Portico could not read the provider's OpenID Connect discovery document at {}/.well-known/openid-configuration: {}",
                    issuer.as_str(),
                    short_reason(&why)
                ))
                .at("issuer_url"),
            ));
        }
        let settings = SsoSettings {
            practice_id: practice,
            issuer_url: issuer.as_str().to_owned(),
            client_id: client_id.to_owned(),
            client_secret_sealed: sealed,
            display_name: display_name.to_owned(),
            require_sso: form.require_sso,
            counts_as_two_factor: form.counts_as_two_factor,
            updated_at: self.clock.now(),
        };
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        let entry = self
            .audit_entry(practice, staff, AuditKind::SettingsChanged, client)
            .on("practice", practice)
            .detail(format!(
                "single sign-on with {} ({}): {}, {}",
                settings.display_name,
                settings.issuer_url,
                if settings.require_sso {
                    "required"
                } else {
                    "optional"
                },
                if settings.counts_as_two_factor {
                    "counts as two-factor"
                } else {
                    "two-factor still asked"
                }
            ));
        self.store.save_sso_settings(&settings, &entry).await?;
        Ok(())
    }

    /// Turns single sign-on off for the practice (admins only).
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn remove_sso_settings(
        &self,
        identity: &super::sessions::Identity,
        client: &ClientInfo,
    ) -> AppResult<()> {
        self.sso_admin(identity)?;
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        let entry = self
            .audit_entry(
                identity.practice.id,
                staff,
                AuditKind::SettingsChanged,
                client,
            )
            .on("practice", identity.practice.id)
            .detail("single sign-on turned off");
        self.store
            .remove_sso_settings(identity.practice.id, &entry)
            .await?;
        Ok(())
    }

    /// The single sign-on settings of `practice`, if it has any.
    pub(super) async fn sso_of(&self, practice: PracticeId) -> AppResult<Option<SsoSettings>> {
        Ok(self.store.sso_settings(practice).await?)
    }

    /// The provider's name for the staff user with this address, when their
    /// practice has single sign-on (for the sign-in page's button).
    #[instrument(skip_all)]
    pub async fn sso_name_for(&self, email: &str) -> AppResult<Option<String>> {
        let Ok(email) = EmailAddress::parse(email) else {
            return Ok(None);
        };
        let Some((staff, _)) = self.store.find_staff_for_sign_in(&email).await? else {
            return Ok(None);
        };
        Ok(self
            .sso_of(staff.practice_id)
            .await?
            .map(|s| s.display_name))
    }

    /// A practice's OpenID Connect client, from a fresh discovery.
    async fn sso_client(
        &self,
        settings: &SsoSettings,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        String,
    > {
        let issuer = parse_issuer(&settings.issuer_url).map_err(|e| e.message)?;
        let metadata = discover(&issuer).await?;
        let secret = self
            .keys
            .open(
                &settings.client_secret_sealed,
                &Self::sso_context(settings.practice_id),
            )
            .map_err(|e| format!("the client secret could not be opened: {e}"))?;
        let redirect = RedirectUrl::new(self.link(CALLBACK_PATH))
            .map_err(|e| format!("the redirect address is not valid: {e}"))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in with the provider of the practice of the staff user
    /// with this address: the provider's address to send the browser to.
    #[instrument(skip_all)]
    pub async fn begin_sso(&self, email: &str, client: &ClientInfo) -> AppResult<SsoRedirect> {
        let ip_scope = format!("sign-in-ip:{}", client.ip);
        self.check_throttle(&ip_scope, super::throttle::SIGN_IN_PER_IP)
            .await?;
        let email = EmailAddress::parse(email).map_err(|e| AppError::Invalid(e.at("email")))?;
        let found = self.store.find_staff_for_sign_in(&email).await?;
        let settings = match found {
            Some((staff, _)) => self.sso_of(staff.practice_id).await?,
            None => None,
        };
        let Some(settings) = settings else {
            return Err(AppError::Denied(NOT_SET_UP.into()));
        };
        let oidc = self.sso_client(&settings).await.map_err(|why| {
            tracing::warn!(practice = %settings.practice_id, %why, "single sign-on could not start");
            AppError::Denied(PROVIDER_FAILED.into())
        })?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("login_hint", email.as_str())
            .set_pkce_challenge(challenge)
            .url();
        let now = self.clock.now();
        self.store
            .add_sso_login(
                &hash_secret(state.secret()),
                &PendingSsoLogin {
                    practice_id: settings.practice_id,
                    nonce: nonce.secret().clone(),
                    pkce_verifier: verifier.secret().clone(),
                    expires_at: Millis(now.0 + LOGIN_TTL_MS),
                },
                now,
            )
            .await?;
        Ok(SsoRedirect {
            url: url.to_string(),
            state: state.secret().clone(),
        })
    }

    /// Records a refused single sign-on in the practice's log and returns
    /// the refusal.
    async fn sso_refused(
        &self,
        practice: PracticeId,
        actor: AuditActor,
        client: &ClientInfo,
        detail: &str,
        sentence: &str,
    ) -> AppError {
        let entry = self
            .audit_entry(practice, actor, AuditKind::SignInFailed, client)
            .detail(format!("single sign-on: {detail}"));
        if let Err(e) = self.store.audit(&entry).await {
            return e.into();
        }
        AppError::Denied(sentence.into())
    }

    /// The provider sent the browser back: checks the state against the one
    /// this browser was given, trades the code (with the PKCE verifier) for
    /// an ID token, has the crate verify its signature, issuer, audience,
    /// expiry and nonce, and matches the verified e-mail address to an
    /// active team member of the practice.
    #[instrument(skip_all)]
    pub async fn finish_sso(
        &self,
        back: &SsoCallback,
        cookie_state: Option<&str>,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        let ip_scope = format!("sign-in-ip:{}", client.ip);
        self.check_throttle(&ip_scope, super::throttle::SIGN_IN_PER_IP)
            .await?;
        let Some(state) = back.state.as_deref() else {
            return Err(AppError::Denied(START_AGAIN.into()));
        };
        // The state must be the one this browser was sent off with (a
        // callback link from someone else's sign-in is worthless here).
        let same = cookie_state
            .is_some_and(|c| subtle::ConstantTimeEq::ct_eq(c.as_bytes(), state.as_bytes()).into());
        if !same {
            self.record_attempt(&ip_scope).await?;
            return Err(AppError::Denied(START_AGAIN.into()));
        }
        let login = match self.store.take_sso_login(&hash_secret(state)).await {
            Ok(login) => login,
            Err(crate::store::StoreError::NotFound) => {
                self.record_attempt(&ip_scope).await?;
                return Err(AppError::Denied(START_AGAIN.into()));
            }
            Err(other) => return Err(other.into()),
        };
        let practice_id = login.practice_id;
        if login.expires_at.0 < self.clock.now().0 {
            return Err(AppError::Denied(START_AGAIN.into()));
        }
        if let Some(error) = &back.error {
            let detail = format!(
                "the provider answered {error}{}",
                back.error_description
                    .as_deref()
                    .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
                    .unwrap_or_default()
            );
            let sentence = if error == "access_denied" {
                "The sign-in was cancelled at your identity provider. Start again from the sign-in page."
            } else {
                PROVIDER_FAILED
            };
            return Err(self
                .sso_refused(practice_id, AuditActor::System, client, &detail, sentence)
                .await);
        }
        let Some(code) = back.code.as_deref() else {
            return Err(AppError::Denied(START_AGAIN.into()));
        };
        let Some(settings) = self.sso_of(practice_id).await? else {
            return Err(AppError::Denied(NOT_SET_UP.into()));
        };
        let oidc = match self.sso_client(&settings).await {
            Ok(oidc) => oidc,
            Err(why) => {
                tracing::warn!(practice = %practice_id, %why, "single sign-on discovery failed");
                return Err(self
                    .sso_refused(
                        practice_id,
                        AuditActor::System,
                        client,
                        "the provider could not be reached",
                        PROVIDER_FAILED,
                    )
                    .await);
            }
        };
        let exchange = match oidc.exchange_code(AuthorizationCode::new(code.to_owned())) {
            Ok(exchange) => exchange,
            Err(e) => {
                tracing::warn!(practice = %practice_id, why = %e, "single sign-on has no token endpoint");
                return Err(self
                    .sso_refused(
                        practice_id,
                        AuditActor::System,
                        client,
                        "the provider has no token endpoint",
                        PROVIDER_FAILED,
                    )
                    .await);
            }
        };
        let tokens = match exchange
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&send)
            .await
        {
            Ok(tokens) => tokens,
            Err(e) => {
                let why = chain(&e);
                tracing::warn!(practice = %practice_id, %why, "single sign-on code exchange failed");
                return Err(self
                    .sso_refused(
                        practice_id,
                        AuditActor::System,
                        client,
                        "the provider refused the code",
                        PROVIDER_FAILED,
                    )
                    .await);
            }
        };
        let Some(id_token) = tokens.id_token() else {
            return Err(self
                .sso_refused(
                    practice_id,
                    AuditActor::System,
                    client,
                    "the provider sent no ID token",
                    PROVIDER_FAILED,
                )
                .await);
        };
        let verifier = oidc.id_token_verifier().set_allowed_algs(ALGORITHMS);
        let claims = match id_token.claims(&verifier, &Nonce::new(login.nonce.clone())) {
            Ok(claims) => claims.clone(),
            Err(e) => {
                let why = chain(&e);
                tracing::warn!(practice = %practice_id, %why, "single sign-on ID token refused");
                return Err(self
                    .sso_refused(
                        practice_id,
                        AuditActor::System,
                        client,
                        &format!("ID token refused: {}", short_reason(&why)),
                        PROVIDER_FAILED,
                    )
                    .await);
            }
        };
        let email: Option<String> = claims.email().map(|e| e.as_str().to_owned());
        let Some(email) = email.and_then(|e: String| EmailAddress::parse(e.as_str()).ok()) else {
            return Err(self
                .sso_refused(
                    practice_id,
                    AuditActor::System,
                    client,
                    "the ID token carries no e-mail address",
                    NO_MATCH,
                )
                .await);
        };
        let actor = AuditActor::Address(email.to_string());
        if claims.email_verified() != Some(true) {
            return Err(self
                .sso_refused(
                    practice_id,
                    actor,
                    client,
                    "the e-mail address is not verified by the provider",
                    UNVERIFIED,
                )
                .await);
        }
        let staff = match self.store.find_staff_for_sign_in(&email).await? {
            Some((staff, _)) if staff.practice_id == practice_id && staff.active => staff,
            Some((staff, _)) if staff.practice_id == practice_id => {
                return Err(self
                    .sso_refused(
                        practice_id,
                        actor,
                        client,
                        "the team member is deactivated",
                        NO_MATCH,
                    )
                    .await);
            }
            _ => {
                return Err(self
                    .sso_refused(
                        practice_id,
                        actor,
                        client,
                        "no team member of this practice has that address",
                        NO_MATCH,
                    )
                    .await);
            }
        };
        self.store
            .clear_attempts(&format!("sign-in:{email}"))
            .await?;
        let practice = self.store.get_practice(practice_id).await?;
        let stage = if settings.counts_as_two_factor {
            SessionStage::Active
        } else if staff.totp_enabled {
            SessionStage::Totp
        } else if practice.require_totp {
            SessionStage::Enrol
        } else {
            SessionStage::Active
        };
        // A session that still owes a second factor gets its "signed in"
        // entry when the factor is given, as after a password.
        let detail = format!(
            "with single sign-on ({}){}",
            settings.display_name,
            if settings.counts_as_two_factor && (staff.totp_enabled || practice.require_totp) {
                ", which counts as the second factor"
            } else {
                ""
            }
        );
        self.start_session_with(
            &practice,
            SessionSubject::Staff(staff.id),
            stage,
            client,
            &detail,
        )
        .await
    }
}

/// The first line of a reason, short enough for a page.
fn short_reason(why: &str) -> String {
    why.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_or_loopback_http() {
        assert!(parse_issuer("https://accounts.google.com").is_ok());
        assert!(parse_issuer("https://login.microsoftonline.com/abc/v2.0/").is_ok());
        assert!(parse_issuer("http://127.0.0.1:8080").is_ok());
        assert!(parse_issuer("http://localhost:9000/realm").is_ok());
        assert!(parse_issuer("http://[::1]:9000").is_ok());
        assert!(parse_issuer("http://idp.example.com").is_err());
        assert!(parse_issuer("http://10.0.0.1").is_err());
        assert!(parse_issuer("ftp://idp.example.com").is_err());
        assert!(parse_issuer("not an address").is_err());
        assert!(parse_issuer("https://idp.example.com/?x=1").is_err());
    }
}
