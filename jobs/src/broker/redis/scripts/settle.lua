-- settle.lua: ends a batch of attempts of one queue, each only if its token
-- still holds the job; then it may lease jobs of the same queue for the
-- slots the batch freed, in the same call, so a busy worker pays one round
-- trip for the finished attempts of all its slots and their next jobs.
-- take.lua is prepended to it.
--
-- KEYS[1]  running zset
-- KEYS[2]  scheduled zset
-- KEYS[3]  dead zset (score = time of death, ms)
-- KEYS[4]  ready list
-- KEYS[5]  stats hash of the queue
-- KEYS[6]  paused flag of the queue (the refill leases nothing while it
--          exists)
-- KEYS[7]  throughput hash of the queue: `s:<bucket>` succeeded and
--          `f:<bucket>` failed attempts per 10-second bucket
-- ARGV[1]  job hash key prefix
-- ARGV[2]  now, Unix ms
-- ARGV[3]  wake channel (release)
-- ARGV[4]  refill: how many jobs to lease after the batch (0 for none); at
--          most as many as the batch settled are taken
-- ARGV[5]  lease length, ms
-- ARGV[6]  worker incarnation id
-- ARGV[7]  token prefix of the refill's leases, unique per call
-- ARGV[8]  the current throughput bucket (now / 10 s)
-- ARGV[9..] five values per attempt:
--          id, token, outcome (ack | retry | dead | release | cancelled |
--          snooze), text (ack: result, '' for none; retry/dead: the error),
--          at (ack/cancelled: how long the record is kept, ms;
--          retry/snooze: due time)
-- Returns  one 1 (settled) or 0 (stale: the token did not match; counted in
--          stats) per attempt, in order, then what take() returns for the
--          refill.
--
-- The token check is the fence: a worker whose lease was reclaimed cannot
-- ack, retry or kill a job another worker now holds, and a stale attempt in
-- a batch changes nothing but its own stale count.
local prefix, now = ARGV[1], tonumber(ARGV[2])
local bucket = ARGV[8]
local out = {}
local done, stale, succeeded, failed, released = 0, 0, 0, 0, 0
for i = 9, #ARGV, 5 do
  local id, token, outcome, text, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local key = prefix .. id
  if redis.call('HGET', key, 't') ~= token then
    stale = stale + 1
    table.insert(out, 0)
  else
    done = done + 1
    table.insert(out, 1)
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', key, 't', 'c')
    if outcome == 'ack' then
      if text ~= '' then
        redis.call('HSET', key, 's', 'succeeded', 'f', now, 'res', text)
      else
        redis.call('HSET', key, 's', 'succeeded', 'f', now)
      end
      redis.call('PEXPIRE', key, at)
      succeeded = succeeded + 1
    elseif outcome == 'retry' then
      redis.call('HSET', key, 's', 'retrying', 'err', text, 'r', at)
      redis.call('ZADD', KEYS[2], at, id)
      failed = failed + 1
    elseif outcome == 'dead' then
      redis.call('HSET', key, 's', 'dead', 'err', text, 'f', now)
      redis.call('ZADD', KEYS[3], now, id)
      failed = failed + 1
    elseif outcome == 'release' then
      redis.call('HINCRBY', key, 'a', -1)
      redis.call('HSET', key, 's', 'queued')
      redis.call('RPUSH', KEYS[4], id)
      released = released + 1
    elseif outcome == 'snooze' then
      -- Not a failure: the attempt gives its slot back and does not count.
      redis.call('HINCRBY', key, 'a', -1)
      redis.call('HSET', key, 's', 'scheduled', 'r', at)
      redis.call('ZADD', KEYS[2], at, id)
    elseif outcome == 'cancelled' then
      redis.call('HSET', key, 's', 'cancelled', 'f', now)
      redis.call('PEXPIRE', key, at)
    end
  end
end
if stale > 0 then redis.call('HINCRBY', KEYS[5], 'stale', stale) end
if succeeded > 0 then redis.call('HINCRBY', KEYS[7], 's:' .. bucket, succeeded) end
if failed > 0 then redis.call('HINCRBY', KEYS[7], 'f:' .. bucket, failed) end
if released > 0 then redis.call('PUBLISH', ARGV[3], '1') end
local n = math.min(tonumber(ARGV[4]), done)
if n > 0 then
  local leased = take(KEYS[4], KEYS[1], KEYS[3], KEYS[6], prefix, now, tonumber(ARGV[5]), n,
    ARGV[6], ARGV[7])
  for _, v in ipairs(leased) do table.insert(out, v) end
end
return out
