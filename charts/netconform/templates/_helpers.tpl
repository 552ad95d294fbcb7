{{/* Labels Helm adds to every object; the objects' own labels are those of config/. */}}
{{- define "netconform.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The manager's pods: the Deployment's selector, so it never changes. */}}
{{- define "netconform.managerLabels" -}}
app.kubernetes.io/name: netconform
app.kubernetes.io/component: manager
{{- end }}

{{/* The manager's image; a digest, when given, pins it and wins over the tag. */}}
{{- define "netconform.image" -}}
{{- with .Values.image.digest -}}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" .) -}}
{{- fail (printf "image.digest %q: give sha256: and 64 hex digits, or leave it empty to use image.tag" .) -}}
{{- end -}}
{{ $.Values.image.repository }}@{{ . }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* Where canaries of tests that name no namespace run: the manager's namespace by default. */}}
{{- define "netconform.canaryNamespace" -}}
{{ .Values.manager.canaryNamespace | default .Release.Namespace }}
{{- end }}

{{/* A manager flag's value, or nothing when it is unset, so that the manager's default applies. */}}
{{- define "netconform.flagValue" -}}
{{- if kindIs "slice" . -}}
{{- join "," . -}}
{{- else if kindIs "float64" . -}}
{{- int64 . -}}
{{- else if not (kindIs "invalid" .) -}}
{{- toString . -}}
{{- end -}}
{{- end }}
