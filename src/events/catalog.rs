//! The events API's side of merchant events: a merchant's events (newest first, kept for the
//! retention period), one event, a redelivery request, and an endpoint's delivery attempts.

use chrono::Utc;
use payrail_core::domain::{EventId, MerchantId};
use payrail_core::ports::{Page, PageRequest, StoreError};
use serde_json::Value;
use uuid::Uuid;

use crate::events::endpoints::{EndpointStatus, EventFilter};
use crate::events::{object, EventsError, MerchantEvents};
use crate::store::merchant_events::{self as db, AttemptRow, OutboxRow};

/// How a delivery attempt's id begins (`wha_<uuid>`): the dispatcher writes them, the attempts
/// listing takes one as its cursor.
pub const ATTEMPT_ID_PREFIX: &str = "wha_";

/// The filters and page of `GET /api/v1/events`.
pub struct EventQuery {
    pub kind: Option<String>,
    pub payment_id: Option<String>,
    pub page: PageRequest<EventId>,
}

/// A page of events, each its JSON body.
pub struct EventPage {
    pub data: Vec<Value>,
    pub has_more: bool,
}

impl MerchantEvents {
    fn retention_start(&self) -> i64 {
        let days = i64::try_from(self.settings.retention_days).unwrap_or(30);
        Utc::now().timestamp_micros() - days * 86_400 * 1_000_000
    }

    pub async fn list_events(&self, merchant: &MerchantId, query: EventQuery) -> Result<EventPage, EventsError> {
        if let Some(kind) = &query.kind {
            EventFilter::parse(std::slice::from_ref(kind))
                .map_err(|_| EventsError::invalid("type", format!("unknown event type `{kind}`")))?;
        }
        let before = match &query.page.starting_after {
            None => (i64::MAX, String::new()),
            Some(id) => {
                let cursor = db::find_event(&self.database, merchant.as_str(), id.as_str())
                    .await?
                    .ok_or(StoreError::UnknownCursor)?;
                (cursor.created_at, cursor.id)
            }
        };
        let limit = query.page.limit;
        let rows = db::list_events(
            &self.database,
            merchant.as_str(),
            self.retention_start(),
            before,
            query.kind,
            query.payment_id,
            i64::from(limit) + 1,
        )
        .await?;
        let has_more = rows.len() > limit as usize;
        let mut data = Vec::new();
        for row in rows.into_iter().take(limit as usize) {
            data.push(self.body(&row).await?);
        }
        Ok(EventPage { data, has_more })
    }

    pub async fn event(&self, merchant: &MerchantId, id: &str) -> Result<Value, EventsError> {
        let row = self.event_row(merchant, id).await?;
        self.body(&row).await
    }

    async fn event_row(&self, merchant: &MerchantId, id: &str) -> Result<OutboxRow, EventsError> {
        match db::find_event(&self.database, merchant.as_str(), id).await? {
            Some(row) if row.created_at >= self.retention_start() => Ok(row),
            _ => Err(EventsError::NotFound("event")),
        }
    }

    async fn body(&self, row: &OutboxRow) -> Result<Value, EventsError> {
        let text = match &row.payload {
            Some(payload) => payload.clone(),
            None => object::load_and_render(self.store.as_ref(), row).await?,
        };
        serde_json::from_str(&text).map_err(|e| EventsError::Corrupt(format!("event {}: {e}", row.id)))
    }

    /// Asks for the event to be delivered again, now, to `endpoint` or to every enabled endpoint
    /// whose filter matches; returns the endpoint ids it was queued for.
    pub async fn redeliver(
        &self,
        merchant: &MerchantId,
        event_id: &str,
        endpoint: Option<&str>,
    ) -> Result<Vec<String>, EventsError> {
        let event = self.event_row(merchant, event_id).await?;
        let endpoints = match endpoint {
            Some(id) => vec![self.endpoint_row(merchant, id).await?],
            None => db::list_endpoints(&self.database, merchant.as_str())
                .await?
                .into_iter()
                .filter(|e| {
                    e.status == EndpointStatus::Enabled.as_str()
                        && EventFilter::from_column(&e.enabled_events).matches(&event.kind)
                })
                .collect(),
        };
        let now = Utc::now().timestamp_micros();
        let mut statements = Vec::new();
        for e in &endpoints {
            statements.push(db::redeliver(format!("whd_{}", Uuid::new_v4()), &event, &e.id, now));
        }
        // The body every delivery sends; written once, at the first fan-out or here.
        let payload = match &event.payload {
            Some(payload) => payload.clone(),
            None => object::load_and_render(self.store.as_ref(), &event).await?,
        };
        statements.extend(db::insert_markers(vec![(&event, Some(payload))], now));
        db::execute_all(&self.database, statements).await?;
        Ok(endpoints.into_iter().map(|e| e.id).collect())
    }

    /// A page of the endpoint's delivery attempts, newest first; `starting_after` is an attempt
    /// of this endpoint.
    pub async fn attempts(
        &self,
        merchant: &MerchantId,
        endpoint: &str,
        page: &PageRequest<String>,
    ) -> Result<Page<AttemptRow>, EventsError> {
        let row = self.endpoint_row(merchant, endpoint).await?;
        let starting_after = page.starting_after.as_deref();
        Ok(db::list_attempts(&self.database, &row.id, starting_after, page.limit).await?)
    }
}
