-- dead_admin.lua: re-runs or discards dead jobs of one queue.
--
-- KEYS[1]  dead zset
-- KEYS[2]  ready list
-- ARGV[1]  job hash key prefix
-- ARGV[2]  action: rerun | discard
-- ARGV[3]  wake channel
-- ARGV[4..] ids
-- Returns  how many ids were in the dead set and were handled.
--
-- A re-run job starts over with no attempts used and keeps its last error
-- for reference until it ends again.
local prefix, action = ARGV[1], ARGV[2]
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local key = prefix .. id
    if action == 'rerun' then
      redis.call('HSET', key, 's', 'queued', 'a', 0)
      redis.call('HDEL', key, 'f')
      redis.call('LPUSH', KEYS[2], id)
    else
      redis.call('DEL', key)
    end
    n = n + 1
  end
end
if action == 'rerun' and n > 0 then redis.call('PUBLISH', ARGV[3], '1') end
return n
