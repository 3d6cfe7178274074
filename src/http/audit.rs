//! Auditing refusals from the HTTP layer: how a request becomes a [`RequestOrigin`] (method, path
//! and client address), and the audit line for a refused authentication. The trail itself
//! ([`AuditTrail`]) lives in `audit_trail.rs`, below this layer, so start-up and shutdown reach it
//! without importing `http`.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest};

pub use crate::audit_trail::{AuditTrail, RequestOrigin};
use crate::http::ApiError;

impl RequestOrigin {
    pub fn of(req: &HttpRequest) -> Self {
        Self {
            action: format!("{} {}", req.method(), req.path()),
            address: crate::http::client_ip(req).map(|ip| ip.to_string()),
        }
    }
}

/// Audits a refused authentication (called by the `AuthenticatedMerchant` extractor).
pub fn authentication_failed(req: &HttpRequest, error: &ApiError) {
    let (Some(trail), ApiError::Unauthorized(code)) = (req.app_data::<web::Data<AuditTrail>>(), error) else {
        return;
    };
    trail.refusal(
        "authentication_failure",
        &RequestOrigin::of(req),
        None,
        format!("401 {code}"),
        BTreeMap::new(),
    );
}
