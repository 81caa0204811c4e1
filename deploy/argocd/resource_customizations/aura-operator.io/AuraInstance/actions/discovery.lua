-- Argo CD actions for aura-operator.io/AuraInstance: pause, resume, reconcile.
local actions = {}
local paused = obj.spec ~= nil and obj.spec.paused == true
local deleting = obj.metadata.deletionTimestamp ~= nil
actions["pause"] = {
  ["disabled"] = paused or deleting,
  ["iconClass"] = "fa fa-fw fa-pause-circle",
  ["displayName"] = "Pause the database"
}
actions["resume"] = {
  ["disabled"] = (not paused) or deleting,
  ["iconClass"] = "fa fa-fw fa-play-circle",
  ["displayName"] = "Resume the database"
}
actions["reconcile"] = {
  ["disabled"] = false,
  ["iconClass"] = "fa fa-fw fa-sync",
  ["displayName"] = "Reconcile now"
}
return actions
