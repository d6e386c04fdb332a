import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, SECOND } from '../../src/domain/duration.ts';
import { openHarness, text, type Harness } from './harness.ts';

const T = 'projects/p/topics/topic';
const S = 'projects/p/subscriptions/replay';
const SNAP = 'projects/p/snapshots/before';

let h: Harness;
beforeEach(async () => {
  h = openHarness();
  await h.broker.createTopic(T, {});
});
afterEach(async () => h.close());

async function consume(sub: string): Promise<string[]> {
  const received = await h.pull(sub);
  if (received.length > 0) await h.leases.acknowledge(sub, received.map((r) => r.ackId));
  return text(received);
}

describe('snapshots and seek', () => {
  it('seek to a snapshot restores what was unacked then, plus what was published since', async () => {
    await h.broker.createSubscription(S, { topic: T });
    await h.publish(T, 'a', 'b');
    expect((await consume(S)).sort()).toEqual(['a', 'b']);
    await h.publish(T, 'c');
    const snapshot = await h.snapshots.create(SNAP, { subscription: S, labels: { why: 'test' } });
    expect(snapshot).toMatchObject({ name: SNAP, topic: T, labels: { why: 'test' } });
    await h.publish(T, 'd');
    expect((await consume(S)).sort()).toEqual(['c', 'd']);
    expect(await consume(S)).toEqual([]);

    await h.snapshots.seek(S, { snapshot: SNAP });
    expect((await consume(S)).sort(), 'a and b were acked before the snapshot').toEqual(['c', 'd']);
  });

  it('seek to a time replays retained acked messages published since, and acks the older ones', async () => {
    await h.broker.createSubscription(S, { topic: T, retainAckedMessages: true });
    await h.publish(T, 'old');
    h.clock.advance(10 * SECOND);
    const cut = h.clock.now();
    await h.publish(T, 'new-1', 'new-2');
    expect((await consume(S)).sort()).toEqual(['new-1', 'new-2', 'old']);

    await h.snapshots.seek(S, { time: cut });
    expect((await consume(S)).sort()).toEqual(['new-1', 'new-2']);
    await h.snapshots.seek(S, { time: new Date(cut + 60 * SECOND).toISOString() });
    expect(await consume(S), 'everything before the seek time counts as acknowledged').toEqual([]);
  });

  it('without retainAckedMessages, seek to a past time cannot bring back acked messages', async () => {
    await h.broker.createSubscription(S, { topic: T });
    await h.publish(T, 'gone');
    expect(await consume(S)).toEqual(['gone']);
    await h.snapshots.seek(S, { time: 0 });
    expect(await consume(S)).toEqual([]);
  });

  it('expires when its oldest message is 7 days old; lists; refuses a snapshot of another topic', async () => {
    await h.broker.createTopic('projects/p/topics/other', {});
    await h.broker.createSubscription(S, { topic: T });
    await h.broker.createSubscription('projects/p/subscriptions/elsewhere', { topic: 'projects/p/topics/other' });
    await h.publish(T, 'x');
    h.clock.advance(3 * DAY);
    const snapshot = await h.snapshots.create(SNAP, { subscription: S });
    expect(snapshot.expireTime - h.clock.now()).toBe(4 * DAY);
    expect((await h.snapshots.list('projects/p', {})).items.map((s) => s.name)).toEqual([SNAP]);
    expect((await h.snapshots.listForTopic(T, {})).items).toEqual([SNAP]);
    await expect(h.snapshots.seek('projects/p/subscriptions/elsewhere', { snapshot: SNAP })).rejects.toMatchObject({ status: 'INVALID_ARGUMENT' });
    await expect(h.snapshots.create(SNAP, { subscription: S })).rejects.toMatchObject({ status: 'ALREADY_EXISTS' });
    await expect(h.snapshots.seek(S, {})).rejects.toMatchObject({ status: 'INVALID_ARGUMENT' });
    h.clock.advance(4 * DAY);
    await expect(h.snapshots.get(SNAP)).rejects.toMatchObject({ status: 'NOT_FOUND' });
    await h.store.broker.sweep(h.clock.now(), { defaultMs: 7 * DAY });
    await expect(h.snapshots.create(SNAP, { subscription: S })).resolves.toMatchObject({ name: SNAP });
  });

  it('keeps the messages it holds after the subscription acked them and the sweeper ran', async () => {
    await h.broker.createSubscription(S, { topic: T });
    await h.snapshots.create(SNAP, { subscription: S });
    await h.publish(T, 'kept');
    expect(await consume(S)).toEqual(['kept']);
    await h.store.broker.sweep(h.clock.now(), { defaultMs: 7 * DAY });
    await h.snapshots.seek(S, { snapshot: SNAP });
    expect(await consume(S)).toEqual(['kept']);
    await h.snapshots.delete(SNAP);
    await expect(h.snapshots.delete(SNAP)).rejects.toMatchObject({ status: 'NOT_FOUND' });
  });
});
