-- pipeline.lua: wrk script that sends N HTTP/1.1 requests per write (pipelining).
--
--   wrk -t1 -c50 -d3s -s pipeline.lua http://127.0.0.1:8080/plaintext -- 16
--   PIPELINE=16 wrk -t1 -c50 -d3s -s pipeline.lua http://127.0.0.1:8080/plaintext
--
-- Depth comes from the first script argument, else $PIPELINE, else 16. The path,
-- method, body and headers come from wrk's own options (-H, the URL) and report.lua's
-- environment variables, so the same script works for every scenario. done() is
-- report.lua's (beside this file): latency is per write of N requests here.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local set_method_and_body = init

local req = nil

function init(args)
   local depth = tonumber(args[1] or "") or tonumber(os.getenv("PIPELINE") or "") or 16
   if depth < 1 then depth = 1 end
   set_method_and_body(args)
   local one = wrk.format()
   local parts = {}
   for i = 1, depth do parts[i] = one end
   req = table.concat(parts)
end

function request()
   return req
end
