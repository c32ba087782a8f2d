// Hash routing: #/<page>[/<arg>][?<query>]. Navigation never builds an href
// from data (except trace ids, api.ts traceHref): it sets location.hash with
// every part URI-encoded.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  page: string;
  arg: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const slash = path.indexOf('/');
  const page = slash < 0 ? path : path.slice(0, slash);
  let arg = '';
  if (slash >= 0) {
    try {
      arg = decodeURIComponent(path.slice(slash + 1));
    } catch {
      arg = '';
    }
  }
  return { page: page || 'services', arg, params };
}

export function routeHash(page: string, arg?: string, params?: Record<string, string | string[] | undefined>): string {
  let hash = `#/${page}`;
  if (arg !== undefined) hash += `/${encodeURIComponent(arg)}`;
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, v);
  }
  const s = q.toString();
  return s ? `${hash}?${s}` : hash;
}

export function navigate(page: string, arg?: string, params?: Record<string, string | string[] | undefined>) {
  window.location.hash = routeHash(page, arg, params);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

// Enter or Space on an element that acts as a button or link.
export function onActivate(action: () => void) {
  return (e: KeyboardEvent) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      action();
    }
  };
}
