-- wrk script: replays the requests listed in the file named by $BENCH_REQUESTS, round robin.
-- One request per line: METHOD <tab> PATH [<tab> BODY]. The body is sent as JSON, and the
-- Bearer token in $BENCH_TOKEN (when set) goes on every request. done() prints one line,
-- "BENCH_JSON {...}", that bench/wrk.py reads: counts, errors and latency percentiles.

local prepared = {}
local position = 0

init = function(args)
  local token = os.getenv("BENCH_TOKEN")
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method then
      local headers = { ["Host"] = wrk.host .. ":" .. wrk.port }
      if token and token ~= "" then
        headers["Authorization"] = "Bearer " .. token
      end
      if body == "" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      prepared[#prepared + 1] = wrk.format(method, path, headers, body)
    end
  end
  if #prepared == 0 then
    error("no requests in " .. tostring(os.getenv("BENCH_REQUESTS")))
  end
end

request = function()
  position = position % #prepared + 1
  return prepared[position]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
