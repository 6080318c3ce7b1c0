-- release.lua: gives the leader lease up at a graceful stop, so a standby
-- need not wait for it to run out.
--
-- KEYS[1]  lease key
-- ARGV[1]  the caller's token
-- Returns  1 when the caller held the lease and it is gone, else 0 (another
--          scheduler holds it: it is left alone).
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
  return redis.call('DEL', KEYS[1])
end
return 0
