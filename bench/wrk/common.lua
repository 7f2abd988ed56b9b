-- What the request scripts share (dofile'd by each): the summary line bench/run.py reads, each
-- thread's share of a file of once-only lines, and the headers of a request with a DPoP proof.
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

-- The lines of `path` that are this thread's: every 8th (bench/run.py's CONCURRENCY), from `id`.
function share(path)
   local lines, i = {}, 0
   for line in io.lines(path) do
      if i % 8 == id - 1 then table.insert(lines, line) end
      i = i + 1
   end
   return lines
end

-- wrk.headers with a DPoP proof added (wrk.format replaces the headers it is given).
function with_proof(proof)
   local headers = {}
   for name, value in pairs(wrk.headers) do headers[name] = value end
   headers["DPoP"] = proof
   return headers
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
