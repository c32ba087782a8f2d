import { useMemo, useState } from 'preact/hooks';
import { apiUrl, traceHref, useFetch, type SearchResponse } from '../api';
import { Chart, type ChartSeries } from '../components/Chart';
import { PageHeader, Status, TraceTable } from '../components/common';
import { fmtSeconds, nsToSeconds, parseWindow } from '../format';
import { navigate } from '../router';

// The search form's fields, as they are kept in the page's hash.
interface Form {
  service: string;
  operation: string;
  attributes: string; // one key=value a line
  min_duration: string;
  max_duration: string;
  error: boolean;
  from: string; // datetime-local; empty: the time window
  to: string;
  limit: string;
  order: string;
}

function formFrom(params: URLSearchParams): Form {
  return {
    service: params.get('service') ?? '',
    operation: params.get('operation') ?? '',
    attributes: params.getAll('attribute').join('\n'),
    min_duration: params.get('min_duration') ?? '',
    max_duration: params.get('max_duration') ?? '',
    error: params.get('error') === 'true',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
    limit: params.get('limit') ?? '50',
    order: params.get('order') ?? 'newest',
  };
}

function toSeconds(local: string): string | undefined {
  if (!local) return undefined;
  const ms = new Date(local).getTime();
  return Number.isFinite(ms) ? String(ms / 1000) : undefined;
}

export function TracesPage({ win, params }: { win: string; params: URLSearchParams }) {
  const submitted = useMemo(() => formFrom(params), [params.toString()]);
  const [form, setForm] = useState<Form>(submitted);
  const [shown, setShown] = useState(submitted);
  if (shown !== submitted) {
    setShown(submitted);
    setForm(submitted);
  }

  const url = useMemo(() => {
    const attributes = submitted.attributes
      .split('\n')
      .map((a) => a.trim())
      .filter(Boolean);
    const windowStart = String(Math.floor(Date.now() / 1000 - (parseWindow(win) ?? 900)));
    return apiUrl('/api/v1/traces', {
      service: submitted.service || undefined,
      operation: submitted.operation || undefined,
      attribute: attributes,
      min_duration: submitted.min_duration || undefined,
      max_duration: submitted.max_duration || undefined,
      error: submitted.error ? 'true' : undefined,
      start: toSeconds(submitted.from) ?? windowStart,
      end: toSeconds(submitted.to),
      limit: submitted.limit || undefined,
      order: submitted.order,
    });
  }, [submitted, win]);
  const { data, error, loading } = useFetch<SearchResponse>(url);

  const scatter = useMemo(() => {
    if (!data || data.traces.length === 0) return null;
    const sorted = [...data.traces].sort((a, b) => nsToSeconds(a.startTimeUnixNano) - nsToSeconds(b.startTimeUnixNano));
    const times = sorted.map((t) => nsToSeconds(t.startTimeUnixNano));
    const series: ChartSeries[] = [
      { label: 'ok', values: sorted.map((t) => (t.errorCount > 0 ? null : Number(t.durationNanos) / 1e9)), color: '#2f6fde', points: true },
      { label: 'failed', values: sorted.map((t) => (t.errorCount > 0 ? Number(t.durationNanos) / 1e9 : null)), color: '#d0342c', points: true },
    ];
    return { sorted, times, series };
  }, [data]);

  const set = (key: keyof Form) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setForm({ ...form, [key]: t.type === 'checkbox' ? t.checked : t.value });
  };

  const submit = (e: Event) => {
    e.preventDefault();
    navigate('traces', undefined, {
      service: form.service.trim(),
      operation: form.operation.trim(),
      attribute: form.attributes
        .split('\n')
        .map((a) => a.trim())
        .filter(Boolean),
      min_duration: form.min_duration.trim(),
      max_duration: form.max_duration.trim(),
      error: form.error ? 'true' : undefined,
      from: form.from,
      to: form.to,
      limit: form.limit,
      order: form.order === 'newest' ? undefined : form.order,
    });
  };

  return (
    <div>
      <PageHeader title="Traces" />
      <form class="search" onSubmit={submit} aria-label="Trace search">
        <label>
          <span>Service</span>
          <input name="service" value={form.service} onInput={set('service')} placeholder="any" />
        </label>
        <label>
          <span>Operation</span>
          <input name="operation" value={form.operation} onInput={set('operation')} placeholder="any (needs a service)" />
        </label>
        <label class="wide">
          <span>Attributes (key=value, one a line)</span>
          <textarea name="attributes" rows={1} value={form.attributes} onInput={set('attributes')} placeholder="http.route=/cart" />
        </label>
        <label>
          <span>Min duration</span>
          <input name="min_duration" value={form.min_duration} onInput={set('min_duration')} placeholder="250ms" />
        </label>
        <label>
          <span>Max duration</span>
          <input name="max_duration" value={form.max_duration} onInput={set('max_duration')} placeholder="2s" />
        </label>
        <label>
          <span>From</span>
          <input type="datetime-local" step="1" name="from" value={form.from} onInput={set('from')} />
        </label>
        <label>
          <span>To</span>
          <input type="datetime-local" step="1" name="to" value={form.to} onInput={set('to')} />
        </label>
        <label>
          <span>Limit</span>
          <input type="number" min={1} max={1000} name="limit" value={form.limit} onInput={set('limit')} />
        </label>
        <label>
          <span>Order</span>
          <select name="order" value={form.order} onChange={set('order')}>
            <option value="newest">newest first</option>
            <option value="slowest">slowest first</option>
          </select>
        </label>
        <label class="check">
          <input type="checkbox" name="error" checked={form.error} onChange={set('error')} />
          <span>Failed only</span>
        </label>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary">
            Search
          </button>
        </div>
      </form>
      <p class="hint">Without From, the search covers the time window (last {win}).</p>
      <Status loading={loading} error={error} />
      {data ? (
        <p class="muted" role="status">
          {data.traces.length} traces{data.partial ? ' (partial: the search hit its scan limit)' : ''} · {data.segmentsRead} segments read
        </p>
      ) : null}
      {scatter ? (
        <Chart
          title="Duration over time (select a point to open its trace)"
          times={scatter.times}
          series={scatter.series}
          format={fmtSeconds}
          height={200}
          onPick={(i) => {
            const href = traceHref(scatter.sorted[i]?.traceId);
            if (href) window.location.hash = href;
          }}
        />
      ) : null}
      {data ? <TraceTable traces={data.traces} /> : null}
    </div>
  );
}
