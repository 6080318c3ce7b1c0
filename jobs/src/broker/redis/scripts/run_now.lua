-- run_now.lua: makes a scheduled or retrying job due now.
--
-- KEYS[1]  scheduled zset
-- KEYS[2]  ready list
-- ARGV[1]  job hash key prefix
-- ARGV[2]  id
-- ARGV[3]  now, Unix ms
-- ARGV[4]  wake channel
-- Returns  1 when the job waited and is queued now, 0 otherwise.
--
-- It joins the tail of the queue, as a promotion by maintain.lua would.
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return 0 end
local key = ARGV[1] .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 's', 'queued', 'r', ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[4], '1')
return 1
