//! Following the primary of a replicated PostgreSQL (issue 16). `DATABASE_URL` may list several
//! hosts in libpq's syntax — `postgres://user@h1:5432,h2:5433/db?target_session_attrs=read-write`
//! — which sqlx does not parse, so this module splits it into one set of connect options per
//! host ([`Hosts::parse`]), finds the host that is not in recovery ([`Hosts::find_primary`]) and,
//! from a watcher task, re-points the pools at whichever host is the primary now
//! ([`follow`]): after a failover the pools reconnect to the promoted standby within about a
//! second, without a restart. A connection that lands on a standby anyway is refused as it opens
//! ([`refuse_standby`]), so nothing is written through a read-only server.
//!
//! While no primary answers, requests that need the database fail as unavailable (the pool's
//! acquire times out, or the standby refuses a write with SQLSTATE 25006): 503 with `Retry-After`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sqlx::{ConnectOptions, Connection};

/// How often the watcher asks whether the host in use is still the primary.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long one probe of one host may take (a dead host's SYN gets no answer).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The hosts a `DATABASE_URL` names, in order, and whether only a read-write one will do.
#[derive(Clone, Debug)]
pub(crate) struct Hosts {
    pub(crate) candidates: Vec<PgConnectOptions>,
    /// `target_session_attrs=read-write` (or `primary`): connect only where writes are allowed.
    pub(crate) read_write: bool,
}

impl Hosts {
    /// Splits `url` into one URL per host (libpq's multi-host syntax; IPv6 hosts in brackets);
    /// `target_session_attrs` is taken out and answered here, since sqlx does not know it.
    pub(crate) fn parse(url: &str) -> Result<Self, sqlx::Error> {
        let invalid = |why: &str| sqlx::Error::Configuration(format!("DATABASE_URL: {why}").into());
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host_list) = match authority.rfind('@') {
            Some(at) => (&authority[..=at], &authority[at + 1..]),
            None => ("", authority),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let mut read_write = false;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("target_session_attrs", "read-write" | "primary")) => read_write = true,
                Some(("target_session_attrs", "any")) => read_write = false,
                Some(("target_session_attrs", other)) => {
                    return Err(invalid(&format!(
                        "target_session_attrs={other} is not supported (read-write, primary or any)"
                    )))
                }
                _ => kept.push(pair),
            }
        }
        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        let candidates = host_list
            .split(',')
            .map(|host| {
                if host.is_empty() {
                    return Err(invalid("an empty host in the host list"));
                }
                PgConnectOptions::from_str(&format!("{scheme}://{userinfo}{host}{path}{query}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { candidates, read_write })
    }

    /// The first host that is the primary (not in recovery), or, when any host will do, the first
    /// that answers; `None` when none qualifies right now.
    pub(crate) async fn find_primary(&self) -> Option<usize> {
        for (index, options) in self.candidates.iter().enumerate() {
            match probe(options).await {
                Some(in_recovery) if !(self.read_write && in_recovery) => return Some(index),
                _ => {}
            }
        }
        None
    }

    /// Whether one host is usable: it answers, and is the primary if a primary is required.
    async fn usable(&self, index: usize) -> bool {
        matches!(probe(&self.candidates[index]).await, Some(in_recovery) if !(self.read_write && in_recovery))
    }
}

/// Whether the server is in recovery (a standby), or `None` when it does not answer in time.
async fn probe(options: &PgConnectOptions) -> Option<bool> {
    let check = async {
        let mut connection = PgConnection::connect_with(&options.clone().disable_statement_logging()).await?;
        let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut connection)
            .await?;
        connection.close().await?;
        Ok::<_, sqlx::Error>(in_recovery)
    };
    tokio::time::timeout(PROBE_TIMEOUT, check).await.ok()?.ok()
}

/// Run on every new pool connection when a primary is required: a standby is refused, so the
/// pool tries again (through the options [`follow`] has re-pointed by then).
pub(crate) async fn refuse_standby(connection: &mut PgConnection) -> Result<(), sqlx::Error> {
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut *connection)
        .await?;
    if in_recovery {
        return Err(sqlx::Error::Protocol(
            "connected to a standby (in recovery); waiting for the primary".into(),
        ));
    }
    Ok(())
}

/// How a pool's connect options derive from a host's (the writer's pool adds planner settings).
pub(crate) type DeriveOptions = fn(PgConnectOptions) -> PgConnectOptions;

/// Watches the host in use and, when it stops being usable, re-points every pool at the host that
/// is the primary now. `pools` pairs each pool with how its options derive from a host's.
/// Ends when the pools are closed.
pub(crate) fn follow(hosts: Hosts, mut current: usize, pools: Vec<(PgPool, DeriveOptions)>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CHECK_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if pools.iter().all(|(pool, _)| pool.is_closed()) {
                return;
            }
            if hosts.usable(current).await {
                continue;
            }
            let Some(primary) = hosts.find_primary().await else {
                tracing::warn!(
                    host = current,
                    "no database host is the primary; waiting for a failover"
                );
                continue;
            };
            if primary != current {
                let target = &hosts.candidates[primary];
                tracing::warn!(
                    from = current,
                    to = primary,
                    host = target.get_host(),
                    port = target.get_port(),
                    "database primary moved; pools now connect to the new primary"
                );
                for (pool, derive) in &pools {
                    pool.set_connect_options(derive(target.clone()));
                }
                current = primary;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::Hosts;

    #[test]
    fn a_multi_host_url_becomes_one_set_of_options_per_host() {
        let hosts = Hosts::parse(
            "postgres://app:secret@10.0.0.1:5601,db2:5602,[::1]:5603/payrail?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        assert!(hosts.read_write);
        let found: Vec<_> = hosts
            .candidates
            .iter()
            .map(|o| {
                (
                    o.get_host().to_owned(),
                    o.get_port(),
                    o.get_username().to_owned(),
                    o.get_database().map(str::to_owned),
                )
            })
            .collect();
        let expected = |host: &str, port| (host.to_owned(), port, "app".to_owned(), Some("payrail".to_owned()));
        assert_eq!(
            found,
            vec![
                expected("10.0.0.1", 5601),
                expected("db2", 5602),
                expected("[::1]", 5603)
            ]
        );
    }

    #[test]
    fn one_host_without_session_attributes_is_one_candidate_that_any_role_satisfies() {
        let hosts = Hosts::parse("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(hosts.candidates.len(), 1);
        assert!(!hosts.read_write);
        assert_eq!(hosts.candidates[0].get_port(), 5432);
    }

    #[test]
    fn unsupported_session_attributes_and_empty_hosts_are_refused() {
        let standby = Hosts::parse("postgres://a,b/db?target_session_attrs=standby").unwrap_err();
        assert!(
            standby.to_string().contains("target_session_attrs=standby"),
            "{standby}"
        );
        let empty = Hosts::parse("postgres://a,,b/db").unwrap_err();
        assert!(empty.to_string().contains("empty host"), "{empty}");
    }
}
