//! Webhook endpoints, per merchant: where a merchant wants its events, which ones, and the secret
//! they are signed with. The secret is sealed at rest with the data-at-rest key (the endpoint id
//! as associated data) and shown in full once, when created or rotated; reads show a hint.

use chrono::Utc;
use payrail_core::domain::{EventKind, MerchantId};
use payrail_core::ports::StoreError;
use uuid::Uuid;

use crate::events::signing::{generate_secret, secret_hint};
use crate::events::{EventsError, MerchantEvents};
use crate::secret::Secret;
use crate::store::merchant_events::{self as db, EndpointRow};

/// `we_` + a UUID.
pub const ENDPOINT_PREFIX: &str = "we_";
/// How often a rotation reads the endpoint again when its secret changed under it.
const ROTATION_TRIES: u32 = 3;

/// The event types an endpoint receives: all (`["*"]`) or a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Only(Vec<EventKind>),
}

impl EventFilter {
    /// Parses `enabled_events`; an unknown type is an error naming it.
    pub fn parse(types: &[String]) -> Result<Self, EventsError> {
        if types.is_empty() {
            return Err(EventsError::invalid(
                "enabled_events",
                "must name at least one event type, or \"*\"",
            ));
        }
        if types.iter().any(|t| t == "*") {
            return Ok(EventFilter::All);
        }
        let mut kinds = Vec::new();
        for t in types {
            let kind = EventKind::parse(t)
                .ok_or_else(|| EventsError::invalid("enabled_events", format!("unknown event type `{t}`")))?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(EventFilter::Only(kinds))
    }

    pub fn matches(&self, kind: &str) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(kinds) => kinds.iter().any(|k| k.as_str() == kind),
        }
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            EventFilter::All => vec!["*".into()],
            EventFilter::Only(kinds) => kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }

    fn to_column(&self) -> String {
        serde_json::Value::from(self.names()).to_string()
    }

    pub(crate) fn from_column(raw: &str) -> Self {
        let names: Vec<String> = serde_json::from_str(raw).unwrap_or_default();
        EventFilter::parse(&names).unwrap_or(EventFilter::Only(Vec::new()))
    }
}

/// Whether an endpoint receives events. payrail disables one that answers 410 Gone or fails every
/// attempt for the whole retry period; the merchant can enable it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [EndpointStatus::Enabled, EndpointStatus::Disabled]
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// An endpoint as merchants see it (never the secret itself).
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub enabled_events: EventFilter,
    pub status: EndpointStatus,
    pub secret_hint: String,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<&EndpointRow> for Endpoint {
    fn from(row: &EndpointRow) -> Self {
        Self {
            id: row.id.clone(),
            url: row.url.clone(),
            description: row.description.clone(),
            enabled_events: EventFilter::from_column(&row.enabled_events),
            // Only this file writes the column; anything else reads as disabled.
            status: EndpointStatus::parse(&row.status).unwrap_or(EndpointStatus::Disabled),
            secret_hint: row.secret_prefix.clone(),
            created_at: chrono::DateTime::from_timestamp_micros(row.created_at).unwrap_or_default(),
        }
    }
}

/// A new endpoint, as the request asks for it.
pub struct NewEndpoint {
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
}

/// A PATCH: only the fields present change.
#[derive(Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub description: Option<String>,
    pub status: Option<String>,
}

