-- An alert on the Alert24-compatible incidents API; each one its own alias (a new incident).
dofile("bench/lua/common.lua")

function init(args)
  key = args[1]
end

function request()
  local id = unique_id()
  local body = '{"title": "Bench alarm ' .. id .. '", "alias": "' .. id .. '", ' ..
    '"severity": "high", "components": ["payments-service"]}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end
