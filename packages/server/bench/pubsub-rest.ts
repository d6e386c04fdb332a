/**
 * Pub/Sub REST throughput, mailwatch against the official emulator in the same run (one after
 * the other, never at the same time), with the same client code:
 * - publish: requests of 1,000 messages x 256 random bytes, 4 clients in flight, into a topic
 *   with one subscription (so every message is stored for delivery), 200,000 messages;
 * - pull+ack: 4 pullers draining that backlog (pull maxMessages=1000, returnImmediately=true,
 *   then acknowledge the batch) until every message has been acked once.
 * Each target first gets a warm-up round of the same on another topic (at least
 * `warmupMessages` and `warmupMs` of publishing, then up to `warmupMs` of pull+ack), whose
 * subscription and topic are then deleted: the JVM needs more than a few requests to warm up.
 */
import { randomBytes } from 'node:crypto';
import {
  SCALE,
  createClient,
  formatNumber,
  sleep,
  startEmulatorTarget,
  startMailwatch,
  timed,
  type Client,
  type Result,
  type Span,
  type Target,
} from './lib.ts';

export interface PubsubRestOptions {
  /** Messages published (and then drained) in the measured round. */
  messages: number;
  /** Messages per publish request and maxMessages per pull. */
  batch: number;
  dataBytes: number;
  /** Requests in flight, for publishing and for pulling. */
  clients: number;
  /** Warm-up round, not measured: publish at least this many messages and for at least warmupMs... */
  warmupMessages: number;
  /** ...then pull+ack for at most this long. */
  warmupMs: number;
  /** Progress lines; default: none. */
  log?: (line: string) => void;
}

export function defaultOptions(scale = SCALE): PubsubRestOptions {
  const clients = Number(process.env.BENCH_CLIENTS ?? 4);
  if (!Number.isInteger(clients) || clients < 1) throw new Error(`BENCH_CLIENTS must be a positive integer`);
  return {
    messages: Math.max(1000, Math.round(200_000 * scale)),
    batch: 1000,
    dataBytes: 256,
    clients,
    warmupMessages: Math.max(4000, Math.round(40_000 * scale)),
    warmupMs: scale >= 0.5 ? 2000 : 1000,
  };
}

export interface PubsubRestFigures {
  published: number;
  publish: Span;
  acked: number;
  drain: Span;
  pulls: number;
  emptyPulls: number;
  /** Messages delivered more than once during the drain (should be 0: the ack deadline is 600 s). */
  duplicates: number;
}

const PROJECT = 'projects/p';
/** Give up on a drain that has made no progress for this long. */
const STALL_MS = 30_000;
/** Distinct request bodies the publishers rotate through. */
const BODIES = 8;

async function createTopicAndSubscription(client: Client, name: string): Promise<{ topic: string; subscription: string }> {
  const topic = `${PROJECT}/topics/${name}`;
  const subscription = `${PROJECT}/subscriptions/${name}`;
  await client.put(`/v1/${topic}`, {});
  await client.put(`/v1/${subscription}`, { topic, ackDeadlineSeconds: 600 });
  return { topic, subscription };
}

function publishBodies(options: PubsubRestOptions): Buffer[] {
  return Array.from({ length: BODIES }, () =>
    Buffer.from(
      JSON.stringify({
        messages: Array.from({ length: options.batch }, () => ({ data: randomBytes(options.dataBytes).toString('base64') })),
      }),
    ),
  );
}

/**
 * Publishes `requests` batches with `clients` requests in flight (and, with `minMs`, goes on
 * until that much time has passed); resolves with the messages published.
 */
async function publish(client: Client, topic: string, bodies: Buffer[], requests: number, options: PubsubRestOptions, minMs = 0): Promise<number> {
  const path = `/v1/${topic}:publish`;
  const until = performance.now() + minMs;
  let next = 0;
  let published = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.clients, requests) }, async () => {
      while (next < requests || performance.now() < until) {
        const body = bodies[next++ % bodies.length];
        const { messageIds } = (await client.post(path, body)) as { messageIds?: string[] };
        if (messageIds?.length !== options.batch) {
          throw new Error(`publish answered ${messageIds?.length ?? 0} message ids for ${options.batch} messages`);
        }
        published += messageIds.length;
      }
    }),
  );
  return published;
}

