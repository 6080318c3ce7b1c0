-- settle.lua: ends one attempt, if its token still holds the job.
--
-- KEYS[1]  running zset
-- KEYS[2]  scheduled zset
-- KEYS[3]  dead zset (score = time of death, ms)
-- KEYS[4]  ready list
-- KEYS[5]  stats hash of the queue
-- ARGV[1]  job hash key prefix
-- ARGV[2]  id
-- ARGV[3]  token of the attempt
-- ARGV[4]  now, Unix ms
-- ARGV[5]  outcome: ack | retry | dead | release | cancelled
-- ARGV[6]  ack: result ('' for none); retry/dead: the error
-- ARGV[7]  ack/cancelled: how long the record is kept (ms); retry: due time
-- ARGV[8]  wake channel (release)
-- Returns  1 settled, 0 stale (the token did not match; counted in stats).
--
-- The token check is the fence: a worker whose lease was reclaimed cannot
-- ack, retry or kill a job another worker now holds.
local prefix, id, token, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local key = prefix .. id
if redis.call('HGET', key, 't') ~= token then
  redis.call('HINCRBY', KEYS[5], 'stale', 1)
  return 0
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
elseif outcome == 'retry' then
  redis.call('HSET', key, 's', 'retrying', 'err', ARGV[6], 'r', ARGV[7])
  redis.call('ZADD', KEYS[2], ARGV[7], id)
elseif outcome == 'dead' then
  redis.call('HSET', key, 's', 'dead', 'err', ARGV[6], 'f', now)
  redis.call('ZADD', KEYS[3], now, id)
elseif outcome == 'release' then
  redis.call('HINCRBY', key, 'a', -1)
  redis.call('HSET', key, 's', 'queued')
  redis.call('RPUSH', KEYS[4], id)
  redis.call('PUBLISH', ARGV[8], '1')
elseif outcome == 'cancelled' then
  redis.call('HSET', key, 's', 'cancelled', 'f', now)
  redis.call('PEXPIRE', key, ARGV[7])
end
return 1
