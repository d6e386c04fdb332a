/**
 * Pub/Sub over gRPC with Google's own client, @google-cloud/pubsub:
 * - publish: N messages of 256 bytes through topic.publishMessage (client batching up to 1,000
 *   messages per request), all in flight at once, into a topic with one subscription;
 * - deliver+ack: the subscription drained by subscription.on('message') with message.ack()
 *   (StreamingPull, client defaults: 5 streams, unary acks).
 */
import { randomBytes } from 'node:crypto';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { SCALE, startEmulatorTarget, startMailwatch, timed, type Result, type Span, type Target } from './lib.ts';

const DATA_BYTES = 256;
const WINDOW = 10_000;

interface Figures {
  publishPerSecond: number;
  deliverAckPerSecond: number;
  publish: Span;
  receive: Span;
}

async function measure(target: Target): Promise<Figures> {
  const total = Math.round(100_000 * SCALE);
  const url = new URL(target.url);
  const pubsub = new PubSub({ projectId: `bench-${Date.now().toString(36)}`, apiEndpoint: url.host, emulatorMode: true });
  try {
    const [topic] = await pubsub.createTopic('bench');
    const [sub] = await topic.createSubscription('bench', { ackDeadlineSeconds: 60 });
    topic.setPublishOptions({ batching: { maxMessages: 1000, maxBytes: 9 * 1024 * 1024, maxMilliseconds: 10 } });
    const data = randomBytes(DATA_BYTES);
    await Promise.all(Array.from({ length: 1000 }, () => topic.publishMessage({ data }))); // warm-up, drained below

    // A steady window of 10,000 messages in flight (no drain-and-refill sawtooth).
    const publish = await timed(target.pid, async () => {
      let sent = 0;
      let done = 0;
      await new Promise<void>((resolve, reject) => {
        const more = () => {
          while (sent < total && sent - done < WINDOW) {
            sent++;
            topic.publishMessage({ data }).then(() => {
              if (++done === total) resolve();
              else more();
            }, reject);
          }
        };
        more();
      });
    });

    const expected = total + 1000;
    let acked = 0;
    const receive = await timed(target.pid, () =>
      new Promise<void>((resolve, reject) => {
        const subscriber = pubsub.subscription(sub.name); // the client's defaults: 5 streams, 1,000 messages
        subscriber.on('error', reject);
        subscriber.on('message', (m: Message) => {
          m.ack();
          if (++acked === expected) {
            void subscriber.close().then(() => resolve());
          }
        });
      }),
    );
    return { publishPerSecond: total / publish.seconds, deliverAckPerSecond: expected / receive.seconds, publish, receive };
  } finally {
    await pubsub.close();
  }
}

/** The registry entry: mailwatch, then the emulator, one after the other. */
export async function pubsubGrpc(): Promise<Result[]> {
  console.log(`pubsub-grpc: ${Math.round(100_000 * SCALE)} messages of ${DATA_BYTES} B through @google-cloud/pubsub`);
  const mailwatch = await startMailwatch();
  let mine: Figures;
  try {
    console.log(`mailwatch: ${mailwatch.description}`);
    mine = await measure(mailwatch);
  } finally {
    await mailwatch.stop();
  }
  let theirs: Figures | undefined;
  const emulator = await startEmulatorTarget();
  if ('missing' in emulator) console.log(`emulator: not installed (${emulator.missing})`);
  else {
    try {
      console.log(`emulator: ${emulator.description}`);
      theirs = await measure(emulator);
    } finally {
      await emulator.stop();
    }
  }
  return [
    { metric: `publish, ${DATA_BYTES} B messages, client batching`, unit: 'msgs/s', mailwatch: mine.publishPerSecond, emulator: theirs?.publishPerSecond },
    { metric: 'StreamingPull deliver+ack, client defaults', unit: 'msgs/s', mailwatch: mine.deliverAckPerSecond, emulator: theirs?.deliverAckPerSecond },
    { metric: 'publish: server CPU', unit: 'cores', compare: 'none', mailwatch: mine.publish.serverCores ?? NaN, emulator: theirs?.publish.serverCores },
    { metric: 'publish: client CPU', unit: 'cores', compare: 'none', mailwatch: mine.publish.clientCores, emulator: theirs?.publish.clientCores },
    { metric: 'deliver+ack: server CPU', unit: 'cores', compare: 'none', mailwatch: mine.receive.serverCores ?? NaN, emulator: theirs?.receive.serverCores },
    { metric: 'deliver+ack: client CPU', unit: 'cores', compare: 'none', mailwatch: mine.receive.clientCores, emulator: theirs?.receive.clientCores },
  ];
}
