-- wrk script for the reload-under-load test: paced requests (8 ms apart per connection, a few hundred a second in all, so the suites beside it keep their timing) to an
-- aggregation and a proxied route, each answer sorted by which spec composed it.
-- Prints one line at the end: "old=N new=N bad=N statuses=N errors=N".
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  old, new, bad = 0, 0, 0
  paths = { "/screen", "/pass/item" }
  turn = 0
end

function request()
  turn = turn + 1
  return wrk.format("GET", paths[(turn % #paths) + 1])
end

function delay()
  return 8
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif body:find('"old"', 1, true) then
    old = old + 1
  elseif body:find('"new"', 1, true) then
    new = new + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local o, n, b = 0, 0, 0
  for _, thread in ipairs(threads) do
    o = o + thread:get("old")
    n = n + thread:get("new")
    b = b + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format("old=%d new=%d bad=%d statuses=%d errors=%d\n", o, n, b, e.status, e.connect + e.read + e.write + e.timeout))
end
