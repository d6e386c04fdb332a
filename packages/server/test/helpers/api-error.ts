import { ApiError } from '../../src/domain/errors.ts';

/** The ApiError `fn` throws; fails the test when it throws something else or nothing. */
export function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}
