-- wrk as an open-loop load generator: requests on a fixed schedule over wrk's fixed set of connections.
--
--   NBPROD_BODY=one.json NBPROD_RATE=2400 NBPROD_WARMUP=2 NBPROD_SECONDS=60 wrk -t1 -c256 -d62s -s open_loop.lua URL
--
-- Each connection, when free, takes the next slot of one schedule (slot k is due at start + k / rate, per
-- wrk thread) and waits for it (wrk's delay(), in whole milliseconds); a slot already past is sent at once.
-- So the offered rate does not depend on the answers, and a late answer shows as send lag (how long after
-- its slot a request went out) rather than as a lower rate. Answers are counted by status and the send
-- lag by slot, in the measured window (after the warm-up, NBPROD_SECONDS long); wrk's latency (from the
-- send) covers the whole run. done() prints one JSON line starting
-- with {"open_loop": (read by benchmarks/loadgen.py, run_open_wrk).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } nbprod_timespec;
int clock_gettime(int clock_id, nbprod_timespec *tp);
]]
local clock = ffi.new("nbprod_timespec")

local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) * 1e-9
end

--- the send-lag histogram: 0.1 ms buckets up to LAG_BUCKETS / 10 ms, the last one open-ended
local LAG_BUCKETS = 20000

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local body = assert(io.open(assert(os.getenv("NBPROD_BODY"), "NBPROD_BODY: the request body's file"), "rb"))
wrk.body = body:read("*a")
body:close()

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  rate = tonumber((assert(os.getenv("NBPROD_RATE"), "NBPROD_RATE: requests per second per thread")))
  warmup = tonumber(os.getenv("NBPROD_WARMUP") or "2")
  seconds = tonumber((assert(os.getenv("NBPROD_SECONDS"), "NBPROD_SECONDS: the measured seconds")))
  start, slots, measured_from, measured_to = nil, 0, nil, nil
  statuses, lags, sent = {}, {}, 0
  for bucket = 0, LAG_BUCKETS do lags[bucket] = 0 end
end

function delay()
  local moment = now()
  if start == nil then
    start = moment
    measured_from = moment + warmup
    measured_to = measured_from + seconds
  end
  local due = start + slots / rate
  slots = slots + 1
  local wait = due - moment
  if due >= measured_from and due < measured_to then
    sent = sent + 1
    local bucket = wait < 0 and math.min(LAG_BUCKETS, math.floor(-wait * 10000)) or 0
    lags[bucket] = lags[bucket] + 1
  end
  return wait > 0 and wait * 1000 or 0
end

function response(status, headers, body)
  local moment = now()
  if measured_from ~= nil and moment >= measured_from and moment < measured_to then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

local function lag_percentile(counts, total, q)
  local rank, seen = math.ceil(q * total), 0
  for bucket = 0, LAG_BUCKETS do
    seen = seen + counts[bucket]
    if seen >= rank then return bucket / 10 end
  end
  return LAG_BUCKETS / 10
end

function done(summary, latency, requests)
  local statuses_all, counts, sent_all = {}, {}, 0
  for bucket = 0, LAG_BUCKETS do counts[bucket] = 0 end
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      statuses_all[tostring(status)] = (statuses_all[tostring(status)] or 0) + count
    end
    local lags = thread:get("lags")
    for bucket = 0, LAG_BUCKETS do counts[bucket] = counts[bucket] + lags[bucket] end
    sent_all = sent_all + thread:get("sent")
  end
  local parts = {}
  for status, count in pairs(statuses_all) do table.insert(parts, string.format('"%s": %d', status, count)) end
  local errors = summary.errors
  io.write(string.format(
    '{"open_loop": true, "sent": %d, "statuses": {%s}, '
    .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
    .. '"send_lag_ms": {"p50": %.1f, "p90": %.1f, "p99": %.1f, "p999": %.1f, "max_bucket": %.1f}, '
    .. '"latency_from_send_ms": {"p50": %.2f, "p90": %.2f, "p99": %.2f, "max": %.2f}}\n',
    sent_all, table.concat(parts, ", "), errors.connect, errors.read, errors.write, errors.timeout,
    lag_percentile(counts, sent_all, 0.5), lag_percentile(counts, sent_all, 0.9),
    lag_percentile(counts, sent_all, 0.99), lag_percentile(counts, sent_all, 0.999),
    lag_percentile(counts, sent_all, 1.0),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
