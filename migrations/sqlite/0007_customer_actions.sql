-- Issue 13: customer actions. `return_url` is the merchant's page the customer goes back to after a
-- customer action (fixed at creation); `next_action` is what a `requires_action` payment waits for,
-- as JSON in Stripe's shape ({"type":"redirect_to_url","redirect_to_url":{"url":...}}), cleared
-- when the payment leaves `requires_action`.
ALTER TABLE payments ADD COLUMN return_url TEXT;
ALTER TABLE payments ADD COLUMN next_action TEXT;
