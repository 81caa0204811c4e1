-- Argo CD health check for aura-operator.io/AuraDatabaseRestore: a restore of an AuraDatabase from one of its backups, sent once.
-- Read as kstatus reads the operator's status (Ready, Reconciling, Stalled;
-- observedGeneration): Healthy when Ready=True
-- (Ready=True, reason Submitted: Aura accepted it; it gives no signal when
-- a database restore ends, so nothing claims more), Degraded when
-- Stalled=True (refused, or sent with its answer lost: never sent again),
-- Progressing otherwise (waiting for the database or the backup).
-- Base and table libraries only.
local hs = {}

local function find(conditions, wanted)
  for _, c in ipairs(conditions or {}) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function say(c, otherwise)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return otherwise
end

local status = obj.status or {}
local conditions = status.conditions or {}
if #conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the AuraDatabaseRestore"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the object goes; a restore cannot be taken back"
  return hs
end

local stalled = find(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = say(stalled, "Stalled")
  return hs
end

local ready = find(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = say(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = say(find(conditions, "Reconciling"), say(ready, "Waiting for the restore"))
return hs
