-- lease.lua: takes up to N jobs from the head of one queue for one attempt
-- each. take.lua is prepended to it.
--
-- KEYS[1]  ready list
-- KEYS[2]  running zset (score = lease expiry, ms)
-- KEYS[3]  dead zset (a job record missing its fields goes there)
-- KEYS[4]  paused flag of the queue (nothing is taken while it exists)
-- ARGV[1]  job hash key prefix
-- ARGV[2]  now, Unix ms
-- ARGV[3]  lease length, ms
-- ARGV[4]  N, the most jobs to take (the worker's free slots)
-- ARGV[5]  worker incarnation id
-- ARGV[6]  token prefix, unique per call
-- Returns  what take() returns: twelve values per leased job.
return take(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), ARGV[5], ARGV[6])
