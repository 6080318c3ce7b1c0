# A throwaway Redis Cluster on loopback, sourced by scripts/test (and by any
# deploy or bench script that wants one; needs bash, `set -u` safe).
#
# start_redis_cluster: unless TEST_REDIS_CLUSTER_URL is already set, starts
# six redis-server processes (three masters, three replicas) with cluster
# mode on and no persistence, on free loopback ports, in a temp dir; joins
# them with `redis-cli --cluster create --cluster-replicas 1`; waits until
# every node answers `cluster_state:ok`; exports
# TEST_REDIS_CLUSTER_URL=redis+cluster://127.0.0.1:p1,…,127.0.0.1:p6.
# stop_redis_cluster stops each process it started, by pid, and removes the
# dir; call it from the caller's cleanup trap.

redis_cluster_dir=""
redis_cluster_pids=()

start_redis_cluster() {
  if [[ -n "${TEST_REDIS_CLUSTER_URL:-}" ]]; then return; fi
  redis_cluster_dir=$(mktemp -d)
  local ports
  # Six free ports whose cluster bus ports (port + 10000) are free too.
  read -r -a ports < <(python3 -c 'import socket
out = []
while len(out) < 6:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p + 10000 > 65535: s.close(); continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000))
    except OSError:
        s.close(); continue
    b.close(); s.close(); out.append(p)
print(*out)')
  local port dir
  for port in "${ports[@]}"; do
    dir="$redis_cluster_dir/$port"
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
      --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 \
      --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
    redis_cluster_pids+=("$!")
  done
  local nodes=() ok
  for port in "${ports[@]}"; do
    ok=""
    for _ in $(seq 1 400); do
      if [[ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" == PONG ]]; then ok=1; break; fi
      sleep 0.025
    done
    [[ -n "$ok" ]] || { echo "cluster node $port did not start:" >&2; cat "$redis_cluster_dir/$port/redis.log" >&2; return 1; }
    nodes+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$redis_cluster_dir/create.log" 2>&1 \
    || { echo "redis-cli --cluster create failed:" >&2; cat "$redis_cluster_dir/create.log" >&2; return 1; }
  for port in "${ports[@]}"; do
    ok=""
    for _ in $(seq 1 600); do
      if redis-cli -h 127.0.0.1 -p "$port" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok'; then ok=1; break; fi
      sleep 0.05
    done
    [[ -n "$ok" ]] || { echo "cluster node $port never reached cluster_state:ok" >&2; return 1; }
  done
  local url="redis+cluster://"
  url+=$(IFS=,; echo "${nodes[*]}")
  export TEST_REDIS_CLUSTER_URL="$url"
}

stop_redis_cluster() {
  local pid
  for pid in "${redis_cluster_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${redis_cluster_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  redis_cluster_pids=()
  if [[ -n "$redis_cluster_dir" ]]; then rm -rf "$redis_cluster_dir"; redis_cluster_dir=""; fi
}
