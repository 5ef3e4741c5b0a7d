{{/* Chart name, truncated to 63 characters. */}}
{{- define "kto.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name prefix of every object: <release>-<chart>, or <release> when it contains the chart name. */}}
{{- define "kto.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "kto.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "kto.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kubelet-tracing-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include "kto.selectorLabels" (list . "controller"). */}}
{{- define "kto.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "kto.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Labels of one component's objects. */}}
{{- define "kto.componentLabels" -}}
{{ include "kto.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "kto.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (printf "%s-controller" (include "kto.fullname" .)) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kto.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (printf "%s-agent" (include "kto.fullname" .)) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- required "agent.serviceAccount.name is required when agent.serviceAccount.create is false" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: [registry/]repository@digest, or [registry/]repository:tag (tag defaults to appVersion). */}}
{{- define "kto.image" -}}
{{- $repo := .Values.image.repository -}}
{{- with .Values.image.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Labels of one component's pod template: every standard label (not only the selector's), then
the component's podLabels: include "kto.podLabels" (list . "controller" .Values.controller.podLabels).
*/}}
{{- define "kto.podLabels" -}}
{{ include "kto.componentLabels" (list (index . 0) (index . 1)) }}
{{- with index . 2 }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Environment of a component's container for its spans' resource (OpenTelemetry semantic
conventions, as the OpenTelemetry Operator injects them): the pod, namespace and node from the
downward API, expanded by the kubelet into OTEL_RESOURCE_ATTRIBUTES with $(VAR), plus
otelResourceAttributes. include "kto.otelEnv" (list . "k8s.deployment.name" "<name>").
*/}}
{{- define "kto.otelEnv" -}}
{{- $root := index . 0 -}}
{{- $attrs := list "k8s.pod.name=$(POD_NAME)" "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.node.name=$(NODE_NAME)" (printf "%s=%s" (index . 1) (index . 2)) -}}
{{- range $k, $v := $root.Values.otelResourceAttributes }}
{{- /* percent-encoded as the spec asks (urlquery writes a space as "+": a literal "+" is already %2B) */ -}}
{{- $attrs = append $attrs (printf "%s=%s" (urlquery $k | replace "+" "%20") (urlquery (toString $v) | replace "+" "%20")) -}}
{{- end -}}
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end -}}

{{/*
Host directories the agent may write (mounted read-write over the read-only host root), as a
JSON list: the layout's kubelet configuration directories plus agent.extraWritableHostPaths.
*/}}
{{- define "kto.agent.writablePaths" -}}
{{- $layouts := dict
  "kubeadm" (list "/var/lib/kubelet" "/etc/kubernetes")
  "k3s" (list "/var/lib/rancher/k3s/agent/etc" "/etc/rancher/k3s")
  "eks" (list "/etc/kubernetes/kubelet")
  "custom" (list) -}}
{{- $paths := get $layouts .Values.agent.layout -}}
{{- $all := concat $paths .Values.agent.extraWritableHostPaths | uniq -}}
{{- toJson $all -}}
{{- end -}}

{{/* Labels of one alert: its severity, then metrics.prometheusRule.alertLabels (the alert's own
severity wins): include "kto.alertLabels" (list $ .severity). */}}
{{- define "kto.alertLabels" -}}
{{- $root := index . 0 -}}
{{- toYaml (merge (dict "severity" (index . 1)) (deepCopy $root.Values.metrics.prometheusRule.alertLabels)) -}}
{{- end -}}
