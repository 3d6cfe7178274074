//! A merchant's webhook receiver for the merchant-events bench: a bare HTTP/1.1 server on
//! 127.0.0.1 that answers every POST with 204 and records, per event, the time from the event's
//! `created_at` (stamped just before its commit) to the 204 written back.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Commit-to-receiver latencies in milliseconds, one per delivery.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<f64>>>);

impl Received {
    pub fn latencies(&self) -> Vec<f64> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Starts the receiver; returns its URL and what it records.
pub async fn start() -> Result<(String, Received), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let received = Received::default();
    let record = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let _ = serve(stream, record).await;
            });
        }
    });
    Ok((format!("http://127.0.0.1:{port}/hooks"), received))
}

async fn serve(stream: tokio::net::TcpStream, record: Received) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await?;
        stream
            .get_mut()
            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .await?;
        let answered = chrono_now_ms();
        if let Some(created) = created_at_ms(&body) {
            if let Ok(mut latencies) = record.0.lock() {
                latencies.push(answered - created);
            }
        }
    }
}

fn chrono_now_ms() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_secs_f64() * 1000.0
}

/// The event's `created_at` (RFC 3339, UTC, milliseconds) in unix milliseconds.
fn created_at_ms(body: &[u8]) -> Option<f64> {
    let event: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = event["created_at"].as_str()?;
    // `2026-11-22T02:14:21.123Z`
    let (date, time) = text.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, millis) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    let days = days_from_civil(y, m, day);
    let seconds = days * 86_400 + h * 3_600 + min * 60 + s;
    Some(seconds as f64 * 1000.0 + millis.parse::<f64>().ok()?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_event_timestamps() {
        let body = br#"{"created_at":"1970-01-02T00:00:01.500Z"}"#;
        assert_eq!(super::created_at_ms(body), Some(86_401_500.0));
    }
}
