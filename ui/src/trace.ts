// A trace's spans from OTLP/JSON, as a tree with offsets from its start.
import type { OtlpAnyValue, OtlpKeyValue, OtlpSpan, OtlpTraces } from './api';

export interface SpanNode {
  span: OtlpSpan;
  id: string;
  service: string;
  resource: OtlpKeyValue[];
  scope: string;
  start: number; // ns after the trace's first span started
  end: number;
  error: boolean;
  depth: number;
  children: SpanNode[];
  parent: SpanNode | null;
  critical: boolean;
}

export interface Trace {
  roots: SpanNode[];
  spans: SpanNode[]; // depth first, children by start time
  duration: number; // ns
  startNs: string;
  services: string[];
}

function toBig(ns: string | undefined): bigint | null {
  try {
    return ns ? BigInt(ns) : null;
  } catch {
    return null;
  }
}

export function valueText(v: OtlpAnyValue | undefined): string {
  if (!v) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue) return `[${(v.arrayValue.values ?? []).map(valueText).join(', ')}]`;
  if (v.kvlistValue) return `{${(v.kvlistValue.values ?? []).map((kv) => `${kv.key}: ${valueText(kv.value)}`).join(', ')}}`;
  return '';
}

export function buildTrace(otlp: OtlpTraces): Trace {
  const raw: { span: OtlpSpan; service: string; resource: OtlpKeyValue[]; scope: string; start: bigint; end: bigint }[] = [];
  for (const rs of otlp.resourceSpans ?? []) {
    const resource = rs.resource?.attributes ?? [];
    const service = valueText(resource.find((a) => a.key === 'service.name')?.value) || 'unknown';
    for (const ss of rs.scopeSpans ?? []) {
      const scope = [ss.scope?.name, ss.scope?.version].filter(Boolean).join(' ');
      for (const span of ss.spans ?? []) {
        const start = toBig(span.startTimeUnixNano) ?? 0n;
        const end = toBig(span.endTimeUnixNano) ?? start;
        raw.push({ span, service, resource, scope, start, end: end < start ? start : end });
      }
    }
  }
  if (raw.length === 0) return { roots: [], spans: [], duration: 0, startNs: '0', services: [] };
  let min = raw[0].start;
  let max = raw[0].end;
  for (const r of raw) {
    if (r.start < min) min = r.start;
    if (r.end > max) max = r.end;
  }
  const nodes = raw.map(
    (r): SpanNode => ({
      span: r.span,
      id: r.span.spanId,
      service: r.service,
      resource: r.resource,
      scope: r.scope,
      start: Number(r.start - min),
      end: Number(r.end - min),
      error: r.span.status?.code === 2,
      depth: 0,
      children: [],
      parent: null,
      critical: false,
    }),
  );
  const byId = new Map<string, SpanNode>();
  for (const n of nodes) if (!byId.has(n.id)) byId.set(n.id, n);
  const roots: SpanNode[] = [];
  for (const n of nodes) {
    const parent = n.span.parentSpanId ? byId.get(n.span.parentSpanId) : undefined;
    if (parent && parent !== n) {
      n.parent = parent;
      parent.children.push(n);
    } else {
      roots.push(n);
    }
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.start - b.start || a.end - b.end;
  roots.sort(byStart);
  const ordered: SpanNode[] = [];
  const seen = new Set<SpanNode>();
  const visit = (n: SpanNode, depth: number) => {
    if (seen.has(n)) return; // a cycle of parent ids in hostile input
    seen.add(n);
    n.depth = depth;
    ordered.push(n);
    n.children.sort(byStart);
    for (const c of n.children) visit(c, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  markCriticalPath(roots);
  return {
    roots,
    spans: ordered,
    duration: Number(max - min),
    startNs: min.toString(),
    services: [...new Set(nodes.map((n) => n.service))].sort(),
  };
}

// The critical path: from the end of the longest root, the chain of spans
// that the parent waited on last. Walking back from a span's end, the child
// that finished last before the cursor is on the path, and the cursor moves
// to that child's start.
function markCriticalPath(roots: SpanNode[]) {
  if (roots.length === 0) return;
  const root = roots.reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a));
  const seen = new Set<SpanNode>();
  const walk = (n: SpanNode, limit: number) => {
    if (seen.has(n)) return;
    seen.add(n);
    n.critical = true;
    let cursor = Math.min(n.end, limit);
    const children = [...n.children].sort((a, b) => b.end - a.end);
    for (const c of children) {
      if (c.start >= cursor) continue;
      walk(c, cursor);
      cursor = c.start;
      if (cursor <= n.start) break;
    }
  };
  walk(root, root.end);
}
