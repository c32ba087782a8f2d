// The web UI in Chromium against a real sluice: every page with data from
// `sluice loadgen --topology shop` (known services, edges and errors), hostile
// strings rendered as text, no console errors and no CSP violations.
//
//   node ui_browser_test.mjs --sluice BINARY [--screenshots DIR]
//
// Hermetic: free ports, a temporary directory for sluice's log and for
// Chromium's profile, and sluice is stopped at the end. Prints one line per
// check and exits 1 if any failed.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    sluice: { type: 'string' },
    screenshots: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    // Pages from this ui/dist, served by the test with the same CSP and /api/
    // passed to sluice, instead of the binary's embedded copy: for trying a UI
    // build without rebuilding sluice.
    dist: { type: 'string' },
  },
});
if (!args.sluice) {
  console.error('usage: node ui_browser_test.mjs --sluice BINARY [--screenshots DIR]');
  process.exit(2);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error('playwright-core is not installed in tests/ui: run `make js-deps`');
  process.exit(1);
}
if (!existsSync(args.chromium)) {
  console.error(`no Chromium at ${args.chromium}: run \`make deps\` (Debian's chromium package)`);
  process.exit(1);
}

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const SHOP_SERVICES = ['frontend', 'checkout', 'payments', 'notifier'];
const SHOP_EDGES = [
  ['frontend', 'checkout'],
  ['checkout', 'payments'],
  ['payments', 'notifier'],
];
const HOSTILE_SCRIPT = '<script>window.__pwned=1</script>';
const HOSTILE_IMG = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_URL = 'javascript:window.__pwned=1';
const HOSTILE_TRACE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const HOSTILE_LOG_LINE = `order 42 declined ${HOSTILE_SCRIPT}`;

const started = Date.now();
const results = [];
const tmp = mkdtempSync(join(tmpdir(), 'sluice-ui-test-'));
let sluice = null;
let context = null;

function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, String(e?.message ?? e).split('\n')[0]);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Serves `dist` as ui::Serve would (CSP, index.html fallback) and passes
// /api/ to sluice's admin port.
async function serveDist(dist, admin) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const server = createHttpServer((req, res) => {
    if (req.url.startsWith('/api/')) {
      const upstream = httpRequest(`http://${admin}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      return req.pipe(upstream);
    }
    let path = req.url.split('?')[0];
    if (path === '/' || !existsSync(join(dist, path))) path = '/index.html';
    res.writeHead(200, { 'Content-Type': types[extname(path)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP });
    res.end(readFileSync(join(dist, path)));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return `http://127.0.0.1:${server.address().port}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(binary, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv[0]} exited ${code}: ${out}`))));
  });
}

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (${last.message})` : ''}`);
}

