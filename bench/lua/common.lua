-- Shared by the wrk scripts: ids unique across runs (BENCH_RUN, set per wrk run, and a
-- per-thread counter), and answers counted by status.
counter = 0
run_id = os.getenv("BENCH_RUN") or tostring(os.time())
statuses = {}
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function unique_id()
  counter = counter + 1
  return string.format("bench-%s-%d-%d", run_id, thread_id, counter)
end

-- Every alias twice in a row: the first raises an incident, the second repeats it (half new
-- aliases, half repeats, as the README states).
function half_repeated_alias()
  counter = counter + 1
  return string.format("bench-%s-%d-%d", run_id, thread_id, math.ceil(counter / 2))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  for status, count in pairs(totals) do
    io.write(string.format("STATUS %d %d\n", status, count))
  end
  io.write(string.format("LATENCY %f %f\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
