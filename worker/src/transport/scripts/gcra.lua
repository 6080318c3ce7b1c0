-- gcra.lua: one turn of the SMS rate limit shared by every worker (GCRA,
-- the generic cell rate algorithm, without bursts).
--
-- KEYS[1]  the limiter: the theoretical arrival time of the next message,
--          in µs of Redis's own clock (so workers need not agree on time)
-- ARGV[1]  emission interval, µs (1 s / messages per second)
-- Returns  0 when the caller's message may go now (its turn is taken), else
--          the µs until the next turn (nothing is taken).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return tat - now
end
local new_tat = now + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
