//! Where Redis is: one server, a cluster, or a master behind Sentinel, read
//! from one URL.
//!
//! | URL | means |
//! |---|---|
//! | `redis://[:pw@]host:port[/db]`, `rediss://…`, `redis+unix:///path` | one server |
//! | `redis://[:pw@]h1:p1,h2:p2[,…]` | a Redis Cluster, these nodes to start from |
//! | `redis+cluster://[:pw@]h1:p1[,h2:p2…]` | a Redis Cluster, even from one seed node |
//! | `redis+sentinel://[:pw@]s1:p1,s2:p2/<master-name>[/db][?sentinel_password=…]` | the master the sentinels name |
//!
//! A cluster has only database 0. Behind Sentinel, the password (and user)
//! before the `@` are the master's; sentinels that require a password of
//! their own (`requirepass` in sentinel.conf) get it from the query:
//! `sentinel_password` and, with Redis ACLs, `sentinel_username`
//! (percent-encoded, as any URL query). No error and no `Debug` output
//! ever shows a password.

use std::fmt;

/// The Redis deployment a URL names.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server (or a managed endpoint that looks like one).
    Single {
        /// The URL as given.
        url: String,
    },
    /// A Redis Cluster.
    Cluster {
        /// One `redis://[user:pw@]host:port` URL per seed node.
        nodes: Vec<String>,
    },
    /// A master found through Redis Sentinel.
    Sentinel {
        /// One `redis://[user:pw@]host:port` URL per sentinel, with the
        /// sentinels' own credentials.
        sentinels: Vec<String>,
        /// The master's name in the sentinels' configuration.
        master: String,
        /// `redis://[user:pw@]placeholder/db`: the master's credentials and
        /// database, without its address (the sentinels give that).
        auth: String,
    },
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Single { url } => f
                .debug_struct("Single")
                .field("url", &super::super::redact_url(url))
                .finish(),
            Self::Cluster { nodes } => f
                .debug_struct("Cluster")
                .field("nodes", &redacted(nodes))
                .finish(),
            Self::Sentinel {
                sentinels, master, ..
            } => f
                .debug_struct("Sentinel")
                .field("sentinels", &redacted(sentinels))
                .field("master", master)
                .finish_non_exhaustive(),
        }
    }
}

/// `urls` with their passwords masked, for `Debug`.
fn redacted(urls: &[String]) -> Vec<String> {
    urls.iter().map(|u| super::super::redact_url(u)).collect()
}

/// Why a Redis URL was refused; never carries the password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(String);

fn err(reason: impl Into<String>) -> TargetError {
    TargetError(reason.into())
}

/// `host:port` checked: a host (an IPv6 one in brackets) and a port number.
fn check_host_port(node: &str, scheme: &str) -> Result<(), TargetError> {
    let (host, port) = node
        .rsplit_once(':')
        .ok_or_else(|| err(format!("{scheme} node {node:?} lacks its :port")))?;
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return Err(err(format!("{scheme} node {node:?} has no valid host")));
    }
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(err(format!("{scheme} node {node:?} has no valid port")));
    }
    Ok(())
}

impl RedisTarget {
    /// Reads `url` (the forms are in the module doc). The error says what
    /// is wrong without showing the password.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("not a URL: it lacks \"scheme://\""))?;
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((u, r)) if !r.contains('@') && !u.contains('/') => (Some(u), r),
            _ => (None, rest),
        };
        let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
        let auth = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        match scheme {
            "redis+sentinel" => {
                let (path, query) = path.split_once('?').unwrap_or((path, ""));
                let sentinel_auth = sentinel_auth(query)?;
                let mut parts = path.split('/').filter(|p| !p.is_empty());
                let master = parts.next().ok_or_else(|| {
                    err("redis+sentinel URL lacks /<master-name> after the sentinels")
                })?;
                let db = parts.next().unwrap_or("0");
                if db.parse::<u32>().is_err() || parts.next().is_some() {
                    return Err(err(format!(
                        "redis+sentinel URL: {:?} after the master name is not a database number",
                        path.split_once('/').map_or("", |(_, d)| d)
                    )));
                }
                let sentinels = nodes(hosts, "redis+sentinel")?;
                Ok(Self::Sentinel {
                    sentinels: sentinels
                        .iter()
                        .map(|n| format!("redis://{sentinel_auth}{n}"))
                        .collect(),
                    master: master.to_owned(),
                    auth: format!("redis://{auth}127.0.0.1/{db}"),
                })
            }
            "redis+cluster" | "rediss+cluster" => {
                let base = scheme.trim_end_matches("+cluster");
                Self::cluster(base, &auth, hosts, path)
            }
            "redis" | "rediss" if hosts.contains(',') => Self::cluster(scheme, &auth, hosts, path),
            "redis" | "rediss" | "redis+unix" | "unix" => {
                redis::parse_redis_url(url).ok_or_else(|| {
                    err(format!(
                        "{:?} is not a valid Redis URL",
                        super::super::redact_url(url)
                    ))
                })?;
                Ok(Self::Single {
                    url: url.to_owned(),
                })
            }
            other => Err(err(format!(
                "scheme {other:?} is not redis, rediss, redis+unix, redis+cluster or redis+sentinel"
            ))),
        }
    }

    fn cluster(scheme: &str, auth: &str, hosts: &str, path: &str) -> Result<Self, TargetError> {
        let path = path.split(['?', '#']).next().unwrap_or("");
        if !matches!(path, "" | "0") {
            return Err(err(format!(
                "a Redis Cluster has only database 0, not {path:?}"
            )));
        }
        let nodes = nodes(hosts, "cluster")?;
        Ok(Self::Cluster {
            nodes: nodes
                .iter()
                .map(|n| format!("{scheme}://{auth}{n}"))
                .collect(),
        })
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }
}

