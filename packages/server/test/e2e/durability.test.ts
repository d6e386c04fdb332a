/**
 * Invariant 1 of DESIGN.md across real process deaths: every publish that answered 200 is
 * delivered after a SIGKILL and restart; nothing acknowledged comes back; topics,
 * subscriptions and IAM policies survive; leases outstanding at the crash expire and their
 * messages are delivered again. SIGTERM finishes requests in flight and exits 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnServe, type ServeProcess } from '../helpers/process.ts';

const T = 'projects/crash/topics/orders';
const S1 = 'projects/crash/subscriptions/orders-a';
const S2 = 'projects/crash/subscriptions/orders-b';

const running: ServeProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function serve(dir: string): Promise<ServeProcess> {
  const p = await spawnServe(['--data', dir]);
  running.push(p);
  return p;
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}/v1/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await response.json();
  if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const pull = async (url: string, sub: string, max = 1000): Promise<{ ackId: string; message: { messageId: string } }[]> =>
  (await call(url, 'POST', `${sub}:pull`, { maxMessages: max, returnImmediately: true })).receivedMessages ?? [];

/** Pulls and acks until the subscription is empty; returns the message ids seen. */
async function drain(url: string, sub: string): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const batch = await pull(url, sub);
    if (batch.length === 0) return ids;
    ids.push(...batch.map((r) => r.message.messageId));
    await call(url, 'POST', `${sub}:acknowledge`, { ackIds: batch.map((r) => r.ackId) });
  }
}

/** Publishers that publish until stopped, recording the ids of every publish that answered 200. */
function publishUnderLoad(url: string, clients: number) {
  const acknowledged: string[] = [];
  let stop = false;
  let serverErrors = 0;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; !stop; i++) {
      const messages = Array.from({ length: 10 }, (_, j) => ({ data: Buffer.from(`c${c}-${i}-${j}`).toString('base64') }));
      try {
        const response = await fetch(`${url}/v1/${T}:publish`, { method: 'POST', body: JSON.stringify({ messages }) });
        if (response.status >= 500) serverErrors++;
        if (response.status === 200) acknowledged.push(...((await response.json()) as { messageIds: string[] }).messageIds);
      } catch {
        return; // the connection died with the server: this publish was never acknowledged
      }
    }
  });
  return {
    acknowledged,
    get serverErrors() {
      return serverErrors;
    },
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

describe('durability', () => {
  it('loses nothing acknowledged across kill -9 and redelivers leases outstanding at the crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailwatch-crash-'));
    dirs.push(dir);
    const before = await serve(dir);
    await call(before.url, 'PUT', T);
    await call(before.url, 'PUT', S1, { topic: T });
    await call(before.url, 'PUT', S2, { topic: T });
    const policy = await call(before.url, 'POST', `${T}:setIamPolicy`, {
      policy: { bindings: [{ role: 'roles/pubsub.publisher', members: ['serviceAccount:gmail-api-push@system.gserviceaccount.com'] }] },
    });

    const seed = await call(before.url, 'POST', `${T}:publish`, {
      messages: Array.from({ length: 30 }, (_, i) => ({ data: Buffer.from(`seed-${i}`).toString('base64') })),
    });
    const acked = await pull(before.url, S1, 20);
    await call(before.url, 'POST', `${S1}:acknowledge`, { ackIds: acked.map((r) => r.ackId) });
    const leased = await pull(before.url, S1, 5); // outstanding at the crash, never acked
    expect(acked).toHaveLength(20);
    expect(leased).toHaveLength(5);

    const load = publishUnderLoad(before.url, 4);
    while (load.acknowledged.length < 500) await new Promise((resolve) => setTimeout(resolve, 5));
    before.child.kill('SIGKILL');
    expect(await before.exited).toBe('SIGKILL');
    await load.stop();
    expect(load.serverErrors).toBe(0);

    const after = await serve(dir);
    expect(await call(after.url, 'GET', T)).toEqual({ name: T });
    expect((await call(after.url, 'GET', S1)).topic).toBe(T);
    expect(await call(after.url, 'GET', `${T}:getIamPolicy`)).toEqual(policy);

    const published = [...seed.messageIds, ...load.acknowledged];
    const onS2 = new Set(await drain(after.url, S2));
    expect(published.filter((id) => !onS2.has(id)), 'acknowledged publishes missing on S2').toEqual([]);

    const ackedIds = new Set(acked.map((r) => r.message.messageId));
    const leasedIds = leased.map((r) => r.message.messageId);
    const onS1 = new Set(await drain(after.url, S1));
    expect([...onS1].filter((id) => ackedIds.has(id)), 'acked before the crash, delivered again').toEqual([]);
    const expectedNow = published.filter((id) => !ackedIds.has(id) && !leasedIds.includes(id));
    expect(expectedNow.filter((id) => !onS1.has(id)), 'acknowledged publishes missing on S1').toEqual([]);

    // The 5 leases taken before the crash (ack deadline 10 s) expire by the wall clock: this is
    // a real restart of a real process, where no injected clock reaches. One bounded poll.
    const redelivered = new Set<string>();
    const deadline = Date.now() + 15_000;
    while (redelivered.size < leasedIds.length && Date.now() < deadline) {
      for (const id of await drain(after.url, S1)) redelivered.add(id);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect([...redelivered].sort()).toEqual([...leasedIds].sort());
  }, 60_000);

  it('SIGTERM finishes requests in flight, exits 0, and the data reopens', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailwatch-term-'));
    dirs.push(dir);
    const first = await serve(dir);
    await call(first.url, 'PUT', T);
    await call(first.url, 'PUT', S2, { topic: T });
    const waiting = fetch(`${first.url}/v1/${S2}:pull`, { method: 'POST', body: JSON.stringify({ maxMessages: 1 }) });
    const load = publishUnderLoad(first.url, 4);
    while (load.acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 5));
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await load.stop();
    expect(load.serverErrors).toBe(0);
    expect((await waiting).status, 'a long pull in flight is answered at shutdown').toBe(200);

    const second = await serve(dir);
    const onS2 = new Set(await drain(second.url, S2));
    expect(load.acknowledged.filter((id) => !onS2.has(id))).toEqual([]);
  }, 60_000);
});
