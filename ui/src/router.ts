/** Hash routing: #/messages/12?status=sent → path ['messages', '12'], query {status: 'sent'}. */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  path: string[];
  query: Record<string, string>;
}

function parseHash(hash: string): Route {
  const [p, q = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: Object.fromEntries(new URLSearchParams(q)) };
}

/** A link target: href('messages', {status: 'sent'}) → '#/messages?status=sent'; empty values are left out. */
export function href(path: string, query: Record<string, string | number | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

export const navigate = (to: string) => {
  location.hash = to.replace(/^#/, '');
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
