-- acquire.lua: takes or renews the scheduler's leader lease.
--
-- KEYS[1]  lease key; its value is "<holder token>|<expiry, Unix ms>"
-- ARGV[1]  the caller's token (new at every start)
-- ARGV[2]  now, Unix ms, from the caller's clock (tests move it)
-- ARGV[3]  lease length, ms
-- ARGV[4]  backstop TTL of the key, ms (three leases): the key goes away
--          by itself even if every scheduler's clock is wrong
-- Returns  1 when the caller holds the lease now, 0 when another does.
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, '|', 1, true)
  local holder = string.sub(v, 1, sep - 1)
  local expires = tonumber(string.sub(v, sep + 1))
  if holder ~= ARGV[1] and expires > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. (tonumber(ARGV[2]) + tonumber(ARGV[3])), 'PX', ARGV[4])
return 1
