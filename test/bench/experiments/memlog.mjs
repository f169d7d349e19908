// Bench-only (--experiment memlog): loaded into a service with `node
// --import`, it writes the process's memoryUsage() to stderr every 2 s as
// one line, `[bench-mem] {...}` in MB, so the bench can tell the V8 heap
// from native memory when RSS grows. It changes no service code.
const mb = (bytes) => Math.round((bytes / 1048576) * 10) / 10
const timer = setInterval(() => {
  const m = process.memoryUsage()
  process.stderr.write(`[bench-mem] ${JSON.stringify({ rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) })}\n`)
}, 2000)
timer.unref()
