/** Loading data from the API into a component: the value, the error, a reload, and an optional auto-refresh. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { type Campaign, call } from './api.ts';

export interface Loaded<T> {
  value?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and every `refreshMs` when given); a slower earlier answer never overwrites a later one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], refreshMs = 0): Loaded<T> {
  const [state, setState] = useState<{ value?: T; error?: Error; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  // `deps` are the caller's: what the load depends on.
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (value) => mine === seq.current && setState({ value, loading: false }),
      (error: Error) => mine === seq.current && setState((s) => ({ value: s.value, error, loading: false })),
    );
  }, deps);
  useEffect(() => {
    run();
    if (!refreshMs) return;
    const t = setInterval(run, refreshMs);
    return () => clearInterval(t);
  }, [run, refreshMs]);
  return { ...state, reload: run };
}

/** Campaign names by id, for tables that show a campaign id (one call, up to 1,000 campaigns). */
export function useCampaigns(): Loaded<Campaign[]> {
  return useLoad(async () => (await call('campaigns/triggers/list', { limit: 1000 })).data, []);
}

export const campaignName = (campaigns: Campaign[] | undefined, id: number) => campaigns?.find((c) => c.id === id)?.name ?? `#${id}`;

/** Names of databases and resources by id, for pages that show their ids (two calls). */
export function useNames(): Loaded<{ dbs: Record<number, string>; resources: Record<number, string> }> {
  return useLoad(async () => {
    const [dbs, resources] = await Promise.all([call('databases/list'), call('resources/list')]);
    const byId = (rows: { id: number; name: string }[]) => Object.fromEntries(rows.map((r) => [r.id, r.name]));
    return { dbs: byId(dbs.data), resources: byId(resources.data) };
  }, []);
}
