/**
 * The pubsub-rest benchmark at a tiny scale against mailwatch only (the real CLI process, on
 * disk): keeps the harness working between real benchmark runs. A few seconds.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startMailwatch, type Target } from '../bench/lib.ts';
import { measurePubsubRest, toResults, type PubsubRestOptions } from '../bench/pubsub-rest.ts';

let mailwatch: Target;

beforeAll(async () => {
  mailwatch = await startMailwatch({ flags: [], nodeFlags: [] });
});

afterAll(async () => {
  await mailwatch?.stop();
});

test('pubsub-rest gives positive publish and pull+ack figures', async () => {
  const options: PubsubRestOptions = { messages: 2000, batch: 500, dataBytes: 256, clients: 2, warmupMessages: 1000, warmupMs: 0 };
  const figures = await measurePubsubRest(mailwatch, options);
  expect(figures.published).toBe(2000);
  expect(figures.acked).toBeGreaterThanOrEqual(2000);
  expect(figures.duplicates).toBe(0);

  const [publish, pullAck] = toResults(options, figures);
  for (const result of [publish, pullAck]) {
    expect(result.unit).toBe('msgs/s');
    expect(Number.isFinite(result.mailwatch)).toBe(true);
    expect(result.mailwatch).toBeGreaterThan(0);
    expect(result.emulator).toBeUndefined();
  }
});