interface Drained {
  acked: number;
  pulls: number;
  emptyPulls: number;
  duplicates: number;
}

interface Received {
  ackId: string;
  message: { messageId: string };
}

/** Pulls and acks until `expected` distinct messages have been acked (or, with `maxMs`, that much time has passed). */
async function drain(client: Client, subscription: string, expected: number, options: PubsubRestOptions, maxMs = Infinity): Promise<Drained> {
  const pullPath = `/v1/${subscription}:pull`;
  const ackPath = `/v1/${subscription}:acknowledge`;
  const pullBody = Buffer.from(JSON.stringify({ maxMessages: options.batch, returnImmediately: true }));
  const seen = new Set<string>();
  const result: Drained = { acked: 0, pulls: 0, emptyPulls: 0, duplicates: 0 };
  let lastProgress = performance.now();
  const until = lastProgress + maxMs;
  await Promise.all(
    Array.from({ length: options.clients }, async () => {
      while (seen.size < expected && performance.now() < until) {
        const { receivedMessages = [] } = (await client.post(pullPath, pullBody)) as { receivedMessages?: Received[] };
        result.pulls++;
        if (receivedMessages.length === 0) {
          result.emptyPulls++;
          if (performance.now() - lastProgress > STALL_MS) {
            throw new Error(`drain stalled: ${seen.size} of ${expected} messages received, nothing for ${STALL_MS} ms`);
          }
          // Others may hold the last leases, or the server has not made messages visible yet.
          await sleep(5);
          continue;
        }
        const ackIds: string[] = new Array(receivedMessages.length);
        for (let i = 0; i < receivedMessages.length; i++) {
          ackIds[i] = receivedMessages[i].ackId;
          const id = receivedMessages[i].message.messageId;
          if (seen.has(id)) result.duplicates++;
          else seen.add(id);
        }
        await client.post(ackPath, JSON.stringify({ ackIds }));
        result.acked += ackIds.length;
        lastProgress = performance.now();
      }
    }),
  );
  return result;
}

/** The whole measurement on one running target: warm-up, then publish, then drain. */
export async function measurePubsubRest(target: Target, options: PubsubRestOptions): Promise<PubsubRestFigures> {
  const log = options.log ?? (() => {});
  const client = createClient(target.url, options.clients);
  try {
    const bodies = publishBodies(options);

    const warm = await createTopicAndSubscription(client, 'warmup');
    const warmRequests = Math.max(1, Math.round(options.warmupMessages / options.batch));
    const warmPublished = await publish(client, warm.topic, bodies, warmRequests, options, options.warmupMs);
    const warmDrained = await drain(client, warm.subscription, warmPublished, options, options.warmupMs);
    log(`${target.name}: warm-up published ${warmPublished} and acked ${warmDrained.acked} messages`);
    await client.delete(`/v1/${warm.subscription}`);
    await client.delete(`/v1/${warm.topic}`);

    const { topic, subscription } = await createTopicAndSubscription(client, 'bench');
    const requests = Math.max(1, Math.round(options.messages / options.batch));
    let published = 0;
    log(`${target.name}: publishing ${requests * options.batch} messages`);
    const publishSpan = await timed(target.pid, async () => {
      published = await publish(client, topic, bodies, requests, options);
    });
    log(`${target.name}: publish ${formatNumber(published / publishSpan.seconds)} msgs/s; draining`);
    let drained: Drained = { acked: 0, pulls: 0, emptyPulls: 0, duplicates: 0 };
    const drainSpan = await timed(target.pid, async () => {
      drained = await drain(client, subscription, published, options);
    });
    log(`${target.name}: pull+ack ${formatNumber(published / drainSpan.seconds)} msgs/s`);
    return { published, publish: publishSpan, ...drained, drain: drainSpan };
  } finally {
    client.close();
  }
}

