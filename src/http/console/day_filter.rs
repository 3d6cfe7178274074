//! The filter the console's report pages share (settlements, reconciliations): a UTC day and a
//! provider from the query string, validated, and the labelled form that sets them.

use actix_web::HttpRequest;

use crate::http::console::html::escape;
use crate::http::console::session::ConsoleError;

#[derive(serde::Deserialize, Default)]
pub struct DayFilter {
    #[serde(default)]
    date: String,
    #[serde(default)]
    provider: String,
}

impl DayFilter {
    /// The request's filter; a day that is not `YYYY-MM-DD` is a 400.
    pub fn parse(req: &HttpRequest) -> Result<Self, ConsoleError> {
        let filter: Self = serde_urlencoded::from_str(req.query_string())
            .map_err(|_| ConsoleError::BadRequest("malformed filter".into()))?;
        if let Some(date) = filter.date() {
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| ConsoleError::BadRequest("date must be YYYY-MM-DD".into()))?;
        }
        Ok(filter)
    }

    pub fn date(&self) -> Option<&str> {
        Some(self.date.trim()).filter(|d| !d.is_empty())
    }

    pub fn provider(&self) -> Option<&str> {
        Some(self.provider.trim()).filter(|p| !p.is_empty())
    }

    /// The form that submits this filter to `action`, showing its current values.
    pub fn form(&self, action: &str) -> String {
        format!(
            "<form method=\"get\" action=\"{}\" class=\"search\">\
             <div class=\"field\"><label for=\"date\">Day (UTC)</label><input id=\"date\" name=\"date\" type=\"date\" value=\"{}\"></div>\
             <div class=\"field\"><label for=\"provider\">Provider</label><input id=\"provider\" name=\"provider\" type=\"text\" value=\"{}\"></div>\
             <button type=\"submit\">Filter</button></form>",
            escape(action),
            escape(&self.date),
            escape(&self.provider)
        )
    }
}
