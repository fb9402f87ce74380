-- wrk script: cycle through the requests of a file (bench/harness.py `request_line`), one a line:
-- method TAB path TAB headers (joined by \x1f, "Name: value") TAB body in hex. Threads start at
-- different lines; at the end it prints BENCH lines that bench/harness.py reads.

local requests = {}
local index = 0

local function unhex(text)
  return (text:gsub("..", function(pair) return string.char(tonumber(pair, 16)) end))
end

local function parse(line)
  local method, path, headers, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
  local map = {}
  for header in headers:gmatch("[^\31]+") do
    local name, value = header:match("^([^:]+): (.*)$")
    map[name] = value
  end
  return wrk.format(method, path, map, unhex(body))
end

local counter = 0
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then requests[#requests + 1] = parse(line) end
  end
  index = (offset or 0) * 7919
end

function request()
  index = index + 1
  return requests[(index % #requests) + 1]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("BENCH rps %.2f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH failures %d\n", errors.connect + errors.read + errors.write + errors.status + errors.timeout))
  io.write(string.format("BENCH p50 %d\n", latency:percentile(50)))
  io.write(string.format("BENCH p99 %d\n", latency:percentile(99)))
end
