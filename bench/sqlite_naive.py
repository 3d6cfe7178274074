#!/usr/bin/env python3
"""The naive SQLite baseline for scenario 1 (issue 12): what a straightforward service writes per
auto-captured payment with an idempotency key, into a database `payrail migrate` created (same
tables, indexes, triggers and foreign keys), with the same durability as payrail (WAL,
`synchronous=FULL`), one transaction per state change, each committed before the next begins:

  1. claim the key + insert the payment `pending` + its event      (one transaction, one fsync)
  2. record the capture + its event + store the response           (one transaction, one fsync)

The rows are copies of what payrail writes in scenario 1 (ids, JSON response body, card
fingerprint, provider reference of the same shapes and lengths); like pgbench's naive script, it
writes no audit rows. Single-threaded: SQLite has one writer, so more threads would only queue on
its lock. `--batch N` writes N payments' state changes per transaction instead (the ceiling when
commits are shared; not a baseline).

  bench/sqlite_naive.py /tmp/naive.db 10            # prints "sqlite naive: <payments/s> ..."
"""

import argparse
import sqlite3
import time
import uuid

FINGERPRINT = "4c9df95129c0e659f14a9f7c298aa82d946b75a81992bd937f42854c593db060"
REQUEST_FINGERPRINT = "d3a3c78b1ecc1ab10a8a3d75eac7997ff3f2098fae8d9f59e2efbd943b06dd92"

CLAIM = """INSERT INTO idempotency_keys (merchant_id, idempotency_key, fingerprint, payment_id,
    payment_version, lock_token, locked_at, created_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)
    ON CONFLICT (merchant_id, idempotency_key) DO NOTHING"""
PAYMENT = """INSERT INTO payments (id, merchant_id, amount, currency, capture_method, provider,
    order_id, description, metadata, card_brand, card_last4, card_exp_month, card_exp_year,
    card_fingerprint, return_url, created_at, status, captured_amount, refunded_amount,
    provider_reference, failure_code, failure_message, pending_change_id, pending_change_kind,
    pending_change_amount, next_action, version, updated_at)
    VALUES (?, 'merchant_dev', 1000, 'usd', 'automatic', 'sandbox', NULL, NULL, '{}', 'visa', '4242',
    12, 2034, ?, NULL, ?, 'pending', 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, ?)
    ON CONFLICT DO NOTHING"""
EVENT = """INSERT INTO payment_events (id, payment_id, merchant_id, sequence, kind, from_status,
    to_status, amount, refund_id, failure_code, created_at)
    VALUES (?, ?, 'merchant_dev', ?, ?, ?, ?, 1000, NULL, NULL, ?)"""
CAPTURE = """UPDATE payments SET status = 'succeeded', captured_amount = 1000, refunded_amount = 0,
    provider_reference = ?, failure_code = NULL, failure_message = NULL, pending_change_id = NULL,
    pending_change_kind = NULL, pending_change_amount = NULL, next_action = NULL, version = 2,
    updated_at = ? WHERE id = ? AND version = 1"""
RESPONSE = """UPDATE idempotency_keys SET response_status = 201, response_body = ?, completed_at = ?
    WHERE merchant_id = 'merchant_dev' AND idempotency_key = ? AND lock_token = ?
    AND response_status IS NULL"""


def body(pid, reference):
    return (
        '{"id":"%s","amount":1000,"currency":"usd","status":"succeeded","captured_amount":1000,'
        '"refunded_amount":0,"provider":"sandbox","provider_reference":"%s","order_id":null,'
        '"description":null,"metadata":{},"card":{"brand":"visa","last4":"4242","exp_month":12,'
        '"exp_year":2034,"fingerprint":"%s"},"failure_code":null,"failure_message":null,'
        '"return_url":null,"next_action":null,"created_at":"2026-12-07T11:09:30.701Z",'
        '"updated_at":"2026-12-07T11:09:30.716Z"}' % (pid, reference, FINGERPRINT)
    )


def micros():
    return time.time_ns() // 1000


def pending(db, payment):
    pid, key, lock = payment
    now = micros()
    db.execute(CLAIM, ("merchant_dev", key, REQUEST_FINGERPRINT, pid, lock, now, now))
    db.execute(PAYMENT, (pid, FINGERPRINT, now, now))
    db.execute(EVENT, ("evt_" + str(uuid.uuid4()), pid, 1, "payment.created", None, "pending", now))


def captured(db, payment):
    pid, key, lock = payment
    now = micros()
    reference = "sb_pi_" + uuid.uuid4().hex
    db.execute(CAPTURE, (reference, now, pid))
    db.execute(EVENT, ("evt_" + str(uuid.uuid4()), pid, 2, "payment.succeeded", "pending", "succeeded", now))
    db.execute(RESPONSE, (body(pid, reference), now, key, lock))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", help="a SQLite file that `payrail migrate` created")
    parser.add_argument("seconds", type=float, nargs="?", default=10.0)
    parser.add_argument("--batch", type=int, default=1, help="payments per transaction (1: naive)")
    args = parser.parse_args()

    db = sqlite3.connect(args.database, isolation_level=None)
    assert db.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL

    done, latencies = 0, []
    start = time.monotonic()
    deadline = start + args.seconds
    while time.monotonic() < deadline:
        began = time.monotonic()
        payments = [("pay_" + str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex) for _ in range(args.batch)]
        for step in (pending, captured):
            db.execute("BEGIN")
            for payment in payments:
                step(db, payment)
            db.execute("COMMIT")
        latencies.append(time.monotonic() - began)
        done += args.batch
    elapsed = time.monotonic() - start
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    label = "sqlite naive" if args.batch == 1 else f"sqlite batched {args.batch}"
    print(f"{label}: {done / elapsed:.0f} payments/s ({done} in {elapsed:.1f} s) p99 {p99:.2f} ms "
          f"(sqlite {sqlite3.sqlite_version}, WAL, synchronous=FULL)")


if __name__ == "__main__":
    main()
