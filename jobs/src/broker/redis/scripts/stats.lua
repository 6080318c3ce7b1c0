-- stats.lua: counts of one queue in one consistent read.
--
-- KEYS[1]  ready list
-- KEYS[2]  scheduled zset
-- KEYS[3]  running zset
-- KEYS[4]  dead zset
-- KEYS[5]  stats hash
-- KEYS[6]  paused flag
-- KEYS[7]  throughput hash (see settle.lua)
-- ARGV[1]  job hash key prefix
-- ARGV[2]  the current throughput bucket (now / 10 s)
-- Returns  {queued, scheduled, running, dead, oldest_due_ms (-1 if none), stale,
--          paused (0/1), succeeded and failed in the last 6 buckets, then in
--          the last 360}
local oldest = -1
local head = redis.call('LINDEX', KEYS[1], -1)
if head then
  local r = redis.call('HGET', ARGV[1] .. head, 'r')
  if r then oldest = tonumber(r) end
end
local now = tonumber(ARGV[2])
local s1, f1, s60, f60 = 0, 0, 0, 0
local tp = redis.call('HGETALL', KEYS[7])
for i = 1, #tp, 2 do
  local age = now - (tonumber(string.sub(tp[i], 3)) or 0)
  local n = tonumber(tp[i + 1]) or 0
  local ok = string.sub(tp[i], 1, 1) == 's'
  if age >= 0 and age < 360 then
    if ok then s60 = s60 + n else f60 = f60 + n end
    if age < 6 then
      if ok then s1 = s1 + n else f1 = f1 + n end
    end
  end
end
return {
  redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]),
  oldest, tonumber(redis.call('HGET', KEYS[5], 'stale') or '0'),
  redis.call('EXISTS', KEYS[6]), s1, f1, s60, f60
}
