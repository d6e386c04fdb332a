/**
 * When a message that was not acknowledged becomes deliverable again.
 *
 * With a retryPolicy, Pub/Sub waits minimumBackoff * 2^(attempt-1), capped at maximumBackoff
 * (defaults 10 s and 600 s; reference/pubsub.md, "Defaults and limits"). Without one, a pull
 * subscription redelivers at once and a push subscription backs off from 100 ms to 60 s
 * (https://cloud.google.com/pubsub/docs/handling-failures: "push backoff").
 */
import { durationMs } from '../duration.ts';
import type { RetryPolicy } from './types.ts';

export const DEFAULT_MIN_BACKOFF = '10s';
export const DEFAULT_MAX_BACKOFF = '600s';
const PUSH_MIN_BACKOFF_MS = 100;
const PUSH_MAX_BACKOFF_MS = 60_000;

/** Delay in ms after the `attempt`-th failed delivery (1 = the first). */
export function nextBackoff(attempt: number, policy: RetryPolicy | undefined, push = false): number {
  if (policy) {
    const min = durationMs(policy.minimumBackoff ?? DEFAULT_MIN_BACKOFF);
    const max = durationMs(policy.maximumBackoff ?? DEFAULT_MAX_BACKOFF);
    return exponential(attempt, min, max);
  }
  return push ? exponential(attempt, PUSH_MIN_BACKOFF_MS, PUSH_MAX_BACKOFF_MS) : 0;
}

function exponential(attempt: number, min: number, max: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(min * 2 ** exponent, max);
}
