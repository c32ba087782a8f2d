import { useMemo } from 'preact/hooks';
import { apiUrl, useFetch, type GraphEdge, type GraphResponse } from '../api';
import { PageHeader, Status } from '../components/common';
import { fmtRate, fmtRatio, fmtSeconds } from '../format';
import { layoutGraph } from '../layout';
import { navigate, onActivate } from '../router';

const W = 960;
const H = 440;
const R = 22;

function health(ratio: number): 'ok' | 'warn' | 'bad' {
  return ratio >= 0.05 ? 'bad' : ratio >= 0.01 ? 'warn' : 'ok';
}

function openFailing(e: GraphEdge) {
  navigate('traces', undefined, { service: e.client, error: 'true' });
}

export function GraphPage({ win }: { win: string }) {
  const { data, error, loading } = useFetch<GraphResponse>(apiUrl('/api/v1/graph', { window: win }));

  const placed = useMemo(() => {
    if (!data) return null;
    const ids = data.nodes.map((n) => n.id);
    for (const e of data.edges) for (const id of [e.client, e.server]) if (!ids.includes(id)) ids.push(id);
    return layoutGraph(ids, data.edges.map((e) => [e.client, e.server]), W, H);
  }, [data]);

  const maxRate = Math.max(1e-9, ...(data?.edges.map((e) => e.rate) ?? [0]));
  const virtual = new Set(data?.nodes.filter((n) => n.virtual).map((n) => n.id));

  return (
    <div>
      <PageHeader title="Service graph">
        <span class="legend">
          <span class="key key-ok" /> under 1% failed <span class="key key-warn" /> 1–5% <span class="key key-bad" /> 5% or more
        </span>
      </PageHeader>
      <Status loading={loading && !data} error={error} />
      {data && data.edges.length === 0 ? <p class="empty">No calls between services in the last {win}.</p> : null}
      {data && placed && data.edges.length > 0 ? (
        <>
          <svg class="graph" viewBox={`0 0 ${W} ${H}`} role="group" aria-label="Service graph: select an edge to see its failing traces">
            <defs>
              {['ok', 'warn', 'bad'].map((h) => (
                <marker id={`arrow-${h}`} class={`arrow-${h}`} viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto">
                  <path d="M 0 0 L 10 5 L 0 10 z" />
                </marker>
              ))}
            </defs>
            {data.edges.map((e) => {
              const a = placed.get(e.client)!;
              const b = placed.get(e.server)!;
              const dx = b.x - a.x;
              const dy = b.y - a.y;
              const d = Math.hypot(dx, dy) || 1;
              const x1 = a.x + (dx / d) * R;
              const y1 = a.y + (dy / d) * R;
              const x2 = b.x - (dx / d) * (R + 4);
              const y2 = b.y - (dy / d) * (R + 4);
              const h = health(e.failedRatio);
              const width = 1.5 + 3.5 * Math.sqrt(e.rate / maxRate);
              const label = `${e.client} → ${e.server}: ${fmtRate(e.rate)}, ${fmtRatio(e.failedRatio)} failed`;
              return (
                <g
                  key={`${e.client}>${e.server}`}
                  class={`edge edge-${h}`}
                  tabIndex={0}
                  role="link"
                  aria-label={`${label}; open its failing traces`}
                  onClick={() => openFailing(e)}
                  onKeyDown={onActivate(() => openFailing(e))}
                >
                  <title>{label}</title>
                  <line class="edge-hit" x1={x1} y1={y1} x2={x2} y2={y2} />
                  <line class="edge-line" x1={x1} y1={y1} x2={x2} y2={y2} stroke-width={width} marker-end={`url(#arrow-${h})`} />
                  <text class="edge-label" x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 6} text-anchor="middle">
                    {`${fmtRate(e.rate)} · ${fmtRatio(e.failedRatio)}`}
                  </text>
                </g>
              );
            })}
            {[...placed.values()].map((p) => {
              const isVirtual = virtual.has(p.id);
              const open = () => navigate('service', p.id);
              return (
                <g
                  key={p.id}
                  class={`node${isVirtual ? ' node-virtual' : ''}`}
                  transform={`translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`}
                  {...(isVirtual ? {} : { tabIndex: 0, role: 'link', onClick: open, onKeyDown: onActivate(open) })}
                  aria-label={isVirtual ? `${p.id} (not instrumented)` : `service ${p.id}`}
                >
                  <circle r={R} />
                  <text class="node-label" y={R + 15} text-anchor="middle">
                    {p.id}
                  </text>
                </g>
              );
            })}
          </svg>
          <section aria-labelledby="edges">
            <h2 id="edges">Edges</h2>
            <table class="grid">
              <thead>
                <tr>
                  <th scope="col">Client</th>
                  <th scope="col">Server</th>
                  <th scope="col" class="num">Requests</th>
                  <th scope="col" class="num">Rate</th>
                  <th scope="col" class="num">Failed</th>
                  <th scope="col" class="num">p50</th>
                  <th scope="col" class="num">p99</th>
                  <th scope="col">
                    <span class="sr-only">Traces</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.edges.map((e) => (
                  <tr key={`${e.client}>${e.server}`} class="edge-row">
                    <td>{e.client}</td>
                    <td>
                      {e.server}
                      {virtual.has(e.server) ? <span class="tag">virtual</span> : null}
                    </td>
                    <td class="num">{e.requests.toLocaleString('en-US')}</td>
                    <td class="num">{fmtRate(e.rate)}</td>
                    <td class={`num ${health(e.failedRatio)}`}>
                      {e.failed.toLocaleString('en-US')} ({fmtRatio(e.failedRatio)})
                    </td>
                    <td class="num">{fmtSeconds(e.p50)}</td>
                    <td class="num">{fmtSeconds(e.p99)}</td>
                    <td>
                      <button type="button" class="link" onClick={() => openFailing(e)}>
                        failing traces
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      ) : null}
    </div>
  );
}
