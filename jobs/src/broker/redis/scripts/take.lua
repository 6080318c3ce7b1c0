-- take.lua: a library, not a script. It is prepended to lease.lua and
-- settle.lua so both lease jobs the same way.
--
-- take(ready, running, dead, paused, prefix, now, lease_ms, n, worker, token_prefix)
--   takes nothing while the queue's paused flag exists; else pops up to n ids from the head of the ready list and turns each into a
--   running attempt: attempt counter + 1, a token (token_prefix .. position),
--   the lease expiry in the running zset. Returns twelve values per job:
--   id, name, payload, attempt, max_attempts, timeout_ms, backoff_base_ms,
--   backoff_max_ms, enqueued_at_ms, due_at_ms, position, request_id ('' for
--   none).
--
-- The attempt counter rises here, at lease time, so an attempt whose worker
-- dies still counts: a job that kills its process cannot loop forever.
-- An id whose hash is gone (purged) is dropped. A hash without a name, a
-- payload or a max attempts (written by hand, or by an older version) is
-- not run: it goes to the dead set with an error naming what it lacks, so
-- it is seen and can be discarded instead of reading "queued" forever.
local function take(ready, running, dead, paused, prefix, now, lease, n, worker, token_prefix)
  local out = {}
  if n < 1 or redis.call('EXISTS', paused) == 1 then return out end
  local ids = redis.call('RPOP', ready, n)
  if not ids then return out end
  for i, id in ipairs(ids) do
    local key = prefix .. id
    local f = redis.call('HMGET', key, 'n', 'p', 'a', 'm', 'to', 'bb', 'bm', 'e', 'r', 'rq')
    local missing = {}
    if not f[1] or f[1] == '' then table.insert(missing, 'n (name)') end
    if not f[2] then table.insert(missing, 'p (payload)') end
    if not tonumber(f[4]) then table.insert(missing, 'm (max attempts)') end
    if #missing > 0 then
      if redis.call('EXISTS', key) == 1 then
        redis.call('HSET', key, 's', 'dead', 'f', now,
          'err', 'the job record lacks ' .. table.concat(missing, ', ') .. '; it cannot run')
        redis.call('ZADD', dead, now, id)
      end
    else
      local attempt = (tonumber(f[3]) or 0) + 1
      redis.call('HSET', key, 's', 'running', 'a', attempt, 't', token_prefix .. i,
        'st', now, 'w', worker)
      redis.call('ZADD', running, now + lease, id)
      local m = #out
      out[m + 1] = id; out[m + 2] = f[1]; out[m + 3] = f[2]; out[m + 4] = attempt
      -- Fields an older record may lack get the engine's defaults (a nil
      -- would cut the reply short).
      out[m + 5] = f[4]; out[m + 6] = f[5] or 300000; out[m + 7] = f[6] or 1000
      out[m + 8] = f[7] or 60000; out[m + 9] = f[8] or now; out[m + 10] = f[9] or now
      out[m + 11] = i; out[m + 12] = f[10] or ''
    end
  end
  return out
end
