//! The `payrail` binary: read configuration, install logging, then serve, migrate or issue a token.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use payrail::auth::Jwt;
use payrail::config::Settings;
use payrail::startup::Application;
use payrail::{store, telemetry};
use payrail_core::domain::MerchantId;

#[derive(Parser)]
#[command(name = "payrail", version, about = "An actor-based concurrent payment processor")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Ask providers about payments left pending or processing, settle them, and exit.
    Reconcile,
    /// Build the settlement reports of one UTC day (per provider × currency × merchant) from that
    /// day's committed events; a re-run after late events writes a new revision.
    Settle {
        /// The UTC day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Only this provider's reports.
        #[arg(long)]
        provider: Option<String>,
    },
    /// Compare one provider's own record of a UTC day with payrail's committed events of that day
    /// and write a reconciliation report per merchant listing every mismatch (also audited).
    ReconcileReport {
        /// The UTC day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The provider whose records to fetch (sandbox, stripe, paypal, paystack, flutterwave).
        #[arg(long)]
        provider: String,
    },
    /// Re-encrypt every sealed value under the current ENCRYPTION_KEY / ENCRYPTION_KEY_ID (older keys
    /// listed in ENCRYPTION_PREVIOUS_KEYS are used to open them).
    RotateKey,
    /// Print a bearer token for a merchant, signed with the configured JWT_SECRET.
    Token {
        #[arg(long)]
        merchant: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl_secs: u64,
    },
    /// Print a bearer token with the `operator` role (opens /console, not the merchant API).
    OperatorToken {
        #[arg(long)]
        name: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 28_800)]
        ttl_secs: u64,
    },
    /// Work with the hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the audit chain; exit non-zero naming the first broken entry.
    Verify,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("payrail: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // After a graceful shutdown (drained, flushed, pool closed) exit at once: tearing the
            // actor system down afterwards would drop background actors' futures (the audit batch)
            // outside the Tokio context, which sqlx answers with a panic message.
            let code = match serve(settings).await {
                Ok(()) => 0,
                Err(message) => {
                    eprintln!("payrail: {message}");
                    1
                }
            };
            let _ = std::io::Write::flush(&mut std::io::stdout());
            std::process::exit(code)
        }
        Command::Migrate => migrate(settings).await,
        Command::Reconcile => reconcile(settings).await,
        Command::RotateKey => rotate_key(settings).await,
        Command::Settle { date, provider } => settle(settings, &date, provider.as_deref()).await,
        Command::ReconcileReport { date, provider } => reconcile_report(settings, &date, &provider).await,
        Command::Token { merchant, ttl_secs } => token(&settings, &merchant, ttl_secs),
        Command::OperatorToken { name, ttl_secs } => operator_token(&settings, &name, ttl_secs),
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit_verify(settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("payrail: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    telemetry::init(&settings.log);
    let challenges = std::sync::Arc::new(payrail::providers::Challenges::new(&settings.http.public_url()));
    let paypal = payrail::providers::paypal(&settings);
    let sandbox = payrail::providers::SandboxParts { challenges, book: None };
    let providers: Vec<String> = payrail::providers::configured(&settings, paypal, sandbox)
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    let summary = format!(
        "payrail listening on http://{}:{{port}} ({}, database {}, providers: {})",
        settings.http.host,
        format!("{:?}", settings.environment).to_lowercase(),
        redact_url(&settings.database.url),
        providers.join(", ")
    );
    let app = Application::build(settings).await.map_err(|e| e.to_string())?;
    println!("{}", summary.replace("{port}", &app.port().to_string()));
    if let Some(dev) = app.dev_token() {
        let lifetime = if dev.ephemeral_secret {
            " (JWT_SECRET is unset: valid until this process stops)"
        } else {
            ""
        };
        println!("Development token for merchant `{}`{lifetime}:", dev.merchant);
        println!("export PAYRAIL_TOKEN={}", dev.token);
    }
    app.run_until_signalled().await.map_err(|e| e.to_string())
}

async fn migrate(settings: Settings) -> Result<(), String> {
    telemetry::init(&settings.log);
    let database = store::open(&settings.database).await.map_err(|e| e.to_string())?;
    database.migrate().await.map_err(|e| e.to_string())?;
    println!("migrations applied ({})", database.backend());
    Ok(())
}

async fn audit_verify(settings: Settings) -> Result<(), String> {
    let database = store::open(&settings.database).await.map_err(|e| e.to_string())?;
    let verdict = store::verify_chain(database.audit_store().as_ref())
        .await
        .map_err(|e| e.to_string())?;
    database.close().await;
    match verdict {
        Ok(entries) => {
            println!("audit chain intact: {entries} entries verified");
            Ok(())
        }
        Err(broken) => Err(broken.to_string()),
    }
}

async fn reconcile(settings: Settings) -> Result<(), String> {
    telemetry::init(&settings.log);
    let database = store::open(&settings.database).await.map_err(|e| e.to_string())?;
    database.migrate().await.map_err(|e| e.to_string())?;
    let (supervisor, providers) = payrail::startup::start_supervisor(
        &settings,
        payrail::providers::paypal(&settings),
        payrail::providers::SandboxParts {
            challenges: std::sync::Arc::new(payrail::providers::Challenges::new(&settings.http.public_url())),
            book: Some(std::sync::Arc::new(database.clone())),
        },
        database.store(),
        std::sync::Arc::new(payrail_core::observer::NoopObserver),
    )
    .map_err(|e| e.to_string())?;
    let report = payrail::reconcile::run_once(&database, &supervisor, std::time::Duration::ZERO).await;
    println!(
        "reconciled: {} examined, {} settled, {} errors (providers: {})",
        report.examined,
        report.settled,
        report.errors,
        providers.join(", ")
    );
    if report.errors > 0 {
        return Err("some payments could not be reconciled".into());
    }
    Ok(())
}

async fn settle(settings: Settings, date: &str, provider: Option<&str>) -> Result<(), String> {
    telemetry::init(&settings.log);
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| "invalid --date: use YYYY-MM-DD")?;
    let database = store::open(&settings.database).await.map_err(|e| e.to_string())?;
    database.migrate().await.map_err(|e| e.to_string())?;
    let settled = payrail::settlements::settle(&database, day, provider, chrono::Utc::now()).await;
    database.close().await;
    let settled = settled.map_err(|e| e.to_string())?;
    println!(
        "settlement {date}: batch {}",
        settled.batch_id.as_deref().unwrap_or("(unchanged)")
    );
    for (key, revision, figures, written) in &settled.reports {
        println!(
            "{} {} {} rev {revision}{}: captured {} ({}), refunded {} ({}), fees {}, net {}",
            key.provider,
            key.currency,
            key.merchant_id,
            if *written { " (new)" } else { "" },
            figures.captured_amount,
            figures.captured_count,
            figures.refunded_amount,
            figures.refunded_count,
            figures
                .fees
                .map_or_else(|| "not reported".to_owned(), |f| f.to_string()),
            figures.net_amount,
        );
    }
    Ok(())
}

