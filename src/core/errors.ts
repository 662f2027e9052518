/**
 * Errors are values with an Altcraft code and an exact text. Everything the API refuses is thrown as
 * an ApiError; http/envelope.ts is the one place that turns it into a response.
 */
export type ErrorCode = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 429 | 500 | 503;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly text: string,
  ) {
    super(text);
    this.name = 'ApiError';
  }
}

export const badRequest = (text: string) => new ApiError(400, text);
export const unauthorized = (text: string) => new ApiError(401, text);
export const forbidden = (text: string) => new ApiError(403, text);
export const notFound = (text: string) => new ApiError(404, text);
export const conflict = (text: string) => new ApiError(409, text);
export const tooLarge = (text: string) => new ApiError(413, text);

export const isApiError = (e: unknown): e is ApiError => e instanceof ApiError;

/**
 * The store cannot take the call now (its file is locked by another process, the disk is full or
 * failing, the database connection was cut): nothing was written, and the same call may succeed
 * later. The HTTP side answers 503 with Retry-After; background loops back off and try again.
 */
export class StoreUnavailable extends Error {
  constructor(
    /** What the store said, short and without SQL, e.g. "database is locked". */
    readonly reason: string,
    /** When a retry is worth it, in whole seconds. */
    readonly retryAfterSeconds = 2,
    options?: { cause?: unknown },
  ) {
    super(`the store is unavailable (${reason}); retry after ${retryAfterSeconds} s`, options);
    this.name = 'StoreUnavailable';
  }
}

export const isStoreUnavailable = (e: unknown): e is StoreUnavailable => e instanceof StoreUnavailable;

/**
 * Another request with the same deduplication key (Request-ID, or the same body) ran first, or runs
 * now: this one's write was not made (it rolled back), and its caller gets the first one's answer.
 */
export class DuplicateRequest extends Error {
  constructor(readonly key: string) {
    super(`a request with the key ${key} has already run`);
    this.name = 'DuplicateRequest';
  }
}
