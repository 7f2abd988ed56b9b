-- Requests that can each be sent once (an authorization code, a private_key_jwt assertion): each
-- thread spends request bodies from its own share of a file (one form body per line), one per
-- request. Arguments: bodies file, path.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
   bodies = share(args[1])
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