async function stopSluice() {
  if (!sluice || sluice.exitCode !== null) return;
  const exited = new Promise((r) => sluice.once('exit', r));
  sluice.kill('SIGTERM');
  const timer = setTimeout(() => sluice.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

function otlpTraces(http) {
  const now = BigInt(Date.now()) * 1000000n;
  const attr = (key, value) => ({ key, value: { stringValue: value } });
  const span = (id, parent, name, offsetMs, lengthMs, error, attributes) => ({
    traceId: HOSTILE_TRACE,
    spanId: id,
    ...(parent ? { parentSpanId: parent } : {}),
    name,
    kind: 2,
    startTimeUnixNano: String(now + BigInt(offsetMs) * 1000000n),
    endTimeUnixNano: String(now + BigInt(offsetMs + lengthMs) * 1000000n),
    attributes,
    events: [{ timeUnixNano: String(now + BigInt(offsetMs + 1) * 1000000n), name: HOSTILE_IMG, attributes: [attr('url', HOSTILE_URL)] }],
    status: error ? { code: 2, message: HOSTILE_IMG } : {},
  });
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [attr('service.name', 'hostile'), attr('deployment', HOSTILE_SCRIPT)] },
        scopeSpans: [
          {
            scope: { name: HOSTILE_IMG },
            spans: [
              span('1111111111111111', '', 'GET /hostile', 0, 40, false, [attr('http.url', HOSTILE_URL)]),
              span('2222222222222222', '1111111111111111', HOSTILE_SCRIPT, 5, 30, true, [
                attr('note', HOSTILE_IMG),
                attr('link', HOSTILE_URL),
              ]),
            ],
          },
        ],
      },
    ],
  };
  return fetch(`http://${http}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

function otlpLogs(http) {
  const now = String(BigInt(Date.now()) * 1000000n);
  const attr = (key, value) => ({ key, value: { stringValue: value } });
  const body = {
    resourceLogs: [
      {
        resource: { attributes: [attr('service.name', 'hostile')] },
        scopeLogs: [
          {
            logRecords: [
              {
                timeUnixNano: now,
                observedTimeUnixNano: now,
                severityNumber: 17,
                severityText: 'ERROR',
                body: { stringValue: HOSTILE_LOG_LINE },
                attributes: [attr('link', HOSTILE_URL), attr('note', HOSTILE_IMG)],
                traceId: HOSTILE_TRACE,
                spanId: '2222222222222222',
              },
            ],
          },
        ],
      },
    ],
  };
  return fetch(`http://${http}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

async function main() {
  const [admin, grpc, http] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  // The embedded default (src/pipeline/service_config.cc) on free ports, a
  // temporary directory, and connectors that flush every second.
  const config = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${grpc}
      http:
        endpoint: ${http}
connectors:
  spanmetrics:
    histogram:
      exponential:
        max_size: 160
    metrics_flush_interval: 1s
  servicegraph:
    metrics_flush_interval: 1s
storage:
  directory: ${join(tmp, 'data')}
query:
  enabled: true
service:
  telemetry:
    metrics:
      address: ${admin}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics, servicegraph]
    metrics:
      receivers: [otlp]
    logs:
      receivers: [otlp]
    metrics/derived:
      receivers: [spanmetrics, servicegraph]
`;
  writeFileSync(join(tmp, 'sluice.yaml'), config);
  let sluiceLog = '';
  sluice = spawn(args.sluice, ['run', '--config', join(tmp, 'sluice.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  sluice.stdout.on('data', (d) => (sluiceLog += d));
  sluice.stderr.on('data', (d) => (sluiceLog += d));
  const base = `http://${admin}`;
  try {
    await waitFor('sluice to be healthy', async () => (await fetch(`${base}/healthz`)).ok, 20000);
  } catch (e) {
    console.error(sluiceLog);
    throw e;
  }

  // The UI's own answers: headers, gzip, the SPA fallback, what it declines.
  if (!args.dist) await step('ui served with its headers', async () => {
    const index = await fetch(`${base}/`);
    const html = await index.text();
    const h = index.headers;
    const ok =
      index.status === 200 &&
      h.get('content-type')?.startsWith('text/html') &&
      h.get('content-security-policy') === CSP &&
      h.get('x-content-type-options') === 'nosniff' &&
      h.get('referrer-policy') === 'no-referrer' &&
      h.get('cache-control') === 'no-cache' &&
      !h.has('access-control-allow-origin') &&
      html.includes('<div id="app">');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const asset = script ? await fetch(`${base}${script}`, { headers: { 'Accept-Encoding': 'gzip' } }) : null;
    const assetOk =
      asset?.status === 200 &&
      asset.headers.get('content-encoding') === 'gzip' &&
      asset.headers.get('cache-control')?.includes('immutable') &&
      asset.headers.get('content-type')?.startsWith('text/javascript');
    const deep = await fetch(`${base}/services/anything`);
    const missing = await fetch(`${base}/assets/missing.js`);
    const api = await fetch(`${base}/api/v1/nothing`);
    check(
      'ui served with its headers',
      Boolean(ok && assetOk && deep.status === 200 && missing.status === 404 && api.headers.get('content-type')?.includes('json')),
      `index ${index.status} ${h.get('content-type')}, asset ${asset?.status} ${asset?.headers.get('content-encoding')}, fallback ${deep.status}, missing ${missing.status}`,
    );
  });

  // Data: the shop topology, plain logs, and the hostile trace and log.
  const [shop] = await Promise.all([
    run(args.sluice, ['loadgen', '--topology', 'shop', '--rate', '30', '--duration', '6s', '--ramp', '0s', '--endpoint', http, '--no-progress']),
    run(args.sluice, ['loadgen', '--services', '3', '--rate', '0', '--logs-rate', '10', '--duration', '4s', '--ramp', '0s', '--endpoint', http, '--no-progress']),
    (async () => {
      const t = await otlpTraces(http);
      const l = await otlpLogs(http);
      check('hostile trace and log accepted', t.ok && l.ok, `traces ${t.status}, logs ${l.status}`);
    })(),
  ]);
  const shopErrors = [...shop.matchAll(/^edge (\S+)->(\S+) calls=(\d+) errors=(\d+)$/gm)];
  check('loadgen sent the shop topology with errors', shopErrors.some((m) => Number(m[4]) > 0), `${shopErrors.length} edges`);

  // The rollups need the connectors' flushes (every second) to be indexed.
  const services = await waitFor(
    'the services API to list the shop',
    async () => {
      const r = await fetch(`${base}/api/v1/services?window=15m`);
      if (!r.ok) throw new Error(`/api/v1/services: ${r.status}`);
      const body = await r.json();
      return SHOP_SERVICES.every((s) => body.services.some((x) => x.name === s && x.p99 > 0)) ? body : null;
    },
    25000,
  ).catch((e) => (check('services API ready', false, e.message), null));
  if (services) check('services API ready', true);
  await waitFor('the failing traces to be searchable', async () => {
    const r = await fetch(`${base}/api/v1/traces?service=checkout&error=true`);
    return r.ok && (await r.json()).traces.length > 0;
  }, 15000).catch((e) => check('trace search ready', false, e.message));

  const profile = join(tmp, 'chromium');
  mkdirSync(profile);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  // CSP violations are reported to the page as events; collect them.
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const cspViolations = [];
  const shot = async (name) => {
    if (!args.screenshots) return;
    mkdirSync(args.screenshots, { recursive: true });
    await page.waitForTimeout(300); // let charts finish their first draw
    await page.screenshot({ path: join(args.screenshots, name) });
  };
  const notPwned = async (where) => {
    const pwned = await page.evaluate(() => window.__pwned);
    const csp = await page.evaluate(() => window.__csp ?? []);
    cspViolations.push(...csp.map((c) => `${where}: ${c}`));
    if (pwned !== undefined) check(`inert on ${where}`, false, 'window.__pwned was set');
    const jsLinks = await page.locator('a[href^="javascript:" i], a[href*="__pwned"]').count();
    if (jsLinks > 0) check(`no data-built hrefs on ${where}`, false, `${jsLinks} links`);
  };
  const origin = args.dist ? await serveDist(args.dist, admin) : base;
  const goto = async (hash) => {
    await page.goto(`${origin}/${hash}`);
    await page.waitForSelector('main h1');
  };

  await step('services page', async () => {
    await goto('#/services?sort=p99');
    await page.waitForSelector('table.services tbody tr', { timeout: 10000 });
    const rows = await page.$$eval('table.services tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())),
    );
    const byName = new Map(rows.map((r) => [r[0], r]));
    const missing = SHOP_SERVICES.filter((s) => !byName.has(s));
    const zeroP99 = SHOP_SERVICES.filter((s) => byName.has(s) && /^(–|0)$/.test(byName.get(s)[7]));
    await shot('ui-services.png');
    await notPwned('services');
    check('services page lists the shop with non-zero p99', missing.length === 0 && zeroP99.length === 0, `missing [${missing}], zero p99 [${zeroP99}]`);
  });

  await step('service page', async () => {
    await goto('#/services');
    await page.locator('table.services [role=link]', { hasText: /^checkout$/ }).press('Enter');
    await page.waitForURL(/#\/service\/checkout$/);
    await page.waitForSelector('figure.chart canvas', { timeout: 10000 });
    await page.waitForSelector('h2:text("Operations") + table tbody tr', { timeout: 10000 });
    await page.waitForSelector('#failing ~ table tbody tr', { timeout: 10000 });
    await shot('ui-service.png');
    await notPwned('service');
    check('service page: RED charts, operations, failing traces', (await page.locator('figure.chart canvas').count()) >= 3);
  });

  await step('graph page', async () => {
    await goto('#/graph');
    await page.waitForSelector('svg.graph .edge', { timeout: 10000 });
    const edges = await page.$$eval('tr.edge-row', (trs) => trs.map((tr) => [tr.cells[0].textContent.trim(), tr.cells[1].childNodes[0].textContent.trim()]));
    const missing = SHOP_EDGES.filter(([c, s]) => !edges.some(([a, b]) => a === c && b === s)).map((e) => e.join('->'));
    const drawn = await page.locator('svg.graph .edge').count();
    await shot('ui-graph.png');
    await notPwned('graph');
    check('graph shows the known edges', missing.length === 0 && drawn === edges.length, `missing [${missing}], ${drawn} drawn`);
    await page.locator('svg.graph .edge[aria-label^="checkout → payments"]').click();
    await page.waitForURL(/#\/traces\?service=checkout&error=true/);
    check('an edge opens its failing traces', true);
  });

  let failingTrace = null;
  await step('traces page', async () => {
    await goto('#/traces?service=checkout&error=true');
    await page.waitForSelector('table.grid tbody tr a[href^="#/trace/"]', { timeout: 15000 });
    const errors = await page.$$eval('table.grid tbody tr', (trs) => trs.map((tr) => Number(tr.cells[4].textContent.trim())));
    await page.waitForSelector('figure.chart canvas');
    await shot('ui-traces.png');
    await notPwned('traces');
    check('a search for failing traces finds them', errors.length > 0 && errors.every((n) => n > 0), `${errors.length} traces`);
    failingTrace = await page.locator('table.grid tbody tr a[href^="#/trace/"]').first().getAttribute('href');
  });

  await step('trace page', async () => {
    if (!failingTrace) throw new Error('no failing trace to open');
    await page.locator(`a[href="${failingTrace}"]`).first().focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('.wf-row', { timeout: 10000 });
    const errorRows = await page.locator('.wf-row.wf-error').count();
    await page.getByRole('button', { name: 'Jump to first error' }).click();
    await page.waitForSelector('.wf-row.wf-selected.wf-error');
    const status = await page.locator('.span-detail dl.facts dd.bad').textContent();
    const critical = await page.locator('.wf-bar-critical').count();
    await shot('ui-trace.png');
    await notPwned('trace');
    check('trace waterfall shows the error span', errorRows > 0 && status.startsWith('ERROR') && critical > 0, `${errorRows} error spans, ${critical} on the critical path`);
    // Collapsing the root hides every other span.
    const rows = await page.locator('.wf-row').count();
    await page.locator('.wf-row').first().locator('.wf-toggle').click();
    const collapsed = await page.locator('.wf-row').count();
    check('spans collapse', rows > 1 && collapsed === 1, `${rows} rows, ${collapsed} collapsed`);
  });

  await step('hostile trace', async () => {
    await goto(`#/trace/${HOSTILE_TRACE}`);
    await page.waitForSelector('.wf-row', { timeout: 10000 });
    await page.locator('.wf-row.wf-error .wf-select').click();
    const name = await page.locator('.wf-row.wf-error .span-name').textContent();
    const detail = await page.locator('.span-detail').textContent();
    await notPwned('hostile trace');
    check(
      'hostile span name, attributes, events and resource shown as text',
      name === HOSTILE_SCRIPT && detail.includes(HOSTILE_IMG) && detail.includes(HOSTILE_URL) && detail.includes(HOSTILE_SCRIPT),
      JSON.stringify(name),
    );
  });

  await step('logs page', async () => {
    await goto('#/logs');
    await page.waitForSelector('table.logs tbody tr', { timeout: 10000 });
    await shot('ui-logs.png');
    await page.getByLabel('Body contains').fill('order 42 declined');
    await page.getByLabel('Body contains').press('Enter');
    await page.waitForURL(/q=order/);
    // The page before the search stays on screen until its answer arrives.
    await page
      .waitForFunction(
        (want) => {
          const rows = document.querySelectorAll('table.logs tbody tr .log-body');
          return rows.length === 1 && rows[0].textContent === want;
        },
        HOSTILE_LOG_LINE,
        { timeout: 10000 },
      )
      .catch(() => {});
    const bodies = await page.locator('table.logs tbody tr .log-body').allTextContents();
    await notPwned('logs');
    check('a log search finds the known line, as text', bodies.length === 1 && bodies[0] === HOSTILE_LOG_LINE, JSON.stringify(bodies));
    await page.locator(`table.logs a[href="#/trace/${HOSTILE_TRACE}"]`).click();
    await page.waitForURL(new RegExp(`#/trace/${HOSTILE_TRACE}$`));
    await page.waitForSelector('.wf-row');
    check('its trace link opens its trace', (await page.locator('.wf-row').count()) === 2);
    await notPwned('trace from logs');
  });

  await step('live tail', async () => {
    await goto('#/logs?service=hostile');
    await page.getByLabel('Live tail').check();
    await page.waitForSelector('p[role=status]:has-text("Live")');
    await sleep(300);
    await otlpLogs(http);
    await page.waitForSelector('table.logs tbody tr .log-body', { timeout: 10000 });
    await notPwned('live tail');
    check('live tail shows a new record', (await page.locator('table.logs tbody tr').count()) >= 1);
    await page.getByLabel('Live tail').uncheck();
  });

  await step('pipeline page', async () => {
    await goto('#/pipeline');
    await page.waitForSelector('figure.chart canvas', { timeout: 10000 });
    const legend = await page.locator('figure.chart:has-text("Exporter lag") .u-legend').textContent();
    await page.waitForSelector('h2:text("Exporters") + table tbody tr');
    await shot('ui-pipeline.png');
    await notPwned('pipeline');
    check('pipeline page shows the exporter lag series', legend.includes('query/index'), legend.slice(0, 80));
  });

  await step('keyboard navigation', async () => {
    await page.goto('about:blank');
    await goto('#/services');
    await page.keyboard.press('Tab'); // skip link
    await page.keyboard.press('Tab'); // first navigation link
    const first = await page.evaluate(() => document.activeElement?.textContent);
    check('tab reaches the navigation', first === 'Services', JSON.stringify(first));
  });

  check('no console errors', consoleErrors.length === 0, consoleErrors.slice(0, 5).join(' | '));
  check('no CSP violations', cspViolations.length === 0, cspViolations.slice(0, 5).join(' | '));
}

let failed = false;
try {
  await main();
} catch (e) {
  console.error(`FAIL ${e?.stack ?? e}`);
  failed = true;
} finally {
  await context?.close().catch(() => {});
  await stopSluice();
  rmSync(tmp, { recursive: true, force: true });
}
failed ||= results.some((r) => !r.ok);
console.log(`${results.filter((r) => r.ok).length}/${results.length} checks passed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
process.exit(failed ? 1 : 0);
