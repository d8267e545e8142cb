-- wrk script for bench/registration: every request registers a new device with a
-- random token and (Layer, MobileFirst) a device id never used before, for one of the
-- benchmark's users drawn at random, so that each request takes the insert path of
-- push_device_register and, once its user has 25 devices, the eviction of the least
-- recently used one. Three dialects:
--
--   layer        POST /push_tokens (the URL given to wrk), Layer's Accept header,
--                "Authorization: Layer session-token=..." of a random user's session,
--                body {"token": ..., "type": "apns", "device_id": ...}; expects 202
--   mobilefirst  POST to the URL given to wrk (/imfpush/v1/apps/APP/devices),
--                "Authorization: Bearer ...", body
--                {"deviceId": ..., "token": ..., "platform": "A", "userId": <random user>};
--                expects 201
--   rocketchat   POST to the URL given to wrk (/api/v1/push.token), "X-User-Id" and
--                "X-Auth-Token" of a random user's built-in session, body
--                {"type": "gcm", "value": ..., "appName": "chat.rocket.android"}
--                (no "id": mod_push makes a new record id); expects 200 with
--                "success": true in the body
--
-- Arguments (after "--" on the wrk command line):
--   1  dialect: layer, mobilefirst or rocketchat (required)
--   2  credential: a file of sessions, one "USER TOKEN" a line (layer, rocketchat), or
--      the OAuth access token (mobilefirst) (required)
--   3  device id prefix; differs between wrk runs against one database so that the
--      measured run does not re-register the warm-up's devices (default "wrk");
--      rocketchat sends no device id and ignores it
--   4  mobilefirst: how many users (userId bench-user-1 .. bench-user-N; default 200)
--
-- done() prints a few "bench: KEY VALUE" lines after wrk's own report, which
-- bench/registration reads: requests, answers other than expected,
-- socket errors, requests per second and latency percentiles.

local threads = {}

-- Runs in the main Lua state, once per thread, before the threads start: give each
-- thread a number so that device ids and random seeds differ between threads.
function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_no", #threads)
end

local prefix
local counter = 0
local dialect
local expected      -- the status every answer must have
local want_success  -- rocketchat: the body must also say "success": true
bad = 0             -- answers with another status (or, rocketchat, without "success": true);
                    -- global so that done() can read it per thread
first_bad = ""      -- status and body of the first such answer, for the error message

-- wrk.format() fills in Host and Content-Length itself.
local headers = {
    ["Content-Type"] = "application/json",
}

local usage = "usage: wrk -s registration.lua URL -- layer|mobilefirst|rocketchat CREDENTIAL [PREFIX [USERS]]"
local sessions = {}  -- layer, rocketchat: {user, token} pairs
local users = 200    -- mobilefirst: userId bench-user-1 .. bench-user-<users>

local function read_sessions(path)
    local f = assert(io.open(path, "r"), "cannot read the sessions file " .. path)
    for line in f:lines() do
        local user, token = line:match("^(%S+) (%S+)$")
        if user then table.insert(sessions, {user, token}) end
    end
    f:close()
    assert(#sessions > 0, "no sessions in " .. path)
end

function init(args)
    dialect = assert(args[1], usage)
    local credential = assert(args[2], usage)
    if dialect == "layer" then
        headers["Accept"] = "application/vnd.layer+json; version=1.0"
        read_sessions(credential)
        expected = 202
    elseif dialect == "mobilefirst" then
        headers["Authorization"] = "Bearer " .. credential
        users = tonumber(args[4] or "200")
        expected = 201
    elseif dialect == "rocketchat" then
        read_sessions(credential)
        expected = 200
        want_success = true
    else
        error(usage)
    end
    prefix = (args[3] or "wrk") .. "-" .. thread_no .. "-"
    -- seeded per thread: identical seeds would make threads send the same tokens, and
    -- a token seen before makes push_device_register move it instead of inserting
    math.randomseed(os.time() * 1000 + thread_no)
end

-- 64 lowercase hex digits, the shape of an APNs device token (sent as the FCM token too).
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
    local body
    if dialect == "rocketchat" then
        local s = sessions[math.random(#sessions)]
        headers["X-User-Id"] = s[1]
        headers["X-Auth-Token"] = s[2]
        -- a token never seen, so push_rocketchat_register finds no record and makes one
        body = string.format('{"type": "gcm", "value": "%s", "appName": "chat.rocket.android"}',
                             random_token())
        return wrk.format("POST", nil, headers, body)
    end
    local device = string.format("%s-%s%d", random_token():sub(1, 32), prefix, counter)
    if dialect == "layer" then
        headers["Authorization"] = 'Layer session-token="' .. sessions[math.random(#sessions)][2] .. '"'
        body = string.format('{"token": "%s", "type": "apns", "device_id": "%s"}',
                             random_token(), device)
    else
        body = string.format('{"deviceId": "%s", "token": "%s", "platform": "A", "userId": "bench-user-%d"}',
                             device, random_token(), math.random(users))
    end
    -- no path: the one of the URL wrk was given
    return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
    if status ~= expected or
       (want_success and not (body and body:find('"success"%s*:%s*true'))) then
        if bad == 0 then
            first_bad = status .. " " .. (body or "")
        end
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local unexpected, first = 0, ""
    for _, t in ipairs(threads) do
        unexpected = unexpected + t:get("bad")
        if first == "" then first = t:get("first_bad") end
    end
    local e = summary.errors
    local lines = {
        string.format("requests %d", summary.requests),
        string.format("unexpected %d", unexpected),
        -- errors.status is left out: it counts statuses >= 400, already in unexpected
        string.format("socket_errors %d", e.connect + e.read + e.write + e.timeout),
        string.format("rps %.2f", summary.requests / (summary.duration / 1e6)),
        string.format("p50_ms %.2f", latency:percentile(50) / 1000),
        string.format("p99_ms %.2f", latency:percentile(99) / 1000),
        string.format("first_unexpected %s", (first:gsub("[\r\n]+", " "))),
    }
    for _, line in ipairs(lines) do
        io.write("bench: ", line, "\n")
    end
end
