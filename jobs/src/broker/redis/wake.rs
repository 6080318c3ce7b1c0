//! Wake-ups for idle workers: one pub/sub subscription per process.
//!
//! An idle worker waits here instead of polling. The enqueue, maintain and
//! settle scripts publish on a queue's wake channel when its ready list stops
//! being empty; the subscriber task turns that into a [`Notify`] permit, so a
//! wake-up that arrives between a worker's empty lease and its wait is not
//! lost. After a reconnect every waiter is woken once, since messages sent
//! while the subscription was down are gone. The timeout of [`Wake::wait`]
//! is only a safety net.
//!
//! On a cluster the scripts' classic `PUBLISH` is broadcast over the
//! cluster bus to every node, so the subscription may live on any node,
//! whichever owns the queue's slot. It starts on the first seed node of the
//! URL, learns the others from `CLUSTER NODES`, and when its node is lost
//! moves to the next one. (Sharded pub/sub would need one subscription per
//! slot owner and a move at every resharding, for messages this rare: one
//! per queue going from empty to non-empty.) Behind Sentinel it subscribes
//! on the master the sentinels name, and subscribes again on the new one
//! when the connection moves after a failover.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use super::conn::RedisConnection;
use super::target::RedisTarget;

/// Where the subscription connects.
#[derive(Clone)]
pub(super) enum Source {
    /// The one server.
    Single(Box<redis::Client>),
    /// Any node of the cluster: these first, then those `CLUSTER NODES`
    /// names.
    Cluster(Vec<String>),
    /// The master the sentinels name.
    Sentinel(RedisConnection),
}

impl Source {
    pub(super) fn new(target: &RedisTarget, conn: &RedisConnection) -> redis::RedisResult<Self> {
        Ok(match target {
            RedisTarget::Single { url } => {
                Self::Single(Box::new(redis::Client::open(url.as_str())?))
            }
            RedisTarget::Cluster { nodes } => Self::Cluster(nodes.clone()),
            RedisTarget::Sentinel { .. } => Self::Sentinel(conn.clone()),
        })
    }
}

pub(super) struct Wake {
    source: Source,
    notify: Arc<Notify>,
    task: Mutex<Option<(Vec<String>, JoinHandle<()>)>>,
}

impl Wake {
    pub(super) fn new(source: Source) -> Self {
        Self {
            source,
            notify: Arc::new(Notify::new()),
            task: Mutex::new(None),
        }
    }

    pub(super) async fn wait(&self, mut channels: Vec<String>, timeout: Duration) {
        channels.sort();
        {
            let mut task = self.task.lock().await;
            let current = task
                .as_ref()
                .map(|(c, h)| (c == &channels) && !h.is_finished());
            if current != Some(true) {
                if let Some((_, old)) = task.take() {
                    old.abort();
                }
                let handle = tokio::spawn(subscribe(
                    self.source.clone(),
                    channels.clone(),
                    self.notify.clone(),
                ));
                *task = Some((channels, handle));
            }
        }
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Ok(mut task) = self.task.try_lock()
            && let Some((_, h)) = task.take()
        {
            h.abort();
        }
    }
}

