-- A protected endpoint with a DPoP-bound token: each request carries a new proof, spent from
-- this thread's share of a file (one per line). The Authorization header comes from wrk -H.
-- Arguments: proofs file, path.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
   proofs, next_proof, ok, failed = share(args[1]), 1, 0, 0
   wrk.method = "GET"
   wrk.path = args[2]
end

function request()
   local proof = proofs[next_proof] or "exhausted"
   next_proof = next_proof + 1
   return wrk.format(nil, nil, with_proof(proof))
end

function response(status, headers, body)
   if status == 200 then ok = ok + 1 else failed = failed + 1 end
end
