//! `ApiError`: every error a client can see, and the one place that decides its status code, its
//! machine-readable code and its JSON body `{"error": {type, code, message, param?}}`.
//!
//! Messages are written for clients and never carry a source error, a stack trace, a secret or card
//! data; the source chain goes to the logs instead.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use payrail_core::domain::DomainError;
use payrail_core::operation::PaymentError;
use payrail_core::ports::{ProviderError, StoreError};
use serde_json::json;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed body or an invalid field, named by `param`.
    #[error("{message}")]
    InvalidRequest {
        code: &'static str,
        message: String,
        param: Option<String>,
    },
    /// 401: missing, malformed, expired or forged token.
    #[error("authentication required")]
    Unauthorized(&'static str),
    /// 404: no such resource for this merchant.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// 405 on a known path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the state machine refuses the operation in the payment's current state.
    #[error("{0}")]
    InvalidState(String),
    /// 409: another writer changed the payment at the same time; retry.
    #[error("the payment was changed concurrently; retry the request")]
    Conflict,
    /// 409: a request with this idempotency key is still being processed.
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    IdempotencyInProgress { retry_after_secs: u64 },
    /// 422: the idempotency key was used before with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// 413: body larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 422: more than can be captured or refunded.
    #[error("{0}")]
    AmountTooLarge(String),
    /// 502: the provider refused or could not be reached.
    #[error("{message}")]
    Provider { code: String, message: String },
    /// 503: too much work in flight, or the database is down; retry after a moment.
    #[error("{message}")]
    Unavailable { code: &'static str, message: &'static str },
    /// 429: over the merchant's (or client address's) rate limit.
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 500: a bug; details are in the logs only.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn invalid(code: &'static str, message: impl Into<String>, param: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            code,
            message: message.into(),
            param: Some(param.into()),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        use ApiError::*;
        match self {
            InvalidRequest { code, .. } => (StatusCode::BAD_REQUEST, "invalid_request_error", (*code).into()),
            Unauthorized(code) => (StatusCode::UNAUTHORIZED, "authentication_error", (*code).into()),
            NotFound(_) => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "resource_missing".into(),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                "method_not_allowed".into(),
            ),
            InvalidState(_) => (StatusCode::CONFLICT, "invalid_request_error", "invalid_state".into()),
            Conflict => (StatusCode::CONFLICT, "api_error", "concurrent_modification".into()),
            IdempotencyInProgress { .. } => (
                StatusCode::CONFLICT,
                "idempotency_error",
                "idempotency_in_progress".into(),
            ),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_error",
                "idempotency_key_reused".into(),
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "payload_too_large".into(),
            ),
            AmountTooLarge(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request_error",
                "amount_too_large".into(),
            ),
            Provider { code, .. } => (StatusCode::BAD_GATEWAY, "api_error", code.clone()),
            Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, "api_error", (*code).into()),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", "rate_limited".into()),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "api_error", "internal_error".into()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, kind, code) = self.parts();
        let mut error = json!({ "type": kind, "code": code, "message": self.to_string() });
        match self {
            ApiError::InvalidRequest { param: Some(param), .. } => error["param"] = json!(param),
            ApiError::AmountTooLarge(_) => error["param"] = json!("amount"),
            _ => {}
        }
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"payrail\""));
            }
            ApiError::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable { .. } | ApiError::Conflict => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::IdempotencyInProgress { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.json(json!({ "error": error }))
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::InvalidState { .. } => ApiError::InvalidState(error.to_string()),
            DomainError::AmountTooLarge { .. } => ApiError::AmountTooLarge(error.to_string()),
            DomainError::InvalidAmount(message) => ApiError::invalid("invalid_amount", message, "amount"),
            DomainError::UnknownRefund => ApiError::NotFound("refund"),
            DomainError::WrongActionInput { expected } => {
                ApiError::invalid("invalid_action_input", error.to_string(), expected)
            }
            other => ApiError::InvalidRequest {
                code: "invalid_request",
                message: other.to_string(),
                param: None,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => ApiError::Conflict,
            StoreError::UnknownCursor => ApiError::invalid(
                "invalid_cursor",
                "starting_after does not name an item of this list",
                "starting_after",
            ),
            StoreError::Unavailable(reason) => {
                tracing::error!(%reason, "database unavailable");
                ApiError::Unavailable {
                    code: "database_unavailable",
                    message: "the database is unavailable; retry later",
                }
            }
            StoreError::RejectedInput { sqlstate, message } => {
                tracing::error!(%sqlstate, %message, "the database refused input the edge let through");
                ApiError::InvalidRequest {
                    code: "input_rejected",
                    message: "a value of this request cannot be stored".into(),
                    param: None,
                }
            }
            StoreError::Corrupt(reason) => {
                tracing::error!(%reason, "stored data could not be read");
                ApiError::Internal
            }
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::Domain(error) => error.into(),
            PaymentError::Store(error) => error.into(),
            PaymentError::NotFound => ApiError::NotFound("payment"),
            PaymentError::Provider(ProviderError::Unavailable(_)) => ApiError::Provider {
                code: "provider_unavailable".into(),
                message: "the payment provider could not be reached; nothing was changed".into(),
            },
            PaymentError::Provider(ProviderError::Failed(reason)) => {
                tracing::warn!(%reason, "provider failed while processing");
                ApiError::Provider {
                    code: "provider_error".into(),
                    message: "the payment provider failed; retry the same request".into(),
                }
            }
            PaymentError::Provider(ProviderError::Timeout) => ApiError::Provider {
                code: "provider_timeout".into(),
                message: "the payment provider did not answer in time; retry with the same request".into(),
            },
            // A currency the chosen provider does not take, refused before anything was sent.
            PaymentError::Provider(ProviderError::Rejected { code, message }) if code == "currency_not_supported" => {
                ApiError::invalid("currency_not_supported", message, "currency")
            }
            PaymentError::Provider(ProviderError::Rejected { code, message }) => ApiError::Provider { code, message },
            PaymentError::Overloaded => ApiError::Unavailable {
                code: "overloaded",
                message: "too many requests in flight; retry shortly",
            },
            PaymentError::ActorUnavailable => ApiError::Unavailable {
                code: "actor_unavailable",
                message: "the payment could not be processed right now; retry shortly",
            },
        }
    }
}
