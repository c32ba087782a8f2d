import type { ComponentChildren } from 'preact';
import { traceHref, type TraceSummary } from '../api';
import { fmtNanos, fmtTime } from '../format';

export function Status({ loading, error }: { loading: boolean; error: string | null }) {
  if (error)
    return (
      <p class="notice notice-error" role="alert">
        {error}
      </p>
    );
  if (loading)
    return (
      <p class="notice" role="status">
        Loading…
      </p>
    );
  return null;
}

export function PageHeader({ title, children }: { title: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1>{title}</h1>
      {children ? <div class="page-actions">{children}</div> : null}
    </div>
  );
}

export function TraceId({ id }: { id: string }) {
  const href = traceHref(id);
  return href ? (
    <a class="mono" href={href}>
      {id.toLowerCase()}
    </a>
  ) : (
    <span class="mono">{id}</span>
  );
}

// Search results; every row links to its trace page.
// Compact: for a half-width column, without span counts and services.
export function TraceTable({ traces, caption, compact }: { traces: TraceSummary[]; caption?: string; compact?: boolean }) {
  if (traces.length === 0) return <p class="empty">No traces found.</p>;
  if (compact) {
    return (
      <table class="grid compact">
        {caption ? <caption>{caption}</caption> : null}
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col">Root</th>
            <th scope="col" class="num">
              Duration
            </th>
            <th scope="col" class="num">
              Errors
            </th>
            <th scope="col">Trace</th>
          </tr>
        </thead>
        <tbody>
          {traces.map((t) => (
            <tr key={t.traceId} class={t.errorCount > 0 ? 'row-error' : undefined}>
              <td class="nowrap">{fmtTime(t.startTimeUnixNano, false)}</td>
              <td>{t.rootName || <em>root not read</em>}</td>
              <td class="num">{fmtNanos(t.durationNanos)}</td>
              <td class="num">{t.errorCount > 0 ? <span class="badge badge-error">{t.errorCount}</span> : '0'}</td>
              <td class="trace-cell">
                <TraceId id={t.traceId} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  return (
    <table class="grid">
      {caption ? <caption>{caption}</caption> : null}
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Root</th>
          <th scope="col" class="num">
            Duration
          </th>
          <th scope="col" class="num">
            Spans
          </th>
          <th scope="col" class="num">
            Errors
          </th>
          <th scope="col">Services</th>
          <th scope="col">Trace</th>
        </tr>
      </thead>
      <tbody>
        {traces.map((t) => (
          <tr key={t.traceId} class={t.errorCount > 0 ? 'row-error' : undefined}>
            <td class="nowrap">{fmtTime(t.startTimeUnixNano)}</td>
            <td>
              <span class="svc">{t.rootService || '?'}</span> {t.rootName || <em>root not read</em>}
            </td>
            <td class="num">{fmtNanos(t.durationNanos)}</td>
            <td class="num">{t.spanCount}</td>
            <td class="num">{t.errorCount > 0 ? <span class="badge badge-error">{t.errorCount}</span> : '0'}</td>
            <td class="services">{t.services.join(', ')}</td>
            <td>
              <TraceId id={t.traceId} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
