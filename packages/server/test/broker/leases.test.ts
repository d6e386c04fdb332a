import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, MINUTE, SECOND } from '../../src/domain/duration.ts';
import { openHarness, text, type Harness } from './harness.ts';

const T = 'projects/p/topics/topic';
const S = 'projects/p/subscriptions/sub';

let h: Harness;
beforeEach(async () => {
  h = openHarness();
  await h.broker.createTopic(T, {});
});
afterEach(async () => h.close());

describe('ack deadlines', () => {
  it('redelivers after the ack deadline passes, with a fresh ack id; the old id is stale', async () => {
    await h.broker.createSubscription(S, { topic: T, ackDeadlineSeconds: 20 });
    await h.publish(T, 'one');
    const [first] = await h.pull(S);
    expect(first.message.data.toString()).toBe('one');
    expect(await h.pull(S)).toEqual([]);

    h.clock.advance(20 * SECOND - 1);
    expect(await h.pull(S), 'still leased 1 ms before the deadline').toEqual([]);
    h.clock.advance(1);
    const [second] = await h.pull(S);
    expect(second.message.messageId).toBe(first.message.messageId);
    expect(second.ackId).not.toBe(first.ackId);
    expect(second.deliveryAttempt).toBe(2);

    await h.leases.acknowledge(S, [first.ackId]); // stale: ignored
    h.clock.advance(20 * SECOND);
    const [third] = await h.pull(S);
    expect(third.message.messageId).toBe(first.message.messageId);
    await h.leases.acknowledge(S, [third.ackId]);
    h.clock.advance(DAY);
    expect(await h.pull(S)).toEqual([]);
  });

  it('modifyAckDeadline extends a lease; 0 nacks it for immediate redelivery', async () => {
    await h.broker.createSubscription(S, { topic: T });
    await h.publish(T, 'one');
    const [first] = await h.pull(S);
    await h.leases.modifyAckDeadline(S, [first.ackId], 60);
    h.clock.advance(59 * SECOND);
    expect(await h.pull(S)).toEqual([]);
    await h.leases.modifyAckDeadline(S, [first.ackId], 0);
    const [again] = await h.pull(S);
    expect(again.message.messageId).toBe(first.message.messageId);
  });

  it('a receipt modack arriving after a nack does not resurrect the lease', async () => {
    await h.broker.createSubscription(S, { topic: T });
    await h.publish(T, 'one');
    const [first] = await h.pull(S);
    await h.leases.modifyAckDeadline(S, [first.ackId], 0); // the nack overtakes...
    await h.leases.modifyAckDeadline(S, [first.ackId], 600); // ...the receipt modack
    expect(text(await h.pull(S))).toEqual(['one']);
  });

  it('rejects the whole request when one ack id is malformed or of another subscription', async () => {
    await h.broker.createSubscription(S, { topic: T });
    await h.broker.createSubscription(`${S}2`, { topic: T });
    await h.publish(T, 'one');
    const [mine] = await h.pull(S);
    const [theirs] = await h.pull(`${S}2`);
    await expect(h.leases.acknowledge(S, [mine.ackId, 'garbage'])).rejects.toMatchObject({ status: 'INVALID_ARGUMENT' });
    await expect(h.leases.acknowledge(S, [theirs.ackId])).rejects.toMatchObject({ status: 'INVALID_ARGUMENT' });
    await expect(h.leases.modifyAckDeadline(S, [mine.ackId], 601)).rejects.toMatchObject({ status: 'INVALID_ARGUMENT' });
    h.clock.advance(10 * SECOND);
    expect(text(await h.pull(S)), 'nothing was acknowledged').toEqual(['one']);
  });
});

describe('retryPolicy', () => {
  it('backs off exponentially from minimumBackoff, capped at maximumBackoff', async () => {
    await h.broker.createSubscription(S, { topic: T, retryPolicy: { minimumBackoff: '5s', maximumBackoff: '12s' } });
    await h.publish(T, 'one');
    const expectedWaits = [5 * SECOND, 10 * SECOND, 12 * SECOND, 12 * SECOND];
    for (const [i, wait] of expectedWaits.entries()) {
      const [received] = await h.pull(S);
      expect(received?.deliveryAttempt, `delivery ${i + 1}`).toBe(i + 1);
      await h.leases.modifyAckDeadline(S, [received.ackId], 0);
      h.clock.advance(wait - 1);
      expect(await h.pull(S), `not before ${wait} ms`).toEqual([]);
      h.clock.advance(1);
    }
    expect(text(await h.pull(S))).toEqual(['one']);
  });

  it('without a policy a nacked message is deliverable at once', async () => {
    await h.broker.createSubscription(S, { topic: T });
    await h.publish(T, 'one');
    const [received] = await h.pull(S);
    await h.leases.modifyAckDeadline(S, [received.ackId], 0);
    expect(text(await h.pull(S))).toEqual(['one']);
  });
});

