-- lease.lua: takes up to N jobs from the head of one queue for one attempt each.
--
-- KEYS[1]  ready list
-- KEYS[2]  running zset (score = lease expiry, ms)
-- ARGV[1]  job hash key prefix
-- ARGV[2]  now, Unix ms
-- ARGV[3]  lease length, ms
-- ARGV[4]  N, the most jobs to take (the worker's free slots)
-- ARGV[5]  worker incarnation id
-- ARGV[6]  token prefix, unique per call; the job's token is prefix .. index
-- Returns  eleven values per leased job: id, name, payload, attempt,
--          max_attempts, timeout_ms, backoff_base_ms, backoff_max_ms,
--          enqueued_at_ms, due_at_ms, position; its token is ARGV[6] .. position.
--
-- The attempt counter rises here, at lease time, so an attempt whose worker
-- dies still counts: a job that kills its process cannot loop forever.
-- An id whose hash is gone (purged) is dropped.
local prefix, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ids = redis.call('RPOP', KEYS[1], tonumber(ARGV[4]))
if not ids then return {} end
local out = {}
for i, id in ipairs(ids) do
  local key = prefix .. id
  local f = redis.call('HMGET', key, 'n', 'p', 'a', 'm', 'to', 'bb', 'bm', 'e', 'r')
  if f[1] then
    local attempt = tonumber(f[3]) + 1
    redis.call('HSET', key, 's', 'running', 'a', attempt, 't', ARGV[6] .. i,
      'st', now, 'w', ARGV[5])
    redis.call('ZADD', KEYS[2], now + lease, id)
    local n = #out
    out[n + 1] = id; out[n + 2] = f[1]; out[n + 3] = f[2]; out[n + 4] = attempt
    out[n + 5] = f[4]; out[n + 6] = f[5]; out[n + 7] = f[6]; out[n + 8] = f[7]
    out[n + 9] = f[8]; out[n + 10] = f[9]
    out[n + 11] = i
  end
end
return out
