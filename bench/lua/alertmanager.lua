-- An Alertmanager webhook (version 4) carrying one firing alert: every fingerprint twice, new
-- then a repeat.
dofile("bench/lua/common.lua")

function init(args)
  key = args[1]
end

function request()
  local id = half_repeated_alias()
  local body = '{"receiver":"whatchanged","status":"firing","alerts":[{"status":"firing",' ..
    '"labels":{"alertname":"HighRequestLatency","service":"payments-service",' ..
    '"severity":"critical"},"annotations":{"summary":"Bench alarm ' .. id .. '"},' ..
    '"startsAt":"2026-11-20T13:57:45.120394571Z","endsAt":"0001-01-01T00:00:00Z",' ..
    '"generatorURL":"http://prometheus.invalid/graph","fingerprint":"' .. id .. '"}],' ..
    '"groupLabels":{"alertname":"HighRequestLatency"},"commonLabels":{},' ..
    '"commonAnnotations":{},"externalURL":"http://alertmanager.invalid","version":"4",' ..
    '"groupKey":"{}:{alertname=\\"HighRequestLatency\\"}","truncatedAlerts":0}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end
