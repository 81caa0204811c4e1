-- Pauses the Aura instance: the operator sees spec.paused and asks Aura to pause.
-- Note: with auto-sync and self-heal, Argo CD reverts this unless Git says the same.
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.paused = true
return obj
