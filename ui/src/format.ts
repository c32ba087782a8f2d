// Numbers as the pages show them.

export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  const abs = Math.abs(s);
  if (abs === 0) return '0';
  if (abs < 1e-3) return `${(s * 1e6).toFixed(abs < 1e-5 ? 2 : 0)} µs`;
  if (abs < 1) return `${(s * 1e3).toFixed(abs < 0.01 ? 2 : abs < 0.1 ? 1 : 0)} ms`;
  if (abs < 60) return `${s.toFixed(2)} s`;
  if (abs < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

export function fmtNanos(ns: string | number | bigint | null | undefined): string {
  if (ns === null || ns === undefined) return '–';
  return fmtSeconds(Number(ns) / 1e9);
}

export function fmtRate(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '–';
  if (r === 0) return '0/s';
  if (r < 0.1) return `${(r * 60).toFixed(1)}/min`;
  return `${r < 10 ? r.toFixed(2) : r < 1000 ? r.toFixed(1) : Math.round(r).toLocaleString()}/s`;
}

export function fmtRatio(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '–';
  if (r === 0) return '0%';
  const pct = r * 100;
  return `${pct < 0.1 ? pct.toFixed(3) : pct < 10 ? pct.toFixed(2) : pct.toFixed(1)}%`;
}

export function fmtCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return Math.abs(n) < 10 ? n.toFixed(3) : n.toFixed(1);
}

export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

// Unix ns (a string: beyond 2^53) as local date and time to the millisecond.
export function fmtTime(ns: string | undefined, withDate = true): string {
  if (!ns) return '–';
  let ms: number;
  try {
    ms = Number(BigInt(ns) / 1000000n);
  } catch {
    return '–';
  }
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  if (!withDate) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function nsToSeconds(ns: string): number {
  try {
    return Number(BigInt(ns) / 1000n) / 1e6;
  } catch {
    return NaN;
  }
}

// "15m", "1h", "90s" to seconds; null if malformed.
export function parseWindow(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export const SPAN_KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

export function fmtKind(kind: number | string | undefined): string {
  if (kind === undefined) return SPAN_KINDS[0];
  if (typeof kind === 'number') return SPAN_KINDS[kind] ?? String(kind);
  return kind.replace(/^SPAN_KIND_/, '');
}
