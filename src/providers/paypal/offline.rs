//! Offline PayPal webhook verification: RSA-SHA256 (`SHA256withRSA`) over
//! `"<transmission_id>|<transmission_time>|<webhook_id>|<CRC32 of the raw body, unsigned decimal>"`,
//! checked with the public key of the certificate at `PAYPAL-CERT-URL`.
//!
//! The certificate is fetched only from an allow-listed host (`PAYPAL_CERT_HOSTS`), over https
//! unless the host is loopback (tests), and cached by URL. Its chain to PayPal's CA is not
//! validated: the allow-list is what ties the key to PayPal.

use std::collections::HashMap;

use actix_web::http::header::HeaderMap;
use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::sync::Mutex;

use crate::providers::paypal::webhook::VerifyError;
use crate::providers::webhook::SignatureError;

pub struct CertVerifier {
    client: reqwest::Client,
    allowed_hosts: Vec<String>,
    certificates: Mutex<HashMap<String, CertificateDer<'static>>>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .ok_or(VerifyError::Signature(SignatureError::Missing))?
        .to_str()
        .map_err(|_| VerifyError::Signature(SignatureError::Malformed))
}

/// The string PayPal signs.
pub fn signed_message(transmission_id: &str, time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!("{transmission_id}|{time}|{webhook_id}|{}", crc32fast::hash(body))
}

impl CertVerifier {
    pub fn new(client: reqwest::Client, allowed_hosts: Vec<String>) -> Self {
        Self {
            client,
            allowed_hosts,
            certificates: Mutex::new(HashMap::new()),
        }
    }

    async fn certificate(&self, url: &str) -> Result<CertificateDer<'static>, VerifyError> {
        let refused = VerifyError::Signature(SignatureError::Mismatch);
        let parsed = reqwest::Url::parse(url).map_err(|_| VerifyError::Signature(SignatureError::Malformed))?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let loopback = host == "127.0.0.1" || host == "localhost";
        if !self.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host))
            || !(parsed.scheme() == "https" || loopback)
        {
            tracing::warn!(%host, "paypal webhook certificate host is not allow-listed");
            return Err(refused);
        }
        if let Some(cert) = self.certificates.lock().await.get(url) {
            return Ok(cert.clone());
        }
        let response = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(|_| VerifyError::Unavailable)?;
        if !response.status().is_success() {
            return Err(VerifyError::Unavailable);
        }
        let pem = response.bytes().await.map_err(|_| VerifyError::Unavailable)?;
        let cert = CertificateDer::from_pem_slice(&pem).map_err(|_| refused)?;
        self.certificates.lock().await.insert(url.to_owned(), cert.clone());
        Ok(cert)
    }

    pub async fn verify(&self, webhook_id: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        if !header(headers, "paypal-auth-algo")?.eq_ignore_ascii_case("SHA256withRSA") {
            return Err(VerifyError::Signature(SignatureError::Malformed));
        }
        let message = signed_message(
            header(headers, "paypal-transmission-id")?,
            header(headers, "paypal-transmission-time")?,
            webhook_id,
            body,
        );
        let signature = base64::engine::general_purpose::STANDARD
            .decode(header(headers, "paypal-transmission-sig")?.trim())
            .map_err(|_| VerifyError::Signature(SignatureError::Malformed))?;
        let cert = self.certificate(header(headers, "paypal-cert-url")?).await?;
        let cert =
            webpki::EndEntityCert::try_from(&cert).map_err(|_| VerifyError::Signature(SignatureError::Malformed))?;
        cert.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, message.as_bytes(), &signature)
            .map_err(|_| VerifyError::Signature(SignatureError::Mismatch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_message_ends_with_the_unsigned_crc32_of_the_body() {
        assert_eq!(signed_message("id", "t", "WH", b"hello"), "id|t|WH|907060870");
    }
}
