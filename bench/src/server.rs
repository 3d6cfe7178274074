//! The payrail server under test: spawned from a built binary with the scenario's environment,
//! its port and development token read from its stdout, its memory read from /proc, and stopped
//! with SIGTERM (which also exercises graceful shutdown).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    pub base: String,
    pub token: String,
}

impl Server {
    /// Starts `binary` on `database_url` with `env` overrides and waits until it listens.
    pub fn start(binary: &str, database_url: &str, env: &[(&str, String)]) -> Result<Self, String> {
        let mut child = Command::new(binary)
            .env("DATABASE_URL", database_url)
            .env("PORT", "0")
            .env("ENVIRONMENT", "development")
            .env("JWT_SECRET", "payrail-bench-secret-payrail-bench-secret")
            .env("LOG_LEVEL", "warn")
            // One merchant drives all the load: the per-merchant rate limit (100/s) would turn
            // the benchmark into a test of the limiter.
            .env("RATE_LIMIT_ENABLED", "false")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut base, mut token) = (None, None);
        while base.is_none() || token.is_none() {
            let line = lines
                .next()
                .ok_or("payrail exited before it listened")?
                .map_err(|e| e.to_string())?;
            if let Some(rest) = line.strip_prefix("payrail listening on ") {
                base = rest.split(' ').next().map(str::to_owned);
            } else if let Some(rest) = line.strip_prefix("export PAYRAIL_TOKEN=") {
                token = Some(rest.to_owned());
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self {
            child,
            base: base.unwrap_or_default(),
            token: token.unwrap_or_default(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Current resident set size (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// CPU time (user + system) the server has used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may contain spaces): utime is the 12th, stime the 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }

    /// SIGTERM, then wait for the exit code (graceful shutdown must exit 0).
    pub fn stop(mut self) -> Option<i32> {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        None
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
