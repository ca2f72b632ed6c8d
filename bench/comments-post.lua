-- wrk script for bench/comments.sh: every request posts a valid "Leave a Comment" form with a
-- unique author email and text (so neither duplicate detection nor flood control refuses it),
-- and counts the 303 answers, which are the accepted (stored and acknowledged) comments.
-- Environment: TOKEN (a form token from the article page), POST_PATH (/article/SLUG/comments).
local token = os.getenv("TOKEN")
local post_path = os.getenv("POST_PATH")
local threads = {}
local counter = 0
accepted = 0
refused = 0

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

function init(args)
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   counter = counter + 1
   local n = thread_no .. "x" .. counter
   local body = "author=Bench+Reader+" .. n
      .. "&email=bench" .. n .. "%40example.org&url=https%3A%2F%2Fbench.example"
      .. "&comment=Benchmark+comment+" .. n .. "+on+the+coastal+patrols.%0A%0ASecond+paragraph."
      .. "&parent=0&save=yes&token=" .. token
   return wrk.format("POST", post_path, nil, body)
end

function response(status, headers, body)
   if status == 303 then
      accepted = accepted + 1
   else
      refused = refused + 1
   end
end

function done(summary, latency, requests)
   local ok, bad = 0, 0
   for _, thread in ipairs(threads) do
      ok = ok + thread:get("accepted")
      bad = bad + thread:get("refused")
   end
   io.write(string.format("ACCEPTED %d REFUSED %d SECONDS %.3f\n", ok, bad, summary.duration / 1e6))
end
