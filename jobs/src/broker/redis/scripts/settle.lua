-- settle.lua: ends one attempt, if its token still holds the job; after an
-- ack it may lease the next job of the same queue in the same call, so a
-- busy worker spends one round trip per job instead of two. take.lua is
-- prepended to it.
--
-- KEYS[1]  running zset
-- KEYS[2]  scheduled zset
-- KEYS[3]  dead zset (score = time of death, ms)
-- KEYS[4]  ready list
-- KEYS[5]  stats hash of the queue
-- KEYS[6]  paused flag of the queue (ack leases nothing while it exists)
-- KEYS[7]  throughput hash of the queue: `s:<bucket>` succeeded and
--          `f:<bucket>` failed attempts per 10-second bucket
-- ARGV[1]  job hash key prefix
-- ARGV[2]  id
-- ARGV[3]  token of the attempt
-- ARGV[4]  now, Unix ms
-- ARGV[5]  outcome: ack | retry | dead | release | cancelled | snooze
-- ARGV[6]  ack: result ('' for none); retry/dead: the error
-- ARGV[7]  ack/cancelled: how long the record is kept (ms); retry/snooze:
--          due time
-- ARGV[8]  wake channel (release)
-- ARGV[9]  ack: how many jobs to lease next (0 for none)
-- ARGV[10] lease length, ms
-- ARGV[11] worker incarnation id
-- ARGV[12] token prefix of the next lease, unique per call
-- ARGV[13] the current throughput bucket (now / 10 s)
-- Returns  {1, leased...} settled (leased: what take() returns), or {0}
--          stale (the token did not match; counted in stats).
--
-- The token check is the fence: a worker whose lease was reclaimed cannot
-- ack, retry or kill a job another worker now holds.
local prefix, id, token, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local key = prefix .. id
if redis.call('HGET', key, 't') ~= token then
  redis.call('HINCRBY', KEYS[5], 'stale', 1)
  return {0}
end
local outcome = ARGV[5]
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', key, 't', 'c')
if outcome == 'ack' then
  if ARGV[6] ~= '' then
    redis.call('HSET', key, 's', 'succeeded', 'f', now, 'res', ARGV[6])
  else
    redis.call('HSET', key, 's', 'succeeded', 'f', now)
  end
  redis.call('PEXPIRE', key, ARGV[7])
  redis.call('HINCRBY', KEYS[7], 's:' .. ARGV[13], 1)
  local leased = take(KEYS[4], KEYS[1], KEYS[3], KEYS[6], prefix, now, tonumber(ARGV[10]),
    tonumber(ARGV[9]), ARGV[11], ARGV[12])
  table.insert(leased, 1, 1)
  return leased
elseif outcome == 'retry' then
  redis.call('HSET', key, 's', 'retrying', 'err', ARGV[6], 'r', ARGV[7])
  redis.call('ZADD', KEYS[2], ARGV[7], id)
  redis.call('HINCRBY', KEYS[7], 'f:' .. ARGV[13], 1)
elseif outcome == 'dead' then
  redis.call('HSET', key, 's', 'dead', 'err', ARGV[6], 'f', now)
  redis.call('ZADD', KEYS[3], now, id)
  redis.call('HINCRBY', KEYS[7], 'f:' .. ARGV[13], 1)
elseif outcome == 'release' then
  redis.call('HINCRBY', key, 'a', -1)
  redis.call('HSET', key, 's', 'queued')
  redis.call('RPUSH', KEYS[4], id)
  redis.call('PUBLISH', ARGV[8], '1')
elseif outcome == 'snooze' then
  -- Not a failure: the attempt gives its slot back and does not count.
  redis.call('HINCRBY', key, 'a', -1)
  redis.call('HSET', key, 's', 'scheduled', 'r', ARGV[7])
  redis.call('ZADD', KEYS[2], ARGV[7], id)
elseif outcome == 'cancelled' then
  redis.call('HSET', key, 's', 'cancelled', 'f', now)
  redis.call('PEXPIRE', key, ARGV[7])
end
return {1}
