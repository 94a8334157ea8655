-- wrk script for benchmarks/web.py: GET a random path from a file on each request, with the session
-- cookie; optional think time; prints the latency summary and histogram as one JSON line at the end.
-- wrk -s benchmarks/web_load.lua URL -- PATHS_FILE   (env: PP_BENCH_COOKIE, PP_BENCH_THINK_MS)
local paths = {}
local think_ms = tonumber(os.getenv("PP_BENCH_THINK_MS") or "0") or 0
wrk.headers["Cookie"] = os.getenv("PP_BENCH_COOKIE") or ""
wrk.headers["Accept"] = "text/html"

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function delay()
  if think_ms > 0 then return think_ms * (0.5 + math.random()) end
  return 0
end

function done(summary, latency, requests)
  local e = summary.errors
  -- the whole latency histogram too ([microseconds, count] pairs), so runs can be pooled
  local hist = {}
  for i = 1, #latency do
    local value, count = latency(i)
    hist[#hist + 1] = string.format("[%d,%d]", value, count)
  end
  io.write(string.format(
    '{"requests": %d, "errors": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"hist": [%s]}\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, table.concat(hist, ",")))
end
