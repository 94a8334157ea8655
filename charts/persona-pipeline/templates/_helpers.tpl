{{/* ------------------------------------------------------------------ names */}}
{{- define "persona-pipeline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "persona-pipeline.fullname" -}}
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

{{/* "<fullname>-<component>", 63 characters at most. */}}
{{- define "persona-pipeline.componentName" -}}
{{- printf "%s-%s" (include "persona-pipeline.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "persona-pipeline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* ------------------------------------------------------------------ labels */}}
{{- define "persona-pipeline.labels" -}}
helm.sh/chart: {{ include "persona-pipeline.chart" .root }}
{{ include "persona-pipeline.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: persona-pipeline
{{- end }}

{{- define "persona-pipeline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "persona-pipeline.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{/* ------------------------------------------------------------------ image */}}
{{- define "persona-pipeline.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "persona-pipeline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "persona-pipeline.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* ------------------------------------------------------------------ secrets */}}
{{/* Names of every secret key the chart knows. */}}
{{- define "persona-pipeline.secretKeys" -}}
PP_CASSANDRA_PASSWORD PP_AZURE_FACE_KEY PP_AZURE_FILES_CONNECTION_STRING PP_WEB_SECRET_KEY PP_ADMIN_PASSWORD PP_ARTIFACT_HMAC_KEY PP_REDIS_URL PP_REDIS_PASSWORD FLOWER_BASIC_AUTH
{{- end }}

{{/* The Secret every pod reads its secret environment from. */}}
{{- define "persona-pipeline.secretName" -}}
{{- if .Values.secrets.keyVault.enabled }}
{{- printf "%s-kv" (include "persona-pipeline.fullname" .) }}
{{- else if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "persona-pipeline.fullname" . }}
{{- end }}
{{- end }}

{{/* true when the chart renders the Secret itself from secrets.values. */}}
{{- define "persona-pipeline.chartOwnsSecret" -}}
{{- if and (not .Values.secrets.keyVault.enabled) (not .Values.secrets.existingSecret) }}true{{ end }}
{{- end }}

{{/* Which secret keys each role receives (least privilege). */}}
{{- define "persona-pipeline.roleSecretKeys" -}}
{{- $role := . -}}
{{- if eq $role "web" -}}
PP_CASSANDRA_PASSWORD PP_AZURE_FACE_KEY PP_AZURE_FILES_CONNECTION_STRING PP_WEB_SECRET_KEY PP_ADMIN_PASSWORD PP_ARTIFACT_HMAC_KEY PP_REDIS_URL
{{- else if eq $role "worker" -}}
PP_CASSANDRA_PASSWORD PP_AZURE_FACE_KEY PP_AZURE_FILES_CONNECTION_STRING PP_ARTIFACT_HMAC_KEY PP_REDIS_URL
{{- else if eq $role "beat" -}}
PP_REDIS_URL
{{- else if eq $role "flower" -}}
PP_REDIS_URL FLOWER_BASIC_AUTH
{{- else if eq $role "migrate" -}}
PP_CASSANDRA_PASSWORD
{{- end }}
{{- end }}

{{/* env entries referencing the secret, one per key of the role (optional: absent keys are fine). */}}
{{- define "persona-pipeline.secretEnv" -}}
{{- $root := .root -}}
{{- $secretName := .secretName | default (include "persona-pipeline.secretName" $root) -}}
{{- range (splitList " " (include "persona-pipeline.roleSecretKeys" .role)) }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ . }}
      optional: true
{{- end }}
{{- end }}

{{/* A stored value of the chart's own Secret (kept across upgrades), or "". */}}
{{- define "persona-pipeline.existingSecretValue" -}}
{{- $secret := lookup "v1" "Secret" .root.Release.Namespace (include "persona-pipeline.fullname" .root) -}}
{{- if and $secret $secret.data (hasKey $secret.data .key) -}}
{{- index $secret.data .key | b64dec -}}
{{- end -}}
{{- end }}

{{/* ------------------------------------------------------------------ config */}}
{{- define "persona-pipeline.configData" -}}
{{- range $key, $value := .Values.config }}
{{- if ne (toString $value) "" }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Non-secret configuration as env entries (the migration hook runs before the ConfigMap exists). */}}
{{- define "persona-pipeline.configEnv" -}}
{{- range $key, $value := .Values.config }}
{{- if ne (toString $value) "" }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "persona-pipeline.usesBlobVolume" -}}
{{- if and (eq (toString .Values.config.PP_STORAGE_BACKEND) "local") .Values.blobVolume.enabled }}true{{ end }}
{{- end }}

{{- define "persona-pipeline.blobClaimName" -}}
{{- default (printf "%s-blobs" (include "persona-pipeline.fullname" .)) .Values.blobVolume.existingClaim }}
{{- end }}

{{/* ------------------------------------------------------------------ checks */}}
{{- define "persona-pipeline.validate" -}}
{{- $secretKeys := splitList " " (include "persona-pipeline.secretKeys" .) }}
{{- range $key, $_ := .Values.config }}
{{- if has $key $secretKeys }}
{{- fail (printf "config.%s is a secret: set it under secrets (values, existingSecret or keyVault), not in the ConfigMap" $key) }}
{{- end }}
{{- end }}
{{- if and (eq (toString .Values.config.PP_STORAGE_BACKEND) "local") (not .Values.blobVolume.enabled) }}
{{- fail "PP_STORAGE_BACKEND=local needs blobVolume.enabled=true (a ReadWriteMany volume shared by web and workers), or use azure-files" }}
{{- end }}
{{- $visibility := toString (.Values.config.PP_CELERY_VISIBILITY_TIMEOUT | default "7200") }}
{{- $timeLimit := toString (.Values.config.PP_CELERY_TASK_TIME_LIMIT | default "3600") }}
{{- if le (atoi $visibility) (atoi $timeLimit) }}
{{- fail (printf "config.PP_CELERY_VISIBILITY_TIMEOUT (%s) must be longer than config.PP_CELERY_TASK_TIME_LIMIT (%s), or a running task is delivered twice" $visibility $timeLimit) }}
{{- end }}
{{- if and .Values.keda.enabled (not .Values.keda.redis.address) (not .Values.redis.enabled) }}
{{- fail "keda.enabled needs keda.redis.address (host:port of the Redis broker) or redis.enabled" }}
{{- end }}
{{- if and .Values.secrets.keyVault.enabled (or (not .Values.secrets.keyVault.keyvaultName) (not .Values.secrets.keyVault.tenantId) (not .Values.secrets.keyVault.clientId)) }}
{{- fail "secrets.keyVault.enabled needs keyvaultName, tenantId and clientId" }}
{{- end }}
{{- if and .Values.secrets.keyVault.enabled .Values.secrets.existingSecret }}
{{- fail "use either secrets.keyVault or secrets.existingSecret, not both" }}
{{- end }}
{{- /* No fixed or weak session key: the web app refuses keys under 32 characters, so the chart does too. */}}
{{- range $key := list "PP_WEB_SECRET_KEY" "PP_ARTIFACT_HMAC_KEY" }}
{{- $given := index $.Values.secrets.values $key | default "" }}
{{- if and $given (lt (len $given) 32) }}
{{- fail (printf "secrets.values.%s has %d characters; it needs at least 32 (or leave it empty to have one generated)" $key (len $given)) }}
{{- end }}
{{- end }}
{{- if include "persona-pipeline.chartOwnsSecret" . }}
{{- if not .Values.secrets.generate }}
{{- range $key := list "PP_WEB_SECRET_KEY" "PP_ADMIN_PASSWORD" "PP_ARTIFACT_HMAC_KEY" }}
{{- if not (index $.Values.secrets.values $key) }}
{{- fail (printf "secrets.values.%s is required when secrets.generate is false (nothing is generated)" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- else if .Values.secrets.keyVault.enabled }}
{{- range $key := list "PP_WEB_SECRET_KEY" "PP_ADMIN_PASSWORD" "PP_ARTIFACT_HMAC_KEY" }}
{{- if not (index $.Values.secrets.keyVault.objects $key) }}
{{- fail (printf "secrets.keyVault.objects.%s is required: the web app does not start without it" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* ------------------------------------------------------------------ pods */}}
{{/* Exec probe: the worker heartbeat file is younger than maxAge seconds. */}}
{{- define "persona-pipeline.heartbeatCommand" -}}
- python
- -c
- "import os,sys,time; p=os.environ.get('PP_HEARTBEAT_FILE','/tmp/worker-heartbeat'); sys.exit(0 if time.time()-os.stat(p).st_mtime < {{ .Values.heartbeat.maxAgeSeconds }} else 1)"
{{- end }}

{{- define "persona-pipeline.workerProbes" -}}
startupProbe:
  exec:
    command:
      {{- include "persona-pipeline.heartbeatCommand" . | nindent 6 }}
  periodSeconds: 10
  timeoutSeconds: 10
  failureThreshold: 30
livenessProbe:
  exec:
    command:
      {{- include "persona-pipeline.heartbeatCommand" . | nindent 6 }}
  periodSeconds: 60
  timeoutSeconds: 10
  failureThreshold: 3
{{- end }}

{{/*
A Deployment of the application image.
Arguments (dict): root, component, values (the component's values), role (secret role),
command (list), replicas (int, omitted when autoscaled), autoscaled (bool),
strategy (Recreate|RollingUpdate), ports (list), probes (yaml string), podAnnotations (dict, optional).
*/}}
{{- define "persona-pipeline.deployment" -}}
{{- $root := .root -}}
{{- $v := .values -}}
{{- $ctx := dict "root" $root "component" .component -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "persona-pipeline.componentName" $ctx }}
  labels:
    {{- include "persona-pipeline.labels" $ctx | nindent 4 }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- if eq .strategy "Recreate" }}
  strategy:
    type: Recreate
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- end }}
  selector:
    matchLabels:
      {{- include "persona-pipeline.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "persona-pipeline.selectorLabels" $ctx | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "persona-pipeline.checksums" $root | nindent 8 }}
        {{- with .podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "persona-pipeline.podCommon" (dict "root" $root "values" $v) | nindent 6 }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "persona-pipeline.selectorLabels" $ctx | nindent 14 }}
      containers:
        - name: {{ .component }}
          image: {{ include "persona-pipeline.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            {{- toYaml .command | nindent 12 }}
          {{- with .ports }}
          ports:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "persona-pipeline.fullname" $root }}
          env:
            {{- include "persona-pipeline.secretEnv" (dict "root" $root "role" .role) | trim | nindent 12 }}
            {{- range $name, $value := ($v.env | default dict) }}
            - name: {{ $name }}
              value: {{ $value | toString | quote }}
            {{- end }}
          {{- .probes | nindent 10 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            {{- include "persona-pipeline.volumeMounts" (dict "root" $root "blobs" (has .role (list "web" "worker"))) | nindent 12 }}
      volumes:
        {{- include "persona-pipeline.volumes" (dict "root" $root "blobs" (has .role (list "web" "worker"))) | nindent 8 }}
{{- end }}

{{- define "persona-pipeline.checksums" -}}
checksum/config: {{ include "persona-pipeline.configData" . | sha256sum }}
{{- if .Values.secrets.keyVault.enabled }}
checksum/secret: {{ toJson .Values.secrets.keyVault | sha256sum }}
{{- else if .Values.secrets.existingSecret }}
checksum/secret: {{ .Values.secrets.existingSecret | sha256sum }}
{{- else }}
{{- /* Inputs of secret.yaml (generated values never change, so they are left out). */}}
checksum/secret: {{ toJson (dict "values" .Values.secrets.values "redis" .Values.redis.password) | sha256sum }}
{{- end }}
{{- end }}

{{/* Pod-level fields shared by every application pod. */}}
{{- define "persona-pipeline.podCommon" -}}
{{- $root := .root -}}
{{- $v := .values -}}
serviceAccountName: {{ include "persona-pipeline.serviceAccountName" $root }}
automountServiceAccountToken: false
terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with (merge (dict) ($v.nodeSelector | default dict) $root.Values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (concat ($v.tolerations | default list) $root.Values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($v.affinity | default $root.Values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "persona-pipeline.volumeMounts" -}}
{{- $root := .root -}}
- name: tmp
  mountPath: /tmp
{{- if and .blobs (include "persona-pipeline.usesBlobVolume" $root) }}
- name: blobs
  mountPath: {{ $root.Values.blobVolume.mountPath }}
{{- end }}
{{- if $root.Values.secrets.keyVault.enabled }}
- name: secrets-store
  mountPath: {{ $root.Values.secrets.keyVault.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "persona-pipeline.volumes" -}}
{{- $root := .root -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $root.Values.tmpVolume.sizeLimit }}
{{- if and .blobs (include "persona-pipeline.usesBlobVolume" $root) }}
- name: blobs
  persistentVolumeClaim:
    claimName: {{ include "persona-pipeline.blobClaimName" $root }}
{{- end }}
{{- if $root.Values.secrets.keyVault.enabled }}
- name: secrets-store
  csi:
    driver: secrets-store.csi.k8s.io
    readOnly: true
    volumeAttributes:
      secretProviderClass: {{ .spcName | default (include "persona-pipeline.fullname" $root) }}
{{- end }}
{{- end }}

{{/* SecretProviderClass spec (sync=true adds secretObjects syncing to "<fullname>-kv"). */}}
{{- define "persona-pipeline.spcSpec" -}}
{{- $kv := .root.Values.secrets.keyVault -}}
provider: azure
parameters:
  keyvaultName: {{ $kv.keyvaultName | quote }}
  tenantId: {{ $kv.tenantId | quote }}
  cloudName: ""
  {{- if $kv.useWorkloadIdentity }}
  usePodIdentity: "false"
  clientID: {{ $kv.clientId | quote }}
  {{- else }}
  useVMManagedIdentity: "true"
  userAssignedIdentityID: {{ $kv.clientId | quote }}
  {{- end }}
  objects: |
    array:
    {{- range $key, $name := $kv.objects }}
    {{- if or (not $.keys) (has $key $.keys) }}
      - |
        objectName: {{ $name }}
        objectType: secret
        objectAlias: {{ $key }}
    {{- end }}
    {{- end }}
{{- if .sync }}
secretObjects:
  - secretName: {{ include "persona-pipeline.secretName" .root }}
    type: Opaque
    data:
      {{- range $key, $name := $kv.objects }}
      - objectName: {{ $key }}
        key: {{ $key }}
      {{- end }}
{{- end }}
{{- end }}

{{- define "persona-pipeline.kedaRedisAddress" -}}
{{- if .Values.keda.redis.address }}
{{- .Values.keda.redis.address }}
{{- else }}
{{- printf "%s:6379" (include "persona-pipeline.componentName" (dict "root" . "component" "redis")) }}
{{- end }}
{{- end }}

{{/* CPU HorizontalPodAutoscaler. Arguments: root, component, autoscaling. */}}
{{- define "persona-pipeline.hpa" -}}
{{- $ctx := dict "root" .root "component" .component }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "persona-pipeline.componentName" $ctx }}
  labels:
    {{- include "persona-pipeline.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "persona-pipeline.componentName" $ctx }}
  minReplicas: {{ .autoscaling.minReplicas }}
  maxReplicas: {{ .autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
