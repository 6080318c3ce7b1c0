//! One connection type for every Redis deployment the engine runs on.
//!
//! [`RedisConnection`] implements [`redis::aio::ConnectionLike`], so every
//! script call, command and pipeline is written once and runs unchanged on:
//! - one server: the crate's `ConnectionManager` (one multiplexed,
//!   self-reconnecting socket; a call costs a `match` more, nothing else);
//! - a cluster: the crate's async cluster connection, which routes each
//!   command to the master of its key's slot and follows the cluster when
//!   slots move or a replica takes over.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::target::RedisTarget;

/// How long a connection attempt and an answer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A multiplexed, self-reconnecting connection to one server or a cluster.
/// Cheap to clone: clones share the sockets.
#[derive(Clone)]
pub struct RedisConnection {
    conn: Conn,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.conn {
            Conn::Single(_) => "single",
            Conn::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisConnection")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

fn invalid(e: impl std::fmt::Display) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "invalid Redis URL",
        e.to_string(),
    ))
}

impl RedisConnection {
    /// Opens a connection to `url` (any form [`RedisTarget::parse`] reads)
    /// lazily: nothing fails here if Redis is down; calls fail until it is
    /// back.
    pub fn open(url: &str) -> RedisResult<Self> {
        Self::open_target(&RedisTarget::parse(url).map_err(invalid)?)
    }

    /// Opens a connection to `target`, lazily (see [`RedisConnection::open`]).
    pub fn open_target(target: &RedisTarget) -> RedisResult<Self> {
        let conn = match target {
            RedisTarget::Single { url } => Conn::Single(ConnectionManager::new_lazy_with_config(
                redis::Client::open(url.as_str())?,
                manager_config(),
            )?),
            RedisTarget::Cluster { nodes } => {
                let client = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .retries(4)
                    .min_retry_wait(20)
                    .max_retry_wait(500)
                    .build()?;
                Conn::Cluster(
                    client.get_pending_async_connection_with_config(
                        redis::cluster::ClusterConfig::default()
                            .set_connection_timeout(CONNECT_TIMEOUT)
                            .set_response_timeout(RESPONSE_TIMEOUT),
                    ),
                )
            }
        };
        Ok(Self { conn })
    }

    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.conn {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.conn {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.conn {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}
