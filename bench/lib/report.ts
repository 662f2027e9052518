/** What a scenario measured: figures, each with its baseline from the same run, and the target. */
export interface Figure {
  scenario: string;
  store: string;
  name: string;
  value: number;
  unit: string;
  baseline?: { value: number; unit: string; what: string };
  /** value / baseline.value, or for a limit, value / limit. */
  ratio?: number;
  target?: string;
  met?: boolean;
  note?: string;
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2));

/** One line per figure, ending with the ratio. */
export function line(f: Figure): string {
  const parts = [`${f.scenario} ${f.store.padEnd(8)} ${f.name}: ${fmt(f.value)} ${f.unit}`];
  if (f.baseline) parts.push(`baseline (${f.baseline.what}) ${fmt(f.baseline.value)} ${f.baseline.unit}`);
  if (f.target) parts.push(`target ${f.target}: ${f.met ? 'met' : 'MISSED'}`);
  if (f.note) parts.push(f.note);
  if (f.ratio !== undefined) parts.push(`ratio ${f.ratio.toFixed(2)}`);
  return parts.join(' | ');
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