/** Figures of both targets as table rows; `emulator` undefined when it was not measured. */
export function toResults(options: PubsubRestOptions, mine: PubsubRestFigures, theirs?: PubsubRestFigures): Result[] {
  const both = (f: (x: PubsubRestFigures) => number | undefined) => ({
    mailwatch: f(mine) ?? NaN,
    emulator: theirs === undefined ? undefined : (f(theirs) ?? NaN),
  });
  const { batch, dataBytes, clients } = options;
  const perMessage = (span: Span, n: number) => (span.serverCores === undefined ? undefined : (span.serverCores * span.seconds * 1e6) / n);
  return [
    { metric: `publish, ${batch} x ${dataBytes} B per request, ${clients} in flight`, unit: 'msgs/s', ...both((x) => x.published / x.publish.seconds) },
    { metric: `pull+ack, ${batch} per pull, ${clients} pullers`, unit: 'msgs/s', ...both((x) => x.published / x.drain.seconds) },
    { metric: 'publish: server CPU per message', unit: 'us', compare: 'lower', ...both((x) => perMessage(x.publish, x.published)) },
    { metric: 'pull+ack: server CPU per message', unit: 'us', compare: 'lower', ...both((x) => perMessage(x.drain, x.published)) },
    { metric: 'publish: server CPU', unit: 'cores', compare: 'none', ...both((x) => x.publish.serverCores) },
    { metric: 'publish: client CPU', unit: 'cores', compare: 'none', ...both((x) => x.publish.clientCores) },
    { metric: 'pull+ack: server CPU', unit: 'cores', compare: 'none', ...both((x) => x.drain.serverCores) },
    { metric: 'pull+ack: client CPU', unit: 'cores', compare: 'none', ...both((x) => x.drain.clientCores) },
    { metric: 'pull+ack: messages per non-empty pull', unit: 'avg', compare: 'none', ...both((x) => x.acked / (x.pulls - x.emptyPulls)) },
    { metric: 'pull+ack: empty pulls', unit: 'count', compare: 'none', ...both((x) => x.emptyPulls) },
  ];
}

/** The registry entry: both targets, one after the other; context lines on stdout, progress on stderr. */
export async function pubsubRest(): Promise<Result[]> {
  const options: PubsubRestOptions = { ...defaultOptions(), log: (line) => console.error(`  [pubsub-rest] ${line}`) };
  console.log(
    `pubsub-rest: ${formatNumber(options.messages)} messages of ${options.dataBytes} B, ${options.batch} per request, ` +
      `${options.clients} in flight; warm-up >= ${formatNumber(options.warmupMessages)} messages and >= ${options.warmupMs} ms`,
  );

  const mailwatch = await startMailwatch();
  let mine: PubsubRestFigures;
  try {
    console.log(`mailwatch: ${mailwatch.description}`);
    mine = await measurePubsubRest(mailwatch, options);
  } finally {
    await mailwatch.stop();
  }
  warnDuplicates('mailwatch', mine);

  let theirs: PubsubRestFigures | undefined;
  let emulator: Awaited<ReturnType<typeof startEmulatorTarget>> | undefined;
  try {
    emulator = await startEmulatorTarget();
  } catch (error) {
    console.log(`emulator: failed to start (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  if (emulator && 'missing' in emulator) {
    console.log(`emulator: not installed (${emulator.missing})`);
  } else if (emulator) {
    try {
      console.log(`emulator: ${emulator.description}`);
      theirs = await measurePubsubRest(emulator, options);
    } finally {
      await emulator.stop();
    }
    warnDuplicates('emulator', theirs);
  }
  return toResults(options, mine, theirs);
}

function warnDuplicates(name: string, figures: PubsubRestFigures): void {
  if (figures.duplicates > 0) console.log(`${name}: WARNING ${figures.duplicates} messages were delivered more than once during the drain`);
}
