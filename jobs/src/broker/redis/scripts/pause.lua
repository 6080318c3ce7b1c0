-- pause.lua: pauses or resumes one queue.
--
-- KEYS[1]  paused flag of the queue (a string: when it was paused, ms);
--          take.lua leases nothing while it exists
-- ARGV[1]  action: pause | resume
-- ARGV[2]  wake channel of the queue
-- ARGV[3]  now, Unix ms
-- Returns  1 when the state changed, 0 when it already was so.
--
-- Resuming wakes idle workers: the jobs that waited are theirs at once.
if ARGV[1] == 'pause' then
  if redis.call('SET', KEYS[1], ARGV[3], 'NX') then return 1 end
  return 0
end
local n = redis.call('DEL', KEYS[1])
if n == 1 then redis.call('PUBLISH', ARGV[2], '1') end
return n
