"""Schemathesis hooks for payrail: the rules `openapi.json` states in words because JSON Schema cannot.

`scripts/schemathesis.sh` loads this file (SCHEMATHESIS_HOOKS) and runs every check. Each rule below
is one the API really enforces and the document describes (with the error code it answers); each
hook is as narrow as the rule, so everything else the checks find still fails the run.

Requests are adjusted, never answers excused, where a request can be made to satisfy the rule
(positive cases only, and always to a value the schema still accepts):

- `Idempotency-Key` is single-use per request: reusing it for a different request is 422
  `idempotency_key_reused`, by design. The generator draws short keys ("0", "00", ...) and so reuses
  them across operations and payments; a well-formed key is replaced by a fresh UUID.
- A card number must pass the Luhn check, and a card must not have expired before the current
  month; the schema says "12-19 digits" and "2000-2100". A well-formed number gets its check digit
  fixed, an expired date is moved to next year; both stay inside the schema.
- `provider` must be one this deployment configured; the script's payrail configures only the
  sandbox, so another provider the schema lists is replaced by `sandbox`.

Answers are excused (`filter_failure`, shown in the summary as "dropped") only where the rule
depends on data the request cannot know, and only for that rule's error code:

- `starting_after` must name an item of the list (400 `invalid_cursor`): a drawn id never does.
- A capture or refund may not exceed what the payment has left (422 `amount_too_large`).
"""

import datetime
import re
import uuid

import schemathesis

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")
CARD_NUMBER = re.compile(r"[0-9]{12,19}")
# The providers payrail knows (the schema's enum) but the script's run does not configure.
UNCONFIGURED_PROVIDERS = {"stripe", "paypal", "paystack", "flutterwave"}

# (operation ids without the `Legacy` suffix, status, error code) of the answers excused above.
STATE_DEPENDENT_REJECTIONS = {
    ("listPayments", 400, "invalid_cursor"),
    ("listPaymentsByOrder", 400, "invalid_cursor"),
    ("listPaymentEvents", 400, "invalid_cursor"),
    ("capturePayment", 422, "amount_too_large"),
    ("refundPayment", 422, "amount_too_large"),
}


def with_luhn_check_digit(number):
    """`number` with its last digit replaced so that the whole passes the Luhn check."""
    body = number[:-1]
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return body + str((10 - total % 10) % 10)


def is_integral(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value)


def make_card_acceptable(card):
    number = card.get("number")
    if isinstance(number, str) and CARD_NUMBER.fullmatch(number):
        card["number"] = with_luhn_check_digit(number)
    month, year = card.get("exp_month"), card.get("exp_year")
    if is_integral(month) and is_integral(year) and 1 <= month <= 12 and 2000 <= year <= 2100:
        today = datetime.date.today()
        if (int(year), int(month)) < (today.year, today.month):
            card["exp_year"] = today.year + 1


def operation_id(case):
    return case.operation.definition.raw.get("operationId", "").removesuffix("Legacy")


@schemathesis.hook
def before_call(context, case, kwargs):
    # Positive cases only: an edited case is revalidated against the declared parameters alone, so
    # touching a negative one (say, "no Authorization header") would relabel it positive and make
    # Schemathesis put the header back.
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and IDEMPOTENCY_KEY.fullmatch(key):
        headers["Idempotency-Key"] = str(uuid.uuid4())
    if operation_id(case) != "createPayment" or not isinstance(case.body, dict):
        return
    provider = case.body.get("provider")
    if provider in UNCONFIGURED_PROVIDERS:
        case.body["provider"] = "sandbox"
    method = case.body.get("payment_method")
    if isinstance(method, dict) and method.get("type") == "card" and isinstance(method.get("card"), dict):
        make_card_acceptable(method["card"])


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return True
    return (operation_id(case), response.status_code, code) not in STATE_DEPENDENT_REJECTIONS
