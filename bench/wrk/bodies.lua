-- Requests that can each be sent once (an authorization code, a private_key_jwt assertion): each
-- thread spends request bodies from its own share of a file (one form body per line), one per
-- request. Arguments: bodies file, path.
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   bodies = {}
   local i = 0
   for line in io.lines(args[1]) do
      if i % 8 == id - 1 then table.insert(bodies, line) end
      i = i + 1
   end
   next_body, ok, failed = 1, 0, 0
   wrk.method = "POST"
   wrk.path = args[2]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   local body = bodies[next_body] or "exhausted"
   next_body = next_body + 1
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
