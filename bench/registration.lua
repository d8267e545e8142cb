-- wrk script for bench/registration: every request registers a new device through
-- the Layer dialect (POST /push_tokens) with a random token and a device id never
-- used before, so that each request takes the insert path of push_device_register.
--
-- Arguments (after "--" on the wrk command line):
--   1  session token for "Authorization: Layer session-token=..." (required)
--   2  device id prefix; differs between wrk runs against one database so that the
--      measured run does not re-register the warm-up's devices (default "wrk")
--
-- done() prints a few "bench: KEY VALUE" lines after wrk's own report, which
-- bench/registration reads: requests, non-202 answers, socket errors, requests per
-- second and latency percentiles.

local threads = {}

-- Runs in the main Lua state, once per thread, before the threads start: give each
-- thread a number so that device ids and random seeds differ between threads.
function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_no", #threads)
end

local prefix
local counter = 0
bad = 0         -- answers other than 202; global so that done() can read it per thread
first_bad = ""  -- status and body of the first such answer, for the error message

-- wrk.format() fills in Host and Content-Length itself.
local headers = {
    ["Accept"] = "application/vnd.layer+json; version=1.0",
    ["Content-Type"] = "application/json",
}

function init(args)
    local token = assert(args[1], "usage: wrk -s registration.lua URL -- SESSION_TOKEN [PREFIX]")
    headers["Authorization"] = 'Layer session-token="' .. token .. '"'
    prefix = (args[2] or "wrk") .. "-" .. thread_no .. "-"
    -- seeded per thread: identical seeds would make threads send the same tokens, and
    -- a token seen before makes push_device_register move it instead of inserting
    math.randomseed(os.time() * 1000 + thread_no)
end

-- 64 lowercase hex digits, the shape of an APNs device token.
local function random_token()
    local parts = {}
    for i = 1, 16 do
        parts[i] = string.format("%04x", math.random(0, 0xffff))
    end
    return table.concat(parts)
end

-- Device ids look like the UUIDs apps send: a random part, so that rows land all
-- over the primary key index as pgbench's md5 ids do (ids that sort in request order
-- would touch fewer index pages, and after a checkpoint write fewer full pages to
-- the WAL), then the thread and a counter, which make them unique.
function request()
    counter = counter + 1
    local body = string.format('{"token": "%s", "type": "apns", "device_id": "%s-%s%d"}',
                               random_token(), random_token():sub(1, 32), prefix, counter)
    return wrk.format("POST", "/push_tokens", headers, body)
end

function response(status, hdrs, body)
    if status ~= 202 then
        if bad == 0 then
            first_bad = status .. " " .. (body or "")
        end
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local non202, first = 0, ""
    for _, t in ipairs(threads) do
        non202 = non202 + t:get("bad")
        if first == "" then first = t:get("first_bad") end
    end
    local e = summary.errors
    local lines = {
        string.format("requests %d", summary.requests),
        string.format("non202 %d", non202),
        -- errors.status is left out: it counts statuses >= 400, already in non202
        string.format("socket_errors %d", e.connect + e.read + e.write + e.timeout),
        string.format("rps %.2f", summary.requests / (summary.duration / 1e6)),
        string.format("p50_ms %.2f", latency:percentile(50) / 1000),
        string.format("p99_ms %.2f", latency:percentile(99) / 1000),
        string.format("first_non202 %s", (first:gsub("[\r\n]+", " "))),
    }
    for _, line in ipairs(lines) do
        io.write("bench: ", line, "\n")
    end
end
