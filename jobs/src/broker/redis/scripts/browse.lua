-- browse.lua: the first N jobs of one state of one queue that match a
-- filter, newest first, with the key the listing is ordered by.
--
-- KEYS[1]  the state's structure: the ready list (newest at its left end),
--          or the scheduled, running or dead zset (newest = highest score)
-- ARGV[1]  job hash key prefix
-- ARGV[2]  kind of KEYS[1]: list | zset
-- ARGV[3]  N, the most matches to return
-- ARGV[4]  with a filter, the most jobs to look at (the search limit)
-- ARGV[5]  job name to match exactly ('' for any)
-- ARGV[6]  text to find in the payload, the last error or the request id,
--          ASCII-lowercase ('' for any); the fields are lowercased the
--          same way
-- Returns  {id, key, id, key, ...}: key is the due time of a queued job,
--          the zset score otherwise.
--
-- Reads in pages of 500 ids, so an unfiltered listing reads only as deep as
-- its page; a filtered one stops at N matches or after the search limit.
local prefix, kind, want = ARGV[1], ARGV[2], tonumber(ARGV[3])
local name, text = ARGV[5], ARGV[6]
local filtered = name ~= '' or text ~= ''
local bound = want
if filtered then bound = tonumber(ARGV[4]) end
local out, found, pos = {}, 0, 0

local function has(field, needle)
  return field and string.find(string.lower(field), needle, 1, true) ~= nil
end

while found < want and pos < bound do
  local stop = math.min(pos + 500, bound) - 1
  local ids, keys = {}, {}
  if kind == 'list' then
    ids = redis.call('LRANGE', KEYS[1], pos, stop)
  else
    local r = redis.call('ZREVRANGE', KEYS[1], pos, stop, 'WITHSCORES')
    for i = 1, #r, 2 do
      ids[#ids + 1] = r[i]
      keys[#ids] = tonumber(r[i + 1])
    end
  end
  for i, id in ipairs(ids) do
    if found >= want then break end
    local key = prefix .. id
    local ok = true
    if filtered then
      local f = redis.call('HMGET', key, 'n', 'p', 'err', 'rq')
      ok = f[1] ~= false and (name == '' or f[1] == name)
        and (text == '' or has(f[2], text) or has(f[3], text) or has(f[4], text))
    end
    if ok and kind == 'list' then
      local r = redis.call('HGET', key, 'r')
      ok = r ~= false
      keys[i] = tonumber(r) or 0
    end
    if ok then
      out[#out + 1] = id
      out[#out + 1] = keys[i]
      found = found + 1
    end
  end
  if #ids < stop - pos + 1 then break end
  pos = stop + 1
end
return out
