-- Resumes a paused Aura instance.
-- Note: with auto-sync and self-heal, Argo CD reverts this unless Git says the same.
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.paused = false
return obj
