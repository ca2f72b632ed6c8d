-- wrk script for bench/mixed.sh: each request GETs the next path of PATHS_FILE (one per line),
-- so the load spreads over many pages as readers' does, instead of one page's cached copy.
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do
   paths[#paths + 1] = line
end
local next_path = 0

function init(args)
   -- Threads start at different places in the list.
   next_path = math.random(#paths)
end

function request()
   next_path = next_path % #paths + 1
   return wrk.format("GET", paths[next_path])
end
