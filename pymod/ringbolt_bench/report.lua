-- report.lua: wrk script for non-pipelined runs: optional method/body from the
-- environment (WRK_METHOD, WRK_BODY_FILE, WRK_CONTENT_TYPE) and the same
-- machine-readable done() summary line parsed by harness.py (pipeline.lua uses both).

function init(args)
   local method = os.getenv("WRK_METHOD")
   if method and method ~= "" then wrk.method = method end
   local body_file = os.getenv("WRK_BODY_FILE")
   if body_file and body_file ~= "" then
      local f = assert(io.open(body_file, "rb"))
      wrk.body = f:read("*a")
      f:close()
      wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
   end
end

-- Percentiles computed here from the raw histogram: wrk 4.1's own
-- latency:percentile() returns 0 above the median when pipelining.
local function pct(latency, p)
   local n, total = #latency, 0
   for i = 1, n do local _, c = latency(i); total = total + c end
   local rank, seen = math.ceil(total * p / 100), 0
   for i = 1, n do
      local v, c = latency(i)
      seen = seen + c
      if seen >= rank then return v end
   end
   return latency.max
end

function done(summary, latency, requests)
   io.write(string.format(
      "HARNESS requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.1f "
      .. "connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, pct(latency, 50), pct(latency, 99),
      latency.mean, summary.errors.connect, summary.errors.read,
      summary.errors.write, summary.errors.status, summary.errors.timeout))
end
