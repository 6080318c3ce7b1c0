//! The binaries' `healthcheck` subcommand: asks the running process's own
//! health endpoint, so a container checks itself without curl in the
//! image, and without opening the store or the broker a second time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

/// How long a check may take: under a container runtime's usual 5 s, so
/// the reason is printed before the runtime gives up on the check.
pub const TIMEOUT: Duration = Duration::from_secs(4);

/// Where a process listening on `addr` is reached from the same host: an
/// unspecified address (`0.0.0.0`, `[::]`) is reached on loopback.
pub fn local(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// GETs `path` on the process listening on `addr`: `Ok` on a 200 within
/// [`TIMEOUT`], else what went wrong.
pub async fn check(addr: SocketAddr, path: &str) -> Result<(), String> {
    let url = format!("http://{}{path}", local(addr));
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| format!("{url}: {e}"))?;
    let r = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if r.status() == reqwest::StatusCode::OK {
        Ok(())
    } else {
        Err(format!("{url}: {}", r.status()))
    }
}

/// [`check`] as a command's exit: 0 when healthy, 1 (with the reason on
/// stderr) when not.
pub async fn exit(addr: SocketAddr, path: &str) -> ExitCode {
    match check(addr, path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::from(1)
        }
    }
}

/// The address in environment variable `var`, else `default`.
pub fn addr_from_env(var: &str, default: &str) -> Result<SocketAddr, String> {
    let raw = std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    raw.trim()
        .parse()
        .map_err(|_| format!("{var}={raw:?} is not an address like 127.0.0.1:8000"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_unspecified_address_is_reached_on_loopback() {
        let a: SocketAddr = "0.0.0.0:9101".parse().unwrap();
        assert_eq!(local(a).to_string(), "127.0.0.1:9101");
        let a: SocketAddr = "[::]:8000".parse().unwrap();
        assert_eq!(local(a).to_string(), "[::1]:8000");
        let a: SocketAddr = "10.0.0.5:8000".parse().unwrap();
        assert_eq!(local(a), a);
    }

    #[tokio::test]
    async fn nothing_listening_is_unhealthy() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = check(addr, "/health").await.unwrap_err();
        assert!(e.contains(&addr.to_string()), "{e}");
    }
}
