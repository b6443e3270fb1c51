{{/* Like common.names.fullname. */}}
{{- define "regweb.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "regweb.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Like common.images.image: registry/repository:tag, or @digest when one is set;
the tag defaults to the chart's appVersion, global.imageRegistry wins.
Usage: include "regweb.image" (dict "imageRoot" .Values.image "global" .Values.global "chart" .Chart)
*/}}
{{- define "regweb.image" -}}
{{- $registry := .imageRoot.registry -}}
{{- if .global.imageRegistry -}}{{- $registry = .global.imageRegistry -}}{{- end -}}
{{- $separator := ":" -}}
{{- $termination := .imageRoot.tag | toString -}}
{{- if not .imageRoot.tag -}}{{- $termination = .chart.AppVersion | toString -}}{{- end -}}
{{- if .imageRoot.digest -}}
{{- $separator = "@" -}}
{{- $termination = .imageRoot.digest | toString -}}
{{- end -}}
{{- if $registry -}}
{{- printf "%s/%s%s%s" $registry .imageRoot.repository $separator $termination -}}
{{- else -}}
{{- printf "%s%s%s" .imageRoot.repository $separator $termination -}}
{{- end -}}
{{- end -}}

{{/* Like the charts' validateValues: every problem, then one fail. */}}
{{- define "regweb.validateValues" -}}
{{- $messages := list -}}
{{- if and .Values.auth.enabled (not .Values.auth.password) -}}
{{- $messages = append $messages "regweb: auth.password\n    A password is required when auth.enabled is true: set auth.password." -}}
{{- end -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail -}}
{{- end -}}
{{- end -}}