async fn subscribe(source: Source, channels: Vec<String>, notify: Arc<Notify>) {
    let mut nodes = match &source {
        Source::Cluster(seeds) => seeds.clone(),
        _ => Vec::new(),
    };
    let mut changes = match &source {
        Source::Sentinel(conn) => conn.master_changes(),
        _ => None,
    };
    let mut next = 0;
    let mut delay = Duration::from_millis(50);
    loop {
        let client = match &source {
            Source::Single(c) => Ok((**c).clone()),
            Source::Cluster(_) => {
                next %= nodes.len().max(1);
                nodes.get(next).map_or_else(
                    || redis::Client::open("redis://"),
                    |n| redis::Client::open(n.as_str()),
                )
            }
            Source::Sentinel(conn) => conn.subscriber_client().await.and_then(|c| {
                c.ok_or_else(|| redis::RedisError::from((redis::ErrorKind::Io, "no master")))
            }),
        };
        match client {
            Ok(client) => match client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(&channels).await.is_ok() {
                        delay = Duration::from_millis(50);
                        if matches!(source, Source::Cluster(_)) {
                            learn_nodes(&client, &mut nodes, &mut next).await;
                        }
                        // Anything published while we were not subscribed
                        // is lost: let every waiter look for itself.
                        wake_all(&notify);
                        let mut messages = pubsub.into_on_message();
                        loop {
                            tokio::select! {
                                m = messages.next() => match m {
                                    Some(_) => wake_all(&notify),
                                    None => break,
                                },
                                // Behind Sentinel, the master moved: follow it.
                                () = moved(&mut changes) => break,
                            }
                        }
                        tracing::debug!("wake-up subscription lost; subscribing again");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "wake-up subscription failed; retrying"),
            },
            Err(e) => {
                tracing::debug!(error = %e, "no server for the wake-up subscription; retrying")
            }
        }
        // On a cluster, the next attempt goes to the next node: this one
        // failed or was lost.
        next += 1;
        wake_all(&notify);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Replaces `nodes` with every reachable node `CLUSTER NODES` names on the
/// node `client` reaches, that node first (`next` = 0), each as a URL with
/// the seed URLs' scheme and credentials. Left as it is on an error.
async fn learn_nodes(client: &redis::Client, nodes: &mut Vec<String>, next: &mut usize) {
    let Some(current) = nodes.get(*next).cloned() else {
        return;
    };
    let text: redis::RedisResult<String> = async {
        let mut c = client.get_multiplexed_async_connection().await?;
        redis::cmd("CLUSTER").arg("NODES").query_async(&mut c).await
    }
    .await;
    let Ok(text) = text else { return };
    let mut learned = vec![current.clone()];
    for addr in cluster_node_addrs(&text) {
        let url = with_addr(&current, &addr);
        if !learned.contains(&url) {
            learned.push(url);
        }
    }
    *nodes = learned;
    *next = 0;
}

/// The `host:port` of each node in a `CLUSTER NODES` answer that is neither
/// failing nor without an address.
pub(super) fn cluster_node_addrs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_id, addr, flags) = (f.next()?, f.next()?, f.next()?);
            if flags
                .split(',')
                .any(|x| matches!(x, "fail" | "fail?" | "noaddr" | "handshake"))
            {
                return None;
            }
            let addr = addr.split(['@', ',']).next()?;
            (!addr.starts_with(':')).then(|| addr.to_owned())
        })
        .collect()
}

/// `url` (`scheme://[auth@]host:port`) with its `host:port` replaced.
fn with_addr(url: &str, addr: &str) -> String {
    let head = match url.rsplit_once('@') {
        Some((head, _)) => format!("{head}@"),
        None => url
            .split_once("://")
            .map_or_else(|| "redis://".to_owned(), |(s, _)| format!("{s}://")),
    };
    format!("{head}{addr}")
}

/// Resolves when the connection behind `changes` moves to another master;
/// never without one.
async fn moved(changes: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    match changes {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

fn wake_all(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_are_read_without_failing_ones_and_keep_the_credentials() {
        let text = "a 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n\
                    b 127.0.0.1:7001@17001,host1 master - 0 0 2 connected 5461-10922\n\
                    c 127.0.0.1:7002@17002 master,fail - 0 0 3 connected\n\
                    d :0@0 myself,master,noaddr - 0 0 0 connected\n";
        assert_eq!(
            cluster_node_addrs(text),
            ["127.0.0.1:7000", "127.0.0.1:7001"]
        );
        assert_eq!(
            with_addr("redis://:pw@10.0.0.1:7000", "10.0.0.2:7001"),
            "redis://:pw@10.0.0.2:7001"
        );
        assert_eq!(
            with_addr("rediss://10.0.0.1:7000", "10.0.0.2:7001"),
            "rediss://10.0.0.2:7001"
        );
    }
}
