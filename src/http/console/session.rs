//! Who may open the console, and how a person stays signed in.
//!
//! An operator proves itself with `OPERATOR_TOKEN` or a JWT whose `role` claim is `operator`
//! (`Jwt::verify_operator`); a merchant token never opens the console, and an operator token
//! never opens the merchant API. Tools send it as `Authorization: Bearer`; people paste it into
//! the login form once, which opens a session: a random id in an `HttpOnly; SameSite=Strict`
//! cookie scoped to `/console` (`Secure` outside development), valid for eight hours. Every POST
//! form of a session carries the session's CSRF token, checked on top of SameSite=Strict; a bearer
//! request carries no ambient credential, so it needs none.
//!
//! Sessions live in the database (`store/console_sessions.rs`), stored under the SHA-256 of the
//! cookie's id: a login on one node works on every node behind the balancer, and signing out on
//! one signs out everywhere.

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderValue, AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use crate::auth::Jwt;
use crate::http::bearer_token;
use crate::http::console::html::{escape, Page};
use crate::secret::Secret;
use crate::store::console_sessions::ConsoleSession;
use crate::store::Database;

pub const COOKIE_NAME: &str = "payrail_console";
const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The console's shared state: who may sign in, where sessions are kept, the last audit
/// verification on this node.
pub struct Console {
    operator_token: Option<Secret>,
    secure_cookie: bool,
    database: Database,
    pub audit: crate::http::console::audit_status::AuditStatus,
}

impl Console {
    /// `secure_cookie`: mark the session cookie `Secure` (everywhere but development over HTTP).
    pub fn new(operator_token: Option<Secret>, secure_cookie: bool, database: Database) -> Self {
        Self {
            operator_token,
            secure_cookie,
            database,
            audit: Default::default(),
        }
    }

    /// The operator a token names: the configured operator token, or an operator-role JWT.
    fn operator_of(&self, token: &str, jwt: Option<&Jwt>) -> Option<String> {
        if let Some(expected) = &self.operator_token {
            if constant_time_eq(expected.expose(), token) {
                return Some("operator".to_owned());
            }
        }
        jwt?.verify_operator(token).ok()
    }

    /// Opens a session for `operator`: the cookie's id (only its hash is stored).
    async fn open_session(&self, operator: String) -> Result<String, ConsoleError> {
        let id = random_hex();
        let now = chrono::Utc::now().timestamp_micros();
        let lifetime = i64::try_from(SESSION_LIFETIME.as_micros()).unwrap_or(i64::MAX);
        let session = ConsoleSession {
            operator,
            csrf: random_hex(),
        };
        self.database
            .open_console_session(&id_hash(&id), &session, now + lifetime, now)
            .await?;
        Ok(id)
    }

    /// The live session with this cookie id, on whichever node it was opened.
    async fn session(&self, id: &str) -> Result<Option<ConsoleSession>, ConsoleError> {
        let now = chrono::Utc::now().timestamp_micros();
        Ok(self.database.console_session(&id_hash(id), now).await?)
    }

    fn cookie(&self, value: &str, max_age_secs: u64) -> String {
        cookie(self.secure_cookie, value, max_age_secs)
    }
}

/// The session cookie's `Set-Cookie` value.
fn cookie(secure: bool, value: &str, max_age_secs: u64) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

/// What the database keeps of a session id: its SHA-256, hex.
fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Equal strings, compared in time independent of where they differ (over their digests, so
/// the length does not show either).
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A request's session cookie value, if any.
fn session_cookie(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get(COOKIE)?.to_str().ok()?;
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE_NAME).then(|| value.to_owned())
    })
}

/// An operator, proven by a bearer token or a session. `csrf` is the session's token (`None`
/// for bearer requests, which need none).
pub struct Operator {
    pub name: String,
    pub csrf: Option<String>,
}

impl Operator {
    /// Refuses a session's form whose `csrf` field is not the session's token.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), ConsoleError> {
        match &self.csrf {
            None => Ok(()),
            Some(expected) if submitted.is_some_and(|s| constant_time_eq(expected, s)) => Ok(()),
            Some(_) => Err(ConsoleError::Csrf),
        }
    }

    /// The page layout for this operator.
    pub fn page<'a>(&'a self, title: &'a str, body: String) -> Page<'a> {
        Page {
            title,
            csrf: self.csrf.as_deref(),
            signed_in: true,
            body,
        }
    }
}

