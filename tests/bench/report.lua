-- wrk script for scripts/bench.sh.
-- Requests: BENCH_USERS_FILE has one "token session_id" line per user, and
-- BENCH_USERS_N says how many of them to use (the first N). With one user the
-- request is static; with several, each request goes to the next user, for
-- GET /sessions/{that user's session} (BENCH_ENDPOINT=get),
-- GET /sessions?limit=BENCH_LIMIT (list),
-- GET /sessions/{that user's session}/messages?limit=BENCH_LIMIT (messages) or
-- GET /sessions/stats (stats). BENCH_PREFIX is what comes before /sessions:
-- /functions/v1 (the default) through the gateway, empty for a function served alone.
-- Report: one machine-readable line with throughput, latency percentiles (ms)
-- and error counts (non-2xx responses count as errors).
local users = {}
local file = os.getenv("BENCH_USERS_FILE")
local wanted = tonumber(os.getenv("BENCH_USERS_N") or "1")
if file then
  for line in io.lines(file) do
    local token, sid = line:match("^(%S+) (%S+)$")
    if token and #users < wanted then users[#users + 1] = { token = token, sid = sid } end
  end
end

local prefix = os.getenv("BENCH_PREFIX") or "/functions/v1"
local limit = os.getenv("BENCH_LIMIT") or "20"
local function path_for(user)
  local endpoint = os.getenv("BENCH_ENDPOINT")
  if endpoint == "get" then
    return prefix .. "/sessions/" .. user.sid
  elseif endpoint == "messages" then
    return prefix .. "/sessions/" .. user.sid .. "/messages?limit=" .. limit
  elseif endpoint == "stats" then
    return prefix .. "/sessions/stats"
  end
  return prefix .. "/sessions?limit=" .. limit
end

if #users == 1 then
  wrk.headers["Authorization"] = "Bearer " .. users[1].token
  wrk.path = path_for(users[1])
elseif #users > 1 then
  local requests, next_user = {}, 0
  function init()
    for i, user in ipairs(users) do
      requests[i] = wrk.format("GET", path_for(user), { Authorization = "Bearer " .. user.token })
    end
  end
  function request()
    next_user = next_user % #requests + 1
    return requests[next_user]
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"tps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
      '"p99_ms":%.3f,"max_ms":%.3f,"errors":{"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
