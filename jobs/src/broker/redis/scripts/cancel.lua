-- cancel.lua: cancels a waiting job, or flags a running one.
--
-- KEYS[1]  ready list
-- KEYS[2]  scheduled zset
-- ARGV[1]  job hash key prefix
-- ARGV[2]  id
-- ARGV[3]  now, Unix ms
-- ARGV[4]  how long the cancelled record is kept, ms
-- Returns  {outcome, state}: outcome 'cancelled' | 'requested' | 'finished'
--          | 'unknown'; state is the state the job was in.
local key = ARGV[1] .. ARGV[2]
local state = redis.call('HGET', key, 's')
if not state then return {'unknown', ''} end
if state == 'queued' then
  redis.call('LREM', KEYS[1], 1, ARGV[2])
elseif state == 'scheduled' or state == 'retrying' then
  redis.call('ZREM', KEYS[2], ARGV[2])
elseif state == 'running' then
  redis.call('HSET', key, 'c', '1')
  return {'requested', state}
else
  return {'finished', state}
end
redis.call('HSET', key, 's', 'cancelled', 'f', ARGV[3])
redis.call('PEXPIRE', key, ARGV[4])
return {'cancelled', state}
