{{/* Names */}}
{{- define "ltilaunch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ltilaunch.fullname" -}}
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

{{- define "ltilaunch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The services: the values key, the service (and image) name, and the port it
listens on (its own default port).
*/}}
{{- define "ltilaunch.services" -}}
- key: platform
  name: platform
  port: 3000
- key: toolAuth
  name: tool-auth
  port: 3001
- key: spawnerBroker
  name: spawner-broker
  port: 3002
{{- end }}

{{/* <fullname>-<service>; call with (dict "root" $ "name" "tool-auth") */}}
{{- define "ltilaunch.componentName" -}}
{{- printf "%s-%s" (include "ltilaunch.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ltilaunch.labels" -}}
helm.sh/chart: {{ include "ltilaunch.chart" . }}
app.kubernetes.io/name: {{ include "ltilaunch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ltilaunch
{{- end }}

{{/* call with (dict "root" $ "name" "tool-auth") */}}
{{- define "ltilaunch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ltilaunch.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "ltilaunch.componentLabels" -}}
{{ include "ltilaunch.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "ltilaunch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ltilaunch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ltilaunch.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.repository .name (default .root.Chart.AppVersion .root.Values.image.tag) }}
{{- end }}

{{/* The Secret a service reads its keys and tokens from. */}}
{{- define "ltilaunch.secretName" -}}
{{- $values := index .root.Values .key }}
{{- if $values.existingSecret }}
{{- $values.existingSecret }}
{{- else }}
{{- include "ltilaunch.componentName" . }}
{{- end }}
{{- end }}

{{- define "ltilaunch.redisSecretName" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecret }}
{{- else }}
{{- printf "%s-redis" (include "ltilaunch.fullname" .) }}
{{- end }}
{{- end }}

{{/*
A generated secret that survives upgrades: the value in the Secret that is
already there, else a fresh random one. (helm template has no cluster, so
it always makes a fresh one.)
*/}}
{{- define "ltilaunch.keptRandom" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret }}
{{- if and $existing (hasKey $existing.data .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}

{{/*
The files each service reads from its Secret: NAME (the setting) → key.
Required entries always; optional ones when given (or, with existingSecret,
when listed in existingSecretKeys).
*/}}
{{- define "ltilaunch.secretFiles" -}}
{{- $v := index .root.Values .key }}
{{- $listed := default list $v.existingSecretKeys }}
{{- $has := dict }}
{{- range $listed }}{{ $_ := set $has . true }}{{ end }}
{{- if eq .key "platform" }}
PLATFORM_SIGNING_KEY: signing-key.pem
PLATFORM_SESSION_SECRET: session-secret
PLATFORM_SUBJECT_SECRET: subject-secret
{{- if or $v.nextKey (hasKey $has "next-key.pem") }}
PLATFORM_NEXT_KEY: next-key.pem
{{- end }}
{{- if or $v.retiredKeys (hasKey $has "retired-keys.pem") }}
PLATFORM_RETIRED_KEYS: retired-keys.pem
{{- end }}
{{- if or $v.apiKeys (hasKey $has "api-keys") }}
PLATFORM_API_KEYS: api-keys
{{- end }}
{{- if or $v.scoreWebhookSecret (hasKey $has "score-webhook-secret") }}
PLATFORM_SCORE_WEBHOOK_SECRET: score-webhook-secret
{{- end }}
{{- if or $v.users (hasKey $has "users.yaml") }}
PLATFORM_USERS: users.yaml
{{- end }}
{{- else if eq .key "toolAuth" }}
TOOL_KEY: tool-key.pem
BROKER_SERVICE_TOKEN: broker-service-token
HUB_CLIENT_SECRET: hub-client-secret
{{- else if eq .key "spawnerBroker" }}
BROKER_SERVICE_TOKEN: broker-service-token
HUB_API_TOKEN: hub-api-token
{{- end }}
{{- end }}

{{/* Redis connection settings, the same for every service. */}}
{{- define "ltilaunch.redisEnv" -}}
{{- $r := .Values.redis }}
{{- $secret := include "ltilaunch.redisSecretName" . }}
{{- $modes := 0 }}
{{- if $r.sentinels }}{{ $modes = add1 $modes }}{{ end }}
{{- if $r.clusterNodes }}{{ $modes = add1 $modes }}{{ end }}
{{- if or $r.url (and $r.existingSecret (not $r.sentinels) (not $r.clusterNodes)) }}{{ $modes = add1 $modes }}{{ end }}
{{- if ne $modes 1 }}
{{- fail "redis: give exactly one of redis.url (or redis.existingSecret with the URL), redis.sentinels or redis.clusterNodes; every replica must share one Redis" }}
{{- end }}
{{- if $r.sentinels }}
- name: REDIS_SENTINELS
  value: {{ $r.sentinels | quote }}
- name: REDIS_SENTINEL_NAME
  value: {{ $r.sentinelName | quote }}
{{- else if $r.clusterNodes }}
- name: REDIS_CLUSTER_NODES
  value: {{ $r.clusterNodes | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $r.existingSecretUrlKey }}
{{- end }}
{{- if or $r.password (and $r.existingSecret (or $r.sentinels $r.clusterNodes)) }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $r.existingSecretPasswordKey }}
      optional: {{ not $r.password }}
{{- end }}
{{- end }}

{{/* The settings of one service; call with (dict "root" $ "key" "toolAuth" "name" "tool-auth" "port" 3001) */}}
{{- define "ltilaunch.env" -}}
{{- $root := .root }}
{{- $v := index $root.Values .key }}
- name: PORT
  value: {{ .port | quote }}
- name: PUBLIC_URL
  value: {{ required (printf "%s.publicUrl is required: the URL browsers reach %s at" .key .name) $v.publicUrl | quote }}
- name: LOG_LEVEL
  value: {{ $root.Values.common.logLevel | quote }}
- name: TRUST_PROXY
  value: {{ $root.Values.common.trustProxy | toString | quote }}
- name: SHUTDOWN_GRACE_MS
  value: {{ $root.Values.common.shutdownGraceMs | int | toString | quote }}
{{- with $root.Values.audit }}{{ if .stream }}
- name: AUDIT_STREAM
  value: {{ .stream | quote }}
- name: AUDIT_STREAM_MAXLEN
  value: {{ .streamMaxLength | int | toString | quote }}
{{- end }}{{ end }}
{{ include "ltilaunch.redisEnv" $root | trim }}
{{- if $root.Values.metrics.enabled }}
- name: METRICS_PORT
  value: {{ $root.Values.metrics.port | int | toString | quote }}
{{- end }}
{{- if eq .key "platform" }}
{{- if $v.tools }}
- name: PLATFORM_TOOLS_FILE
  value: /etc/ltilaunch/tools.yaml
{{- end }}
{{- else if eq .key "toolAuth" }}
{{- if $v.platforms }}
- name: PLATFORMS_FILE
  value: /etc/ltilaunch/platforms.json
{{- end }}
{{- if $v.allowedHosts }}
- name: ALLOWED_HOSTS
  value: {{ $v.allowedHosts | quote }}
{{- end }}
- name: BROKER_URL
  value: {{ default (printf "http://%s:%v" (include "ltilaunch.componentName" (dict "root" $root "name" "spawner-broker")) $root.Values.spawnerBroker.service.port) $v.brokerUrl | quote }}
- name: HUB_CLIENT_ID
  value: {{ $v.hub.clientId | quote }}
- name: HUB_REDIRECT_URI
  value: {{ required "toolAuth.hub.redirectUri is required: the hub's oauth_callback_url" $v.hub.redirectUri | quote }}
{{- with $v.hub.publicUrl }}
- name: HUB_URL
  value: {{ . | quote }}
{{- end }}
{{- else if eq .key "spawnerBroker" }}
- name: IMAGE_POLICY_FILE
  value: /etc/ltilaunch/image-policy.yaml
- name: HUB_URL
  value: {{ required "spawnerBroker.hub.url is required: the hub as the broker reaches it" $v.hub.url | quote }}
{{- if $v.hub.publicUrl }}
- name: HUB_PUBLIC_URL
  value: {{ $v.hub.publicUrl | quote }}
{{- end }}
{{- end }}
{{- range $name, $file := (include "ltilaunch.secretFiles" . | fromYaml) }}
- name: {{ $name }}_FILE
  value: /run/secrets/ltilaunch/{{ $file }}
{{- end }}
{{- with $root.Values.tracing }}
{{- if .endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .protocol | default "http/protobuf" | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $.name | quote }}
{{- if .sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
{{- end }}
{{- if .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | toString | quote }}
{{- end }}
{{- if .headersSecret.name }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ .headersSecret.name }}
      key: {{ .headersSecret.key }}
{{- end }}
{{- end }}
{{- end }}
{{- range $name, $value := $root.Values.common.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range $name, $value := $v.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
