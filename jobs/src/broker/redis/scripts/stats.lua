-- stats.lua: counts of one queue in one consistent read.
--
-- KEYS[1]  ready list
-- KEYS[2]  scheduled zset
-- KEYS[3]  running zset
-- KEYS[4]  dead zset
-- KEYS[5]  stats hash
-- ARGV[1]  job hash key prefix
-- Returns  {queued, scheduled, running, dead, oldest_due_ms (-1 if none), stale}
local oldest = -1
local head = redis.call('LINDEX', KEYS[1], -1)
if head then
  local r = redis.call('HGET', ARGV[1] .. head, 'r')
  if r then oldest = tonumber(r) end
end
return {
  redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]),
  oldest, tonumber(redis.call('HGET', KEYS[5], 'stale') or '0')
}
