//! `payrail-bench`: drives a built payrail binary through the scenarios of issue 6 and prints
//! throughput, latency percentiles, errors and the server's peak RSS. See bench/README.md for the
//! commands, the pgbench comparison and the results.

mod load;
mod receiver;
mod scenarios;
mod server;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// 1: POST /api/v1/payments with auto capture, no provider latency.
    CreateCapture,
    /// 2: the same with a 200 ms sandbox and many clients.
    SlowProvider,
    /// 3: concurrent refunds against a few payments.
    HotPayment,
    /// 4: memory per live idle actor and after passivation.
    IdleActors,
    /// 5: scenario 1 through 1, 2, … `--nodes` payrail nodes on one database, one after another.
    Nodes,
    /// 1 twice in one run: without webhook endpoints, then with one subscribed to `*` (issue 11),
    /// and the delivery latency from commit to the receiver.
    CreateCaptureWebhooks,
}

#[derive(Parser, Debug)]
#[command(name = "payrail-bench", about = "Load scenarios for payrail")]
pub struct Options {
    scenario: Scenario,
    /// The payrail binary to start (build it with --release).
    #[arg(long, default_value = "target/release/payrail")]
    server: String,
    /// The database payrail uses (a fresh one per run is best).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/payrail_bench")]
    database_url: String,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent clients (scenario 2 defaults to 2000 when left at 32).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Total requests per second to pace at (default: as fast as answers come).
    #[arg(long)]
    rate: Option<f64>,
    /// Scenario 3: payments the refunds share, and each one's amount.
    #[arg(long, default_value_t = 8)]
    payments: usize,
    #[arg(long, default_value_t = 20_000)]
    amount: i64,
    /// Scenario 4: actors to create, and the idle timeout before passivation.
    #[arg(long, default_value_t = 10_000)]
    actors: u64,
    #[arg(long, default_value_t = 20)]
    idle_timeout_secs: u64,
    /// Scenario 2: simulated provider latency.
    #[arg(long, default_value_t = 200)]
    latency_ms: u64,
    /// Merchant events: the server's `WEBHOOK_POLL_INTERVAL_MS` (its default is 200).
    #[arg(long, default_value_t = 50)]
    webhook_poll_ms: u64,
    /// Scenario 5: the most nodes to run at once.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
}

impl Options {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.duration)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut opts = Options::parse();
    let result = match opts.scenario {
        Scenario::CreateCapture => scenarios::create_capture(&opts, "create-capture", &[], None)
            .await
            .map(|_| ()),
        Scenario::SlowProvider => {
            if opts.connections == 32 {
                opts.connections = 2_000;
            }
            // The sandbox's concurrency limit (256 by default) would cap this at 256 / latency.
            let env = [
                ("SANDBOX_LATENCY_MS", opts.latency_ms.to_string()),
                ("PROVIDER_MAX_CONCURRENCY", opts.connections.max(256).to_string()),
            ];
            scenarios::create_capture(&opts, "slow-provider", &env, None)
                .await
                .map(|_| ())
        }
        Scenario::HotPayment => scenarios::hot_payment(&opts).await,
        Scenario::IdleActors => scenarios::idle_actors(&opts).await,
        Scenario::Nodes => scenarios::nodes(&opts).await,
        Scenario::CreateCaptureWebhooks => scenarios::create_capture_webhooks(&opts).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("payrail-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
