-- record.lua: shares an entry's last handled tick with the standbys, so the
-- next leader carries on from it rather than from its own, older state file.
--
-- KEYS[1]  ticks hash: entry name -> last tick, Unix ms
-- ARGV[1]  entry name
-- ARGV[2]  tick, Unix ms
-- Returns  1. A tick older than the one recorded is ignored, so a late
--          leader never moves an entry back.
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
