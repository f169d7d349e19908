import { startTracing } from '@ltilaunch/service-kit/tracing'

// Tracing is on only where an OTLP endpoint is set (docs/operator-guide.md, Traces).
await startTracing('spawner-broker')
