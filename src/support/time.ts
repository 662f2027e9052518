/** A time as the API shows it: ISO 8601 in UTC, from milliseconds since the epoch. */
export const iso = (ms: number) => new Date(ms).toISOString();
