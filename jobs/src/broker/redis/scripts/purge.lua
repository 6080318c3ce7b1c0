-- purge.lua: deletes up to N waiting jobs (queued, then scheduled) of one queue.
--
-- KEYS[1]  ready list
-- KEYS[2]  scheduled zset
-- ARGV[1]  job hash key prefix
-- ARGV[2]  N
-- Returns  how many were deleted; the caller repeats until 0.
local prefix, n = ARGV[1], tonumber(ARGV[2])
local count = 0
local ids = redis.call('RPOP', KEYS[1], n)
if ids then
  for _, id in ipairs(ids) do redis.call('DEL', prefix .. id) end
  count = #ids
end
if count < n then
  local sched = redis.call('ZPOPMIN', KEYS[2], n - count)
  for i = 1, #sched, 2 do redis.call('DEL', prefix .. sched[i]) end
  count = count + #sched / 2
end
return count
