/**
 * Delivery semantics through Google's `googleapis` REST client: publish, pull, acknowledge,
 * modifyAckDeadline, redelivery with fresh ack ids, stale ids, ack deadlines and retry backoff
 * (driven by a manual clock, never by sleeping), filters, ordering keys, dead-letter policies,
 * retention, expiration, exactly-once and detach.
 */
import { google, type pubsub_v1 } from 'googleapis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

let server: RunningServer;
let clock: ManualClock;
let pubsub: pubsub_v1.Pubsub;
const P = 'projects/delivery';
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}-${Date.now().toString(36)}`;
const DAY = 86_400_000;

/** Long pulls wait this long; the long-pull test proves a publish ends the wait much sooner. */
const PULL_WAIT_MS = 6000;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2026, 2, 1, 12, 0, 0, 250));
  server = await startMailwatch({ memory: true, clock, config: { pullWaitMs: PULL_WAIT_MS } });
  pubsub = google.pubsub({ version: 'v1', rootUrl: `${server.url}/` });
});
afterAll(async () => server.stop());

async function failure(call: Promise<unknown>): Promise<{ code: number; status: string; message: string; details?: any[] }> {
  try {
    await call;
  } catch (error: any) {
    const body = error.response?.data?.error;
    if (!body) throw error;
    return { code: error.response.status, status: body.status, message: body.message, details: body.details };
  }
  throw new Error('the call succeeded; a Google error was expected');
}

/** A fresh topic with one subscription configured by `config`. */
async function setup(config: Partial<pubsub_v1.Schema$Subscription> = {}) {
  const topic = `${P}/topics/${unique('topic')}`;
  const sub = `${P}/subscriptions/${unique('sub')}`;
  await pubsub.projects.topics.create({ name: topic });
  await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic, ...config } });
  return { topic, sub };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const text = (received: pubsub_v1.Schema$ReceivedMessage[]) => received.map((r) => Buffer.from(r.message!.data ?? '', 'base64').toString());

async function publish(topic: string, ...messages: (string | pubsub_v1.Schema$PubsubMessage)[]): Promise<string[]> {
  const body = messages.map((m) => (typeof m === 'string' ? { data: b64(m) } : m));
  return (await pubsub.projects.topics.publish({ topic, requestBody: { messages: body } })).data.messageIds!;
}

async function pull(sub: string, maxMessages = 100): Promise<pubsub_v1.Schema$ReceivedMessage[]> {
  const { data } = await pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages, returnImmediately: true } });
  return data.receivedMessages ?? [];
}

const ack = (sub: string, received: pubsub_v1.Schema$ReceivedMessage[]) =>
  pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: received.map((r) => r.ackId!) } });
const modack = (sub: string, received: pubsub_v1.Schema$ReceivedMessage[], seconds: number) =>
  pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: received.map((r) => r.ackId!), ackDeadlineSeconds: seconds } });

describe('publish and pull', () => {
  it('pull returns Google\'s ReceivedMessage shape; only messages published after the subscription exist for it', async () => {
    const topic = `${P}/topics/${unique('early')}`;
    await pubsub.projects.topics.create({ name: topic });
    await publish(topic, 'before the subscription');
    const sub = `${P}/subscriptions/${unique('late')}`;
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic } });

    const [id] = await publish(topic, { data: b64('héllo'), attributes: { kind: 'greeting', n: '1' }, orderingKey: 'k1' });
    const [attributesOnly] = await publish(topic, { attributes: { only: 'attrs' } });
    const received = await pull(sub);
    expect(received.map((r) => r.message)).toEqual([
      { data: b64('héllo'), attributes: { kind: 'greeting', n: '1' }, messageId: id, publishTime: new Date(clock.now()).toISOString(), orderingKey: 'k1' },
      { attributes: { only: 'attrs' }, messageId: attributesOnly, publishTime: new Date(clock.now()).toISOString() },
    ]);
    for (const r of received) {
      expect(r.ackId).toEqual(expect.any(String));
      expect(r.deliveryAttempt, 'no dead-letter policy: no deliveryAttempt').toBeUndefined();
    }
    expect(new Set(received.map((r) => r.ackId)).size).toBe(2);
    expect((await pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 5, returnImmediately: true } })).data).toEqual({});
  });

  it('maxMessages caps a pull; the rest stays for the next pull', async () => {
    const { topic, sub } = await setup();
    await publish(topic, 'a', 'b', 'c', 'd', 'e');
    const first = await pull(sub, 2);
    expect(first).toHaveLength(2);
    const rest = await pull(sub, 10);
    expect([...text(first), ...text(rest)].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a pull without returnImmediately waits and answers as soon as a message is published', async () => {
    const { topic, sub } = await setup();
    const started = performance.now();
    const waiting = pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the pull start waiting
    await publish(topic, 'wake up');
    const { data } = await waiting;
    expect(text(data.receivedMessages ?? [])).toEqual(['wake up']);
    expect(performance.now() - started, `answered before the ${PULL_WAIT_MS} ms wait ran out`).toBeLessThan(PULL_WAIT_MS / 2);
  });

  it('rejects bad pull, acknowledge and modifyAckDeadline requests, acknowledging nothing', async () => {
    const { topic, sub } = await setup();
    await publish(topic, 'kept');
    expect(await failure(pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { returnImmediately: true } })), 'maxMessages 0')
      .toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    const [received] = await pull(sub);
    expect(await failure(pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: [] } }))).toMatchObject({ code: 400 });
    expect(await failure(pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: [received.ackId!, 'not-an-ack-id'] } })))
      .toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(await failure(modack(sub, [received], 601))).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    await modack(sub, [received], 0);
    expect(text(await pull(sub)), 'the refused ack acknowledged nothing').toEqual(['kept']);
  });
});

describe('acks, nacks and redelivery', () => {
  it('a nack (modifyAckDeadline 0) redelivers at once with a fresh ack id; stale ids are ignored with 200', async () => {
    const { topic, sub } = await setup();
    await publish(topic, 'again');
    const [first] = await pull(sub);
    expect(await pull(sub), 'leased: not delivered twice').toEqual([]);
    expect((await modack(sub, [first], 0)).status).toBe(200);
    const [second] = await pull(sub);
    expect(second.message!.messageId).toBe(first.message!.messageId);
    expect(second.ackId).not.toBe(first.ackId);

    // A late ack and a late nack on the first delivery's id change nothing.
    expect((await ack(sub, [first])).status).toBe(200);
    expect((await modack(sub, [first], 0)).status).toBe(200);
    expect(await pull(sub), 'the stale nack did not release the current lease').toEqual([]);
    await modack(sub, [second], 0);
    const [third] = await pull(sub);
    expect(text([third]), 'the stale ack did not acknowledge it').toEqual(['again']);

    expect((await ack(sub, [third])).status).toBe(200);
    await modack(sub, [third], 0);
    clock.advance(3600_000);
    expect(await pull(sub), 'acked: gone for good').toEqual([]);
  });

  it('an expired ack deadline redelivers; modifyAckDeadline extends the lease from now', async () => {
    const { topic, sub } = await setup({ ackDeadlineSeconds: 20 });
    await publish(topic, 'slow');
    const [first] = await pull(sub);
    clock.advance(19_999);
    expect(await pull(sub)).toEqual([]);
    clock.advance(1);
    const [second] = await pull(sub);
    expect(text([second])).toEqual(['slow']);
    expect(second.ackId).not.toBe(first.ackId);

    await modack(sub, [second], 120);
    clock.advance(119_000);
    expect(await pull(sub), 'extended to 120 s').toEqual([]);
    await modack(sub, [first], 600); // stale: must not extend anything
    clock.advance(1000);
    const [third] = await pull(sub);
    expect(text([third])).toEqual(['slow']);
    await ack(sub, [third]);
    clock.advance(600_000);
    expect(await pull(sub)).toEqual([]);
  });

  it('retryPolicy delays redelivery exponentially from minimumBackoff up to maximumBackoff', async () => {
    const { topic, sub } = await setup({ retryPolicy: { minimumBackoff: '5s', maximumBackoff: '15s' } });
    await publish(topic, 'backoff');
    let [current] = await pull(sub);
    for (const backoff of [5000, 10_000, 15_000, 15_000]) {
      await modack(sub, [current], 0);
      clock.advance(backoff - 1);
      expect(await pull(sub), `not before ${backoff} ms`).toEqual([]);
      clock.advance(1);
      [current] = await pull(sub);
      expect(text([current]), `after ${backoff} ms`).toEqual(['backoff']);
    }
  });

  it('a message older than messageRetentionDuration is no longer delivered', async () => {
    const { topic, sub } = await setup({ messageRetentionDuration: '600s' });
    await publish(topic, 'old');
    clock.advance(300_000);
    await publish(topic, 'young');
    clock.advance(300_001);
    expect(text(await pull(sub))).toEqual(['young']);
  });
});

describe('filters, ordering keys, dead letters', () => {
  it('a filter delivers only the messages whose attributes match; the others are never delivered', async () => {
    const topic = `${P}/topics/${unique('filtered')}`;
    await pubsub.projects.topics.create({ name: topic });
    const subs = {
      eu: 'attributes.region = "eu"',
      prefix: 'hasPrefix(attributes.region, "asia")',
      exists: 'attributes:urgent',
      not: 'NOT attributes:urgent AND attributes.region != "us"',
      all: '',
    };
    const names: Record<string, string> = {};
    for (const [key, filter] of Object.entries(subs)) {
      names[key] = `${P}/subscriptions/${unique(`filter-${key}`)}`;
      await pubsub.projects.subscriptions.create({ name: names[key], requestBody: { topic, ...(filter ? { filter } : {}) } });
    }
    expect((await pubsub.projects.subscriptions.get({ subscription: names.eu })).data.filter).toBe(subs.eu);
    await publish(
      topic,
      { data: b64('eu'), attributes: { region: 'eu' } },
      { data: b64('us-urgent'), attributes: { region: 'us', urgent: '' } },
      { data: b64('asia'), attributes: { region: 'asia-east1' } },
      { data: b64('none') },
    );
    const got = async (key: string) => text(await pull(names[key])).sort();
    expect(await got('eu')).toEqual(['eu']);
    expect(await got('prefix')).toEqual(['asia']);
    expect(await got('exists')).toEqual(['us-urgent']);
    expect(await got('not')).toEqual(['asia', 'eu', 'none']);
    expect(await got('all')).toEqual(['asia', 'eu', 'none', 'us-urgent']);
    clock.advance(3600_000);
    expect(await got('eu'), 'after the ack deadline only the matching message comes back').toEqual(['eu']);
  });

  it('with enableMessageOrdering only the oldest unacked message of each key is outstanding', async () => {
    const topic = `${P}/topics/${unique('ordered')}`;
    await pubsub.projects.topics.create({ name: topic });
    const ordered = `${P}/subscriptions/${unique('ordered-sub')}`;
    const unordered = `${P}/subscriptions/${unique('unordered-sub')}`;
    await pubsub.projects.subscriptions.create({ name: ordered, requestBody: { topic, enableMessageOrdering: true } });
    await pubsub.projects.subscriptions.create({ name: unordered, requestBody: { topic } });
    await publish(topic, { data: b64('k-1'), orderingKey: 'k' }, { data: b64('k-2'), orderingKey: 'k' });
    await publish(topic, { data: b64('j-1'), orderingKey: 'j' });
    await publish(topic, { data: b64('k-3'), orderingKey: 'k' });
    await publish(topic, 'no-key-1', 'no-key-2');

    expect(text(await pull(unordered)).sort(), 'ordering not enabled: everything at once').toEqual(['j-1', 'k-1', 'k-2', 'k-3', 'no-key-1', 'no-key-2']);

    const first = await pull(ordered);
    expect(text(first).sort()).toEqual(['j-1', 'k-1', 'no-key-1', 'no-key-2']);
    const k1 = first.find((r) => text([r])[0] === 'k-1')!;
    await ack(ordered, first.filter((r) => r !== k1));
    await modack(ordered, [k1], 0);
    const redelivered = await pull(ordered);
    expect(text(redelivered), 'a nacked message comes back before the next of its key').toEqual(['k-1']);
    await ack(ordered, redelivered);
    const second = await pull(ordered);
    expect(text(second)).toEqual(['k-2']);
    expect(second[0].message!.orderingKey).toBe('k');
    clock.advance(10_000); // k-2's ack deadline passes: it comes back, still ahead of k-3
    const again = await pull(ordered);
    expect(text(again)).toEqual(['k-2']);
    await ack(ordered, again);
    expect(text(await pull(ordered))).toEqual(['k-3']);
  });

  it('a dead-letter policy adds deliveryAttempt and forwards the message after maxDeliveryAttempts', async () => {
    const dead = `${P}/topics/${unique('dead')}`;
    const deadSub = `${P}/subscriptions/${unique('dead-sub')}`;
    await pubsub.projects.topics.create({ name: dead });
    await pubsub.projects.subscriptions.create({ name: deadSub, requestBody: { topic: dead } });
    const { topic, sub } = await setup({ deadLetterPolicy: { deadLetterTopic: dead, maxDeliveryAttempts: 5 } });
    const [id] = await publish(topic, { data: b64('poison'), attributes: { origin: 'test' } });
    const publishTime = new Date(clock.now()).toISOString();

    for (let attempt = 1; attempt <= 5; attempt++) {
      const [received] = await pull(sub);
      expect(received.message!.messageId).toBe(id);
      expect(received.deliveryAttempt, `attempt ${attempt}`).toBe(attempt);
      if (attempt % 2 === 1) await modack(sub, [received], 0); // a nack
      else clock.advance(10_000); // or an expired ack deadline: both count
    }
    expect(await pull(sub), 'five attempts used: no sixth delivery').toEqual([]);

    const [forwarded] = await pull(deadSub);
    expect(Buffer.from(forwarded.message!.data!, 'base64').toString()).toBe('poison');
    expect(forwarded.message!.messageId).not.toBe(id);
    expect(forwarded.message!.attributes).toEqual({
      origin: 'test',
      CloudPubSubDeadLetterSourceDeliveryCount: '5',
      CloudPubSubDeadLetterSourceSubscription: sub.split('/').pop(),
      CloudPubSubDeadLetterSourceSubscriptionProject: 'delivery',
      CloudPubSubDeadLetterSourceTopicPublishTime: publishTime,
    });
    expect(forwarded.deliveryAttempt, 'the dead-letter subscription has no policy of its own').toBeUndefined();
  });
});

describe('subscription lifecycle', () => {
  it('expirationPolicy: a subscription idle for its ttl is deleted; a pull is activity; {} never expires', async () => {
    const { sub } = await setup({ expirationPolicy: { ttl: '86400s' } });
    const { sub: forever } = await setup({ expirationPolicy: {} });
    expect((await pubsub.projects.subscriptions.get({ subscription: forever })).data.expirationPolicy).toEqual({});
    clock.advance(DAY - 1000);
    await pull(sub); // activity restarts the clock
    clock.advance(DAY - 1000);
    expect((await pubsub.projects.subscriptions.get({ subscription: sub })).data.name).toBe(sub);
    clock.advance(1000);
    expect(await failure(pubsub.projects.subscriptions.get({ subscription: sub }))).toEqual({
      code: 404,
      status: 'NOT_FOUND',
      message: `Resource not found (resource=${sub.split('/').pop()}).`,
      details: undefined,
    });
    const listed = (await pubsub.projects.subscriptions.list({ project: P })).data.subscriptions ?? [];
    expect(listed.map((s) => s.name)).not.toContain(sub);
    clock.advance(40 * DAY);
    expect((await pubsub.projects.subscriptions.get({ subscription: forever })).data.name).toBe(forever);
  });

  it('detach: the subscription says detached: true and pull answers 400 FAILED_PRECONDITION', async () => {
    const { topic, sub } = await setup();
    await publish(topic, 'dropped');
    await pubsub.projects.subscriptions.detach({ subscription: sub });
    expect((await pubsub.projects.subscriptions.get({ subscription: sub })).data).toMatchObject({ name: sub, detached: true });
    await publish(topic, 'after detach');
    expect(await failure(pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 10, returnImmediately: true } })))
      .toMatchObject({ code: 400, status: 'FAILED_PRECONDITION' });
  });

  it('exactly-once: acks on a stale ack id fail with INVALID_ARGUMENT and ErrorInfo naming that id', async () => {
    const { topic, sub } = await setup({ enableExactlyOnceDelivery: true });
    await publish(topic, 'once');
    const [first] = await pull(sub);
    await modack(sub, [first], 0);
    const [second] = await pull(sub);
    const stale = await failure(ack(sub, [first]));
    expect(stale).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    // The client learns which ids failed from google.rpc.ErrorInfo in the details
    // (reference/pubsub.md, "Exactly-once ack errors"); the REST envelope carries the details.
    expect(stale.details ?? [], 'error.details').toContainEqual(
      expect.objectContaining({
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'EXACTLY_ONCE_ACKID_FAILURE',
        metadata: { [first.ackId!]: 'PERMANENT_FAILURE_INVALID_ACK_ID' },
      }),
    );
    expect((await ack(sub, [second])).status).toBe(200);
    clock.advance(600_000);
    expect(await pull(sub)).toEqual([]);
  });
});
