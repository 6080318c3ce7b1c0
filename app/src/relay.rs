//! The app's outbox relay: enqueues committed notifications right after a
//! change commits, and every half second to catch up after a broker
//! outage (see `paqueteria_core::store::outbox`).
//!
//! While the broker (or the store) is down every round fails; the log says
//! so once when the relay starts failing, then at most once every
//! [`REMIND_EVERY`] while it goes on failing, and once when a round
//! succeeds again (with how long it was down), instead of a warning every
//! half second.

use std::time::{Duration, Instant};

use crate::startup::AppState;

/// How often the relay runs when nothing wakes it.
pub const ROUND_EVERY: Duration = Duration::from_millis(500);
/// While the relay keeps failing, how often the log says it still is.
pub const REMIND_EVERY: Duration = Duration::from_secs(60);

/// What the log should say after a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Say {
    /// Nothing new.
    Nothing,
    /// The relay has just started failing.
    Down,
    /// It is still failing, since this long.
    StillDown(Duration),
    /// It works again after failing this long.
    Back(Duration),
}

/// Whether the relay is failing, since when, and when the log last said
/// so: turns each round's outcome into what (if anything) to log.
#[derive(Debug, Default)]
pub struct OutageLog {
    down_since: Option<Instant>,
    last_said: Option<Instant>,
}

impl OutageLog {
    /// A round at `now` failed.
    pub fn failed(&mut self, now: Instant) -> Say {
        match (self.down_since, self.last_said) {
            (None, _) | (_, None) => {
                self.down_since = Some(now);
                self.last_said = Some(now);
                Say::Down
            }
            (Some(since), Some(said)) if now.saturating_duration_since(said) >= REMIND_EVERY => {
                self.last_said = Some(now);
                Say::StillDown(now.saturating_duration_since(since))
            }
            _ => Say::Nothing,
        }
    }

    /// A round at `now` succeeded.
    pub fn succeeded(&mut self, now: Instant) -> Say {
        self.last_said = None;
        match self.down_since.take() {
            Some(since) => Say::Back(now.saturating_duration_since(since)),
            None => Say::Nothing,
        }
    }
}

/// Runs relay rounds until `stop` turns true.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(ROUND_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outage = OutageLog::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.outbox_kick.notified() => {}
            _ = stop.changed() => return,
        }
        let error = match state.store.relay_outbox(&*state.broker, 500).await {
            Ok(r) => r.error,
            Err(e) => Some(e.to_string()),
        };
        let now = Instant::now();
        let say = match &error {
            Some(_) => outage.failed(now),
            None => outage.succeeded(now),
        };
        let error = error.unwrap_or_default();
        match say {
            Say::Nothing => {}
            Say::Down => tracing::warn!(
                %error,
                "outbox relay failing: notifications stay pending and are retried every 0.5 s; \
                 logged again when it recovers, or in a minute"
            ),
            Say::StillDown(for_) => tracing::warn!(
                %error,
                down_for_s = for_.as_secs(),
                "outbox relay still failing; notifications stay pending"
            ),
            Say::Back(after) => tracing::info!(
                down_for_s = after.as_secs(),
                "outbox relay recovered; pending notifications are being enqueued"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_said_once_then_once_a_minute_then_its_end_once() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut log = OutageLog::default();
        assert_eq!(log.succeeded(at(0)), Say::Nothing);
        assert_eq!(log.failed(at(500)), Say::Down);
        for round in 2..120 {
            assert_eq!(log.failed(at(round * 500)), Say::Nothing, "round {round}");
        }
        assert_eq!(
            log.failed(at(60_500)),
            Say::StillDown(Duration::from_secs(60))
        );
        assert_eq!(log.failed(at(61_000)), Say::Nothing);
        assert_eq!(
            log.succeeded(at(70_500)),
            Say::Back(Duration::from_secs(70))
        );
        assert_eq!(log.succeeded(at(71_000)), Say::Nothing);
        assert_eq!(log.failed(at(72_000)), Say::Down, "a new outage is said");
    }
}
