/**
 * Errors are values with an Altcraft code and an exact text. Everything the API refuses is thrown as
 * an ApiError; http/envelope.ts is the one place that turns it into a response.
 */
export type ErrorCode = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 429 | 500;

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
