/**
 * Google's own Node client, @google-cloud/pubsub, against mailwatch over gRPC (StreamingPull
 * for receiving), and the same scenarios against the official emulator where it supports them,
 * to show that the tests measure real behaviour.
 */
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { emulatorMissingReason, startEmulator } from '../helpers/emulator.ts';
import { startMailwatch } from '../helpers/server.ts';

interface Target {
  name: string;
  hostPort: string;
  url: string;
  stop(): Promise<void>;
}

const targets: [string, () => Promise<Target>][] = [
  [
    'mailwatch',
    async () => {
      const server = await startMailwatch();
      return { name: 'mailwatch', hostPort: `127.0.0.1:${server.port}`, url: server.url, stop: () => server.stop() };
    },
  ],
];
const missing = emulatorMissingReason();
if (!missing) targets.push(['official emulator', async () => ({ name: 'official emulator', ...(await startEmulator()) })]);
else console.warn(`[grpc-client] emulator half skipped: ${missing}`);

let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}-${Date.now().toString(36)}`;

/** Collects messages from a subscription until `count` arrived. */
function receive(sub: Subscription, count: number, onMessage: (m: Message) => void = (m) => m.ack()): Promise<Message[]> {
  const got: Message[] = [];
  return new Promise((resolve, reject) => {
    sub.on('error', reject);
    sub.on('message', (m: Message) => {
      got.push(m);
      onMessage(m);
      if (got.length === count) resolve(got);
    });
  });
}

describe.each(targets)('@google-cloud/pubsub against %s', (label, start) => {
  let target: Target;
  let pubsub: PubSub;
  const isMailwatch = label === 'mailwatch';

  beforeAll(async () => {
    target = await start();
    pubsub = new PubSub({ projectId: 'grpc-e2e', apiEndpoint: target.hostPort, emulatorMode: true });
  }, 60_000);
  afterAll(async () => {
    await pubsub?.close();
    await target?.stop();
  });

  it('creates topics and subscriptions; exists() and get({autoCreate}) rely on NOT_FOUND', async () => {
    const [topic] = await pubsub.createTopic(unique('topic'));
    expect((await topic.exists())[0]).toBe(true);
    expect((await pubsub.topic(unique('absent')).exists())[0]).toBe(false);
    const [created] = await pubsub.topic(unique('auto')).get({ autoCreate: true });
    expect((await created.exists())[0]).toBe(true);
    await expect(pubsub.createTopic(topic.name.split('/').pop()!)).rejects.toMatchObject({ code: 6 });
    const [sub] = await topic.createSubscription(unique('sub'), { ackDeadlineSeconds: 30 });
    const [metadata] = await sub.getMetadata();
    expect(metadata.ackDeadlineSeconds).toBe(30);
    expect(metadata.topic).toBe(topic.name);
    await sub.delete();
    expect((await sub.exists())[0]).toBe(false);
  });

  it('publishes in batches and delivers every message once through StreamingPull', async () => {
    const [topic] = await pubsub.createTopic(unique('batch'));
    const [sub] = await topic.createSubscription(unique('batch-sub'));
    const arrived = receive(sub, 300);
    const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => topic.publishMessage({ data: Buffer.from(`m${i}`), attributes: { i: String(i) } })));
    const messages = await arrived;
    expect(new Set(messages.map((m) => m.id))).toEqual(new Set(ids));
    expect(messages.map((m) => m.data.toString()).sort()).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`).sort());
    await new Promise((resolve) => setTimeout(resolve, 300));
    await sub.close();
  });

  it('redelivers a nacked message', async () => {
    const [topic] = await pubsub.createTopic(unique('nack'));
    const [sub] = await topic.createSubscription(unique('nack-sub'));
    let first = true;
    const arrived = receive(sub, 2, (m) => {
      if (first) {
        first = false;
        m.nack();
      } else m.ack();
    });
    await topic.publishMessage({ data: Buffer.from('again') });
    const [a, b] = await arrived;
    expect(b.id).toBe(a.id);
    expect(b.ackId).not.toBe(a.ackId);
    await sub.close();
  });

  it('delivers messages of one ordering key in publish order', async () => {
    const [topic] = await pubsub.createTopic(unique('ordered'));
    const [sub] = await topic.createSubscription(unique('ordered-sub'), { enableMessageOrdering: true });
    topic.setPublishOptions({ messageOrdering: true });
    const arrived = receive(sub, 40);
    for (let i = 0; i < 20; i++) {
      void topic.publishMessage({ data: Buffer.from(`a${i}`), orderingKey: 'a' });
      void topic.publishMessage({ data: Buffer.from(`b${i}`), orderingKey: 'b' });
    }
    const messages = await arrived;
    for (const key of ['a', 'b']) {
      const order = messages.filter((m) => m.orderingKey === key).map((m) => m.data.toString());
      expect(order).toEqual(Array.from({ length: 20 }, (_, i) => `${key}${i}`));
    }
    await sub.close();
  });

  it.runIf(isMailwatch)('applies subscription filters', async () => {
    const [topic] = await pubsub.createTopic(unique('filtered'));
    const [sub] = await topic.createSubscription(unique('filtered-sub'), { filter: 'attributes.region = "eu"' });
    const arrived = receive(sub, 2);
    for (const region of ['us', 'eu', 'asia', 'eu']) await topic.publishMessage({ data: Buffer.from(region), attributes: { region } });
    const messages = await arrived;
    expect(messages.map((m) => m.attributes.region)).toEqual(['eu', 'eu']);
    await sub.close();
  });

  it('forwards to the dead-letter topic after maxDeliveryAttempts, counting deliveryAttempt', async () => {
    const [dead] = await pubsub.createTopic(unique('dead'));
    const [deadSub] = await dead.createSubscription(unique('dead-sub'));
    const [topic] = await pubsub.createTopic(unique('poison'));
    const [sub] = await topic.createSubscription(unique('poison-sub'), {
      deadLetterPolicy: { deadLetterTopic: dead.name, maxDeliveryAttempts: 5 },
    });
    const attempts: number[] = [];
    sub.on('message', (m: Message) => {
      attempts.push(m.deliveryAttempt);
      m.nack();
    });
    const forwarded = receive(deadSub, 1);
    await topic.publishMessage({ data: Buffer.from('poison') });
    const [message] = await forwarded;
    expect(message.data.toString()).toBe('poison');
    expect(attempts.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    if (isMailwatch) expect(message.attributes.CloudPubSubDeadLetterSourceDeliveryCount).toBe('5');
    await sub.close();
    await deadSub.close();
  }, 60_000);

  it.runIf(isMailwatch)('honours maxOutstandingMessages on the stream: the rest stay pullable', async () => {
    const [topic] = await pubsub.createTopic(unique('flow'));
    const [sub] = await topic.createSubscription(unique('flow-sub'), { ackDeadlineSeconds: 600 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => topic.publishMessage({ data: Buffer.from(`f${i}`) })));
    const flowSub = pubsub.subscription(sub.name, { flowControl: { maxMessages: 5, allowExcessMessages: false }, streamingOptions: { maxStreams: 1 } });
    const held: Message[] = [];
    flowSub.on('message', (m: Message) => held.push(m));
    await vi.waitFor(() => expect(held).toHaveLength(5));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(held).toHaveLength(5);
    const response = await fetch(`${target.url}/v1/${sub.name}:pull`, { method: 'POST', body: JSON.stringify({ maxMessages: 100, returnImmediately: true }) });
    expect((((await response.json()) as any).receivedMessages ?? []).length, 'the stream leased only 5').toBe(15);
    for (const m of held) m.ack();
    await flowSub.close();
  });

  it.runIf(isMailwatch)('counts maxOutstandingMessages across the streams one client opens on its connection', async () => {
    const [topic] = await pubsub.createTopic(unique('flow5'));
    const [sub] = await topic.createSubscription(unique('flow5-sub'), { ackDeadlineSeconds: 600 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => topic.publishMessage({ data: Buffer.from(`f${i}`) })));
    // 5 streams, each told maxOutstandingMessages 5 (reference/pubsub.md, section 4).
    const flowSub = pubsub.subscription(sub.name, { flowControl: { maxMessages: 5, allowExcessMessages: false }, streamingOptions: { maxStreams: 5 } });
    const held: Message[] = [];
    flowSub.on('message', (m: Message) => held.push(m));
    await vi.waitFor(() => expect(held).toHaveLength(5));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const response = await fetch(`${target.url}/v1/${sub.name}:pull`, { method: 'POST', body: JSON.stringify({ maxMessages: 100, returnImmediately: true }) });
    expect((((await response.json()) as any).receivedMessages ?? []).length, 'the client was leased 5, not 25').toBe(25);
    for (const m of held) m.ack();
    await flowSub.close();
  });

  it.runIf(isMailwatch)('extends the lease of a slow handler: the message is not delivered twice', async () => {
    const [topic] = await pubsub.createTopic(unique('slow'));
    const [sub] = await topic.createSubscription(unique('slow-sub'), { ackDeadlineSeconds: 10 });
    const seen: string[] = [];
    sub.on('message', (m: Message) => {
      seen.push(m.id);
      setTimeout(() => m.ack(), 13_000); // longer than the ack deadline; the client modacks meanwhile
    });
    await topic.publishMessage({ data: Buffer.from('slow') });
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    expect(seen).toHaveLength(1);
    await sub.close();
  }, 30_000);

  it.runIf(isMailwatch)('UpdateTopic and UpdateSubscription with update masks, retryPolicy and deadLetterPolicy included', async () => {
    const [topic] = await pubsub.createTopic(unique('update'));
    const [dead] = await pubsub.createTopic(unique('update-dead'));
    const [sub] = await topic.createSubscription(unique('update-sub'));
    const [updatedTopic] = await topic.setMetadata({ labels: { team: 'mail' }, messageRetentionDuration: { seconds: 7200 } });
    expect(updatedTopic.labels).toEqual({ team: 'mail' });
    expect(Number(updatedTopic.messageRetentionDuration?.seconds)).toBe(7200);
    const [updated] = await sub.setMetadata({
      ackDeadlineSeconds: 42,
      retryPolicy: { minimumBackoff: { seconds: 5 }, maximumBackoff: { seconds: 50 } },
      deadLetterPolicy: { deadLetterTopic: dead.name, maxDeliveryAttempts: 7 },
    });
    expect(updated.ackDeadlineSeconds).toBe(42);
    expect(Number(updated.retryPolicy?.minimumBackoff?.seconds)).toBe(5);
    expect(Number(updated.retryPolicy?.maximumBackoff?.seconds)).toBe(50);
    expect(updated.deadLetterPolicy).toMatchObject({ deadLetterTopic: dead.name, maxDeliveryAttempts: 7 });
    const [read] = await sub.getMetadata();
    expect(read.deadLetterPolicy).toMatchObject({ deadLetterTopic: dead.name, maxDeliveryAttempts: 7 });
    await expect(sub.setMetadata({ ackDeadlineSeconds: 700 })).rejects.toMatchObject({ code: 3 });
  });

  it.runIf(isMailwatch)('IAM getPolicy, setPolicy and testPermissions', async () => {
    const [topic] = await pubsub.createTopic(unique('iam'));
    const [policy] = await topic.iam.getPolicy();
    expect(policy.bindings).toEqual([]);
    const binding = { role: 'roles/pubsub.publisher', members: ['serviceAccount:gmail-api-push@system.gserviceaccount.com'] };
    const [set] = await topic.iam.setPolicy({ bindings: [binding], etag: policy.etag });
    expect(set.bindings?.map((b) => ({ role: b.role, members: b.members }))).toEqual([binding]);
    await expect(topic.iam.setPolicy({ bindings: [], etag: policy.etag })).rejects.toMatchObject({ code: 10 });
    const [permissions] = await topic.iam.testPermissions(['pubsub.topics.publish', 'pubsub.topics.delete']);
    expect(permissions).toEqual({ 'pubsub.topics.publish': true, 'pubsub.topics.delete': true });
  });

  it('replays with snapshots and seek', async () => {
    const [topic] = await pubsub.createTopic(unique('seek'));
    const [sub] = await topic.createSubscription(unique('seek-sub'), { retainAckedMessages: true });
    await topic.publishMessage({ data: Buffer.from('before') });
    const [snapshot] = await sub.createSnapshot(unique('snap'));
    await topic.publishMessage({ data: Buffer.from('after') });
    const first = await receive(sub, 2);
    expect(first.map((m) => m.data.toString()).sort()).toEqual(['after', 'before']);
    await sub.close();
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the client flush its acks

    await sub.seek(snapshot.name);
    const replayed = await receive(sub, 2);
    expect(replayed.map((m) => m.data.toString()).sort()).toEqual(['after', 'before']);
    await sub.close();
    await snapshot.delete();
  });

  it.runIf(isMailwatch)('serves REST and gRPC on one port: create over REST, publish over gRPC, pull over REST', async () => {
    const topicName = `projects/grpc-e2e/topics/${unique('mixed')}`;
    const subName = `projects/grpc-e2e/subscriptions/${unique('mixed-sub')}`;
    expect((await fetch(`${target.url}/v1/${topicName}`, { method: 'PUT' })).status).toBe(200);
    expect((await fetch(`${target.url}/v1/${subName}`, { method: 'PUT', body: JSON.stringify({ topic: topicName }) })).status).toBe(200);
    const id = await pubsub.topic(topicName).publishMessage({ data: Buffer.from('both') });
    const response = await fetch(`${target.url}/v1/${subName}:pull`, { method: 'POST', body: JSON.stringify({ maxMessages: 1, returnImmediately: true }) });
    const [received] = ((await response.json()) as any).receivedMessages;
    expect(received.message).toMatchObject({ messageId: id, data: Buffer.from('both').toString('base64') });
  });
});

