-- wrk script of bench/lookup_load.py (the public personal lookup under load, issue 8).
--
--   wrk -t1 -c8 -d30s --latency -s bench/lookup_load.lua http://127.0.0.1:PORT/lookup/ -- \
--       BODIES_FILE MARKER CONTENT_TYPE COOKIE THREADS
--
-- BODIES_FILE: one request body per line (a person's lookup, made by lookup_load.py); request n of the run takes
-- line n (cycling) and its own X-Forwarded-For address, 198.18.0.0 + n in the RFC 2544 benchmark range
-- 198.18.0.0/15 (131,072 addresses): every request is another person from another client.
-- MARKER: a string that only an answer that found the person contains; the answers are counted by it.
-- COOKIE: sent with every request (the page's csrftoken; Django accepts the same cookie + field pair each time),
-- or "" for none. THREADS: wrk's -t, so that thread i of T sends requests i, i + T, i + 2T, ….
-- done() prints one line "LOOKUP_LOAD_JSON {...}": latency percentiles (µs), status counts, found answers.

local threads = {}

function setup(thread)
   thread:set("index", #threads)
   table.insert(threads, thread)
end

local bodies = {}
local marker, content_type, cookie, path
local n, step, offset = 0, 1, 0
statuses = {}
found = 0
answered = 0

function init(args)
   local file = assert(io.open(args[1], "r"), "cannot open " .. tostring(args[1]))
   for line in file:lines() do
      bodies[#bodies + 1] = line
   end
   file:close()
   assert(#bodies > 0, "no request bodies in " .. args[1])
   marker = args[2]
   content_type = args[3]
   cookie = args[4]
   path = wrk.path
   -- Thread i of T takes requests i, i + T, i + 2T, …: no two threads send the same person or address.
   offset = index
   step = tonumber(args[5] or "1")
   n = 0
end

local function address(k)
   k = k % 131072
   return string.format("198.%d.%d.%d", 18 + math.floor(k / 65536), math.floor(k / 256) % 256, k % 256)
end

function request()
   local k = n * step + offset
   n = n + 1
   local headers = {
      ["Content-Type"] = content_type,
      ["X-Forwarded-For"] = address(k),
   }
   if cookie and cookie ~= "" then
      headers["Cookie"] = cookie
   end
   return wrk.format("POST", path, headers, bodies[(k % #bodies) + 1])
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 200 then
      answered = answered + 1
      if body and string.find(body, marker, 1, true) then
         found = found + 1
      end
   end
end

function done(summary, latency, requests)
   local codes, total_found, total_answered = {}, 0, 0
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         codes[status] = (codes[status] or 0) + count
      end
      total_found = total_found + thread:get("found")
      total_answered = total_answered + thread:get("answered")
   end
   local parts = {}
   for status, count in pairs(codes) do
      parts[#parts + 1] = string.format('"%d":%d', status, count)
   end
   local e = summary.errors
   io.write(string.format(
      'LOOKUP_LOAD_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
         .. '"max_us":%d,"mean_us":%.1f,"stdev_us":%.1f,"statuses":{%s},"answered":%d,"found":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, latency.stdev, table.concat(parts, ","),
      total_answered, total_found, e.connect, e.read, e.write, e.status, e.timeout))
end
