/**
 * A small read-through cache. Campaigns, templates and resources are read on every launch and every
 * send but change rarely: a short time-to-live bounds how stale another process's change can be, and
 * this process drops its own changes at once (`delete`).
 *
 * Memory is bounded three ways: by entries, by a total weight (bytes, for caches of launch content
 * and attachments, where a few entries can be large), and by age: expired entries are swept by a
 * timer, so an idle process lets go of what it read (an expired entry nobody asks for again would
 * otherwise be kept until the cache filled up).
 */
export interface CacheLimits<V> {
  ttlMs: number;
  maxEntries?: number;
  /** Largest total weight kept; a value heavier than this alone is not kept at all. */
  maxWeight?: number;
  /** A value's weight, in the unit of maxWeight (bytes); 1 per entry by default. */
  weigh?: (value: V) => number;
}

interface Entry<V> {
  value: V;
  until: number;
  weight: number;
}

export class Cache<K, V> {
  /** In insertion order, which is expiry order too: every entry lives ttlMs. */
  private readonly entries = new Map<K, Entry<V>>();
  private weight = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxWeight: number;
  private readonly weigh: (value: V) => number;

  constructor(limits: CacheLimits<V>) {
    this.ttlMs = limits.ttlMs;
    this.maxEntries = limits.maxEntries ?? 1000;
    this.maxWeight = limits.maxWeight ?? Infinity;
    this.weigh = limits.weigh ?? (() => 1);
  }

  get size(): number {
    return this.entries.size;
  }

  get totalWeight(): number {
    return this.weight;
  }

  async get(key: K, load: (key: K) => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await load(key);
    this.set(key, value);
    return value;
  }

  /** Whether `key` is held and not yet expired. */
  has(key: K): boolean {
    const hit = this.entries.get(key);
    return hit !== undefined && hit.until > Date.now();
  }

  delete(key: K): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.weight -= e.weight;
  }

  private set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weigh(value);
    if (weight > this.maxWeight) return;
    while (this.entries.size > 0 && (this.entries.size >= this.maxEntries || this.weight + weight > this.maxWeight)) {
      this.delete(this.entries.keys().next().value as K);
    }
    this.entries.set(key, { value, until: Date.now() + this.ttlMs, weight });
    this.weight += weight;
    this.armSweeper();
  }

  /** Drops expired entries from the front; runs again when the next one is due. */
  private sweep(): void {
    this.sweeper = null;
    const now = Date.now();
    for (const [key, e] of this.entries) {
      if (e.until > now) break;
      this.delete(key);
    }
    this.armSweeper();
  }

  private armSweeper(): void {
    if (this.sweeper || this.entries.size === 0) return;
    const oldest = this.entries.values().next().value as Entry<V>;
    this.sweeper = setTimeout(() => this.sweep(), Math.max(0, oldest.until - Date.now()) + 10);
    this.sweeper.unref(); // a cache never keeps the process alive
  }
}