async fn reconcile_report(settings: Settings, date: &str, provider: &str) -> Result<(), String> {
    telemetry::init(&settings.log);
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| "invalid --date: use YYYY-MM-DD")?;
    let database = store::open(&settings.database).await.map_err(|e| e.to_string())?;
    database.migrate().await.map_err(|e| e.to_string())?;
    let book = std::sync::Arc::new(database.clone());
    let Some(ledger) = payrail::providers::ledger(&settings, provider, book) else {
        database.close().await;
        return Err(format!(
            "invalid --provider: `{provider}` is not configured or has no listing to reconcile against"
        ));
    };
    let run = payrail::reconciliation::reconcile_day(&database, ledger.as_ref(), day, chrono::Utc::now()).await;
    database.close().await;
    let run = run.map_err(|e| e.to_string())?;
    let mismatches: usize = run.reports.iter().map(|(_, r)| r.mismatches.len()).sum();
    println!(
        "reconciliation {date} {provider}: run {}, {mismatches} mismatch(es)",
        run.run_id
    );
    for (id, report) in &run.reports {
        println!(
            "{id} {}: payrail {}, provider {}, matched {}, mismatched {}",
            report.merchant_id.as_deref().unwrap_or("(unattributed)"),
            report.payrail_count,
            report.provider_count,
            report.matched_count,
            report.mismatches.len()
        );
        for mismatch in &report.mismatches {
            let side = |side: &Option<payrail::reconciliation::report::Side>| {
                side.as_ref().map_or_else(
                    || "-".to_owned(),
                    |s| format!("{} {} {}", s.amount, s.currency, s.status.as_str()),
                )
            };
            println!(
                "  {} {} {}: payrail {}, provider {}",
                mismatch.kind.as_str(),
                mismatch.record_type.as_str(),
                mismatch.reference,
                side(&mismatch.payrail),
                side(&mismatch.provider)
            );
        }
    }
    Ok(())
}

async fn rotate_key(settings: Settings) -> Result<(), String> {
    telemetry::init(&settings.log);
    let cipher = std::sync::Arc::new(settings.security.cipher().map_err(|e| e.to_string())?);
    let key_id = cipher.current_key_id().to_owned();
    let database = store::open(&settings.database).await.map_err(|e| e.to_string())?;
    database.migrate().await.map_err(|e| e.to_string())?;
    let contacts = store::Contacts::new(database.clone(), cipher.clone());
    let emails = contacts.rotate().await.map_err(|e| e.to_string())?;
    let endpoints = store::merchant_events::reseal_secrets(&database, &cipher)
        .await
        .map_err(|e| e.to_string())?;
    database.close().await;
    println!(
        "re-encrypted {emails} receipt email(s), {} webhook endpoint secret(s) and {} previous \
         webhook endpoint secret(s) under key id `{key_id}`",
        endpoints.secrets, endpoints.previous_secrets
    );
    Ok(())
}

fn token(settings: &Settings, merchant: &str, ttl_secs: u64) -> Result<(), String> {
    if settings.auth.jwt_secret.is_none() {
        return Err("JWT_SECRET is not set; set it to issue tokens (RS256 tokens come from your issuer)".into());
    }
    let merchant = MerchantId::parse(merchant).map_err(|_| "invalid --merchant: use 1-128 printable characters")?;
    let (jwt, _) = Jwt::from_settings(settings).map_err(|e| e.to_string())?;
    let token = jwt.issue(&merchant, ttl_secs).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

fn operator_token(settings: &Settings, name: &str, ttl_secs: u64) -> Result<(), String> {
    if settings.auth.jwt_secret.is_none() {
        return Err("JWT_SECRET is not set; set it to issue tokens (or use OPERATOR_TOKEN)".into());
    }
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err("invalid --name: use 1-128 printable characters".into());
    }
    let (jwt, _) = Jwt::from_settings(settings).map_err(|e| e.to_string())?;
    println!("{}", jwt.issue_operator(name, ttl_secs).map_err(|e| e.to_string())?);
    Ok(())
}

/// The database URL without its password, for the start-up line.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://[redacted]@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_owned(),
    }
}
