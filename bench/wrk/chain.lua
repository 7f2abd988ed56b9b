-- Refresh token rotation: each thread (one connection) spends its own refresh token and
-- chains the successor from each response. Arguments: tokens file (one per line, one per
-- thread), path, request style ("ours" or "stock"), name of the refresh field in responses.
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   local path, style = args[2], args[3]
   field = args[4]
   local i = 0
   for line in io.lines(args[1]) do
      i = i + 1
      if i == id then token = line end
   end
   ok, failed = 0, 0
   wrk.method = "POST"
   wrk.path = path
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   if style == "stock" then prefix = "refresh=" else prefix = "grant_type=refresh_token&refresh_token=" end
end

function request()
   return wrk.format(nil, nil, nil, prefix .. token)
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
      token = string.match(body, '"' .. field .. '"%s*:%s*"([^"]+)"')
   else
      failed = failed + 1
   end
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
