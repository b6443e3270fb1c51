-- test/argocd/health_test.lua: the Argo CD health check (docs/argocd/health.lua) against
-- every status recorded from the e2e runs (test/e2e/testdata/status/*.json, TestGitOpsStatus)
-- and a few hand-made ones, with Debian's lua5.1 and lua-cjson; and docs/gitops.md's argocd-cm
-- snippet checked to be that file. Run by hack/argocd-health (make unit).
--   lua5.1 test/argocd/health_test.lua docs/argocd/health.lua docs/gitops.md FIXTURE.json...
local cjson = require("cjson")

local script_path, doc_path = arg[1], arg[2]
local passed, failed = 0, 0

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- cjson's null is a sentinel value; Argo CD hands the script nil for an absent member.
local function denull(v)
  if v == cjson.null then
    return nil
  end
  if type(v) == "table" then
    for k, x in pairs(v) do
      v[k] = denull(x)
    end
  end
  return v
end

local source = read(script_path)

-- The health check run on obj, as Argo CD runs it: a chunk with the global obj.
local function health(src, obj)
  local chunk = assert(loadstring(src, "=health.lua"))
  setfenv(chunk, setmetatable({obj = obj}, {__index = _G}))
  return chunk()
end

local function condition(obj, kind)
  for _, c in ipairs((obj.status or {}).conditions or {}) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- One case: true when src gives status (and message, when given).
local function check(src, name, obj, status, message)
  local ok, hs = pcall(health, src, obj)
  if not ok then
    return false, name .. ": the script failed: " .. tostring(hs)
  end
  if type(hs) ~= "table" or hs.status ~= status or (message ~= nil and hs.message ~= message) then
    return false, string.format("%s: got %s (%s), want %s (%s)", name,
      tostring(hs and hs.status), tostring(hs and hs.message), status, tostring(message))
  end
  return true
end

local cases = {}
for i = 3, #arg do
  local f = denull(cjson.decode(read(arg[i])))
  local from = f.expect.messageFrom
  local c = condition(f.object, from)
  table.insert(cases, {name = arg[i], obj = f.object, status = f.expect.argocd,
    message = c and c.message or ("no " .. tostring(from) .. " condition in the fixture")})
end
if #cases < 8 then
  io.stderr:write("expected at least 8 recorded fixtures, got " .. #cases .. "\n")
  failed = failed + 1
end
-- Hand-made: no status yet, a generation not observed yet, a FAILED verdict alone.
table.insert(cases, {name = "no status", obj = {metadata = {generation = 1}},
  status = "Progressing", message = "Waiting for phase4-operator to write a status"})
table.insert(cases, {name = "generation not observed",
  obj = {metadata = {generation = 3}, status = {observedGeneration = 2, conditions = {
    {type = "Ready", status = "True", reason = "Succeeded", message = "old"}}}},
  status = "Progressing", message = "Waiting for phase4-operator to observe generation 3"})
table.insert(cases, {name = "FAILED verdict without Stalled",
  obj = {metadata = {generation = 1}, status = {observedGeneration = 1, verdict = "FAILED",
    conditions = {{type = "Ready", status = "False", reason = "X", message = "Generation 1: failed"}}}},
  status = "Degraded", message = "Generation 1: failed"})

-- States the e2e test does not record: suspending, a rollback of a failed generation, a stage
-- not set up.
local function with(conds, extra)
  local o = {metadata = {generation = 2}, spec = {}, status = {observedGeneration = 2, conditions = {}}}
  for _, c in ipairs(conds) do
    table.insert(o.status.conditions, {type = c[1], status = c[2], reason = c[3], message = c[4]})
  end
  for k, v in pairs(extra or {}) do
    o.spec[k] = v
  end
  return o
end
table.insert(cases, {name = "suspending", status = "Progressing", message = "Generation 2: suspending",
  obj = with({{"Ready", "Unknown", "Suspending", "Generation 2: suspending"},
    {"Reconciling", "True", "Suspending", "Generation 2: suspending"}}, {suspend = true})})
table.insert(cases, {name = "rolling back a failed generation", status = "Degraded",
  message = "Generation 2: failed; rolling back",
  obj = with({{"Ready", "False", "SmokeTestFailed", "Generation 2: failed; rolling back"},
    {"Reconciling", "False", "SmokeTestFailed", "Generation 2: failed; rolling back"},
    {"Stalled", "True", "RegenerationRequired", "Generation 2: failed; rolling back"},
    {"RolledBack", "Unknown", "RollingBack", "Generation 2: re-applying generation 1"}})})
table.insert(cases, {name = "stage not available", status = "Progressing", message = "Generation 2: not set up",
  obj = with({{"Ready", "Unknown", "StageNotAvailable", "Generation 2: not set up"},
    {"Reconciling", "False", "StageNotAvailable", "Generation 2: not set up"}})})

for _, c in ipairs(cases) do
  local ok, why = check(source, c.name, c.obj, c.status, c.message)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAIL " .. why .. "\n")
  end
end

-- The test can fail: each mapping turned into another word must fail some case.
local mutations = {
  {'say%("Degraded", stalled', 'say("Healthy", stalled'},
  {'say%("Suspended", approval', 'say("Progressing", approval'},
  {'say%("Suspended", ready', 'say("Healthy", ready'},
  {'say%("Healthy", ready', 'say("Progressing", ready'},
  {'say%("Progressing", ready or reconciling', 'say("Healthy", ready or reconciling'},
}
for _, m in ipairs(mutations) do
  local mutated, n = source:gsub(m[1], m[2])
  local caught = n == 0 -- a mutation that no longer applies is a failure below
  for _, c in ipairs(cases) do
    if n > 0 and not check(mutated, c.name, c.obj, c.status, c.message) then
      caught = true
    end
  end
  if n == 0 then
    failed = failed + 1
    io.stderr:write("FAIL mutation " .. m[1] .. " matches nothing in the script\n")
  elseif caught then
    passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAIL mutation " .. m[2] .. " passes every case: a case is missing\n")
  end
end

-- docs/gitops.md's argocd-cm snippet is the script, indented under its key.
local doc = read(doc_path)
local block = doc:match("resource%.customizations%.health%.phase4%.io_Phase4Deployment: |\n(.-)\n```")
if block == nil then
  failed = failed + 1
  io.stderr:write("FAIL " .. doc_path .. ": no resource.customizations.health.phase4.io_Phase4Deployment block\n")
else
  local indent = block:match("^( *)")
  local lines = {}
  for line in (block .. "\n"):gmatch("(.-)\n") do
    if line:sub(1, #indent) == indent then
      line = line:sub(#indent + 1)
    end
    table.insert(lines, line)
  end
  local unindented = table.concat(lines, "\n") .. "\n"
  if unindented == source then
    passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAIL " .. doc_path .. "'s snippet differs from " .. script_path ..
      ": paste the file again, indented by " .. #indent .. " spaces\n")
  end
end

print(string.format("argocd-health: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
