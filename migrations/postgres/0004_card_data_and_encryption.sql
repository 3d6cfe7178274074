-- Issue 5: a keyed fingerprint of the card number (hex HMAC-SHA256 with CARD_FINGERPRINT_KEY), so
-- the same card can be recognised across payments without storing the number.
ALTER TABLE payments ADD COLUMN card_fingerprint TEXT;

CREATE INDEX payments_by_card_fingerprint ON payments (merchant_id, card_fingerprint);

-- Sensitive contact data, sealed with AES-256-GCM (hex of nonce || ciphertext || tag, the payment id
-- as associated data) beside the id of the key that sealed it, so `payrail rotate-key` can find and
-- re-seal rows under a new key. Written just before its payment, so no foreign key.
CREATE TABLE payment_contacts (
    payment_id           TEXT PRIMARY KEY NOT NULL,
    merchant_id          TEXT NOT NULL,
    receipt_email_sealed TEXT NOT NULL,
    key_id               TEXT NOT NULL,
    created_at           BIGINT NOT NULL
);

CREATE INDEX payment_contacts_by_key ON payment_contacts (key_id);
