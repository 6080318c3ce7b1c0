-- wrk script of bench/app-bench: signed-in GETs (API routes and web UI pages) that rotate among the
-- request paths of one case, and one JSON line of figures at the end.
--
--   APP_BENCH_TOKEN=<bearer token> wrk -t2 -c64 -d10s -s bench/app-bench.lua \
--       http://127.0.0.1:PORT -- <file with one path per line>
--
-- Each thread starts at its own place in the list, so the two threads do not
-- send the same query at the same moment. Status codes are not read here
-- (a response() hook would make wrk copy every body): wrk counts answers
-- with a status of 400 or more in summary.errors.status, and the harness
-- checks every path once for a 200 before the load starts.

local threads = {}

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

local paths = {}
local i = 0

function init(args)
  local file = args[1]
  if file == nil then
    error("usage: wrk ... -s app-bench.lua URL -- PATHS_FILE")
  end
  for line in io.lines(file) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  if #paths == 0 then
    error("no path in " .. file)
  end
  local token = os.getenv("APP_BENCH_TOKEN")
  if token == nil or token == "" then
    error("APP_BENCH_TOKEN is not set")
  end
  wrk.headers["Authorization"] = "Bearer " .. token
  -- the web UI's pages read the same session from its cookie
  wrk.headers["Cookie"] = "paq_session=" .. token
  -- spread the threads over the list
  i = math.floor(offset * #paths / 2) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "status_errors": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.status, e.connect, e.read, e.write, e.timeout))
end
