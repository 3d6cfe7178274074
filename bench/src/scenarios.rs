//! The four scenarios of issue 6 (see bench/README.md): each starts its own payrail, drives it,
//! prints one result line, and stops it with SIGTERM.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::load;
use crate::receiver::Received;
use crate::server::Server;
use crate::Options;

const CARD: &str = "4242424242424242";
/// How long the merchant-events bench waits after the load for the last deliveries.
const DRAIN_LIMIT: Duration = Duration::from_secs(180);

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

fn payment_body(amount: i64) -> Value {
    json!({
        "amount": amount,
        "currency": "usd",
        "capture": true,
        "payment_method": { "type": "card", "card": { "number": CARD, "exp_month": 12, "exp_year": 2034, "cvc": "123" } },
    })
}

/// POST a new auto-captured payment with a unique idempotency key; returns the status.
async fn create(client: &reqwest::Client, server: &(String, String), amount: i64) -> Result<u16, String> {
    let response = client
        .post(format!("{}/api/v1/payments", server.0))
        .bearer_auth(&server.1)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&payment_body(amount))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    Ok(status)
}

fn finish(server: Server) {
    match server.stop() {
        Some(0) => {}
        other => eprintln!("warning: payrail did not exit 0 after SIGTERM: {other:?}"),
    }
}

/// What one run of scenario 1 measured, for the scenarios that compare runs.
pub struct Measured {
    pub payments_per_sec: f64,
    /// `webhook_deliveries_pending` just before SIGTERM: deliveries fanned out and not yet made
    /// (the gauge is refreshed every 5 s; events not fanned out yet are not counted).
    pub pending_deliveries: f64,
}

