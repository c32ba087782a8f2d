// Sends one fixed set of traces, logs and metrics to an OTLP endpoint with the
// OpenTelemetry JavaScript SDK and its own OTLP exporters, then exits 0 only if
// every export was acknowledged.
//
//   node send.mjs --protocol grpc|http/protobuf|http/json --endpoint HOST:PORT
//                 [--service NAME] [--compression none|gzip]
//
// The data is fixed (tests/integration/interop_js_test.cc checks it field by
// field); only the ids are random. Every span and log record is printed to
// stdout as it is made, so the checker can match ids:
//
//   span <name> <trace id> <span id> <parent span id or ->
//   log <index> <trace id or -> <span id or ->
//   exported traces=<spans> logs=<records> metrics=<exports>
//
// Timestamps are fixed nanosecond values past 2^53 so that any precision lost
// on the way (a 64-bit integer passed through a double) shows.

import { parseArgs } from 'node:util';

import {
  context, diag, DiagConsoleLogger, DiagLogLevel, SpanKind, SpanStatusCode, trace, ValueType,
} from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';

const { values: args } = parseArgs({
  options: {
    protocol: { type: 'string' },
    endpoint: { type: 'string' },
    service: { type: 'string', default: 'js-interop' },
    compression: { type: 'string', default: 'none' },
  },
});
const kExporters = {
  grpc: [TraceGrpc, LogsGrpc, MetricsGrpc],
  'http/protobuf': [TraceProto, LogsProto, MetricsProto],
  'http/json': [TraceJson, LogsJson, MetricsJson],
};
if (!kExporters[args.protocol] || !args.endpoint || !['none', 'gzip'].includes(args.compression)) {
  console.error('usage: send.mjs --protocol grpc|http/protobuf|http/json --endpoint HOST:PORT ' +
                '[--service NAME] [--compression none|gzip]');
  process.exit(2);
}

// The environment must not redirect or reshape the exports.
for (const name of Object.keys(process.env)) {
  if (name.startsWith('OTEL_')) delete process.env[name];
}
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

// Fixed data, mirrored in interop_js_test.cc.
const kBaseSeconds = 1700000000;
const kBaseNanos = 123456789;
const kChildren = 4;
const kBatchSpans = 40;
const kLogs = 5;

// [seconds, nanos] kBaseSeconds.kBaseNanos + `ms` milliseconds.
function At(ms) {
  const nanos = kBaseNanos + ms * 1000000;
  return [kBaseSeconds + Math.floor(nanos / 1e9), nanos % 1e9];
}

const failures = [];
const exported = { traces: 0, logs: 0, metrics: 0 };

