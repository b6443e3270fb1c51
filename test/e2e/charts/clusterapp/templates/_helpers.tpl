{{- define "clusterapp.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "clusterapp.fullname" -}}
{{ .Release.Name }}-clusterapp
{{- end }}

{{- define "clusterapp.clusterName" -}}
{{ .Release.Namespace }}-{{ .Release.Name }}-clusterapp
{{- end }}
