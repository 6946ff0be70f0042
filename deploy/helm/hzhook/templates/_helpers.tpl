{{/*
Labels of every object: the kustomize base's part-of label, Helm's own, and commonLabels.
Selectors use only hzhook.selector, the same labels deploy/k8s selects by.
*/}}
{{- define "hzhook.labels" -}}
app.kubernetes.io/part-of: hzhook
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of pod templates beyond their selector labels. */}}
{{- define "hzhook.podLabels" -}}
app.kubernetes.io/part-of: hzhook
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* hzhook.selector: the selector labels of a component, given as (dict "component" "receiver"). */}}
{{- define "hzhook.selector" -}}
app.kubernetes.io/name: hzhook
app.kubernetes.io/component: {{ .component }}
{{- if .group }}
hzhook.io/worker-group: {{ .group }}
{{- end }}
{{- end }}

{{- define "hzhook.natsSelector" -}}
app.kubernetes.io/name: nats
app.kubernetes.io/component: nats
{{- end }}

{{/* The hzhook image, by digest when one is given. */}}
{{- define "hzhook.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* URL of NATS for receiver and workers. */}}
{{- define "hzhook.natsURL" -}}
{{- if .Values.nats.enabled -}}
nats://nats:4222
{{- else -}}
{{ required "nats.external.url is required when nats.enabled is false" .Values.nats.external.url }}
{{- end -}}
{{- end }}

{{/* Replicas of HZ_EVENTS and HZ_DLQ: as many as the NATS cluster has nodes. */}}
{{- define "hzhook.streamReplicas" -}}
{{- if .Values.nats.enabled -}}
{{ .Values.nats.replicas }}
{{- else -}}
{{ .Values.nats.external.streamReplicas }}
{{- end -}}
{{- end }}

{{/* host:port of the NATS monitoring endpoint KEDA reads consumer lag from. */}}
{{- define "hzhook.natsMonitoringEndpoint" -}}
{{- if .Values.nats.enabled -}}
nats-headless.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}:8222
{{- else -}}
{{ required "nats.external.monitoringEndpoint is required for workers.autoscaling.mode keda when nats.enabled is false" .Values.nats.external.monitoringEndpoint }}
{{- end -}}
{{- end }}

{{/* Names of the Secrets, the chart's own unless an existing one is given. */}}
{{- define "hzhook.hooksSecret" -}}{{ .Values.hooks.existingSecret | default "hzhook-hooks" }}{{- end }}
{{- define "hzhook.pubsubSecret" -}}{{ .Values.pubsub.existingSecret | default "hzhook-pubsub" }}{{- end }}
{{- define "hzhook.dbSecret" -}}{{ .Values.database.existingSecret | default "hzhook-db" }}{{- end }}
{{- define "hzhook.dbSecretKey" -}}{{ if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}HZ_DB_URL{{ end }}{{- end }}
{{- define "hzhook.adminSecret" -}}{{ .Values.admin.existingSecret | default "hzhook-admin" }}{{- end }}
{{- define "hzhook.adminSecretKey" -}}{{ if .Values.admin.existingSecret }}{{ .Values.admin.existingSecretKey }}{{ else }}HZ_ADMIN_TOKEN{{ end }}{{- end }}
{{- define "hzhook.alertsSecret" -}}{{ .Values.alerts.existingSecret | default "hzhook-alerts" }}{{- end }}

{{/* Where the Secret and ConfigMap volumes are mounted, and the files the settings name. */}}
{{- define "hzhook.hooksDir" -}}/etc/hzhook/hooks{{- end }}
{{- define "hzhook.pubsubDir" -}}/etc/hzhook/pubsub{{- end }}
{{- define "hzhook.rulesDir" -}}/etc/hzhook/rules{{- end }}

{{/* The container securityContext every container gets (restricted Pod Security Standard). */}}
{{- define "hzhook.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* The pod securityContext of a uid given as (dict "uid" 65532 "fsGroupChangePolicy" "..."). */}}
{{- define "hzhook.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
{{- with .fsGroupChangePolicy }}
fsGroupChangePolicy: {{ . }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* HTTP probes on the admin port: startup and liveness on /healthz, readiness on /readyz. */}}
{{- define "hzhook.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: admin
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end }}

{{/* Scheduling values shared by every workload: (dict "v" .Values.receiver). */}}
{{- define "hzhook.scheduling" -}}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "hzhook.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A checksum of the rendered templates named in .files, so a changed setting rolls the pods. */}}
{{- define "hzhook.checksum" -}}
{{- $root := .root -}}
{{- $sum := list -}}
{{- range .files -}}
{{- $sum = append $sum (include (print $root.Template.BasePath "/" .) $root | sha256sum) -}}
{{- end -}}
{{ join "" $sum | sha256sum }}
{{- end }}

{{/* The durable consumer a worker group creates (worker.ConsumerName): hz-worker-<sorted type tokens>. */}}
{{- define "hzhook.consumerName" -}}
{{- $tokens := list -}}
{{- range splitList "," . -}}
{{- $tokens = append $tokens (regexReplaceAll "[^A-Za-z0-9-]" (trim .) "_") -}}
{{- end -}}
hz-worker-{{ sortAlpha $tokens | join "-" }}
{{- end }}

{{/*
A setting's value as the text of an environment variable. Helm reads numbers from values files as
float64, which print as 1.048576e+06: whole numbers are printed as integers.
*/}}
{{- define "hzhook.envValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{ int64 . }}
{{- else -}}
{{ . }}
{{- end -}}
{{- end }}

{{/* The standard OTEL_* variables of the receiver and the workers, from otel (none without an endpoint). */}}
{{- define "hzhook.otelEnv" -}}
{{- $env := dict -}}
{{- with .Values.otel -}}
{{- if .endpoint -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" .endpoint -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_PROTOCOL" (.protocol | default "http/protobuf") -}}
{{- $_ := set $env "OTEL_TRACES_SAMPLER" (.sampler | default "parentbased_always_on") -}}
{{- if .samplerArg }}{{ $_ := set $env "OTEL_TRACES_SAMPLER_ARG" (toString .samplerArg) }}{{ end -}}
{{- range $k, $v := .env }}{{ $_ := set $env $k (toString $v) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- toJson $env -}}
{{- end }}