// Wraps an exporter to record what it delivered and every failed export.
function Checked(signal, exporter) {
  return new Proxy(exporter, {
    get(target, prop) {
      if (prop === 'export') {
        return (items, done) => target.export(items, (result) => {
          if (result.code === ExportResultCode.SUCCESS) {
            exported[signal] += signal === 'metrics' ? 1 : items.length;
          } else {
            failures.push(`${signal}: ${result.error ? result.error.message : 'failed'}`);
          }
          done(result);
        });
      }
      const value = target[prop];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const [TraceExporter, LogExporter, MetricExporter] = kExporters[args.protocol];
const base = args.protocol === 'grpc' ? `http://${args.endpoint}` : `http://${args.endpoint}/v1`;
function Options(signal) {
  const url = args.protocol === 'grpc' ? base : `${base}/${signal}`;
  return { url, compression: args.compression, timeoutMillis: 10000 };
}

const resource = resourceFromAttributes({
  'service.name': args.service,
  'service.version': '1.2.3',
  'deployment.environment.name': 'interop',
});

// Traces: one request trace (root, children with events and statuses, a
// grandchild, a batch of siblings) and a second trace linked to it.
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(Checked('traces', new TraceExporter(Options('traces'))),
                                          { maxExportBatchSize: 16, scheduledDelayMillis: 50 })],
});
const tracer = tracerProvider.getTracer('sluice-interop', '0.1.0');

function Print(name, span, parent) {
  const sc = span.spanContext();
  console.log(`span ${name} ${sc.traceId} ${sc.spanId} ${parent ? parent.spanContext().spanId : '-'}`);
}

const root = tracer.startSpan('GET /orders/{id}', {
  kind: SpanKind.SERVER,
  startTime: At(0),
  attributes: {
    'http.route': '/orders/{id}',
    'http.response.status_code': 200,
    'cache.hit': true,
    'sampling.ratio': 0.25,
    'tags': ['a', 'b'],
  },
});
root.addEvent('request.received', { 'bytes': 512 }, At(1));
root.setStatus({ code: SpanStatusCode.OK });
Print('GET /orders/{id}', root);
const in_root = trace.setSpan(context.active(), root);

let decode_parent;
for (let i = 0; i < kChildren; ++i) {
  const child = tracer.startSpan(`query-${i}`, {
    kind: SpanKind.CLIENT,
    startTime: At(10 + i),
    attributes: { 'db.row': i, 'db.statement': `SELECT ${i}` },
  }, in_root);
  child.addEvent('retry', { 'attempt': i }, At(10 + i));
  if (i % 2 === 1) child.setStatus({ code: SpanStatusCode.ERROR, message: `failed ${i}` });
  Print(`query-${i}`, child, root);
  if (i === 0) decode_parent = child;
  else child.end(At(20 + i));
}
const decode = tracer.startSpan('decode', { startTime: At(11) },
                                trace.setSpan(context.active(), decode_parent));
Print('decode', decode, decode_parent);
decode.end(At(12));
decode_parent.end(At(20));

for (let i = 0; i < kBatchSpans; ++i) {
  const span = tracer.startSpan(`batch-${i}`, {
    startTime: At(30 + i),
    attributes: { 'batch.index': i },
  }, in_root);
  Print(`batch-${i}`, span, root);
  span.end(At(31 + i));
}
root.end(At(100));

const consume = tracer.startSpan('async.consume', {
  kind: SpanKind.CONSUMER,
  root: true,
  startTime: At(200),
  links: [{ context: root.spanContext(), attributes: { 'link.kind': 'follows_from' } }],
});
Print('async.consume', consume);
consume.end(At(201));

// Logs: kLogs records, the last an error inside the root span's context.
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor({
    exporter: Checked('logs', new LogExporter(Options('logs'))),
    scheduledDelayMillis: 50,
  })],
});
const logger = loggerProvider.getLogger('sluice-interop', '0.1.0');
for (let i = 0; i < kLogs; ++i) {
  const error = i === kLogs - 1;
  const record = {
    timestamp: At(300 + i),
    observedTimestamp: At(400 + i),
    severityNumber: error ? SeverityNumber.ERROR : SeverityNumber.INFO,
    severityText: error ? 'ERROR' : 'INFO',
    body: `log line ${i}`,
    attributes: { 'log.index': i, 'user.id': `u-${i}` },
  };
  if (error) record.context = in_root;
  logger.emit(record);
  const sc = error ? root.spanContext() : undefined;
  console.log(`log ${i} ${sc ? sc.traceId : '-'} ${sc ? sc.spanId : '-'}`);
}

// Metrics: a counter over two routes, a histogram and an observable gauge,
// exported once, cumulatively, at shutdown.
const reader = new PeriodicExportingMetricReader({
  exporter: Checked('metrics', new MetricExporter(Options('metrics'))),
  exportIntervalMillis: 3600000,
});
const meterProvider = new MeterProvider({ resource, readers: [reader] });
const meter = meterProvider.getMeter('sluice-interop', '0.1.0');
const requests = meter.createCounter('js.requests', {
  description: 'requests served',
  unit: '{request}',
  valueType: ValueType.INT,
});
requests.add(1, { 'route': '/a' });
requests.add(2, { 'route': '/a' });
requests.add(2, { 'route': '/b' });
const latency = meter.createHistogram('js.latency', { unit: 'ms' });
for (const v of [5, 15, 250]) latency.record(v, { 'route': '/a' });
meter.createObservableGauge('js.queue.depth').addCallback((result) => result.observe(7, { 'queue': 'q1' }));

try {
  // Shutting down flushes each provider; the meter provider collects and
  // exports once more, its only export.
  await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);
} catch (e) {
  failures.push(`flush: ${e.message}`);
}
console.log(`exported traces=${exported.traces} logs=${exported.logs} metrics=${exported.metrics}`);
if (failures.length > 0) {
  for (const f of failures) console.error(`export failed: ${f}`);
  process.exit(1);
}
