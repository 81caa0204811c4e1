-- Argo CD health check for aura-operator.io/AuraInstance.
-- Reads the status the operator writes (kstatus conventions: Ready,
-- Reconciling, Stalled; top-level observedGeneration) as kstatus does:
-- Progressing where kstatus says InProgress, Healthy for Current, Degraded
-- for Failed (Stalled=True). Two answers kstatus cannot give: Suspended for a
-- database paused on purpose, and Degraded for PasswordUnavailable (the
-- password must be written by a human; kstatus says InProgress).
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

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the AuraInstance"
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

-- A human must act: bad spec, bad or missing credentials, instance gone.
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

-- The instance runs but the connection Secret lacks the password, which Aura
-- hands out only once: nothing will fix itself, a human must write it.
if ready ~= nil and ready.reason == "PasswordUnavailable" then
  hs.status = "Degraded"
  hs.message = text(ready, "PasswordUnavailable")
  return hs
end

-- Work in flight: creating, updating, resizing, pausing, resuming, deleting.
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = text(reconciling, "Reconciling")
  return hs
end

if obj.metadata.deletionTimestamp ~= nil or status.phase == "Deleting" then
  hs.status = "Progressing"
  hs.message = text(ready, "Deleting")
  return hs
end

-- Paused on purpose (spec.paused: true) and settled.
if status.phase == "Paused" or (ready ~= nil and ready.reason == "Paused") then
  hs.status = "Suspended"
  hs.message = text(ready, "Paused")
  return hs
end

-- Anything else (Ready=Unknown or False without a stall) is not done yet.
hs.status = "Progressing"
hs.message = text(ready, "Waiting for the AuraInstance to become Ready")
return hs
