-- Argo CD health check for phase4.io/Phase4Deployment (docs/gitops.md).
-- Lua 5.1 (gopher-lua). Reads Stalled, Reconciling, Ready, AwaitingApproval, spec.suspend
-- and the verdict; the message is the deciding condition's one sentence.
local hs = {status = "Progressing", message = "Waiting for phase4-operator to write a status"}

local function condition(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function is(c, status)
  return c ~= nil and c.status == status
end

local function say(status, c, fallback)
  hs.status = status
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    hs.message = c.message
  else
    hs.message = fallback
  end
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= generation then
  hs.message = "Waiting for phase4-operator to observe generation " .. tostring(generation)
  return hs
end

local conds = obj.status.conditions
local ready = condition(conds, "Ready")
local reconciling = condition(conds, "Reconciling")
local stalled = condition(conds, "Stalled")
local approval = condition(conds, "AwaitingApproval")
local suspended = obj.spec ~= nil and obj.spec.suspend == true

-- A final failure, an escalation to a person, a rollback, or workloads that broke after
-- the verdict (Degraded): someone must act.
if is(stalled, "True") then
  return say("Degraded", stalled, "Stalled")
end
if obj.status.verdict == "FAILED" and not is(reconciling, "True") then
  return say("Degraded", ready, "The generation's verdict is FAILED")
end
-- spec.suspend: nothing runs until it is false again (Suspending until the step under way ends).
if suspended and not is(reconciling, "True") then
  return say("Suspended", ready, "Suspended (spec.suspend is true)")
end
-- A person is asked to approve the plan (phase4.io/approve): Argo CD's word for a pause.
if is(approval, "True") then
  return say("Suspended", approval, "Awaiting approval")
end
if is(reconciling, "True") then
  return say("Progressing", ready or reconciling, "Reconciling")
end
if is(ready, "True") then
  return say("Healthy", ready, "Ready")
end
if is(ready, "False") then
  return say("Degraded", ready, "Not ready")
end
return say("Progressing", ready, "Ready is not known yet")
