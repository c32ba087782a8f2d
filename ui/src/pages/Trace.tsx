import { useEffect, useMemo, useState } from 'preact/hooks';
import { TRACE_ID, useFetch, type OtlpKeyValue, type OtlpTraces } from '../api';
import { PageHeader, Status, TraceId } from '../components/common';
import { fmtKind, fmtNanos, fmtTime } from '../format';
import { buildTrace, valueText, type SpanNode } from '../trace';
import { navigate } from '../router';

function Attributes({ list, caption }: { list: OtlpKeyValue[] | undefined; caption: string }) {
  if (!list || list.length === 0) return null;
  return (
    <table class="kv">
      <caption>{caption}</caption>
      <tbody>
        {list.map((kv, i) => (
          <tr key={i}>
            <th scope="row" class="mono">
              {kv.key}
            </th>
            <td class="mono">{valueText(kv.value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SpanDetail({ node, traceStart, onClose }: { node: SpanNode; traceStart: string; onClose: () => void }) {
  const s = node.span;
  const startNs = (() => {
    try {
      return (BigInt(traceStart) + BigInt(node.start)).toString();
    } catch {
      return undefined;
    }
  })();
  return (
    <aside class="span-detail" aria-labelledby="span-detail-title">
      <div class="span-detail-head">
        <h2 id="span-detail-title">{s.name || '(unnamed span)'}</h2>
        <button type="button" class="btn btn-small" onClick={onClose} aria-label="Close span details">
          Close
        </button>
      </div>
      <dl class="facts">
        <dt>Service</dt>
        <dd>{node.service}</dd>
        <dt>Kind</dt>
        <dd>{fmtKind(s.kind)}</dd>
        <dt>Status</dt>
        <dd class={node.error ? 'bad' : undefined}>
          {node.error ? 'ERROR' : s.status?.code === 1 ? 'OK' : 'UNSET'}
          {s.status?.message ? ` — ${s.status.message}` : ''}
        </dd>
        <dt>Duration</dt>
        <dd>{fmtNanos(node.end - node.start)}</dd>
        <dt>Started</dt>
        <dd>
          {fmtTime(startNs)} (+{fmtNanos(node.start)})
        </dd>
        <dt>Span id</dt>
        <dd class="mono">{s.spanId}</dd>
        {s.parentSpanId ? (
          <>
            <dt>Parent id</dt>
            <dd class="mono">{s.parentSpanId}</dd>
          </>
        ) : null}
        {node.scope ? (
          <>
            <dt>Scope</dt>
            <dd>{node.scope}</dd>
          </>
        ) : null}
        {node.critical ? (
          <>
            <dt>Critical path</dt>
            <dd>on it</dd>
          </>
        ) : null}
      </dl>
      <Attributes list={s.attributes} caption="Attributes" />
      {s.events && s.events.length > 0 ? (
        <section class="events">
          <h3>Events</h3>
          <ol>
            {s.events.map((ev, i) => {
              let offset = '';
              try {
                offset = fmtNanos(BigInt(ev.timeUnixNano ?? '0') - BigInt(traceStart));
              } catch {
                offset = '';
              }
              return (
                <li key={i}>
                  <span class="mono muted">+{offset}</span> {ev.name}
                  <Attributes list={ev.attributes} caption={`${ev.name ?? 'event'} attributes`} />
                </li>
              );
            })}
          </ol>
        </section>
      ) : null}
      <Attributes list={node.resource} caption="Resource" />
    </aside>
  );
}

export function TracePage({ id }: { id: string }) {
  const valid = TRACE_ID.test(id);
  const { data, error, loading } = useFetch<OtlpTraces>(valid ? `/api/v1/traces/${id}` : null);
  const trace = useMemo(() => (data ? buildTrace(data) : null), [data]);
  const [collapsed, setCollapsed] = useState<Set<SpanNode>>(new Set());
  const [selected, setSelected] = useState<SpanNode | null>(null);
  const [focusId, setFocusId] = useState<string | null>(null);

  useEffect(() => {
    setCollapsed(new Set());
    setSelected(null);
  }, [trace]);

  useEffect(() => {
    if (!focusId) return;
    const el = document.querySelector<HTMLElement>(`[data-span="${CSS.escape(focusId)}"] .wf-select`);
    el?.scrollIntoView({ block: 'center' });
    el?.focus();
    setFocusId(null);
  }, [focusId, collapsed]);

  if (!valid) {
    return (
      <div>
        <PageHeader title="Trace" />
        <p class="notice notice-error" role="alert">
          A trace id is 32 hex digits.
        </p>
      </div>
    );
  }

  const visible: SpanNode[] = [];
  if (trace) {
    const hidden = (n: SpanNode) => {
      for (let p = n.parent; p; p = p.parent) if (collapsed.has(p)) return true;
      return false;
    };
    for (const n of trace.spans) if (!hidden(n)) visible.push(n);
  }
  const firstError = trace?.spans.filter((n) => n.error).sort((a, b) => a.start - b.start)[0];
  const total = trace?.duration || 1;
  const root = trace?.roots[0];

  const toggle = (n: SpanNode) => {
    const next = new Set(collapsed);
    if (next.has(n)) next.delete(n);
    else next.add(n);
    setCollapsed(next);
  };
  const jumpToError = () => {
    if (!firstError) return;
    const next = new Set(collapsed);
    for (let p = firstError.parent; p; p = p.parent) next.delete(p);
    setCollapsed(next);
    setSelected(firstError);
    setFocusId(firstError.id);
  };

  return (
    <div>
      <PageHeader title="Trace">
        <button type="button" class="btn" onClick={jumpToError} disabled={!firstError}>
          Jump to first error
        </button>
        <button type="button" class="btn" onClick={() => setCollapsed(new Set())} disabled={collapsed.size === 0}>
          Expand all
        </button>
      </PageHeader>
      <p class="trace-id">
        <TraceId id={id} />
      </p>
      <Status loading={loading && !data} error={error} />
      {trace && trace.spans.length === 0 ? <p class="empty">The trace has no spans.</p> : null}
      {trace && trace.spans.length > 0 ? (
        <>
          <dl class="summary">
            <div>
              <dt>Root</dt>
              <dd>
                {root ? (
                  <>
                    <span class="svc">{root.service}</span> {root.span.name}
                  </>
                ) : (
                  '–'
                )}
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{fmtTime(trace.startNs)}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{fmtNanos(trace.duration)}</dd>
            </div>
            <div>
              <dt>Spans</dt>
              <dd>{trace.spans.length}</dd>
            </div>
            <div>
              <dt>Errors</dt>
              <dd class={firstError ? 'bad' : undefined}>{trace.spans.filter((n) => n.error).length}</dd>
            </div>
            <div>
              <dt>Services</dt>
              <dd>
                {trace.services.map((s, i) => (
                  <>
                    {i > 0 ? ', ' : ''}
                    <button type="button" class="link" onClick={() => navigate('service', s)}>
                      {s}
                    </button>
                  </>
                ))}
              </dd>
            </div>
          </dl>
          <p class="legend">
            <span class="key key-critical" /> critical path <span class="key key-bad" /> error
          </p>
          <div class={`trace-layout${selected ? ' with-detail' : ''}`}>
            <div class="waterfall" role="list" aria-label="Spans">
              <div class="wf-head" aria-hidden="true">
                <div class="wf-name">Service and span</div>
                <div class="wf-ticks">
                  {[0, 0.25, 0.5, 0.75, 1].map((f) => (
                    <span key={f} class="wf-tick" style={{ left: `${f * 100}%` }}>
                      {fmtNanos(total * f)}
                    </span>
                  ))}
                </div>
              </div>
              {visible.map((n) => {
                const left = (n.start / total) * 100;
                const width = Math.max(((n.end - n.start) / total) * 100, 0.2);
                const isCollapsed = collapsed.has(n);
                return (
                  <div
                    key={n.id + n.start}
                    role="listitem"
                    data-span={n.id}
                    class={`wf-row${n.error ? ' wf-error' : ''}${selected === n ? ' wf-selected' : ''}`}
                    onClick={() => setSelected(n)}
                  >
                    <div class="wf-name" style={{ paddingLeft: `${4 + n.depth * 14}px` }}>
                      {n.children.length > 0 ? (
                        <button
                          type="button"
                          class="wf-toggle"
                          aria-expanded={!isCollapsed}
                          aria-label={`${isCollapsed ? 'Expand' : 'Collapse'} ${n.children.length} child spans`}
                          onClick={(e) => {
                            e.stopPropagation();
                            toggle(n);
                          }}
                        >
                          {isCollapsed ? '▸' : '▾'}
                        </button>
                      ) : (
                        <span class="wf-toggle-space" />
                      )}
                      <button
                        type="button"
                        class="wf-select"
                        aria-pressed={selected === n}
                        onClick={(e) => {
                          e.stopPropagation();
                          setSelected(n);
                        }}
                      >
                        {n.error ? (
                          <span class="err-dot" role="img" aria-label="error">
                            !
                          </span>
                        ) : null}
                        <span class="svc">{n.service}</span> <span class="span-name">{n.span.name}</span>
                      </button>
                    </div>
                    <div class="wf-track">
                      <div
                        class={`wf-bar${n.error ? ' wf-bar-error' : ''}${n.critical ? ' wf-bar-critical' : ''}`}
                        style={{ left: `${left}%`, width: `${width}%` }}
                        title={n.critical ? 'on the critical path' : undefined}
                      />
                      <span class={`wf-dur${left > 70 ? ' wf-dur-left' : ''}`} style={left > 70 ? { right: `${100 - left}%` } : { left: `${left + width}%` }}>
                        {fmtNanos(n.end - n.start)}
                      </span>
                    </div>
                  </div>
                );
              })}
            </div>
            {selected ? <SpanDetail node={selected} traceStart={trace.startNs} onClose={() => setSelected(null)} /> : null}
          </div>
        </>
      ) : null}
    </div>
  );
}
