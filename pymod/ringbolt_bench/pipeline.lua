-- pipeline.lua: wrk script that sends N HTTP/1.1 requests per write (pipelining).
--
--   wrk -t1 -c50 -d3s -s pipeline.lua http://127.0.0.1:8080/plaintext -- 16
--   PIPELINE=16 wrk -t1 -c50 -d3s -s pipeline.lua http://127.0.0.1:8080/plaintext
--
-- Depth comes from the first script argument, else $PIPELINE, else 16. The path,
-- method, body and headers come from wrk's own options (-H, the URL), so the same
-- script works for every scenario. done() prints a machine-readable summary line
-- that harness.py (beside this file) parses (latency is per write of N requests).

local depth = 16
local req = nil

function init(args)
   local n = tonumber(args[1] or "") or tonumber(os.getenv("PIPELINE") or "") or 16
   if n < 1 then n = 1 end
   depth = n
   -- optional method/body, as in report.lua
   local method = os.getenv("WRK_METHOD")
   if method and method ~= "" then wrk.method = method end
   local body_file = os.getenv("WRK_BODY_FILE")
   if body_file and body_file ~= "" then
      local f = assert(io.open(body_file, "rb"))
      wrk.body = f:read("*a")
      f:close()
      wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
   end
   local one = wrk.format()
   local parts = {}
   for i = 1, depth do parts[i] = one end
   req = table.concat(parts)
end

function request()
   return req
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
