import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiUrl, traceHref, useFetch, type LogRecord, type LogsResponse } from '../api';
import { PageHeader, Status, TraceId } from '../components/common';
import { fmtTime, parseWindow } from '../format';
import { navigate } from '../router';

const SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const MAX_TAIL = 500;

function severityClass(n: number): string {
  if (n >= 21) return 'sev-fatal';
  if (n >= 17) return 'sev-error';
  if (n >= 13) return 'sev-warn';
  if (n >= 9) return 'sev-info';
  if (n >= 5) return 'sev-debug';
  return 'sev-trace';
}

function severityLabel(r: LogRecord): string {
  if (r.severityText) return r.severityText;
  const n = r.severityNumber;
  return n > 0 ? (SEVERITIES[Math.min(Math.floor((n - 1) / 4), 5)] ?? String(n)) : 'UNSET';
}

function display(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

interface Filters {
  service: string;
  severity: string;
  q: string;
  regex: string;
  attributes: string;
  trace_id: string;
  limit: string;
}

function filtersFrom(params: URLSearchParams): Filters {
  return {
    service: params.get('service') ?? '',
    severity: params.get('severity') ?? '',
    q: params.get('q') ?? '',
    regex: params.get('regex') ?? '',
    attributes: params.getAll('attribute').join('\n'),
    trace_id: params.get('trace_id') ?? '',
    limit: params.get('limit') ?? '100',
  };
}

function queryOf(f: Filters): Record<string, string | string[] | undefined> {
  return {
    service: f.service.trim() || undefined,
    severity: f.severity || undefined,
    q: f.q || undefined,
    regex: f.regex || undefined,
    attribute: f.attributes
      .split('\n')
      .map((a) => a.trim())
      .filter(Boolean),
    trace_id: f.trace_id.trim().toLowerCase() || undefined,
  };
}

function LogTable({ logs }: { logs: LogRecord[] }) {
  if (logs.length === 0) return <p class="empty">No log records found.</p>;
  return (
    <table class="grid logs">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Severity</th>
          <th scope="col">Service</th>
          <th scope="col">Body</th>
          <th scope="col">Trace</th>
        </tr>
      </thead>
      <tbody>
        {logs.map((r, i) => {
          const attrs = Object.entries(r.attributes ?? {});
          return (
            <tr key={`${r.timeUnixNano}:${i}`} class={`log-row row-${severityClass(r.severityNumber)}`}>
              <td class="nowrap mono">{fmtTime(r.timeUnixNano)}</td>
              <td>
                <span class={`sev ${severityClass(r.severityNumber)}`}>{severityLabel(r)}</span>
              </td>
              <td>{r.service}</td>
              <td class="body">
                <div class="log-body">{display(r.body)}</div>
                {attrs.length > 0 ? (
                  <details>
                    <summary>{attrs.length} attributes</summary>
                    <table class="kv">
                      <tbody>
                        {attrs.map(([k, v]) => (
                          <tr key={k}>
                            <th scope="row" class="mono">
                              {k}
                            </th>
                            <td class="mono">{display(v)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </details>
                ) : null}
              </td>
              <td>{r.traceId && traceHref(r.traceId) ? <TraceId id={r.traceId} /> : <span class="muted">–</span>}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function LogsPage({ win, params }: { win: string; params: URLSearchParams }) {
  const submitted = useMemo(() => filtersFrom(params), [params.toString()]);
  const before = params.get('before') ?? '';
  const [form, setForm] = useState(submitted);
  const [shown, setShown] = useState(submitted);
  if (shown !== submitted) {
    setShown(submitted);
    setForm(submitted);
  }
  // The `before` of each page already seen, to go back to newer records.
  const [pages, setPages] = useState<string[]>([]);
  const [live, setLive] = useState(false);
  const [tail, setTail] = useState<LogRecord[]>([]);
  const [tailNote, setTailNote] = useState('');

  const url = useMemo(() => {
    const start = String(Math.floor(Date.now() / 1000 - (parseWindow(win) ?? 900)));
    return apiUrl('/api/v1/logs', { ...queryOf(submitted), start, limit: submitted.limit || undefined, before: before || undefined });
  }, [submitted, before, win]);
  const { data, error, loading } = useFetch<LogsResponse>(live ? null : url);

  useEffect(() => {
    if (!live) return;
    setTail([]);
    setTailNote('Waiting for new records…');
    const source = new EventSource(apiUrl('/api/v1/logs/tail', queryOf(submitted)));
    source.onmessage = (e) => {
      try {
        const record = JSON.parse(e.data) as LogRecord;
        setTail((t) => [record, ...t].slice(0, MAX_TAIL));
        setTailNote('');
      } catch {
        // A malformed event is skipped; the stream goes on.
      }
    };
    source.addEventListener('dropped', (e) => setTailNote(`${(e as MessageEvent).data} records dropped: the browser read too slowly.`));
    source.onerror = () => setTailNote(source.readyState === EventSource.CLOSED ? 'The live tail closed.' : 'Reconnecting…');
    return () => source.close();
  }, [live, submitted]);

  const set = (key: keyof Filters) => (e: Event) => setForm({ ...form, [key]: (e.target as HTMLInputElement).value });
  const go = (f: Filters, beforeParam?: string) =>
    navigate('logs', undefined, { ...queryOf(f), limit: f.limit === '100' ? undefined : f.limit, before: beforeParam });
  const submit = (e: Event) => {
    e.preventDefault();
    setPages([]);
    go(form);
  };

  return (
    <div>
      <PageHeader title="Logs">
        <label class="check toggle">
          <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} />
          <span>Live tail</span>
        </label>
      </PageHeader>
      <form class="search" onSubmit={submit} aria-label="Log search">
        <label>
          <span>Service</span>
          <input name="service" value={form.service} onInput={set('service')} placeholder="any" />
        </label>
        <label>
          <span>Severity at least</span>
          <select name="severity" value={form.severity} onChange={set('severity')}>
            <option value="">any</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label class="wide">
          <span>Body contains</span>
          <input name="q" value={form.q} onInput={set('q')} />
        </label>
        <label>
          <span>Body matches (RE2)</span>
          <input name="regex" value={form.regex} onInput={set('regex')} class="mono" />
        </label>
        <label>
          <span>Attributes (key=value, one a line)</span>
          <textarea name="attributes" rows={1} value={form.attributes} onInput={set('attributes')} />
        </label>
        <label>
          <span>Trace id</span>
          <input name="trace_id" value={form.trace_id} onInput={set('trace_id')} class="mono" pattern="[0-9a-fA-F]{32}" />
        </label>
        <label>
          <span>Limit</span>
          <input type="number" min={1} max={1000} name="limit" value={form.limit} onInput={set('limit')} />
        </label>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary">
            Search
          </button>
        </div>
      </form>
      {live ? (
        <>
          <p class="muted" role="status">
            Live: {tail.length} records (newest first, at most {MAX_TAIL}). {tailNote}
          </p>
          <LogTable logs={tail} />
        </>
      ) : (
        <>
          <Status loading={loading} error={error} />
          {data ? (
            <>
              <p class="muted" role="status">
                {data.logs.length} records{data.partial ? ' (partial: the search hit its scan limit)' : ''}, newest first, last {win}
              </p>
              <LogTable logs={data.logs} />
              <div class="pager">
                <button
                  type="button"
                  class="btn"
                  disabled={pages.length === 0}
                  onClick={() => {
                    const previous = pages[pages.length - 1];
                    setPages(pages.slice(0, -1));
                    go(submitted, previous || undefined);
                  }}
                >
                  ← Newer
                </button>
                <button
                  type="button"
                  class="btn"
                  disabled={!data.next}
                  onClick={() => {
                    setPages([...pages, before]);
                    go(submitted, data.next ?? undefined);
                  }}
                >
                  Older →
                </button>
              </div>
            </>
          ) : null}
        </>
      )}
    </div>
  );
}
