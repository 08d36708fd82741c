-- wrk script for the upload row of run.sh: every request is a POST whose body is the file named after
-- the URL (wrk -s bench/post-body.lua URL -- FILE), read once per thread, sent with its Content-Length.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
end
