-- Signed GitHub deployment_status webhooks, each a deployment of its own: lines of
-- "<X-Hub-Signature-256>\t<body>" written by bench/run.py for this run (Lua has no HMAC), the
-- two threads taking alternate lines. Replaying one body would be a duplicate (the signed
-- body's ids are checked), so each request must be a new deployment.
dofile("bench/lua/common.lua")

function init(args)
  lines = {}
  for line in io.lines(args[1]) do
    table.insert(lines, line)
  end
end

function request()
  counter = counter + 1
  local line = lines[((counter - 1) * 2 + thread_id - 1) % #lines + 1]
  local tab = line:find("\t", 1, true)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "deployment_status",
    ["X-GitHub-Delivery"] = unique_id(),
    ["X-Hub-Signature-256"] = line:sub(1, tab - 1),
  }, line:sub(tab + 1))
end
