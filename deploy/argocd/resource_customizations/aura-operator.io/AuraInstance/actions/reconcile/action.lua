-- "Reconcile now": the operator reconciles at once whenever the annotation
-- aura-operator.io/reconcile-requested-at changes. The value is the current
-- UTC time from os.date, which Argo CD's sandbox provides (its safe os
-- library has os.date and os.time). Its resolution is one second: a second
-- request within the same second changes nothing and is a no-op.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["aura-operator.io/reconcile-requested-at"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