/// Why the console refused a request.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No credential: a person is sent to the login form.
    #[error("sign in to use the console")]
    SignIn,
    /// A bearer token that is not an operator's.
    #[error("not an operator token")]
    Unauthorized,
    /// A session's form without its CSRF token.
    #[error("the form's CSRF token is missing or wrong; reload the page")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("the database is unavailable")]
    Unavailable,
}

impl From<payrail_core::ports::StoreError> for ConsoleError {
    fn from(error: payrail_core::ports::StoreError) -> Self {
        tracing::error!(%error, "console: store error");
        ConsoleError::Unavailable
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Unauthorized => StatusCode::UNAUTHORIZED,
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignIn = self {
            return HttpResponse::SeeOther()
                .insert_header((LOCATION, "/console/login"))
                .finish();
        }
        let mut response = Page {
            title: "Console error",
            csrf: None,
            signed_in: false,
            body: format!("<p role=\"alert\">{}</p>", escape(&self.to_string())),
        }
        .respond(self.status_code());
        if let ConsoleError::Unauthorized = self {
            response.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl FromRequest for Operator {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Operator, ConsoleError> {
    let console = req.app_data::<web::Data<Console>>().ok_or(ConsoleError::Unavailable)?;
    if req.headers().contains_key(AUTHORIZATION) {
        let jwt = req.app_data::<web::Data<Jwt>>().map(|jwt| jwt.get_ref());
        let operator = bearer_token(req.headers())
            .and_then(|token| console.operator_of(token, jwt))
            .ok_or_else(|| refused(req))?;
        return Ok(Operator {
            name: operator,
            csrf: None,
        });
    }
    let id = session_cookie(req).ok_or(ConsoleError::SignIn)?;
    let session = console.session(&id).await?.ok_or(ConsoleError::SignIn)?;
    Ok(Operator {
        name: session.operator,
        csrf: Some(session.csrf),
    })
}

/// A refused operator credential: a warn line (never the token) and an audit record, as for a
/// refused merchant token.
fn refused(req: &HttpRequest) -> ConsoleError {
    tracing::warn!(path = req.path(), "console: operator credential refused");
    crate::http::audit::authentication_failed(req, &crate::http::ApiError::Unauthorized("operator_token_refused"));
    ConsoleError::Unauthorized
}

fn login_page(message: Option<&str>, status: StatusCode) -> HttpResponse {
    let alert = message
        .map(|m| format!("<p role=\"alert\" class=\"error\">{}</p>", escape(m)))
        .unwrap_or_default();
    Page {
        title: "Sign in",
        csrf: None,
        signed_in: false,
        body: format!(
            "{alert}<form method=\"post\" action=\"/console/login\" class=\"login\">\
             <label for=\"token\">Operator token</label>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button></form>\
             <p>Use <code>OPERATOR_TOKEN</code> or a JWT with the <code>operator</code> role; merchant tokens do not open the console.</p>"
        ),
    }
    .respond(status)
}

pub async fn login_form() -> HttpResponse {
    login_page(None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: String,
}

pub async fn login(req: HttpRequest, console: web::Data<Console>, form: web::Form<LoginForm>) -> HttpResponse {
    let jwt = req.app_data::<web::Data<Jwt>>().map(|jwt| jwt.get_ref());
    let Some(operator) = console.operator_of(form.token.trim(), jwt) else {
        refused(&req);
        return login_page(Some("That token does not open the console."), StatusCode::UNAUTHORIZED);
    };
    tracing::info!(operator = %operator, "console: signed in");
    let id = match console.open_session(operator).await {
        Ok(id) => id,
        Err(error) => return error.error_response(),
    };
    HttpResponse::SeeOther()
        .insert_header((LOCATION, "/console/payments"))
        .insert_header((SET_COOKIE, console.cookie(&id, SESSION_LIFETIME.as_secs())))
        .finish()
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

pub async fn logout(
    req: HttpRequest,
    console: web::Data<Console>,
    operator: Operator,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    operator.check_csrf(form.csrf.as_deref())?;
    if let Some(id) = session_cookie(&req) {
        console.database.close_console_session(&id_hash(&id)).await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, "/console/login"))
        .insert_header((SET_COOKIE, console.cookie("", 0)))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_outside_development() {
        let secure = cookie(true, "id", 60);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/console"] {
            assert!(secure.contains(part), "{secure}");
        }
        assert!(!cookie(false, "id", 60).contains("Secure"));
    }

    #[test]
    fn only_a_hash_of_the_session_id_is_kept() {
        let id = random_hex();
        assert_eq!(id_hash(&id).len(), 64);
        assert_ne!(id_hash(&id), id);
        assert_ne!(id_hash(&id), id_hash(&random_hex()));
    }
}
