-- An alert on the Alert24-compatible incidents API: every alias twice, new then a repeat.
dofile("bench/lua/common.lua")

function init(args)
  key = args[1]
end

function request()
  local id = half_repeated_alias()
  local body = '{"title": "Bench alarm ' .. id .. '", "alias": "' .. id .. '", ' ..
    '"severity": "high", "components": ["payments-service"]}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end
