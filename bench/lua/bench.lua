-- wrk script for the gql_progress benchmark (driven by bench/load.py).
--
--   wrk ... -s bench/lua/bench.lua URL -- OPERATION_CONF WORK_DIR SEED
--
-- Every request takes a random (learner, enrolled course) pair from WORK_DIR/pairs.tsv, presents
-- the learner's own key and builds its body from the operation's document and that pair's
-- variables (PostGraphile's documents take the learner id as a variable; it ignores the key).
-- Every response is checked: a non-2xx status, a body with "errors" or an error
-- __typename, or a body without one of the operation's markers counts as a failure. done()
-- prints one line, "BENCH_RESULT {json}", that bench/load.py reads.

local kinds = {}        -- { {kind = "slug" | "none" | "heartbeat" | "bulk" | "slug_user" | "user", doc = json string} }
local second_share = 0  -- probability of the second request kind (MIX)
local markers = {}      -- Lua patterns; a good body matches one of them
local courses = {}      -- course id -> { slug, ids = {lesson ids}, ids_json }
local chosen = {}       -- { {key, course, user} } drawn from for each request

-- Per-thread counters, read by done() through thread:get().
responses, non2xx, gql_errors, bad_bodies, first_failure = 0, 0, 0, 0, ""

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_index", #threads)
end

local function lines(path)
    local file = assert(io.open(path, "r"), "cannot open " .. path)
    local all = {}
    for line in file:lines() do
        table.insert(all, line)
    end
    file:close()
    return all
end

function init(args)
    local conf, dir, seed = args[1], args[2], tonumber(args[3]) or 1
    math.randomseed(seed * 7919 + thread_index)
    local pool = "any"
    for _, line in ipairs(lines(conf)) do
        local name, rest = line:match("^(%w+)\t(.*)$")
        if name == "pool" then
            pool = rest
        elseif name == "share" then
            second_share = tonumber(rest)
        elseif name == "marker" then
            table.insert(markers, rest)
        elseif name == "request" then
            local kind, doc = rest:match("^([%w_]+)\t(.*)$")
            table.insert(kinds, { kind = kind, doc = doc })
        end
    end
    for _, line in ipairs(lines(dir .. "/courses.tsv")) do
        local id, slug, count, ids = line:match("^(%d+)\t([^\t]+)\t(%d+)\t(.*)$")
        count = tonumber(count)
        if pool == "any" or (pool == "short" and count == 50) or (pool == "long" and count == 200) then
            local list = {}
            for lesson in ids:gmatch("[^,]+") do
                table.insert(list, lesson)
            end
            courses[tonumber(id)] = { slug = slug, ids = list, ids_json = '["' .. table.concat(list, '","') .. '"]' }
        end
    end
    for _, line in ipairs(lines(dir .. "/pairs.tsv")) do
        local key, course, user = line:match("^([^\t]+)\t(%d+)\t(%d+)$")
        course = tonumber(course)
        if courses[course] then
            table.insert(chosen, { key = key, course = course, user = user })
        end
    end
    assert(#chosen > 0, "no (learner, course) pair for pool " .. pool)
    wrk.method = "POST"
end

local function body_for(kind, doc, course, user)
    if kind == "slug" then
        return '{"query":' .. doc .. ',"variables":{"slug":"' .. course.slug .. '"}}'
    elseif kind == "none" then
        return '{"query":' .. doc .. ',"variables":{}}'
    elseif kind == "slug_user" then
        return '{"query":' .. doc .. ',"variables":{"slug":"' .. course.slug .. '","userId":' .. user .. '}}'
    elseif kind == "user" then
        return '{"query":' .. doc .. ',"variables":{"userId":' .. user .. '}}'
    elseif kind == "heartbeat" then
        local lesson = course.ids[math.random(#course.ids)]
        local position = math.random(0, 3600)
        return '{"query":' .. doc .. ',"variables":{"lessonId":"' .. lesson .. '","video":' .. position
            .. ',"last":' .. position .. ',"minutes":' .. math.random(1, 240) .. '}}'
    elseif kind == "bulk" then
        local completed = math.random() < 0.5 and "true" or "false"
        return '{"query":' .. doc .. ',"variables":{"ids":' .. course.ids_json .. ',"completed":' .. completed .. '}}'
    end
    error("unknown request kind " .. tostring(kind))
end

function request()
    local pair = chosen[math.random(#chosen)]
    local spec = kinds[1]
    if kinds[2] and math.random() < second_share then
        spec = kinds[2]
    end
    local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. pair.key }
    return wrk.format("POST", wrk.path, headers, body_for(spec.kind, spec.doc, courses[pair.course], pair.user))
end

local function fail(reason, body)
    if first_failure == "" then
        first_failure = reason .. ": " .. string.sub(body or "", 1, 400)
    end
end

function response(status, headers, body)
    responses = responses + 1
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        fail("HTTP " .. status, body)
    elseif body:find('"errors"%s*:') or body:find('"__typename"%s*:%s*"%w*Error"') then
        gql_errors = gql_errors + 1
        fail("GraphQL error", body)
    else
        for _, marker in ipairs(markers) do
            if body:find(marker) then
                return
            end
        end
        bad_bodies = bad_bodies + 1
        fail("unexpected body", body)
    end
end

function done(summary, latency, requests)
    local totals = { responses = 0, non2xx = 0, gql_errors = 0, bad_bodies = 0 }
    local failure = ""
    for _, thread in ipairs(threads) do
        for name, _ in pairs(totals) do
            totals[name] = totals[name] + (thread:get(name) or 0)
        end
        local f = thread:get("first_failure")
        if failure == "" and f and f ~= "" then
            failure = f
        end
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
            .. '"max_us":%d,"mean_us":%.1f,"socket_connect":%d,"socket_read":%d,"socket_write":%d,'
            .. '"socket_timeout":%d,"status_errors":%d,"responses":%d,"non2xx":%d,"gql_errors":%d,'
            .. '"bad_bodies":%d}\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.timeout,
        e.status, totals.responses, totals.non2xx, totals.gql_errors, totals.bad_bodies))
    if failure ~= "" then
        io.write("BENCH_FAILURE " .. failure:gsub("[\r\n]", " ") .. "\n")
    end
end