/// Scenario 1 (and 2 with latency): create + auto capture, `connections` closed-loop clients.
/// Scenario 1. With `drain` (the merchant-events bench), the server then runs on after the load
/// until the receiver has every event (two per payment), and the time that took is printed.
pub async fn create_capture(
    opts: &Options,
    label: &str,
    env: &[(&str, String)],
    drain: Option<&Received>,
) -> Result<Measured, String> {
    let server = Server::start(&opts.server, &opts.database_url, env)?;
    let target = Arc::new((server.base.clone(), server.token.clone()));
    let http = client(opts.connections);
    // Warm-up: connections, prepared statements, allocator.
    for _ in 0..20 {
        create(&http, &target, 1_000).await?;
    }
    let cpu_before = server.cpu_seconds();
    let report = load::run(opts.connections, opts.duration(), opts.rate, move |_, _| {
        let (http, target) = (http.clone(), Arc::clone(&target));
        async move { create(&http, &target, 1_000).await }
    })
    .await;
    let cpu = server.cpu_seconds() - cpu_before;
    report.print(label, &[201], &[201], server.peak_rss_kib());
    println!(
        "  payrail CPU: {:.2} s = {:.3} ms per payment ({:.0}% of one core)",
        cpu,
        cpu * 1000.0 / report.count(&[201]).max(1) as f64,
        cpu * 100.0 / report.elapsed.as_secs_f64()
    );
    let batch = metric(&client(1), &server.base, "database_commit_batch_size_mean").await;
    println!("  mean transitions per database transaction (group commit): {batch:.1}");
    let pending_deliveries = metric(&client(1), &server.base, "webhook_deliveries_pending").await;
    if let Some(received) = drain {
        // Warm-up payments included; each has `payment.created` and `payment.succeeded`.
        let expected = 2 * (usize::try_from(report.count(&[201])).unwrap_or(usize::MAX / 4) + 20);
        let during = received.latencies().len();
        let started = Instant::now();
        while received.latencies().len() < expected && started.elapsed() < DRAIN_LIMIT {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = received.latencies().len();
        match got >= expected {
            true => println!(
                "  deliveries: {during} during the load; all {expected} delivered {:.1} s after it stopped",
                started.elapsed().as_secs_f64()
            ),
            false => {
                println!("  deliveries: {during} during the load; {got} of {expected} by {DRAIN_LIMIT:?} after it")
            }
        }
    }
    finish(server);
    Ok(Measured {
        payments_per_sec: report.count(&[201]) as f64 / report.elapsed.as_secs_f64(),
        pending_deliveries,
    })
}

/// Scenario 5 (issue 14): scenario 1's load spread round-robin over 1, then 2, … `opts.nodes`
/// payrail processes on the same database, in the same run; payments/s, p99 and each node's CPU.
pub async fn nodes(opts: &Options) -> Result<(), String> {
    for n in 1..=opts.nodes.max(1) {
        let servers = (0..n)
            .map(|_| Server::start(&opts.server, &opts.database_url, &[]))
            .collect::<Result<Vec<_>, _>>()?;
        let targets: Arc<Vec<(String, String)>> =
            Arc::new(servers.iter().map(|s| (s.base.clone(), s.token.clone())).collect());
        let http = client(opts.connections);
        for target in targets.iter() {
            for _ in 0..20 {
                create(&http, target, 1_000).await?;
            }
        }
        let cpu_before: Vec<f64> = servers.iter().map(Server::cpu_seconds).collect();
        let run_targets = Arc::clone(&targets);
        let report = load::run(opts.connections, opts.duration(), opts.rate, move |worker, _| {
            let (http, targets) = (http.clone(), Arc::clone(&run_targets));
            async move { create(&http, &targets[worker % targets.len()], 1_000).await }
        })
        .await;
        let peak = servers.iter().map(Server::peak_rss_kib).max().unwrap_or(0);
        report.print(&format!("nodes-{n}"), &[201], &[201], peak);
        let cpu: Vec<String> = servers
            .iter()
            .zip(cpu_before)
            .map(|(s, before)| {
                format!(
                    "{:.0}%",
                    (s.cpu_seconds() - before) * 100.0 / report.elapsed.as_secs_f64()
                )
            })
            .collect();
        println!("  payrail CPU per node (of one core): {}", cpu.join(", "));
        servers.into_iter().for_each(finish);
    }
    Ok(())
}

/// Scenario 1 without, then with, one webhook endpoint subscribed to `*` (the same database and
/// binary, back to back): what the endpoint costs the payment path, and how long deliveries took
/// from commit to the receiver's 2xx.
pub async fn create_capture_webhooks(opts: &Options) -> Result<(), String> {
    let without = create_capture(opts, "create-capture, no endpoint", &[], None).await?;
    let (url, received) = crate::receiver::start().await?;
    // Registered by a server of its own, so the measured one starts with the endpoint in place.
    let setup = Server::start(&opts.server, &opts.database_url, &[])?;
    let response = client(1)
        .post(format!("{}/api/v1/webhook_endpoints", setup.base))
        .bearer_auth(&setup.token)
        .json(&json!({ "url": url, "enabled_events": ["*"] }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().as_u16() != 201 {
        return Err(format!("registering the endpoint: {}", response.status()));
    }
    finish(setup);
    let before = received.latencies().len();
    let env = [("WEBHOOK_POLL_INTERVAL_MS", opts.webhook_poll_ms.to_string())];
    let with = create_capture(
        opts,
        "create-capture, one endpoint subscribed to *",
        &env,
        Some(&received),
    )
    .await?;
    println!(
        "  the endpoint costs the payment path {:.1} % ({:.0} -> {:.0} payments/s; target <= 10 %)",
        (1.0 - with.payments_per_sec / without.payments_per_sec.max(f64::MIN_POSITIVE)) * 100.0,
        without.payments_per_sec,
        with.payments_per_sec
    );
    let mut latencies: Vec<f64> = received.latencies().into_iter().skip(before).collect();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "  webhooks delivered: {} (about {:.0} pending when the load stopped); commit to the \
         receiver's 2xx p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        with.pending_deliveries,
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Scenario 3: many concurrent refunds against a few payments; then checks the invariants.
pub async fn hot_payment(opts: &Options) -> Result<(), String> {
    let server = Server::start(&opts.server, &opts.database_url, &[])?;
    let http = client(opts.connections);
    let (base, token) = (server.base.clone(), server.token.clone());
    let mut ids = Vec::new();
    for _ in 0..opts.payments {
        let response = http
            .post(format!("{base}/api/v1/payments"))
            .bearer_auth(&token)
            .json(&payment_body(opts.amount))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let payment: Value = response.json().await.map_err(|e| e.to_string())?;
        ids.push(payment["id"].as_str().ok_or("no payment id")?.to_owned());
    }
    let ids = Arc::new(ids);
    let refunded: Arc<Vec<AtomicI64>> = Arc::new(ids.iter().map(|_| AtomicI64::new(0)).collect());
    let (run_ids, run_refunded, run_http) = (Arc::clone(&ids), Arc::clone(&refunded), http.clone());
    let (run_base, run_token) = (base.clone(), token.clone());
    let report = load::run(opts.connections, opts.duration(), opts.rate, move |worker, sequence| {
        let which = (worker + sequence as usize) % run_ids.len();
        let amount = 1 + ((worker as i64) * 7 + sequence as i64) % 50;
        let url = format!("{run_base}/api/v1/payments/{}/refund", run_ids[which]);
        let (http, token, refunded) = (run_http.clone(), run_token.clone(), Arc::clone(&run_refunded));
        async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&json!({ "amount": amount }))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            if status == 201 {
                refunded[which].fetch_add(amount, Ordering::Relaxed);
            }
            Ok(status)
        }
    })
    .await;
    report.print("hot-payment", &[201], &[201, 409, 422], server.peak_rss_kib());
    let mut intact = true;
    for (id, acknowledged) in ids.iter().zip(refunded.iter()) {
        let payment: Value = http
            .get(format!("{base}/api/v1/payments/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let stored = payment["refunded_amount"].as_i64().unwrap_or(-1);
        let captured = payment["captured_amount"].as_i64().unwrap_or(-1);
        let ok = stored == acknowledged.load(Ordering::Relaxed) && stored <= captured;
        intact &= ok;
        if !ok {
            println!(
                "  invariant broken on {id}: refunded {stored}, acknowledged {acknowledged:?}, captured {captured}"
            );
        }
    }
    println!("  invariants intact (stored refunds = acknowledged refunds <= captured): {intact}");
    finish(server);
    Ok(())
}

/// Scenario 4: memory per live idle actor, and after passivation.
pub async fn idle_actors(opts: &Options) -> Result<(), String> {
    let idle = opts.idle_timeout_secs.to_string();
    let server = Server::start(&opts.server, &opts.database_url, &[("ACTOR_IDLE_TIMEOUT_SECS", idle)])?;
    let target = Arc::new((server.base.clone(), server.token.clone()));
    let http = client(opts.connections);
    for _ in 0..200 {
        create(&http, &target, 1_000).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = server.rss_kib();
    let before = active_actors(&http, &target.0).await;
    let started = Instant::now();
    let made = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..opts.connections)
        .map(|_| {
            let (http, target, made, total) = (http.clone(), Arc::clone(&target), Arc::clone(&made), opts.actors);
            tokio::spawn(async move {
                while made.fetch_add(1, Ordering::Relaxed) < total {
                    let _ = create(&http, &target, 1_000).await;
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let live_rss = server.rss_kib();
    let live = active_actors(&http, &target.0).await;
    let new_actors = live.saturating_sub(before).max(1);
    println!(
        "idle-actors: {} actors created in {:.1} s; active {live}; RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes per live actor \
         (upper bound: includes request garbage the allocator kept)",
        new_actors,
        started.elapsed().as_secs_f64(),
        baseline as f64 / 1024.0,
        live_rss as f64 / 1024.0,
        (live_rss.saturating_sub(baseline) * 1024) as f64 / new_actors as f64,
    );
    let deadline = Instant::now() + Duration::from_secs(opts.idle_timeout_secs * 3 + 30);
    while active_actors(&http, &target.0).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let passivated_rss = server.rss_kib();
    println!(
        "  after passivation: active {}; RSS {:.1} MiB ({:.0} bytes per actor returned to the OS); peak_rss {:.1} MiB",
        active_actors(&http, &target.0).await,
        passivated_rss as f64 / 1024.0,
        (live_rss.saturating_sub(passivated_rss) * 1024) as f64 / new_actors as f64,
        server.peak_rss_kib() as f64 / 1024.0,
    );
    finish(server);
    Ok(())
}

/// `payment_actors_active` from `/metrics`.
async fn active_actors(http: &reqwest::Client, base: &str) -> u64 {
    metric(http, base, "payment_actors_active").await as u64
}

/// One unlabelled sample from `/metrics` (0 when absent).
async fn metric(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let Ok(response) = http.get(format!("{base}/metrics")).send().await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}
