//! Server-rendered HTML for the operator console: [`escape`], the one way any value reaches a
//! page, and [`Page`], the layout every page shares (navigation, a skip link for keyboard users,
//! the logout form with its CSRF token) sent with the console's own Content-Security-Policy.
//! No JavaScript and no inline styles: the policy allows only the console's stylesheet.

use std::fmt::Write;

use actix_web::http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// The console's policy: nothing but its own stylesheet and forms posting to itself.
pub const CONSOLE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// `value` safe inside an element or a double-quoted attribute.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A UTC time from microseconds since the epoch, as operators read it.
pub fn time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|at| at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_default()
}

/// An amount in major units with its currency (`10000`, `usd` → `100.00 USD`); the raw minor
/// units when the currency is unknown.
pub fn money(minor_units: i64, currency: &str) -> String {
    match payrail_core::domain::Currency::parse(currency) {
        Ok(parsed) => format!(
            "{} {}",
            parsed.to_major_string(minor_units),
            currency.to_ascii_uppercase()
        ),
        Err(_) => format!("{minor_units} {}", escape(currency)),
    }
}

/// A page of the console.
pub struct Page<'a> {
    pub title: &'a str,
    /// The logged-in session's CSRF token (the logout form needs it); `None` on the login page
    /// and for bearer-token tools.
    pub csrf: Option<&'a str>,
    pub signed_in: bool,
    /// Already escaped HTML.
    pub body: String,
}

const NAV: [(&str, &str); 6] = [
    ("/console/payments", "Payments"),
    ("/console/providers", "Providers"),
    ("/console/actors", "Actors"),
    ("/console/settlements", "Settlements"),
    ("/console/reconciliations", "Reconciliations"),
    ("/console/audit", "Audit"),
];

impl Page<'_> {
    pub fn render(&self) -> String {
        let mut html = String::new();
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} · payrail console</title>\
             <link rel=\"icon\" href=\"/console/static/favicon.svg\" type=\"image/svg+xml\">\
             <link rel=\"stylesheet\" href=\"/console/static/console.css\"></head><body>\
             <a class=\"skip\" href=\"#main\">Skip to content</a><header><span class=\"brand\">payrail console</span>",
            escape(self.title)
        );
        if self.signed_in {
            html.push_str("<nav aria-label=\"Console\"><ul>");
            for (href, label) in NAV {
                let _ = write!(html, "<li><a href=\"{href}\">{label}</a></li>");
            }
            html.push_str("</ul></nav>");
            if let Some(csrf) = self.csrf {
                let _ = write!(
                    html,
                    "<form method=\"post\" action=\"/console/logout\" class=\"logout\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Log out</button></form>",
                    escape(csrf)
                );
            }
        }
        let _ = write!(
            html,
            "</header><main id=\"main\" tabindex=\"-1\"><h1>{}</h1>{}</main></body></html>",
            escape(self.title),
            self.body
        );
        html
    }

    pub fn respond(&self, status: StatusCode) -> HttpResponse {
        let mut response = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(self.render());
        response
            .headers_mut()
            .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONSOLE_CSP));
        response
    }
}

/// A `<table>` with a caption, header cells and already-escaped body cells.
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = format!("<table><caption>{}</caption><thead><tr>", escape(caption));
    for header in headers {
        let _ = write!(html, "<th scope=\"col\">{}</th>", escape(header));
    }
    html.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(html, "<tr><td colspan=\"{}\">None.</td></tr>", headers.len());
    }
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{cell}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// A link whose target and text are escaped.
pub fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(escape("plain ü text"), "plain ü text");
    }

    #[test]
    fn a_page_escapes_its_title_and_csrf_token() {
        let page = Page {
            title: "<b>",
            csrf: Some("\"><script>"),
            signed_in: true,
            body: String::new(),
        }
        .render();
        assert!(page.contains("<h1>&lt;b&gt;</h1>"));
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<b>"));
    }

    #[test]
    fn money_is_shown_in_major_units() {
        assert_eq!(money(10_050, "usd"), "100.50 USD");
        assert_eq!(money(500, "jpy"), "500 JPY");
        assert_eq!(money(7, "<x>"), "7 &lt;x&gt;");
    }

    #[test]
    fn tables_and_links_escape_what_they_are_given() {
        let html = table("c<", &["h&"], &[vec![link("/x?a=1&b=\"2\"", "<i>")]]);
        assert!(html.contains("<caption>c&lt;</caption>"));
        assert!(html.contains("<th scope=\"col\">h&amp;</th>"));
        assert!(html.contains("href=\"/x?a=1&amp;b=&quot;2&quot;\">&lt;i&gt;</a>"));
    }
}