describe('exactly-once delivery with @google-cloud/pubsub (mailwatch; the emulator does not emulate it)', () => {
  it('ackWithResponse succeeds within the lease and fails INVALID once the lease has expired', async () => {
    const clock = new ManualClock(Date.now());
    const server = await startMailwatch({ clock });
    const pubsub = new PubSub({ projectId: 'eod', apiEndpoint: `127.0.0.1:${server.port}`, emulatorMode: true });
    try {
      const [topic] = await pubsub.createTopic('eod-topic');
      const [sub] = await topic.createSubscription('eod-sub', { enableExactlyOnceDelivery: true, ackDeadlineSeconds: 60 });
      const held: Message[] = [];
      sub.on('message', (m: Message) => held.push(m));
      await topic.publishMessage({ data: Buffer.from('first') });
      await vi.waitFor(() => expect(held).toHaveLength(1));
      expect(await held[0].ackWithResponse()).toBe('SUCCESS');

      await topic.publishMessage({ data: Buffer.from('second') });
      await vi.waitFor(() => expect(held).toHaveLength(2));
      clock.advance(10 * 60_000); // the lease runs out before the client extends it (its timers are real time)
      await expect(held[1].ackWithResponse()).rejects.toMatchObject({ errorCode: 'INVALID' });
      await sub.close();
    } finally {
      await pubsub.close();
      await server.stop();
    }
  }, 30_000);
});

