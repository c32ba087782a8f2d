import { apiUrl, useFetch, type ServicesResponse } from '../api';
import { PageHeader, Status } from '../components/common';
import { Sparkline } from '../components/Sparkline';
import { fmtRate, fmtRatio, fmtSeconds } from '../format';
import { navigate, onActivate } from '../router';

const SORTS = [
  { key: 'name', label: 'Name' },
  { key: 'rate', label: 'Rate' },
  { key: 'errors', label: 'Error ratio' },
  { key: 'p99', label: 'p99' },
];

export function ServicesPage({ win, params }: { win: string; params: URLSearchParams }) {
  const sort = SORTS.some((s) => s.key === params.get('sort')) ? params.get('sort')! : 'name';
  const { data, error, loading } = useFetch<ServicesResponse>(apiUrl('/api/v1/services', { window: win, sort }));

  const sortHeader = (key: string, label: string, numeric: boolean) => (
    <th scope="col" class={numeric ? 'num' : undefined} aria-sort={sort === key ? (numeric ? 'descending' : 'ascending') : undefined}>
      <button type="button" class={`sort${sort === key ? ' sort-active' : ''}`} onClick={() => navigate('services', undefined, { sort: key })}>
        {label}
        <span aria-hidden="true">{sort === key ? (numeric ? ' ↓' : ' ↑') : ''}</span>
      </button>
    </th>
  );

  return (
    <div>
      <PageHeader title="Services">
        <span class="muted">
          {data ? `${data.services.length} services · last ${win} · ${data.step}s per point` : ''}
        </span>
      </PageHeader>
      <Status loading={loading && !data} error={error} />
      {data && data.services.length === 0 ? <p class="empty">No service sent spans in the last {win}.</p> : null}
      {data && data.services.length > 0 ? (
        <table class="grid services">
          <thead>
            <tr>
              {sortHeader('name', 'Service', false)}
              {sortHeader('rate', 'Rate', true)}
              <th scope="col">
                <span class="sr-only">Rate over time</span>
              </th>
              {sortHeader('errors', 'Error ratio', true)}
              <th scope="col">
                <span class="sr-only">Error ratio over time</span>
              </th>
              <th scope="col" class="num">
                p50
              </th>
              <th scope="col" class="num">
                p95
              </th>
              {sortHeader('p99', 'p99', true)}
              <th scope="col">
                <span class="sr-only">p99 over time</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.services.map((s) => {
              const open = () => navigate('service', s.name);
              return (
                <tr key={s.name} class="clickable" onClick={open}>
                  <td>
                    <span role="link" tabIndex={0} class="link" onKeyDown={onActivate(open)}>
                      {s.name}
                    </span>
                  </td>
                  <td class="num">{fmtRate(s.rate)}</td>
                  <td class="spark-cell">
                    <Sparkline values={s.spark?.rate} label={`${s.name} rate`} />
                  </td>
                  <td class={`num${s.errorRatio >= 0.05 ? ' bad' : s.errorRatio >= 0.01 ? ' warn' : ''}`}>{fmtRatio(s.errorRatio)}</td>
                  <td class="spark-cell">
                    <Sparkline values={s.spark?.errorRatio} label={`${s.name} error ratio`} tone="error" />
                  </td>
                  <td class="num">{fmtSeconds(s.p50)}</td>
                  <td class="num">{fmtSeconds(s.p95)}</td>
                  <td class="num strong">{fmtSeconds(s.p99)}</td>
                  <td class="spark-cell">
                    <Sparkline values={s.spark?.p99} label={`${s.name} p99`} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
