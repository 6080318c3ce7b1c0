-- maintain.lua: one bounded round of housekeeping for one queue.
--
-- KEYS[1]  scheduled zset
-- KEYS[2]  ready list
-- KEYS[3]  running zset
-- KEYS[4]  dead zset
-- KEYS[5]  throughput hash (see settle.lua)
-- ARGV[1]  job hash key prefix
-- ARGV[2]  now, Unix ms
-- ARGV[3]  chunk: the most jobs each step touches in this call
-- ARGV[4]  dead retention, ms
-- ARGV[5]  wake channel
-- ARGV[6]  how long a cancelled record is kept, ms
-- ARGV[7]  the current throughput bucket (now / 10 s)
-- Returns  {promoted, requeued, lost_to_dead, swept}
--
-- 1. Promote: due scheduled/retrying jobs join the tail of the ready list.
-- 2. Reclaim: jobs whose lease expired (their worker stopped beating) lose
--    their token; they go back to the head of the ready list, or to the dead
--    set when that attempt was their last, or end cancelled when an operator
--    had asked to cancel them.
-- 3. Sweep: dead jobs past the dead retention are deleted. (Succeeded and
--    cancelled records expire by themselves: settle sets their PEXPIRE.)
--    Throughput buckets older than an hour are deleted once the hash holds
--    more than an hour and a bit of them.
-- Each step handles at most `chunk` jobs, so a backlog of any size never
-- makes one call long; callers repeat while a step reports a full chunk.
local prefix, now, chunk = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local promoted, requeued, lost, swept = 0, 0, 0, 0

local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, chunk)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local key = prefix .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 's', 'queued')
    redis.call('LPUSH', KEYS[2], id)
    promoted = promoted + 1
  end
end

local expired = redis.call('ZRANGE', KEYS[3], '-inf', now, 'BYSCORE', 'LIMIT', 0, chunk)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[3], id)
  local key = prefix .. id
  local f = redis.call('HMGET', key, 'a', 'm', 'w', 'c')
  if f[1] then
    local attempts, max = tonumber(f[1]), tonumber(f[2])
    local why = 'lease expired: worker ' .. (f[3] or '?') .. ' stopped during attempt ' .. attempts
    redis.call('HDEL', key, 't', 'c')
    if f[4] == '1' then
      redis.call('HSET', key, 's', 'cancelled', 'err', why, 'f', now)
      redis.call('PEXPIRE', key, ARGV[6])
    elseif attempts >= max then
      redis.call('HSET', key, 's', 'dead', 'err', why, 'f', now)
      redis.call('ZADD', KEYS[4], now, id)
      redis.call('HINCRBY', KEYS[5], 'f:' .. ARGV[7], 1)
      lost = lost + 1
    else
      redis.call('HSET', key, 's', 'queued', 'err', why)
      redis.call('RPUSH', KEYS[2], id)
      requeued = requeued + 1
    end
  end
end

local old = redis.call('ZRANGE', KEYS[4], '-inf', now - tonumber(ARGV[4]), 'BYSCORE', 'LIMIT', 0, chunk)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[4], id)
  redis.call('DEL', prefix .. id)
  swept = swept + 1
end

if redis.call('HLEN', KEYS[5]) > 800 then
  local oldest = tonumber(ARGV[7]) - 360
  for _, field in ipairs(redis.call('HKEYS', KEYS[5])) do
    if (tonumber(string.sub(field, 3)) or 0) <= oldest then redis.call('HDEL', KEYS[5], field) end
  end
end

if promoted + requeued > 0 then redis.call('PUBLISH', ARGV[5], '1') end
return {promoted, requeued, lost, swept}
