-- Argo CD health check for aura-operator.io/AuraSnapshot and
-- aura-operator.io/AuraRestore (the same file for both kinds): objects that
-- run once, like a Job. Reads the status the operator writes (kstatus
-- conventions: Ready, Reconciling, Stalled; top-level observedGeneration) as
-- kstatus does: Healthy when Ready=True (the snapshot is Completed; the
-- restore Succeeded), Degraded when Stalled=True (a snapshot or a restore that
-- failed, or one that waits for something only a person can fix: a missing
-- instance or source, unusable credentials), Progressing otherwise (taking the
-- snapshot; a restore Pending or Running; the object being deleted).
-- Uses only what Argo CD's sandbox offers (base and table libraries: no
-- string library), so it runs without useOpenLibs.
local hs = {}

local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function text(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local kind = obj.kind or "object"
local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the " .. kind
  return hs
end

local generation = obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation) ..
    " (observed " .. tostring(observed or "none") .. ")"
  return hs
end

local ready = condition(status.conditions, "Ready")
local reconciling = condition(status.conditions, "Reconciling")
local stalled = condition(status.conditions, "Stalled")

-- Being deleted: only the object goes (kstatus: Terminating).
if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting the " .. kind .. " (only the object goes)"
  return hs
end

-- Failed, or waiting for a person.
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = text(stalled, "Stalled")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = text(ready, "Ready")
  return hs
end

if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = text(reconciling, "Reconciling")
  return hs
end

hs.status = "Progressing"
hs.message = text(ready, "Waiting for the " .. kind .. " to finish")
return hs