describe('server shutdown with open streams (mailwatch)', () => {
  it('ends StreamingPull with a status the client retries: it reconnects to the restarted server', async () => {
    const first = await startMailwatch();
    const port = first.port;
    const dataDir = first.dataDir;
    const pubsub = new PubSub({ projectId: 'restart', apiEndpoint: `127.0.0.1:${port}`, emulatorMode: true });
    let second: Awaited<ReturnType<typeof startMailwatch>> | undefined;
    try {
      const [topic] = await pubsub.createTopic('restart-topic');
      const [sub] = await topic.createSubscription('restart-sub');
      const errors: unknown[] = [];
      const got: string[] = [];
      sub.on('error', (error: unknown) => errors.push(error));
      sub.on('message', (m: Message) => {
        got.push(m.data.toString());
        m.ack();
      });
      await topic.publishMessage({ data: Buffer.from('before') });
      await vi.waitFor(() => expect(got).toEqual(['before']));

      // Stop without deleting the data, then serve the same data on the same port.
      await first.app.stop();
      second = await startMailwatch({ config: { port, dataDir } });
      await topic.publishMessage({ data: Buffer.from('after') });
      await vi.waitFor(() => expect(got).toEqual(['before', 'after']), { timeout: 15_000 });
      expect(errors).toEqual([]);
      await sub.close();
    } finally {
      await pubsub.close();
      await second?.stop();
      await first.stop().catch(() => undefined);
    }
  }, 30_000);
});
