import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { useRoute } from './router';
import { ServicesPage } from './pages/Services';
import { ServicePage } from './pages/Service';
import { GraphPage } from './pages/Graph';
import { TracesPage } from './pages/Traces';
import { TracePage } from './pages/Trace';
import { LogsPage } from './pages/Logs';
import { PipelinePage } from './pages/Pipeline';

const NAV = [
  { page: 'services', label: 'Services' },
  { page: 'graph', label: 'Service graph' },
  { page: 'traces', label: 'Traces' },
  { page: 'logs', label: 'Logs' },
  { page: 'pipeline', label: 'Pipeline' },
];
// Pages whose answers depend on the time window; the others ignore it.
const WINDOWED = new Set(['services', 'service', 'graph', 'traces', 'logs', 'pipeline']);
const WINDOWS = ['5m', '15m', '1h', '6h', '24h'];

function App() {
  const route = useRoute();
  const [win, setWin] = useState(() => {
    const saved = sessionStorage.getItem('sluice.window');
    return saved && WINDOWS.includes(saved) ? saved : '15m';
  });
  useEffect(() => sessionStorage.setItem('sluice.window', win), [win]);

  const active = route.page === 'service' ? 'services' : route.page === 'trace' ? 'traces' : route.page;
  useEffect(() => {
    const label = NAV.find((n) => n.page === active)?.label ?? 'sluice';
    document.title = `${label} · sluice`;
    window.scrollTo(0, 0);
  }, [route.page, route.arg]);

  let page;
  switch (route.page) {
    case 'services':
      page = <ServicesPage win={win} params={route.params} />;
      break;
    case 'service':
      page = <ServicePage name={route.arg} win={win} />;
      break;
    case 'graph':
      page = <GraphPage win={win} />;
      break;
    case 'traces':
      page = <TracesPage win={win} params={route.params} />;
      break;
    case 'trace':
      page = <TracePage id={route.arg} />;
      break;
    case 'logs':
      page = <LogsPage win={win} params={route.params} />;
      break;
    case 'pipeline':
      page = <PipelinePage win={win} />;
      break;
    default:
      page = (
        <div>
          <h1>Not found</h1>
          <p>There is no such page.</p>
        </div>
      );
  }

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">sluice</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.page}>
                <a href={`#/${n.page}`} aria-current={active === n.page ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {WINDOWED.has(route.page) ? (
          <label class="window">
            <span>Time window</span>
            <select value={win} onChange={(e) => setWin((e.target as HTMLSelectElement).value)}>
              {WINDOWS.map((w) => (
                <option key={w} value={w}>
                  last {w}
                </option>
              ))}
            </select>
          </label>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
