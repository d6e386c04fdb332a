/**
 * Push flow control: how many push requests a subscription may have in flight at once.
 *
 * Google's push uses slow start (https://cloud.google.com/pubsub/docs/push, older revisions):
 * "Cloud Pub/Sub starts by sending a single message at a time, and doubles up with each
 * successful delivery, until it reaches the maximum number of concurrent messages outstanding.
 * Any time there is a delivery failure, the number of messages outstanding allowed for the
 * subscription is halved." A later revision adds that halving goes on "until a minimum of one
 * request at a time is reached".
 */

/** Every subscription starts with one push in flight. */
export const INITIAL_WINDOW = 1;

/**
 * The window after one push completes: doubled on success up to `max`, halved (rounding down) on
 * failure down to 1. The result always lies in [1, max], so lowering `max` takes effect at the
 * next completion.
 */
export function nextWindow(current: number, success: boolean, max: number): number {
  const ceiling = Math.max(INITIAL_WINDOW, Math.floor(max));
  const from = Math.max(INITIAL_WINDOW, Math.floor(current));
  const next = success ? from * 2 : Math.floor(from / 2);
  return Math.min(ceiling, Math.max(INITIAL_WINDOW, next));
}
