-- POST prepared JSON bodies round-robin, check each answer, print one JSON summary line.
--
--   wrk -t2 -c32 -d10s -s bench/wrk/post.lua http://127.0.0.1:8000/graphql -- \
--       requests.tsv '"data"' '"errors"'
--
-- requests.tsv: one request a line, "<Authorization header or empty>\t<JSON body>".
-- A body may hold @KEY@, replaced in each request by "<thread>.<serial>" (unique per
-- run) so that every redemption carries its own idempotency key.
-- An answer is good when its status is 200, it contains the second argument and (if
-- given and not empty) does not contain the third; anything else counts as rejected.

local PLACEHOLDER = "@KEY@"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    local authorization, body = line:match("^([^\t]*)\t(.*)$")
    if body ~= nil then
      table.insert(lines, { authorization = authorization, body = body })
    end
  end
  if #lines == 0 then
    error("no requests in " .. path)
  end
  return lines
end

local function headers_for(authorization)
  local headers = { ["Content-Type"] = "application/json" }
  if authorization ~= "" then
    headers["Authorization"] = authorization
  end
  return headers
end

function init(args)
  lines = read_lines(args[1])
  must_contain = args[2] or ""
  must_not_contain = args[3] or ""
  -- Bodies without a placeholder are formatted once; the others at each request.
  prepared = {}
  for i, line in ipairs(lines) do
    if not line.body:find(PLACEHOLDER, 1, true) then
      prepared[i] = wrk.format("POST", nil, headers_for(line.authorization), line.body)
    end
  end
  -- Threads start at different lines so that they do not move in step.
  next_line = (id - 1) % #lines
  serial = 0
  good = 0
  rejected = 0
end

function request()
  next_line = next_line % #lines + 1
  local ready = prepared[next_line]
  if ready ~= nil then
    return ready
  end
  serial = serial + 1
  local line = lines[next_line]
  local body = line.body:gsub(PLACEHOLDER, id .. "." .. serial)
  return wrk.format("POST", nil, headers_for(line.authorization), body)
end

function response(status, headers, body)
  if status == 200
    and body:find(must_contain, 1, true)
    and (must_not_contain == "" or not body:find(must_not_contain, 1, true))
  then
    good = good + 1
  else
    rejected = rejected + 1
    if first_rejected == nil then
      first_rejected = status .. " " .. body:sub(1, 300):gsub("[\r\n]", " ")
    end
  end
end

local function percentiles(latency)
  local values = {}
  for p = 1, 99 do
    table.insert(values, latency:percentile(p))
  end
  table.insert(values, latency:percentile(99.9))
  return table.concat(values, ",")
end

function done(summary, latency, requests)
  local good_total, rejected_total = 0, 0
  for _, thread in ipairs(threads) do
    good_total = good_total + thread:get("good")
    rejected_total = rejected_total + thread:get("rejected")
    local sample = thread:get("first_rejected")
    if sample ~= nil then
      io.write("rejected: ", sample, "\n")
    end
  end
  local e = summary.errors
  io.write(string.format(
    '{"duration_us":%d,"requests":%d,"good":%d,"rejected":%d,"socket_errors":%d,'
      .. '"status_errors":%d,"rate":%.3f,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"percentiles_us":[%s]}\n',
    summary.duration, summary.requests, good_total, rejected_total,
    e.connect + e.read + e.write + e.timeout, e.status,
    good_total / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    latency.max, percentiles(latency)
  ))
end
