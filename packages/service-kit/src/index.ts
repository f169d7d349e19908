export {
  AUDIT_EVENT_TYPES,
  AUDIT_SCHEMA_VERSION,
  AuditActorSchema,
  AuditEventSchema,
  auditEventJsonSchema,
  auditEventProblems,
  AuditTargetSchema,
  isAuditEvent,
  type AuditActor,
  type AuditEvent,
  type AuditEventType,
  type AuditInput,
  type AuditOutcome,
  type AuditService,
  type AuditTarget
} from './audit/event.js'
export { AuditTrail, commandAuditTrail, type AuditCounts, type AuditStreamSettings, type AuditTrailOptions } from './audit/trail.js'
export { default as auditPlugin, traceIdFromHeader, type AuditFacts, type AuditPluginOptions, type RequestAuditInput } from './plugins/audit.js'
export { parseDocument, parseStructured } from './document.js'
export { JsonClient, JsonClientError, type JsonClientOptions, type JsonReply } from './json-client.js'
export { BaseConfigProperties, BaseConfigSchema, ConfigError, loadConfig, splitList, type BaseConfig } from './config.js'
export { isHttpUrl } from './urls.js'
export { autoSubmitPage, escapeHtml, html, page, raw, SafeHtml, type PageOptions } from './html.js'
export { capabilityFingerprint, loggerOptions, maskCapabilityPath, maskedPathLogSerializers, REDACTED_PATHS, requestLogSerializer, type LoggerSettings } from './logger.js'
export { default as errorsPlugin, errorCodeOf, errorPage, noteErrorCode, errorReplyJson, ErrorReplySchema, genericErrorCode, wantsHtml, type ErrorsPluginOptions, type HintedError } from './plugins/errors.js'
export { BASE_SECURITY_HEADERS, contentSecurityPolicy, default as securityHeadersPlugin, frameAncestorSources, type SecurityHeadersOptions } from './plugins/security-headers.js'
export { boundedLabel, Counter, Gauge, Histogram, instrumentStore, KitMetrics, LATENCY_BUCKETS, launchStepHistogram, processMetrics, replyCodeLabel, Registry, UNKNOWN_LABEL } from './metrics.js'
export { default as metricsPlugin, type MetricsPluginOptions } from './plugins/metrics.js'
export { default as healthPlugin, type ReadinessCheck } from './plugins/health.js'
export { default as serviceKit, type ServiceKitOptions } from './plugins/service-kit.js'
export { default as storePlugin, type StorePluginOptions } from './plugins/store.js'
export { currentTraceparent, inSpan, stopTracing, traceHeaders, traceLogFields, tracingEnabled, type TraceSpan } from './tracing/context.js'
export { createServer, httpTimeouts, registeredRoutes, startService, trustProxySetting, type RegisteredRoute, type ServiceDefinition, type ServiceServer } from './server.js'
export {
  createRedisClient,
  createStore,
  MemoryStore,
  redisConfigured,
  RedisStore,
  StoreUnavailableError,
  waitForRedis,
  type RedisClient,
  type RedisSettings,
  type Store,
  type StoreOperation
} from './store/index.js'
export { consumerName, createWorkQueue, jsonCodec, MemoryQueue, RedisStreamQueue, type PayloadCodec, type QueueEntry, type RedisStreamQueueOptions, type WorkQueue } from './queue/index.js'
