{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "aura-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or the release name when it already contains the
chart name. Used for every object the chart creates.
*/}}
{{- define "aura-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aura-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (Deployment selectors are immutable).
*/}}
{{- define "aura-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aura-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "aura-operator.labels" -}}
helm.sh/chart: {{ include "aura-operator.chart" . }}
{{ include "aura-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: aura-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "aura-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aura-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aura-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "aura-operator.leaseName" -}}
{{- default (include "aura-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
Name of the default project's credentials Secret in the release namespace, or
"" when the chart creates no ClusterAuraProject "default".
*/}}
{{- define "aura-operator.credentialsSecret" -}}
{{- $c := .Values.aura.credentials }}
{{- if and $c.create $c.existingSecret }}
{{- fail "aura.credentials: set either existingSecret or create, not both" }}
{{- end }}
{{- if $c.create }}
{{- default (printf "%s-credentials" (include "aura-operator.fullname" .)) $c.name }}
{{- else }}
{{- $c.existingSecret }}
{{- end }}
{{- end }}

{{/*
The namespaces the default project allows, in words (NOTES.txt).
*/}}
{{- define "aura-operator.allowedSummary" -}}
{{- $allowed := .Values.aura.credentials.allowedNamespaces | default dict }}
{{- $parts := list }}
{{- with $allowed.names }}
{{- $parts = append $parts (printf "named: %s" (join ", " .)) }}
{{- end }}
{{- if kindIs "map" $allowed.selector }}
{{- $parts = append $parts "those the label selector matches" }}
{{- end }}
{{- if $parts }}
{{- join "; " $parts }}
{{- else }}
{{- printf "%s only; set aura.credentials.allowedNamespaces to allow more" .Release.Namespace }}
{{- end }}
{{- end }}

{{/*
The rules the operator needs on the objects it manages, wherever it watches
them: its namespaced kinds (generated into _kinds.tpl), the Secrets and the
events. Exactly what the binary calls; nothing else.
*/}}
{{- define "aura-operator.managerRules" -}}
{{ include "aura-operator.namespacedKindRules" . }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["monitoring.coreos.com"]
  resources: ["scrapeconfigs"]
  verbs: ["patch", "delete"]
{{- end }}
