{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "zk-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of resource names: the release name, plus the chart name unless the release name
already contains it; 63 characters at most (DNS label).
*/}}
{{- define "zk-operator.fullname" -}}
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

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "zk-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every resource of the chart carries. */}}
{{- define "zk-operator.labels" -}}
helm.sh/chart: {{ include "zk-operator.chart" . }}
{{ include "zk-operator.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that identify this release's objects (stable across upgrades). */}}
{{- define "zk-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zk-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Namespace of the dashboard ConfigMaps. */}}
{{- define "zk-operator.dashboardsNamespace" -}}
{{- default .Release.Namespace .Values.dashboards.namespace }}
{{- end }}

{{/* Name of the ConfigMap for one dashboard file (argument: list of root context and path). */}}
{{- define "zk-operator.dashboardConfigMapName" -}}
{{- $root := index . 0 }}
{{- $file := base (index . 1) | trimSuffix ".json" }}
{{- printf "%s-dashboard-%s" (include "zk-operator.fullname" $root) $file | lower | trunc 63 | trimSuffix "-" }}
{{- end }}
