// The query API's shapes (docs/api.md) and a fetch hook for them.
import { useEffect, useState } from 'preact/hooks';

export interface ServiceSummary {
  name: string;
  calls: number;
  errors: number;
  rate: number;
  errorRatio: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  spark?: { rate?: (number | null)[]; errorRatio?: (number | null)[]; p99?: (number | null)[] };
}
export interface ServicesResponse {
  window: number;
  step: number;
  end: string;
  services: ServiceSummary[];
}

export interface Operation {
  name: string;
  kind: string;
  calls: number;
  errors: number;
  rate: number;
  errorRatio: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
export interface ServiceResponse {
  name: string;
  window: number;
  step: number;
  end: string;
  series: {
    times: string[];
    rate: (number | null)[];
    errorRatio: (number | null)[];
    p50: (number | null)[];
    p95: (number | null)[];
    p99: (number | null)[];
  };
  operations: Operation[];
}

export interface GraphNode {
  id: string;
  virtual: boolean;
}
export interface GraphEdge {
  client: string;
  server: string;
  requests: number;
  failed: number;
  rate: number;
  failedRatio: number;
  p50: number | null;
  p99: number | null;
}
export interface GraphResponse {
  window: number;
  end: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface TraceSummary {
  traceId: string;
  rootService: string;
  rootName: string;
  startTimeUnixNano: string;
  durationNanos: string;
  spanCount: number;
  errorCount: number;
  services: string[];
}
export interface SearchResponse {
  traces: TraceSummary[];
  partial: boolean;
  scannedBytes: string;
  segmentsRead: number;
}

export interface LogRecord {
  timeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: string;
  service: string;
  traceId?: string;
  spanId?: string;
  attributes?: Record<string, unknown>;
  resource?: Record<string, unknown>;
}
export interface LogsResponse {
  logs: LogRecord[];
  next: string | null;
  partial: boolean;
  scannedBytes: string;
}

export interface MetricPoint {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface PipelineResponse {
  now: string;
  receivers: MetricPoint[];
  log: MetricPoint[];
  exporters: MetricPoint[];
  connectors: MetricPoint[];
  processors: MetricPoint[];
  query: MetricPoint[];
  history: {
    intervalSeconds: number;
    times: string[];
    series: { name: string; labels: Record<string, string>; values: (number | null)[] }[];
  };
}

// OTLP/JSON (ExportTraceServiceRequest) as GET /api/v1/traces/{id} answers it.
export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: OtlpKeyValue[];
  events?: { timeUnixNano?: string; name?: string; attributes?: OtlpKeyValue[] }[];
  links?: { traceId?: string; spanId?: string; attributes?: OtlpKeyValue[] }[];
  status?: { code?: number; message?: string };
}
export interface OtlpTraces {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[];
  }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { signal, headers: { Accept: 'application/json' } });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // An answer that is not JSON (a proxy's error page, say) is reported below.
  }
  if (!response.ok) {
    const message =
      body && typeof body === 'object' && 'error' in body ? String((body as { error: unknown }).error) : text.trim();
    throw new ApiError(response.status, `${response.status}: ${message || response.statusText}`);
  }
  if (body === null) throw new ApiError(response.status, 'the answer is not JSON');
  return body as T;
}

export function apiUrl(path: string, params?: Record<string, string | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export interface Fetched<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

// Fetches `url` (nothing while it is null), again when it changes or `tick`
// does; the previous answer stays shown while the next one loads.
export function useFetch<T>(url: string | null, tick = 0): Fetched<T> {
  const [state, setState] = useState<Fetched<T>>({ data: null, error: null, loading: url !== null });
  useEffect(() => {
    if (url === null) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    getJson<T>(url, abort.signal).then(
      (data) => setState({ data, error: null, loading: false }),
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setState({ data: null, error: e instanceof Error ? e.message : String(e), loading: false });
      },
    );
    return () => abort.abort();
  }, [url, tick]);
  return state;
}

export const TRACE_ID = /^[0-9a-f]{32}$/;

// The only href ever built from data: a trace page, for a well-formed id.
export function traceHref(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const lower = id.toLowerCase();
  return TRACE_ID.test(lower) ? `#/trace/${lower}` : undefined;
}
