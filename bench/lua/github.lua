-- A signed GitHub deployment_status webhook; each delivery has its own X-GitHub-Delivery.
dofile("bench/lua/common.lua")

function init(args)
  local file = io.open(args[1], "rb")
  body = file:read("*a")
  file:close()
  signature = args[2]
end

function request()
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "deployment_status",
    ["X-GitHub-Delivery"] = unique_id(),
    ["X-Hub-Signature-256"] = signature,
  }, body)
end