impl MerchantEvents {
    /// Registers an endpoint; returns it with its secret, shown this once.
    pub async fn create_endpoint(
        &self,
        merchant: &MerchantId,
        new: NewEndpoint,
    ) -> Result<(Endpoint, Secret), EventsError> {
        let filter = EventFilter::parse(&new.enabled_events)?;
        let url = self.check_target(&new.url).await?;
        let id = format!("{ENDPOINT_PREFIX}{}", Uuid::new_v4());
        let secret = generate_secret();
        let sealed = self.cipher.seal(secret.expose(), &id);
        let now = Utc::now().timestamp_micros();
        let row = EndpointRow {
            id,
            merchant_id: merchant.as_str().to_owned(),
            url,
            description: new.description,
            enabled_events: filter.to_column(),
            status: EndpointStatus::Enabled.as_str().into(),
            secret_sealed: sealed.ciphertext,
            secret_key_id: sealed.key_id,
            secret_prefix: secret_hint(&secret),
            previous_secret_sealed: None,
            previous_secret_key_id: None,
            previous_secret_expires_at: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        db::insert_endpoint(&self.database, &row).await?;
        Ok((Endpoint::from(&row), secret))
    }

    pub async fn list_endpoints(&self, merchant: &MerchantId) -> Result<Vec<Endpoint>, EventsError> {
        let rows = db::list_endpoints(&self.database, merchant.as_str()).await?;
        Ok(rows.iter().map(Endpoint::from).collect())
    }

    pub async fn endpoint(&self, merchant: &MerchantId, id: &str) -> Result<Endpoint, EventsError> {
        Ok(Endpoint::from(&self.endpoint_row(merchant, id).await?))
    }

    pub(crate) async fn endpoint_row(&self, merchant: &MerchantId, id: &str) -> Result<EndpointRow, EventsError> {
        db::find_endpoint(&self.database, merchant.as_str(), id)
            .await?
            .ok_or(EventsError::NotFound("webhook_endpoint"))
    }

    pub async fn update_endpoint(
        &self,
        merchant: &MerchantId,
        id: &str,
        changes: EndpointChanges,
    ) -> Result<Endpoint, EventsError> {
        let mut row = self.endpoint_row(merchant, id).await?;
        // Only what the merchant changed is written (see `db::update_endpoint`).
        let mut changed = Vec::new();
        if let Some(types) = &changes.enabled_events {
            row.enabled_events = EventFilter::parse(types)?.to_column();
            changed.push("enabled_events");
        }
        if let Some(url) = &changes.url {
            row.url = self.check_target(url).await?;
            changed.push("url");
        }
        if let Some(raw) = &changes.status {
            let status = EndpointStatus::parse(raw)
                .ok_or_else(|| EventsError::invalid("status", "must be `enabled` or `disabled`"))?;
            if status == EndpointStatus::Enabled {
                // A fresh start: the 3-day failure clock restarts.
                row.failing_since = None;
                changed.push("failing_since");
            }
            row.status = status.as_str().into();
            changed.push("status");
        }
        if changes.description.is_some() {
            row.description = changes.description;
            changed.push("description");
        }
        row.updated_at = Utc::now().timestamp_micros();
        if !db::update_endpoint(&self.database, &row, &changed).await? {
            return Err(EventsError::NotFound("webhook_endpoint"));
        }
        // The endpoint as stored now, other writers' changes included.
        Ok(Endpoint::from(&self.endpoint_row(merchant, id).await?))
    }

    pub async fn delete_endpoint(&self, merchant: &MerchantId, id: &str) -> Result<(), EventsError> {
        match db::delete_endpoint(&self.database, merchant.as_str(), id).await? {
            true => Ok(()),
            false => Err(EventsError::NotFound("webhook_endpoint")),
        }
    }

    /// A new secret; the current one keeps signing beside it for the rotation overlap (24 h).
    pub async fn rotate_secret(&self, merchant: &MerchantId, id: &str) -> Result<(Endpoint, Secret), EventsError> {
        let overlap = i64::try_from(self.settings.rotation_overlap_secs)
            .unwrap_or(i64::MAX / 2_000_000)
            .saturating_mul(1_000_000);
        // Written only over the secret it replaces: a rotation or re-seal that got there first
        // is read again and rotated on top of, never overwritten (a secret a merchant was given
        // would stop signing).
        for _ in 0..ROTATION_TRIES {
            let mut row = self.endpoint_row(merchant, id).await?;
            let secret = generate_secret();
            let sealed = self.cipher.seal(secret.expose(), &row.id);
            let now = Utc::now().timestamp_micros();
            let replaced = std::mem::replace(&mut row.secret_sealed, sealed.ciphertext);
            row.previous_secret_key_id = Some(std::mem::replace(&mut row.secret_key_id, sealed.key_id));
            row.previous_secret_sealed = Some(replaced.clone());
            row.previous_secret_expires_at = Some(now.saturating_add(overlap));
            row.secret_prefix = secret_hint(&secret);
            row.updated_at = now;
            if db::rotate_endpoint_secret(&self.database, &row, &replaced).await? {
                return Ok((Endpoint::from(&row), secret));
            }
        }
        Err(EventsError::Store(StoreError::Unavailable(
            "the endpoint's secret kept changing during the rotation; try again".into(),
        )))
    }

    /// The secrets that sign a delivery now: the current one, and the previous one while its
    /// rotation overlap lasts.
    pub(crate) fn signing_secrets(&self, row: &EndpointRow, now_micros: i64) -> Result<Vec<Secret>, EventsError> {
        let open = |ciphertext: &str, key_id: &str| {
            let sealed = crate::crypto::Sealed {
                key_id: key_id.to_owned(),
                ciphertext: ciphertext.to_owned(),
            };
            self.cipher
                .open(&sealed, &row.id)
                .map(Secret::new)
                .map_err(|e| EventsError::Corrupt(format!("webhook endpoint {} secret: {e}", row.id)))
        };
        let mut secrets = vec![open(&row.secret_sealed, &row.secret_key_id)?];
        if let (Some(ciphertext), Some(key_id), Some(expires)) = (
            &row.previous_secret_sealed,
            &row.previous_secret_key_id,
            row.previous_secret_expires_at,
        ) {
            if expires > now_micros {
                secrets.push(open(ciphertext, key_id)?);
            }
        }
        Ok(secrets)
    }

    async fn check_target(&self, url: &str) -> Result<String, EventsError> {
        let url = url.trim();
        if url.len() > 2048 {
            return Err(EventsError::invalid("url", "must be at most 2048 characters"));
        }
        self.policy
            .check_registration(url)
            .await
            .map(|u| u.to_string())
            .map_err(|e| EventsError::invalid("url", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_name_the_unknown_type() {
        let error = EventFilter::parse(&["payment.succeeded".into(), "payment.exploded".into()]).unwrap_err();
        assert!(error.to_string().contains("payment.exploded"), "{error}");
        let filter = EventFilter::parse(&["refund.updated".into()]).unwrap();
        assert!(filter.matches("refund.updated") && !filter.matches("payment.created"));
        assert_eq!(EventFilter::parse(&["*".into()]).unwrap(), EventFilter::All);
        assert_eq!(EventFilter::from_column(&filter.to_column()), filter);
    }
}
