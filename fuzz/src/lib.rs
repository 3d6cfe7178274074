//! Shared pieces of payrail's coverage-guided fuzz targets (`src/bin/*.rs`, one per parser).
//!
//! Each target is a plain function of the input bytes that calls the same public code the server
//! runs — the create body's edge, the four providers' webhook signature checks and parsers, the
//! JWT check, the Idempotency-Key and fingerprint — and panics only when that code breaks a
//! promise (a panic inside it, or an answer it must never give). AFL++ reports any panic as a
//! crash; `scripts/fuzz.sh` builds and runs every target for a bounded time, with the seed corpora
//! in `fuzz/corpus/<target>/`. A crash found becomes a regression test in the normal suite.

/// Splits an input at its first newline: a header (or token) and the body that follows.
pub fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// The text of a header line, if the HTTP layer could have delivered it (visible ASCII).
pub fn header_text(line: &[u8]) -> Option<&str> {
    std::str::from_utf8(line)
        .ok()
        .filter(|text| text.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
}

/// An error the edge answers must be a client error: a 4xx, never a 5xx.
pub fn assert_client_error(error: &payrail::http::ApiError) {
    use actix_web::ResponseError;
    let status = error.status_code();
    assert!(status.is_client_error(), "{status} for {error:?}");
}
