-- bench-http.lua - wrk script for scripts/bench-http.sh: POST /streams/<s>
-- with one event, the stream one of bench:0..bench:STREAMS-1 at random
-- (expected version any), the event the JSON object eventflow-bench sends:
-- {"type":"BenchEvent","data":"<letters>"}, EVENT_SIZE bytes long.
-- Counts responses other than 200 as errors.
local size = tonumber(os.getenv("EVENT_SIZE") or "200")
local streams = tonumber(os.getenv("STREAMS") or "1000")
local prefix = '{"type":"BenchEvent","data":"'
local suffix = '"}'
local pad = string.rep("x", size - #prefix - #suffix)
local body = "[" .. prefix .. pad .. suffix .. "]"
local headers = {["Content-Type"] = "application/json"}
local non200 = 0

function init(args)
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
    return wrk.format("POST", "/streams/bench:" .. math.random(0, streams - 1), headers, body)
end

function response(status, hdrs, resp)
    if status ~= 200 then
        non200 = non200 + 1
    end
end

function done(summary, latency, requests)
    io.write(string.format("mode=http requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write +
        summary.errors.timeout))
end
