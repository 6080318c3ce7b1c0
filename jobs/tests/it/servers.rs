//! Throwaway `redis-server` processes for the tests that kill or fail over
//! a server: on free loopback ports, in a temp dir, each stopped by its pid
//! when the [`Servers`] value is dropped. Readiness is polled, never slept
//! for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The processes one test started.
pub struct Servers {
    dir: tempfile::TempDir,
    children: Vec<(u16, Child)>,
    /// Every server and sentinel requires it, when set.
    password: Option<String>,
}

/// The arguments of a cluster node (its `nodes.conf` in its own dir).
const CLUSTER_NODE: &[&str] = &[
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "1000",
    "--cluster-require-full-coverage",
    "no",
];

/// A free loopback port (and, for cluster nodes, its bus port + 10000).
pub fn free_port(with_bus: bool) -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if !with_bus {
            return port;
        }
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
pub fn poll(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One command on the server at `port`; `None` when it does not answer.
pub fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Option<T> {
    query_with(port, None, cmd)
}

/// [`query`] with a password.
fn query_with<T: redis::FromRedisValue>(
    port: u16,
    password: Option<&str>,
    cmd: &redis::Cmd,
) -> Option<T> {
    let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
    let client = redis::Client::open(format!("redis://{auth}127.0.0.1:{port}")).ok()?;
    let mut c = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    cmd.query(&mut c).ok()
}

impl Servers {
    /// No servers yet.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            children: Vec::new(),
            password: None,
        }
    }

    /// No servers yet; every server and sentinel started will require
    /// `password` (`requirepass`), replicas and sentinels included.
    pub fn with_password(password: &str) -> Self {
        let mut servers = Self::new();
        servers.password = Some(password.to_owned());
        servers
    }

    /// One command on the server at `port`, with the servers' password.
    pub fn query<T: redis::FromRedisValue>(&self, port: u16, cmd: &redis::Cmd) -> Option<T> {
        query_with(port, self.password.as_deref(), cmd)
    }

    fn dir_of(&self, port: u16) -> PathBuf {
        let d = self.dir.path().join(port.to_string());
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Starts `redis-server` on `port` with `args` (no persistence), and
    /// waits until it answers PING.
    pub fn start(&mut self, port: u16, args: &[&str]) {
        let dir = self.dir_of(port);
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .args(
                self.password
                    .iter()
                    .flat_map(|p| ["--requirepass", p.as_str(), "--masterauth", p.as_str()]),
            )
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        self.children.push((port, child));
        self.wait_ping(port);
    }

    /// Starts a master and one replica of it, and waits until the replica
    /// has synced. Returns their ports.
    pub fn start_master_and_replica(&mut self) -> (u16, u16) {
        let (master, replica) = (free_port(false), free_port(false));
        self.start(master, &[]);
        self.start(replica, &["--replicaof", "127.0.0.1", &master.to_string()]);
        poll(Duration::from_secs(20), "the replica to sync", || {
            self.query::<String>(replica, redis::cmd("INFO").arg("replication"))
                .is_some_and(|i| i.contains("master_link_status:up"))
        });
        (master, replica)
    }

    /// Starts a sentinel on `port` watching `master` at `master_port`,
    /// quorum 2, a master down after 1 s. With a password, the sentinel
    /// requires it and uses it with the servers and the other sentinels.
    pub fn start_sentinel(&mut self, port: u16, master: &str, master_port: u16) {
        let dir = self.dir_of(port);
        let conf = dir.join("sentinel.conf");
        let auth = self.password.as_ref().map_or(String::new(), |p| {
            format!(
                "requirepass {p}\nsentinel auth-pass {master} {p}\nsentinel sentinel-pass {p}\n"
            )
        });
        std::fs::write(
            &conf,
            format!(
                "bind 127.0.0.1\nport {port}\ndir {dir}\nlogfile {dir}/sentinel.log\n\
                 sentinel monitor {master} 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds {master} 1000\n\
                 sentinel failover-timeout {master} 10000\n\
                 sentinel parallel-syncs {master} 1\n{auth}",
                dir = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        self.children.push((port, child));
        self.wait_ping(port);
    }

    fn wait_ping(&self, port: u16) {
        poll(Duration::from_secs(10), "redis-server to answer", || {
            self.query::<String>(port, &redis::cmd("PING")).as_deref() == Some("PONG")
        });
    }

    /// Starts a Redis Cluster of `masters` masters with `replicas` replicas
    /// each (node timeout 1 s, so a lost master is replaced within about
    /// 2 s), and waits until every node reports `cluster_state:ok`.
    /// Returns its `redis+cluster://` URL and the nodes' ports.
    pub fn start_cluster(&mut self, masters: usize, replicas: usize) -> (String, Vec<u16>) {
        let ports: Vec<u16> = (0..masters * (1 + replicas))
            .map(|_| free_port(true))
            .collect();
        for &p in &ports {
            self.start(p, CLUSTER_NODE);
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(created.success(), "redis-cli --cluster create failed");
        // `cluster_state:ok` comes before every node knows the replicas
        // for what they are, and before they have synced: wait for both.
        let settled = |p: u16| {
            let Some(text) = query::<String>(p, redis::cmd("CLUSTER").arg("NODES")) else {
                return false;
            };
            let role = |r: &str| {
                text.lines()
                    .filter(|l| l.split_whitespace().nth(2).is_some_and(|f| f.contains(r)))
                    .count()
            };
            let synced = query::<String>(p, redis::cmd("INFO").arg("replication"))
                .is_some_and(|i| i.contains("role:master") || i.contains("master_link_status:up"));
            role("master") == masters && role("slave") == masters * replicas && synced
        };
        for &p in &ports {
            poll(Duration::from_secs(30), "the cluster to settle", || {
                query::<String>(p, redis::cmd("CLUSTER").arg("INFO"))
                    .is_some_and(|i| i.contains("cluster_state:ok"))
                    && settled(p)
            });
        }
        (format!("redis+cluster://{}", addrs.join(",")), ports)
    }

    /// Starts again the cluster node on `port` that [`Servers::kill`]
    /// stopped: it rejoins with its `nodes.conf`, as a replica if its
    /// slots went to another node meanwhile.
    pub fn restart_cluster_node(&mut self, port: u16) {
        self.start(port, CLUSTER_NODE);
    }

    /// Sends `signal` to the server on `port` (SIGSTOP freezes it,
    /// SIGCONT thaws it).
    pub fn signal(&self, port: u16, signal: nix::sys::signal::Signal) {
        let (_, child) = self.children.iter().find(|(p, _)| *p == port).unwrap();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Kills the server on `port` (SIGKILL) and reaps it.
    pub fn kill(&mut self, port: u16) {
        if let Some(i) = self.children.iter().position(|(p, _)| *p == port) {
            let (_, mut child) = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
