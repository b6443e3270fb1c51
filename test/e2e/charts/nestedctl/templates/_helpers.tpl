{{- define "nestedctl.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nestedctl.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* As ingress-nginx builds it: repository or registry/image, then :tag, then @digest. */}}
{{- define "nestedctl.image" -}}
{{- with .Values.controller.image -}}
{{- if .repository -}}{{ .repository }}{{- else -}}{{ .registry }}/{{ .image }}{{- end -}}
:{{ .tag }}{{- with .digest -}}@{{ . }}{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nestedctl.serviceAccountName" -}}
{{- default (include "nestedctl.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "nestedctl.certgenImage" -}}
{{- with .Values.controller.admissionWebhooks.patch.image -}}
{{ .registry }}/{{ .image }}:{{ .tag }}
{{- end -}}
{{- end -}}
