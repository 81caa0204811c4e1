{{/*
Generated from src/api/kinds.rs by `make generate`; edit that list, not this file.
The rules the operator needs on the objects of its kinds: the namespaced
kinds together (where it watches), each cluster-scoped kind on its own.
*/}}
{{- define "aura-operator.namespacedKindRules" -}}
- apiGroups: ["aura-operator.io"]
  resources: ["aurainstances"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["aura-operator.io"]
  resources: ["aurainstances/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["aura-operator.io"]
  resources: ["aurainstances/finalizers"]
  verbs: ["update"]
- apiGroups: ["aura-operator.io"]
  resources: ["auraprojects"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["auraprojects/status"]
  verbs: ["patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["aurasnapshots"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["aura-operator.io"]
  resources: ["aurasnapshots/status"]
  verbs: ["patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["aurarestores"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["aurarestores/status"]
  verbs: ["patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["auradatabaseusers"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["auradatabaseusers/status"]
  verbs: ["patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["auracustomermanagedkeys"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["auracustomermanagedkeys/status"]
  verbs: ["patch"]
{{- end }}
{{- define "aura-operator.kindRules.AuraInstanceClaim" -}}
- apiGroups: ["aura-operator.io"]
  resources: ["aurainstanceclaims"]
  verbs: ["get", "list", "watch", "create", "delete"]
{{- end }}
{{- define "aura-operator.kindRules.ClusterAuraProject" -}}
- apiGroups: ["aura-operator.io"]
  resources: ["clusterauraprojects"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["aura-operator.io"]
  resources: ["clusterauraprojects/status"]
  verbs: ["patch"]
{{- end }}
