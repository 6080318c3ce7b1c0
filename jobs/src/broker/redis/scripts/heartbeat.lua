-- heartbeat.lua: extends the leases of running attempts of one queue.
--
-- KEYS[1]  running zset
-- ARGV[1]  job hash key prefix
-- ARGV[2]  new lease expiry, Unix ms
-- ARGV[3..] pairs: id, token
-- Returns  one integer per pair: 1 extended, 0 lost (the token no longer
--          holds the job), 2 extended but cancellation was requested.
local prefix, expiry = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', prefix .. id, 't', 'c')
  if f[1] == token then
    redis.call('ZADD', KEYS[1], 'XX', expiry, id)
    if f[2] == '1' then out[#out + 1] = 2 else out[#out + 1] = 1 end
  else
    out[#out + 1] = 0
  end
end
return out
