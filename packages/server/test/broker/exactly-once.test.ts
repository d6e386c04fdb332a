import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MINUTE, SECOND } from '../../src/domain/duration.ts';
import { openHarness, text, type Harness } from './harness.ts';

const T = 'projects/p/topics/topic';
const S = 'projects/p/subscriptions/exactly-once';

let h: Harness;
beforeEach(async () => {
  h = openHarness();
  await h.broker.createTopic(T, {});
  await h.broker.createSubscription(S, { topic: T, ackDeadlineSeconds: 60, enableExactlyOnceDelivery: true });
});
afterEach(async () => h.close());

async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    return error as { status: string; reason?: string; metadata?: Record<string, string> };
  }
  throw new Error('the call succeeded');
}

describe('exactly-once delivery', () => {
  it('an ack within the lease succeeds and the message never comes back', async () => {
    await h.publish(T, 'one');
    const [received] = await h.pull(S);
    await h.leases.acknowledge(S, [received.ackId]);
    h.clock.advance(10 * MINUTE);
    expect(await h.pull(S)).toEqual([]);
    const again = await failure(h.leases.acknowledge(S, [received.ackId]));
    expect(again).toMatchObject({ status: 'INVALID_ARGUMENT', metadata: { [received.ackId]: 'PERMANENT_FAILURE_INVALID_ACK_ID' } });
  });

  it('an ack after the lease expired fails for that id, and the message is delivered again', async () => {
    await h.publish(T, 'late', 'on-time');
    const [late, onTime] = await h.pull(S);
    h.clock.advance(30 * SECOND);
    await h.leases.modifyAckDeadline(S, [onTime.ackId], 60);
    h.clock.advance(30 * SECOND); // late's lease (60 s) has run out; onTime's was extended
    const error = await failure(h.leases.acknowledge(S, [late.ackId, onTime.ackId, 'not-an-ack-id']));
    expect(error).toMatchObject({ status: 'INVALID_ARGUMENT', reason: 'EXACTLY_ONCE_ACKID_FAILURE' });
    expect(error.metadata).toEqual({ [late.ackId]: 'PERMANENT_FAILURE_INVALID_ACK_ID', 'not-an-ack-id': 'PERMANENT_FAILURE_INVALID_ACK_ID' });
    const redelivered = await h.pull(S);
    expect(text(redelivered)).toEqual(['late']);
    expect(redelivered[0].ackId).not.toBe(late.ackId);
  });

  it('a modack on an expired lease fails and does not revive it', async () => {
    await h.publish(T, 'one');
    const [received] = await h.pull(S);
    h.clock.advance(61 * SECOND);
    expect(await failure(h.leases.modifyAckDeadline(S, [received.ackId], 600))).toMatchObject({
      metadata: { [received.ackId]: 'PERMANENT_FAILURE_INVALID_ACK_ID' },
    });
    expect(text(await h.pull(S))).toEqual(['one']);
  });
});
