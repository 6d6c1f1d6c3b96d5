-- A generic change per request (the ceiling takes the same body), each with its own key.
dofile("bench/lua/common.lua")

function init(args)
  key = args[1]
end

function request()
  local id = unique_id()
  local body = '{"component": "payments-service", "environment": "production", ' ..
    '"version": "v' .. counter .. '", "description": "bench deploy ' .. id .. '", ' ..
    '"triggered_by": "wrk"}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = id,
  }, body)
end
