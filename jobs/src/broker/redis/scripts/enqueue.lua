-- enqueue.lua: adds jobs to one queue; an id that already exists is left alone.
--
-- KEYS[1]  ready list of the queue       ({q}:ready; RPOP end is the head)
-- KEYS[2]  scheduled zset of the queue   ({q}:sched; score = due time, ms)
-- ARGV[1]  job hash key prefix           ("<prefix>:{<queue>}:j:")
-- ARGV[2]  now, Unix ms
-- ARGV[3]  wake channel of the queue
-- ARGV[4..] nine values per job:
--          id, name, payload, run_at_ms (0 = now), max_attempts,
--          timeout_ms, backoff_base_ms, backoff_max_ms,
--          request_id ('' for none; the field `rq` is then not written)
-- Returns  one integer per job: 1 created, 0 the id already existed.
--
-- Publishes one wake-up when the ready list goes from empty to non-empty:
-- idle workers sleep on that channel; busy ones fetch again anyway.
local prefix, now, chan = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local out, pushed = {}, 0
for i = 4, #ARGV, 9 do
  local id = ARGV[i]
  local key = prefix .. id
  if redis.call('EXISTS', key) == 1 then
    out[#out + 1] = 0
  else
    local run_at = tonumber(ARGV[i + 3])
    local state = 'queued'
    if run_at > now then state = 'scheduled' else run_at = now end
    redis.call('HSET', key, 'n', ARGV[i + 1], 'p', ARGV[i + 2], 's', state, 'a', 0,
      'm', ARGV[i + 4], 'to', ARGV[i + 5], 'bb', ARGV[i + 6], 'bm', ARGV[i + 7],
      'e', now, 'r', run_at)
    if ARGV[i + 8] ~= '' then redis.call('HSET', key, 'rq', ARGV[i + 8]) end
    if state == 'scheduled' then
      redis.call('ZADD', KEYS[2], run_at, id)
    else
      redis.call('LPUSH', KEYS[1], id)
      pushed = pushed + 1
    end
    out[#out + 1] = 1
  end
end
if pushed > 0 and redis.call('LLEN', KEYS[1]) == pushed then
  redis.call('PUBLISH', chan, '1')
end
return out
