//! payrail's black-box tests: the real server on a random port, real SQLite and PostgreSQL, HTTP
//! like a merchant's backend would speak it. One binary, so it compiles and links once.

mod fakes;
mod flutterwave;
mod helpers;
mod logs;
mod sql;

mod audit;
mod auth;
mod card_data;
mod cluster;
mod concurrency;
mod crash;
mod db_outage;
mod encryption;
mod fuzz;
mod group_commit;
mod headers;
mod idempotency;
mod jwt;
mod lifecycle;
mod listing;
mod metrics;
mod multinode;
mod openapi;
mod paypal;
mod paystack;
mod persistence;
mod provider_specs;
mod rate_limit;
mod resilience;
mod restart_log;
mod secrets;
mod shutdown;
mod store_conformance;
mod stripe;
mod supervision;
mod validation;
mod webhooks;
