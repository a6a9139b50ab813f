-- wrk reporter for scripts/bench.sh: one machine-readable line with the
-- throughput, latency percentiles (ms) and error counts of the run.
--   wrk -s tests/bench/report.lua ...   ->   BENCH_JSON {...}
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
