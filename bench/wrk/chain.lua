-- Refresh token rotation: each thread (one connection) spends its own refresh token and
-- chains the successor from each response. Arguments: tokens file (one per line, one per
-- thread), path, request style ("ours" or "stock"), name of the refresh field in responses,
-- and optionally a file of DPoP proofs (one per line, each sent once: a bound session's).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
   local path, style = args[2], args[3]
   field = args[4]
   local i = 0
   for line in io.lines(args[1]) do
      i = i + 1
      if i == id then token = line end
   end
   if args[5] and args[5] ~= "" then proofs, next_proof = share(args[5]), 1 end
   ok, failed = 0, 0
   wrk.method = "POST"
   wrk.path = path
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   if style == "stock" then prefix = "refresh=" else prefix = "grant_type=refresh_token&refresh_token=" end
   if style == "public" then prefix = "grant_type=refresh_token&client_id=" .. args[6] .. "&refresh_token=" end
end

function request()
   if proofs then
      local proof = proofs[next_proof] or "exhausted"
      next_proof = next_proof + 1
      return wrk.format(nil, nil, with_proof(proof), prefix .. token)
   end
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
