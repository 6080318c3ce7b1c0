//! One connection type for every Redis deployment the engine runs on.
//!
//! [`RedisConnection`] implements [`redis::aio::ConnectionLike`], so every
//! script call, command and pipeline is written once and runs unchanged on:
//! - one server: the crate's `ConnectionManager` (one multiplexed,
//!   self-reconnecting socket; a call costs a `match` more, nothing else);
//! - a cluster: the crate's async cluster connection, which routes each
//!   command to the master of its key's slot and follows the cluster when
//!   slots move or a replica takes over;
//! - Sentinel: a `ConnectionManager` on the master the sentinels name. A
//!   connection error or a `READONLY` answer (the master was demoted) makes
//!   it ask the sentinels again and move to the new master; the failed call
//!   still fails, and the caller's retry lands on the new master. It also
//!   listens for the sentinels' `+switch-master`, so it moves at once when
//!   a failover promotes a replica while the old master still answers
//!   (writes there would be lost when it becomes a replica).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, RedisResult, Value};

use super::target::RedisTarget;

/// How long a connection attempt and an answer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A multiplexed, self-reconnecting connection to one server, a cluster, or
/// the master behind Sentinel. Cheap to clone: clones share the sockets.
#[derive(Clone)]
pub struct RedisConnection {
    conn: Conn,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(Arc<SentinelConn>),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.conn {
            Conn::Single(_) => "single",
            Conn::Cluster(_) => "cluster",
            Conn::Sentinel(_) => "sentinel",
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
            RedisTarget::Sentinel {
                sentinels,
                master,
                auth,
            } => Conn::Sentinel(Arc::new(SentinelConn::new(sentinels, master, auth)?)),
        };
        Ok(Self { conn })
    }

    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// Behind Sentinel, a receiver that changes when the connection moves
    /// to another master; `None` elsewhere.
    pub(super) fn master_changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        match &self.conn {
            Conn::Sentinel(s) => Some(s.changes.subscribe()),
            _ => None,
        }
    }

    /// A client for the server to open a pub/sub subscription on: the one
    /// server, or the master the sentinels name now; `None` for a cluster,
    /// whose nodes [`super::wake`] picks itself.
    pub(super) async fn subscriber_client(&self) -> RedisResult<Option<redis::Client>> {
        match &self.conn {
            Conn::Single(_) | Conn::Cluster(_) => Ok(None),
            Conn::Sentinel(s) => s.resolve_client().await.map(Some),
        }
    }
}

impl RedisConnection {
    /// Sends `pipe` as one unit to the server that holds `key`: the one
    /// server, the master behind Sentinel, or on a cluster the master of
    /// `key`'s slot (so a `WAIT` in it waits on the server that took the
    /// writes before it). Server errors come back as values.
    pub(super) async fn pipeline_at(
        &mut self,
        key: &str,
        pipe: &Pipeline,
    ) -> RedisResult<Vec<Value>> {
        let count = pipe.len();
        match &mut self.conn {
            Conn::Cluster(c) => {
                let route =
                    || SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
                let first = c.route_pipeline(pipe.clone(), 0, count, route()).await;
                if first.as_ref().is_ok_and(|values| !values.iter().any(moved)) {
                    return first;
                }
                // The slot may have a new master. A pipeline sent to one
                // node does not make the connection look for it (a
                // redirection in its answer is only a value), but a keyed
                // command does; then the pipeline goes once more.
                if c.req_packed_command(redis::cmd("EXISTS").arg(key))
                    .await
                    .is_err()
                {
                    return first;
                }
                c.route_pipeline(pipe.clone(), 0, count, route()).await
            }
            _ => self.req_packed_commands(pipe, 0, count).await,
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.conn {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(s) => {
                let s = s.clone();
                Box::pin(async move {
                    let (generation, mut c) = s.current().await?;
                    let r = c.req_packed_command(cmd).await;
                    s.after(generation, &r).await;
                    r
                })
            }
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
            Conn::Sentinel(s) => {
                let s = s.clone();
                Box::pin(async move {
                    let (generation, mut c) = s.current().await?;
                    let r = c.req_packed_commands(pipeline, offset, count).await;
                    s.after(generation, &r).await;
                    r
                })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match &self.conn {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(_) => 0,
        }
    }
}

/// The master behind Sentinel: the sentinels to ask, and a connection to
/// the master they named last, with a generation that rises at each change.
struct SentinelConn {
    urls: Vec<String>,
    name: String,
    sentinels: tokio::sync::Mutex<SentinelClient>,
    current: RwLock<Option<Master>>,
    /// The generation of the master in use, for the wake-up subscription.
    changes: tokio::sync::watch::Sender<u64>,
    watching: AtomicBool,
}

/// The master in use: its generation, its connection, its address.
#[derive(Clone)]
struct Master {
    generation: u64,
    conn: ConnectionManager,
    addr: String,
}

/// A redirection: the slot is served elsewhere now.
fn moved(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if matches!(
        e.kind(),
        Some(redis::ServerErrorKind::Moved | redis::ServerErrorKind::Ask)
    ))
}

/// Errors after which the master may have changed.
fn master_may_have_moved(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::ReadOnly | redis::ServerErrorKind::MasterDown
            )
        )
}