/// The sentinels' own `user:password@` (percent-encoded, empty without a
/// password) from a `redis+sentinel` URL's query.
fn sentinel_auth(query: &str) -> Result<String, TargetError> {
    let mut user = None;
    let mut password = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "sentinel_password" => password = Some(value.into_owned()),
            "sentinel_username" => user = Some(value.into_owned()),
            other => {
                return Err(err(format!(
                    "redis+sentinel URL: unknown parameter {other:?} (known: \
                     sentinel_password, sentinel_username)"
                )));
            }
        }
    }
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    match (user, password) {
        (user, Some(pw)) => Ok(format!(
            "{}:{}@",
            user.as_deref().map(encode).unwrap_or_default(),
            encode(&pw)
        )),
        (Some(_), None) => Err(err(
            "redis+sentinel URL: sentinel_username without sentinel_password",
        )),
        (None, None) => Ok(String::new()),
    }
}

fn nodes<'a>(hosts: &'a str, scheme: &str) -> Result<Vec<&'a str>, TargetError> {
    let nodes: Vec<&str> = hosts.split(',').map(str::trim).collect();
    if nodes.iter().any(|n| n.is_empty()) {
        return Err(err(format!("{scheme} URL has an empty host in {hosts:?}")));
    }
    for n in &nodes {
        check_host_port(n, scheme)?;
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_host_is_a_single_server_and_several_are_a_cluster() {
        assert!(matches!(
            RedisTarget::parse("redis://localhost:6379/2").unwrap(),
            RedisTarget::Single { .. }
        ));
        assert!(matches!(
            RedisTarget::parse("redis+unix:///tmp/r.sock").unwrap(),
            RedisTarget::Single { .. }
        ));
        let t = RedisTarget::parse("redis://:pw@h1:7000,h2:7001").unwrap();
        assert_eq!(
            t,
            RedisTarget::Cluster {
                nodes: vec!["redis://:pw@h1:7000".into(), "redis://:pw@h2:7001".into()]
            }
        );
        let t = RedisTarget::parse("redis+cluster://10.0.0.1:7000").unwrap();
        assert_eq!(
            t,
            RedisTarget::Cluster {
                nodes: vec!["redis://10.0.0.1:7000".into()]
            }
        );
        assert!(
            !format!("{:?}", RedisTarget::parse("redis://:pw@a:1,b:2").unwrap()).contains("pw")
        );
    }

    #[test]
    fn a_sentinel_url_names_the_sentinels_the_master_and_the_database() {
        let t =
            RedisTarget::parse("redis+sentinel://:s3cret@s1:26379,s2:26380/mymaster/3").unwrap();
        match &t {
            RedisTarget::Sentinel {
                sentinels,
                master,
                auth,
            } => {
                assert_eq!(sentinels, &["redis://s1:26379", "redis://s2:26380"]);
                assert_eq!(master, "mymaster");
                assert_eq!(auth, "redis://:s3cret@127.0.0.1/3");
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn sentinels_with_a_password_of_their_own_get_it_from_the_query() {
        let t = RedisTarget::parse(
            "redis+sentinel://:m4ster@s1:26379,s2:26380/mymaster/2?sentinel_password=s%40nt%2Fx",
        )
        .unwrap();
        let RedisTarget::Sentinel {
            sentinels, auth, ..
        } = &t
        else {
            panic!("{t:?}")
        };
        assert_eq!(
            sentinels,
            &[
                "redis://:s%40nt%2Fx@s1:26379",
                "redis://:s%40nt%2Fx@s2:26380"
            ]
        );
        assert_eq!(auth, "redis://:m4ster@127.0.0.1/2");
        let info = redis::IntoConnectionInfo::into_connection_info(sentinels[0].as_str()).unwrap();
        assert_eq!(info.redis_settings().password(), Some("s@nt/x"));
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("s%40nt") && !shown.contains("m4ster"),
            "{shown}"
        );

        let t = RedisTarget::parse(
            "redis+sentinel://s1:26379/m?sentinel_username=ops&sentinel_password=pw",
        )
        .unwrap();
        let RedisTarget::Sentinel { sentinels, .. } = &t else {
            panic!("{t:?}")
        };
        assert_eq!(sentinels, &["redis://ops:pw@s1:26379"]);
        for (bad, says) in [
            (
                "redis+sentinel://s1:26379/m?sentinel_pasword=s3cret",
                "sentinel_pasword",
            ),
            (
                "redis+sentinel://s1:26379/m?sentinel_username=ops",
                "without sentinel_password",
            ),
        ] {
            let e = RedisTarget::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says) && !e.contains("s3cret"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_urls_are_refused_without_the_password() {
        for bad in [
            "redis+sentinel://:s3cret@s1:26379",
            "redis+sentinel://:s3cret@s1:26379/m/x",
            "redis+sentinel://:s3cret@s1/m",
            "redis://:s3cret@a:1,b/0",
            "redis://:s3cret@a:1,b:2/4",
            "redis://:s3cret@a:1,,b:2",
            "http://:s3cret@a:1",
            "redis+cluster://:s3cret@a:99999",
        ] {
            let e = RedisTarget::parse(bad).unwrap_err();
            assert!(!e.to_string().contains("s3cret"), "{bad}: {e}");
        }
    }
}