describe('dead letters', () => {
  it('forwards a message to the dead-letter topic after maxDeliveryAttempts, with Google attributes', async () => {
    const DLQ = 'projects/p/topics/dead';
    await h.broker.createTopic(DLQ, {});
    await h.broker.createSubscription('projects/p/subscriptions/dead-sub', { topic: DLQ });
    await h.broker.createSubscription(S, { topic: T, deadLetterPolicy: { deadLetterTopic: DLQ, maxDeliveryAttempts: 5 } });
    const [id] = await h.broker.publish(T, [{ data: Buffer.from('poison'), attributes: { kind: 'x' } }]);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const [received] = await h.pull(S);
      expect(received.deliveryAttempt).toBe(attempt);
      await h.leases.modifyAckDeadline(S, [received.ackId], 0);
    }
    expect(await h.pull(S), 'the sixth delivery goes to the dead-letter topic instead').toEqual([]);
    const [dead] = await h.pull('projects/p/subscriptions/dead-sub');
    expect(dead.message.data.toString()).toBe('poison');
    expect(dead.message.messageId).not.toBe(id);
    expect(dead.message.attributes).toMatchObject({
      kind: 'x',
      CloudPubSubDeadLetterSourceDeliveryCount: '5',
      CloudPubSubDeadLetterSourceSubscription: 'sub',
      CloudPubSubDeadLetterSourceSubscriptionProject: 'p',
    });
    expect(await h.store.broker.backlogSize((await h.broker.subscriptionRow(S)).id)).toBe(0);
  });
});

describe('ordering keys', () => {
  it('delivers one message per key at a time, in publish order; other keys and unkeyed messages flow', async () => {
    await h.broker.createSubscription(S, { topic: T, enableMessageOrdering: true });
    const key = (k: string, ...data: string[]) =>
      h.broker.publish(T, data.map((d) => ({ data: Buffer.from(d), attributes: {}, orderingKey: k })));
    await key('a', 'a1', 'a2');
    await key('b', 'b1');
    await key('a', 'a3');
    await h.publish(T, 'free1', 'free2');
    const first = await h.pull(S);
    expect(text(first).sort()).toEqual(['a1', 'b1', 'free1', 'free2']);
    const a1 = first.find((r) => r.message.data.toString() === 'a1')!;
    expect(await h.pull(S)).toEqual([]);
    await h.leases.acknowledge(S, [a1.ackId]);
    expect(text(await h.pull(S))).toEqual(['a2']);
  });

  it('a nacked ordered message is redelivered before the later ones of its key', async () => {
    await h.broker.createSubscription(S, { topic: T, enableMessageOrdering: true });
    await h.broker.publish(T, ['m1', 'm2'].map((d) => ({ data: Buffer.from(d), attributes: {}, orderingKey: 'k' })));
    const [m1] = await h.pull(S);
    await h.leases.modifyAckDeadline(S, [m1.ackId], 0);
    expect(text(await h.pull(S))).toEqual(['m1']);
  });
});

describe('fan-out, filters, retention and expiration', () => {
  it('delivers to the subscriptions that exist at publish time whose filter matches', async () => {
    await h.broker.createSubscription(`${S}-eu`, { topic: T, filter: 'attributes.region = "eu"' });
    await h.broker.createSubscription(`${S}-all`, { topic: T });
    await h.broker.publish(T, [
      { data: Buffer.from('eu'), attributes: { region: 'eu' } },
      { data: Buffer.from('us'), attributes: { region: 'us' } },
    ]);
    await h.broker.createSubscription(`${S}-late`, { topic: T });
    expect(text(await h.pull(`${S}-eu`))).toEqual(['eu']);
    expect(text(await h.pull(`${S}-all`)).sort()).toEqual(['eu', 'us']);
    expect(await h.pull(`${S}-late`)).toEqual([]);
    await expect(h.broker.createSubscription(`${S}-bad`, { topic: T, filter: 'attributes.x = ' })).rejects.toMatchObject({
      status: 'INVALID_ARGUMENT',
    });
  });

  it('does not deliver messages older than the subscription retention', async () => {
    await h.broker.createSubscription(S, { topic: T, messageRetentionDuration: '600s' });
    await h.publish(T, 'old');
    h.clock.advance(10 * MINUTE + 1);
    await h.publish(T, 'new');
    expect(text(await h.pull(S))).toEqual(['new']);
  });

  it('expires a subscription after its TTL without activity; activity restarts the TTL', async () => {
    await h.broker.createSubscription(S, { topic: T, expirationPolicy: { ttl: '86400s' } });
    h.clock.advance(DAY - MINUTE * 2);
    await h.pull(S); // activity
    h.clock.advance(DAY - MINUTE * 2);
    await expect(h.broker.getSubscription(S)).resolves.toMatchObject({ name: S });
    h.clock.advance(MINUTE * 3);
    await expect(h.broker.getSubscription(S)).rejects.toMatchObject({ status: 'NOT_FOUND' });
    await h.publish(T, 'after expiry');
    const swept = await h.store.broker.sweep(h.clock.now(), { defaultMs: 7 * DAY });
    expect(swept.subscriptions).toBe(1);
    // The name is free again.
    await expect(h.broker.createSubscription(S, { topic: T })).resolves.toMatchObject({ name: S });
  });

  it('a subscription with an empty expirationPolicy never expires', async () => {
    await h.broker.createSubscription(S, { topic: T, expirationPolicy: {} });
    h.clock.advance(400 * DAY);
    await expect(h.broker.getSubscription(S)).resolves.toMatchObject({ expirationPolicy: {} });
  });
});