impl SentinelConn {
    fn new(sentinels: &[String], master: &str, auth: &str) -> RedisResult<Self> {
        let node = SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(auth.into_connection_info()?.redis_settings().clone());
        let client = SentinelClient::build(
            sentinels.to_vec(),
            master,
            Some(node),
            SentinelServerType::Master,
        )?;
        Ok(Self {
            urls: sentinels.to_vec(),
            name: master.to_owned(),
            sentinels: tokio::sync::Mutex::new(client),
            current: RwLock::new(None),
            changes: tokio::sync::watch::Sender::new(0),
            watching: AtomicBool::new(false),
        })
    }

    fn read(&self) -> Option<Master> {
        self.current.read().map(|c| c.clone()).unwrap_or_default()
    }

    async fn current(self: &Arc<Self>) -> RedisResult<(u64, ConnectionManager)> {
        if !self.watching.swap(true, Ordering::Relaxed) {
            tokio::spawn(watch_switches(
                Arc::downgrade(self),
                self.urls.clone(),
                self.changes.subscribe(),
            ));
        }
        let m = match self.read() {
            Some(m) => m,
            None => self.resolve(0).await?,
        };
        Ok((m.generation, m.conn))
    }

    /// After a call on generation `generation`: an error that may mean a
    /// failover makes the next call go to the master the sentinels name.
    async fn after<T>(&self, generation: u64, r: &RedisResult<T>) {
        if let Err(e) = r
            && master_may_have_moved(e)
            && let Err(e) = self.resolve(generation).await
        {
            tracing::debug!(error = %e, "the sentinels named no master yet");
        }
    }

    /// Asks the sentinels for the master and connects to it, unless another
    /// caller already moved past generation `seen`.
    async fn resolve(&self, seen: u64) -> RedisResult<Master> {
        let mut sentinels = self.sentinels.lock().await;
        let now = self.read();
        if let Some(m) = &now
            && m.generation != seen
        {
            return Ok(m.clone());
        }
        let client = sentinels.async_get_client().await?;
        let addr = client.get_connection_info().addr().to_string();
        if let Some(m) = now
            && m.addr == addr
        {
            // The same master: its connection reconnects by itself.
            return Ok(m);
        }
        let master = Master {
            generation: seen + 1,
            conn: ConnectionManager::new_lazy_with_config(client, manager_config())?,
            addr,
        };
        if let Ok(mut cur) = self.current.write() {
            *cur = Some(master.clone());
        }
        self.changes.send_replace(master.generation);
        tracing::info!(master = %master.addr, "using the master the sentinels name");
        Ok(master)
    }

    async fn resolve_client(&self) -> RedisResult<redis::Client> {
        self.sentinels.lock().await.async_get_client().await
    }

    /// Asks the sentinels again, whatever the last call said.
    async fn recheck(&self) {
        let seen = self.read().map_or(0, |m| m.generation);
        if let Err(e) = self.resolve(seen).await {
            tracing::debug!(error = %e, "the sentinels named no master yet");
        }
    }
}

/// Listens for `+switch-master` on one sentinel after another, and moves
/// the connection when the sentinels switch our master. Ends when the
/// connection is dropped (`closed` then errs).
async fn watch_switches(
    conn: Weak<SentinelConn>,
    urls: Vec<String>,
    mut closed: tokio::sync::watch::Receiver<u64>,
) {
    use futures::StreamExt;
    for url in urls.iter().cycle() {
        let subscribed = async {
            let mut p = redis::Client::open(url.as_str())?
                .get_async_pubsub()
                .await?;
            p.subscribe("+switch-master").await?;
            Ok::<_, redis::RedisError>(p)
        }
        .await;
        if let Ok(pubsub) = subscribed {
            // A switch missed while not subscribed.
            match conn.upgrade() {
                Some(c) => c.recheck().await,
                None => return,
            }
            let mut messages = pubsub.into_on_message();
            loop {
                tokio::select! {
                    m = messages.next() => {
                        let Some(m) = m else { break };
                        let Some(c) = conn.upgrade() else { return };
                        let text: String = m.get_payload().unwrap_or_default();
                        if text.split(' ').next() == Some(c.name.as_str()) {
                            c.recheck().await;
                        }
                    }
                    r = closed.changed() => if r.is_err() { return },
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            r = closed.changed() => if r.is_err() { return },
        }
    }
}
