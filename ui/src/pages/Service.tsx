import { useMemo } from 'preact/hooks';
import { apiUrl, useFetch, type SearchResponse, type ServiceResponse } from '../api';
import { Chart, type ChartSeries } from '../components/Chart';
import { PageHeader, Status, TraceTable } from '../components/common';
import { fmtKind, fmtRate, fmtRatio, fmtSeconds, nsToSeconds, parseWindow } from '../format';
import { navigate } from '../router';

export function ServicePage({ name, win }: { name: string; win: string }) {
  const { data, error, loading } = useFetch<ServiceResponse>(
    name ? apiUrl(`/api/v1/services/${encodeURIComponent(name)}`, { window: win }) : null,
  );
  const start = useMemo(() => String(Math.floor(Date.now() / 1000 - (parseWindow(win) ?? 900))), [win, name]);
  const slowest = useFetch<SearchResponse>(apiUrl('/api/v1/traces', { service: name, order: 'slowest', limit: '10', start }));
  const failing = useFetch<SearchResponse>(apiUrl('/api/v1/traces', { service: name, error: 'true', limit: '10', start }));

  const charts = useMemo(() => {
    if (!data) return null;
    const times = data.series.times.map(nsToSeconds);
    const rate: ChartSeries[] = [{ label: 'calls/s', values: data.series.rate, color: '#2f6fde' }];
    const errors: ChartSeries[] = [{ label: 'error ratio', values: data.series.errorRatio, color: '#d0342c' }];
    const latency: ChartSeries[] = [
      { label: 'p50', values: data.series.p50, color: '#4a9d5b' },
      { label: 'p95', values: data.series.p95, color: '#d68a1c' },
      { label: 'p99', values: data.series.p99, color: '#c2410c' },
    ];
    return { times, rate, errors, latency };
  }, [data]);

  return (
    <div>
      <PageHeader title={<>Service <span class="svc-title">{name}</span></>}>
        <button type="button" class="btn" onClick={() => navigate('traces', undefined, { service: name, error: 'true' })}>
          Failing traces
        </button>
        <button type="button" class="btn" onClick={() => navigate('logs', undefined, { service: name })}>
          Logs
        </button>
      </PageHeader>
      <Status loading={loading && !data} error={error} />
      {charts ? (
        <section aria-labelledby="red">
          <h2 id="red">Rate, errors, duration</h2>
          <div class="charts">
            <Chart title="Rate (calls per second)" times={charts.times} series={charts.rate} format={fmtRate} />
            <Chart title="Error ratio" times={charts.times} series={charts.errors} format={fmtRatio} />
            <Chart title="Latency" times={charts.times} series={charts.latency} format={fmtSeconds} />
          </div>
        </section>
      ) : null}
      {data ? (
        <section aria-labelledby="ops">
          <h2 id="ops">Operations</h2>
          {data.operations.length === 0 ? (
            <p class="empty">No operations.</p>
          ) : (
            <table class="grid">
              <thead>
                <tr>
                  <th scope="col">Operation</th>
                  <th scope="col">Kind</th>
                  <th scope="col" class="num">Calls</th>
                  <th scope="col" class="num">Rate</th>
                  <th scope="col" class="num">Error ratio</th>
                  <th scope="col" class="num">p50</th>
                  <th scope="col" class="num">p95</th>
                  <th scope="col" class="num">p99</th>
                </tr>
              </thead>
              <tbody>
                {data.operations.map((op) => (
                  <tr key={`${op.kind}/${op.name}`}>
                    <td>
                      <button
                        type="button"
                        class="link"
                        onClick={() => navigate('traces', undefined, { service: name, operation: op.name })}
                      >
                        {op.name}
                      </button>
                    </td>
                    <td class="muted">{fmtKind(op.kind)}</td>
                    <td class="num">{op.calls.toLocaleString('en-US')}</td>
                    <td class="num">{fmtRate(op.rate)}</td>
                    <td class={`num${op.errorRatio >= 0.05 ? ' bad' : op.errorRatio >= 0.01 ? ' warn' : ''}`}>{fmtRatio(op.errorRatio)}</td>
                    <td class="num">{fmtSeconds(op.p50)}</td>
                    <td class="num">{fmtSeconds(op.p95)}</td>
                    <td class="num strong">{fmtSeconds(op.p99)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
      <div class="two-col">
        <section aria-labelledby="slowest">
          <h2 id="slowest">Slowest traces</h2>
          <Status loading={slowest.loading && !slowest.data} error={slowest.error} />
          {slowest.data ? <TraceTable traces={slowest.data.traces} compact /> : null}
        </section>
        <section aria-labelledby="failing">
          <h2 id="failing">Failing traces</h2>
          <Status loading={failing.loading && !failing.data} error={failing.error} />
          {failing.data ? <TraceTable traces={failing.data.traces} compact /> : null}
        </section>
      </div>
    </div>
  );
}
