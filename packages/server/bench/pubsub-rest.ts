/**
 * Pub/Sub REST throughput, mailwatch against the official emulator in the same run:
 * - publish: requests of 1,000 messages x 256 bytes, 4 clients in flight, into a topic with one
 *   subscription (so every message is stored for delivery);
 * - pull+ack: 4 pullers draining that backlog, 1,000 messages per pull, each batch acked.
 */
import { randomBytes } from 'node:crypto';
import { SCALE, postJson, putJson, type Measurement, type Target } from './lib.ts';

const BATCH = 1000;
const DATA_BYTES = 256;
const CLIENTS = 4;

interface Figures {
  publishPerSecond: number;
  pullAckPerSecond: number;
}

async function measure(target: Target, messages: number): Promise<Figures> {
  const project = `bench-${Date.now().toString(36)}`;
  const topic = `projects/${project}/topics/bench`;
  const sub = `projects/${project}/subscriptions/bench`;
  await putJson(`${target.url}/v1/${topic}`);
  await putJson(`${target.url}/v1/${sub}`, { topic, ackDeadlineSeconds: 600 });

  const body = JSON.stringify({
    messages: Array.from({ length: BATCH }, () => ({ data: randomBytes(DATA_BYTES).toString('base64') })),
  });
  const publishUrl = `${target.url}/v1/${topic}:publish`;
  // Warm-up: a few requests whose messages are drained with the rest.
  for (let i = 0; i < 3; i++) await postJson(publishUrl, body);

  const requests = Math.max(CLIENTS, Math.round(messages / BATCH));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < requests) {
        next++;
        await postJson(publishUrl, body);
      }
    }),
  );
  const publishSeconds = (performance.now() - started) / 1000;
  const total = (requests + 3) * BATCH;

  const pullUrl = `${target.url}/v1/${sub}:pull`;
  const ackUrl = `${target.url}/v1/${sub}:acknowledge`;
  const pullBody = JSON.stringify({ maxMessages: BATCH, returnImmediately: true });
  let acked = 0;
  let emptyInARow = 0;
  const pullStarted = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (acked < total && emptyInARow < 20) {
        const { receivedMessages = [] } = await postJson(pullUrl, pullBody);
        if (receivedMessages.length === 0) {
          emptyInARow++;
          continue;
        }
        emptyInARow = 0;
        await postJson(ackUrl, JSON.stringify({ ackIds: receivedMessages.map((r: { ackId: string }) => r.ackId) }));
        acked += receivedMessages.length;
      }
    }),
  );
  const pullSeconds = (performance.now() - pullStarted) / 1000;
  if (acked < total) throw new Error(`${target.name}: drained ${acked} of ${total} messages`);
  return { publishPerSecond: (requests * BATCH) / publishSeconds, pullAckPerSecond: acked / pullSeconds };
}

export async function pubsubRest(target: Target): Promise<Measurement[]> {
  const figures = await measure(target, Math.round(200_000 * SCALE));
  return [
    { metric: `publish, ${BATCH} x ${DATA_BYTES} B per request, ${CLIENTS} clients`, unit: 'msgs/s', value: figures.publishPerSecond },
    { metric: `pull+ack, ${BATCH} per pull, ${CLIENTS} pullers`, unit: 'msgs/s', value: figures.pullAckPerSecond },
  ];
}
