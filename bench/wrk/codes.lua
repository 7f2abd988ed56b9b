-- Authorization code exchanges: each thread spends codes from its own share of a file (one
-- code per line), one per request. Arguments: codes file, client_id, redirect_uri, verifier,
-- and "post" to send client_id in the body (a public client) or "basic" (the Authorization
-- header is then set by wrk's -H).
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   codes = {}
   local i = 0
   for line in io.lines(args[1]) do
      if i % 8 == id - 1 then table.insert(codes, line) end
      i = i + 1
   end
   client_id, redirect_uri, verifier, style = args[2], args[3], args[4], args[5]
   next_code, ok, failed = 1, 0, 0
   wrk.method = "POST"
   wrk.path = "/token"
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   local code = codes[next_code] or "exhausted"
   next_code = next_code + 1
   local body = "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. redirect_uri
      .. "&code_verifier=" .. verifier
   if style == "post" then body = body .. "&client_id=" .. client_id end
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   if status == 200 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
   local ok_total, failed_total = 0, 0
   for _, thread in ipairs(threads) do
      ok_total = ok_total + thread:get("ok")
      failed_total = failed_total + thread:get("failed")
   end
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "failed": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d, "chained_ok": %d}\n',
      summary.requests, summary.duration, failed_total, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99), ok_total))
end
