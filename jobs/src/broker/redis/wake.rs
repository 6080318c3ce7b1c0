//! Wake-ups for idle workers: one pub/sub subscription per process.
//!
//! An idle worker waits here instead of polling. The enqueue, maintain and
//! settle scripts publish on a queue's wake channel when its ready list stops
//! being empty; the subscriber task turns that into a [`Notify`] permit, so a
//! wake-up that arrives between a worker's empty lease and its wait is not
//! lost. After a reconnect every waiter is woken once, since messages sent
//! while the subscription was down are gone. The timeout of [`Wake::wait`]
//! is only a safety net.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

pub(super) struct Wake {
    client: redis::Client,
    notify: Arc<Notify>,
    task: Mutex<Option<(Vec<String>, JoinHandle<()>)>>,
}

impl Wake {
    pub(super) fn new(client: redis::Client) -> Self {
        Self {
            client,
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
                    self.client.clone(),
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

async fn subscribe(client: redis::Client, channels: Vec<String>, notify: Arc<Notify>) {
    let mut delay = Duration::from_millis(50);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channels).await.is_ok() {
                    delay = Duration::from_millis(50);
                    // Anything published while we were not subscribed is lost:
                    // let every waiter look for itself.
                    wake_all(&notify);
                    let mut messages = pubsub.into_on_message();
                    while messages.next().await.is_some() {
                        wake_all(&notify);
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "wake-up subscription failed; retrying"),
        }
        wake_all(&notify);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

fn wake_all(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}
