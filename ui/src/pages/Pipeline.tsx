import { useEffect, useMemo, useState } from 'preact/hooks';
import { useFetch, type MetricPoint, type PipelineResponse } from '../api';
import { Chart, type ChartSeries } from '../components/Chart';
import { PageHeader, Status } from '../components/common';
import { fmtCount, fmtRate, fmtSeconds, nsToSeconds, parseWindow } from '../format';

const SECTIONS: { key: keyof PipelineResponse; title: string }[] = [
  { key: 'receivers', title: 'Receivers' },
  { key: 'log', title: 'Log' },
  { key: 'exporters', title: 'Exporters' },
  { key: 'connectors', title: 'Connectors' },
  { key: 'processors', title: 'Processors' },
  { key: 'query', title: 'Query layer' },
];
const COLORS = ['#2f6fde', '#d68a1c', '#4a9d5b', '#8a4fd0', '#c2410c', '#0e8a8a', '#b0357a', '#5b6270'];

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function MetricTable({ points, title }: { points: MetricPoint[]; title: string }) {
  if (points.length === 0) return <p class="empty">None.</p>;
  return (
    <table class="grid metrics">
      <caption class="sr-only">{title}</caption>
      <thead>
        <tr>
          <th scope="col">Series</th>
          <th scope="col">Labels</th>
          <th scope="col" class="num">
            Value
          </th>
        </tr>
      </thead>
      <tbody>
        {points.map((p, i) => (
          <tr key={i}>
            <td class="mono">{p.name}</td>
            <td class="mono muted">{labelText(p.labels)}</td>
            <td class={`num${p.value > 0 && /(error|failed|corrupt|refused|dropped)/.test(p.name) ? ' bad' : ''}`}>{fmtCount(p.value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function PipelinePage({ win }: { win: string }) {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 10000);
    return () => clearInterval(t);
  }, []);
  const { data, error, loading } = useFetch<PipelineResponse>('/api/v1/pipeline', tick);

  const charts = useMemo(() => {
    if (!data) return null;
    const h = data.history;
    const all = h.times.map(nsToSeconds);
    const from = all.length ? all[all.length - 1] - (parseWindow(win) ?? 900) : 0;
    const first = Math.max(0, all.findIndex((t) => t >= from));
    const times = all.slice(first);
    const pick = (name: string) => h.series.filter((s) => s.name === name);
    const color = (i: number) => COLORS[i % COLORS.length];
    const lag: ChartSeries[] = pick('sluice_exporter_lag_seconds').map((s, i) => ({
      label: s.labels.exporter ?? labelText(s.labels),
      values: s.values.slice(first),
      color: color(i),
    }));
    // Counters as per-second rates between samples.
    const accepted: ChartSeries[] = h.series
      .filter((s) => /^sluice_receiver_accepted_.*_total$/.test(s.name))
      .map((s, i) => {
        const kind = s.name.replace(/^sluice_receiver_accepted_|_total$/g, '').replace(/_/g, ' ');
        const values = s.values.map((v, k) => {
          const prev = k > 0 ? s.values[k - 1] : null;
          if (v === null || prev === null || k === 0) return null;
          const dt = all[k] - all[k - 1] || h.intervalSeconds;
          return Math.max(0, (v - prev) / dt);
        });
        return { label: `${kind} (${s.labels.receiver ?? ''})`, values: values.slice(first), color: color(i) };
      });
    return { times, lag, accepted };
  }, [data, win]);

  return (
    <div>
      <PageHeader title="Pipeline">
        <span class="muted">{data ? `sampled every ${data.history.intervalSeconds}s · refreshed every 10s` : ''}</span>
      </PageHeader>
      <Status loading={loading && !data} error={error} />
      {charts ? (
        <section aria-labelledby="history">
          <h2 id="history">History</h2>
          {charts.times.length < 2 ? <p class="hint">History fills in as samples are taken (one every {data?.history.intervalSeconds}s).</p> : null}
          <div class="charts charts-2">
            <Chart title="Exporter lag (seconds behind the log)" times={charts.times} series={charts.lag} format={fmtSeconds} />
            <Chart title="Accepted per second" times={charts.times} series={charts.accepted} format={fmtRate} />
          </div>
        </section>
      ) : null}
      {data
        ? SECTIONS.map(({ key, title }) => (
            <section key={key} aria-labelledby={`sec-${key}`}>
              <h2 id={`sec-${key}`}>{title}</h2>
              <MetricTable points={data[key] as MetricPoint[]} title={title} />
            </section>
          ))
        : null}
    </div>
  );
}
