//! Who is on the other end of the connection: the client's address, for the
//! sign-in throttle and the audit log.
//!
//! By default it is the TCP peer (the server is served with axum's
//! `ConnectInfo`). Behind a reverse proxy every request comes from the
//! proxy, so with `APP_TRUST_FORWARDED_FOR=true` the address is taken from
//! `X-Forwarded-For` instead: its **rightmost** entry, the one the proxy in
//! front of the app appended (nginx `$proxy_add_x_forwarded_for`, Caddy,
//! Traefik all append). Entries to its left were sent by the client and
//! are never trusted. Set it only when the app is reachable through that
//! one proxy alone: otherwise any client could name any address.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::startup::AppState;

/// The client's address, when known (always, when served by
/// [`crate::startup::Application`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address as the audit log stores it.
    pub fn to_audit(self) -> Option<String> {
        self.0.map(|ip| ip.to_canonical().to_string())
    }
}

/// The client's address from the peer and, when `trust_forwarded_for`, the
/// rightmost `X-Forwarded-For` entry.
pub fn client_addr(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(forwarded) = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return Some(forwarded);
    }
    peer.map(|p| p.ip())
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(Self(client_addr(
            peer,
            &parts.headers,
            state.settings.trust_forwarded_for,
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn forwarded_for_is_used_only_when_trusted_and_then_its_rightmost_entry() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        assert_eq!(
            client_addr(Some(peer), &h, false),
            Some(peer.ip()),
            "untrusted: the peer"
        );
        assert_eq!(
            client_addr(Some(peer), &h, true),
            "203.0.113.7".parse().ok(),
            "trusted: what the proxy appended, not what the client sent"
        );
        h.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(client_addr(Some(peer), &h, true), Some(peer.ip()));
    }
}
