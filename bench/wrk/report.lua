-- One request, repeated: method, path and form body from the script's arguments.
-- Prints a JSON summary (requests, non-2xx, latency percentiles) when done.
function init(args)
   wrk.method = args[1]
   wrk.path = args[2]
   if args[3] and args[3] ~= "" then
      wrk.body = args[3]
      wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "failed": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
      summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
