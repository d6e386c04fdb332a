/**
 * Invariant 1 of DESIGN.md against the real CLI process (`mailwatch serve --data DIR`):
 * - kill -9 under load, then a restart on the same directory: every publish that answered 200
 *   is delivered, intact, on every subscription; no ack that answered 200 is undone (the
 *   message never comes back); topics, subscriptions and IAM policies are as they were; leases
 *   outstanding at the crash still hold (an extended one is not redelivered early) and, once
 *   they expire, their messages are delivered again;
 * - SIGTERM / SIGINT while requests are in flight: each of them is answered (200, or a closed
 *   connection for requests that arrive after the listener closed; never a 5xx), a long pull is
 *   woken and answered, the process exits 0 without logging an error, and the data reopens.
 *
 * Lease expiry across a restart: the server runs in another process, so no injected clock
 * reaches it, and an ack id is not a way to see a lease (a modack 0 with a pre-crash ack id
 * would prove only that the id parses, and would nack the message instead of letting the
 * lease run out). So the test takes those leases with the minimum ack deadline (10 s) before
 * the crash and waits, in one bounded poll, until at most 15 s after they were taken.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnServe, type ServeProcess } from '../helpers/process.ts';

const T = 'projects/p/topics/topic-t';
/** Pulled and acked before and during the load; holds the leases outstanding at the crash. */
const S1 = 'projects/p/subscriptions/sub-consumed';
/** Never consumed before the crash: must hold everything. */
const S2 = 'projects/p/subscriptions/sub-all';
const GMAIL_PUSH = 'serviceAccount:gmail-api-push@system.gserviceaccount.com';
const ACK_DEADLINE_S = 10; // the minimum Pub/Sub accepts

interface Received {
  ackId: string;
  message: { data?: string; attributes?: Record<string, string>; messageId: string; publishTime: string };
}
interface Sent {
  data: string;
  attributes: Record<string, string>;
}

const processes: ServeProcess[] = [];
const dirs: string[] = [];
const loads: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  for (const p of processes.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
  for (const load of loads.splice(0)) await load.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailwatch-crash-'));
  dirs.push(dir);
  return dir;
}

async function serve(dir: string, env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const p = await spawnServe(['--data', dir], env);
  processes.push(p);
  return p;
}

/** One REST call that must answer 200; returns the body. */
async function call(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}/v1/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${method} ${path} ${JSON.stringify(body)?.slice(0, 200)} -> ${response.status} ${text}`);
  return JSON.parse(text);
}

async function pull(url: string, sub: string, maxMessages: number): Promise<Received[]> {
  return (await call(url, 'POST', `${sub}:pull`, { maxMessages, returnImmediately: true })).receivedMessages ?? [];
}

/** Pulls until exactly `n` messages are leased (a pull may return fewer than asked). */
async function pullExactly(url: string, sub: string, n: number): Promise<Received[]> {
  const got: Received[] = [];
  for (let attempt = 0; got.length < n && attempt < 50; attempt++) got.push(...(await pull(url, sub, n - got.length)));
  expect(got, `could not lease ${n} messages from ${sub}`).toHaveLength(n);
  return got;
}

/** Pulls and acks until the subscription has nothing deliverable; returns what it saw. */
async function drain(url: string, sub: string): Promise<Received[]> {
  const seen: Received[] = [];
  for (;;) {
    const batch = await pull(url, sub, 1000);
    if (batch.length === 0) return seen;
    seen.push(...batch);
    await call(url, 'POST', `${sub}:acknowledge`, { ackIds: batch.map((r) => r.ackId) });
  }
}

const encode = (text: string) => Buffer.from(text).toString('base64');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishers sending small batches in a loop until stopped or until their connection dies.
 * Records what every publish that answered 200 carried, and every answer that was not a 200.
 */
function publishUnderLoad(url: string, clients: number, sent: Map<string, Sent>) {
  const failures: string[] = [];
  let acknowledged = 0;
  let stopped = false;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; !stopped; i++) {
      const messages = Array.from({ length: 1 + (i % 5) }, (_, j) => ({
        data: encode(`load c${c} i${i} j${j}`),
        attributes: { client: String(c), seq: `${i}.${j}` },
      }));
      let response: Response;
      try {
        response = await fetch(`${url}/v1/${T}:publish`, { method: 'POST', body: JSON.stringify({ messages }) });
      } catch {
        return; // the connection died with the server: this publish was never acknowledged
      }
      const text = await response.text().catch(() => '<body cut>');
      if (response.status !== 200) {
        failures.push(`${response.status} ${text.slice(0, 300)}`);
        continue;
      }
      const ids = (JSON.parse(text) as { messageIds: string[] }).messageIds;
      ids.forEach((id, k) => sent.set(id, messages[k]));
      acknowledged += ids.length;
    }
  });
  const load = {
    failures,
    get acknowledged() {
      return acknowledged;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
  loads.push(load);
  return load;
}

/**
 * A consumer pulling and acking on `sub` until stopped or its connection dies. `acked` gets the
 * messages whose ack answered 200; `unsure` those pulled whose ack never got an answer.
 */
function consumeUnderLoad(url: string, sub: string) {
  const acked = new Set<string>();
  const unsure = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      let batch: Received[];
      try {
        batch = await pull(url, sub, 10);
      } catch {
        return;
      }
      if (batch.length === 0) {
        await sleep(5);
        continue;
      }
      const ids = batch.map((r) => r.message.messageId);
      ids.forEach((id) => unsure.add(id));
      try {
        await call(url, 'POST', `${sub}:acknowledge`, { ackIds: batch.map((r) => r.ackId) });
      } catch {
        return;
      }
      for (const id of ids) {
        unsure.delete(id);
        acked.add(id);
      }
    }
  })();
  const consumer = {
    acked,
    unsure,
    async stop() {
      stopped = true;
      await loop;
    },
  };
  loads.push(consumer);
  return consumer;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** pino lines of a process at level error (50) or above. */
function errorLogs(output: string): string[] {
  return output.split('\n').filter((line) => {
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

describe('crash and shutdown of the real process', () => {
  it('kill -9 under load loses nothing acknowledged, undoes no ack, and keeps leases', async () => {
    const dir = freshDir();
    const first = await serve(dir);
    const url = first.url;

    await call(url, 'PUT', T, { labels: { team: 'mail' } });
    await call(url, 'PUT', S1, { topic: T, ackDeadlineSeconds: ACK_DEADLINE_S });
    await call(url, 'PUT', S2, { topic: T, ackDeadlineSeconds: 60, retainAckedMessages: false });
    const topicPolicy = await call(url, 'POST', `${T}:setIamPolicy`, { policy: { bindings: [{ role: 'roles/pubsub.publisher', members: [GMAIL_PUSH] }] } });
    const subPolicy = await call(url, 'POST', `${S1}:setIamPolicy`, { policy: { bindings: [{ role: 'roles/pubsub.subscriber', members: ['user:reader@example.com'] }] } });
    const resourcesBefore = {
      topic: await call(url, 'GET', T),
      s1: await call(url, 'GET', S1),
      s2: await call(url, 'GET', S2),
      topicSubscriptions: await call(url, 'GET', `${T}/subscriptions`),
    };

    const sent = new Map<string, Sent>();
    const seedMessages = Array.from({ length: 60 }, (_, i) => ({ data: encode(`seed ${i}`), attributes: { seed: String(i) } }));
    const seed = await call(url, 'POST', `${T}:publish`, { messages: seedMessages });
    (seed.messageIds as string[]).forEach((id, i) => sent.set(id, seedMessages[i]));

    // On S1: 20 acked, 10 leased with the 10 s deadline, 10 leased and extended to 600 s.
    const ackedBefore = await pullExactly(url, S1, 20);
    await call(url, 'POST', `${S1}:acknowledge`, { ackIds: ackedBefore.map((r) => r.ackId) });
    const shortLeasedAt = Date.now();
    const shortLeases = await pullExactly(url, S1, 10);
    const longLeases = await pullExactly(url, S1, 10);
    await call(url, 'POST', `${S1}:modifyAckDeadline`, { ackIds: longLeases.map((r) => r.ackId), ackDeadlineSeconds: 600 });

    // Load: 4 publishers and a consumer acking on S1, then kill -9 in the middle of it.
    const publishers = publishUnderLoad(url, 4, sent);
    const consumer = consumeUnderLoad(url, S1);
    await waitFor('400 acknowledged publishes and 50 acks', () => publishers.acknowledged >= 400 && consumer.acked.size >= 50, 30_000);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await publishers.stop();
    await consumer.stop();
    expect(publishers.failures, 'publishes answered with something else than 200 before the crash').toEqual([]);

    const second = await serve(dir);
    const after = second.url;

    // Resources and policies are exactly as they were.
    expect(await call(after, 'GET', T)).toEqual(resourcesBefore.topic);
    expect(await call(after, 'GET', S1)).toEqual(resourcesBefore.s1);
    expect(await call(after, 'GET', S2)).toEqual(resourcesBefore.s2);
    expect(await call(after, 'GET', `${T}/subscriptions`)).toEqual(resourcesBefore.topicSubscriptions);
    expect(await call(after, 'GET', `${T}:getIamPolicy`)).toEqual(topicPolicy);
    expect(await call(after, 'GET', `${S1}:getIamPolicy`)).toEqual(subPolicy);

    // S2 was never consumed: it delivers every acknowledged publish, intact.
    const onS2 = new Map((await drain(after, S2)).map((r) => [r.message.messageId, r.message]));
    expect([...sent.keys()].filter((id) => !onS2.has(id)), 'acknowledged publishes missing on S2').toEqual([]);
    for (const [id, message] of sent) {
      const got = onS2.get(id)!;
      expect({ data: got.data, attributes: got.attributes }, `message ${id} on S2`).toEqual(message);
    }
    // Anything else on S2 can only be a publish that committed as the process died.
    for (const [id, message] of onS2) {
      if (!sent.has(id)) expect(Buffer.from(message.data ?? '', 'base64').toString(), `unknown message ${id}`).toMatch(/^load c\d+ i\d+ j\d+$/);
    }

    // S1: acked messages never come back; the extended leases hold; the 10 s leases expire.
    const acked = new Set([...ackedBefore.map((r) => r.message.messageId), ...consumer.acked]);
    const longIds = new Set(longLeases.map((r) => r.message.messageId));
    const shortIds = shortLeases.map((r) => r.message.messageId);
    const onS1 = new Map<string, Received['message']>();
    const take = (batch: Received[]) => batch.forEach((r) => onS1.set(r.message.messageId, r.message));
    take(await drain(after, S1));
    const pollUntil = shortLeasedAt + (ACK_DEADLINE_S + 5) * 1000;
    while (shortIds.some((id) => !onS1.has(id)) && Date.now() < pollUntil) {
      await sleep(250);
      take(await drain(after, S1));
    }
    expect([...onS1.keys()].filter((id) => acked.has(id)), 'acked (200) before the crash, delivered again').toEqual([]);
    expect([...onS1.keys()].filter((id) => longIds.has(id)), 'leases extended to 600 s delivered again within seconds').toEqual([]);
    expect(shortIds.filter((id) => !onS1.has(id)), 'leases outstanding at the crash never redelivered after their deadline').toEqual([]);
    for (const id of shortIds) expect(onS1.get(id)!.data).toBe(sent.get(id)!.data);
    const expectedOnS1 = [...sent.keys()].filter((id) => !acked.has(id) && !longIds.has(id) && !consumer.unsure.has(id));
    expect(expectedOnS1.filter((id) => !onS1.has(id)), 'acknowledged publishes missing on S1').toEqual([]);
  }, 90_000);

  it.each(['SIGTERM', 'SIGINT'] as const)('%s answers the requests in flight, wakes long pulls, exits 0, and the data reopens', async (signal) => {
    const dir = freshDir();
    // A long pull would wait a minute: only the shutdown can end it in time.
    const first = await serve(dir, { MAILWATCH_PULL_WAIT_MS: '60000' });
    const url = first.url;
    const IDLE_TOPIC = 'projects/p/topics/idle';
    const IDLE = 'projects/p/subscriptions/idle-sub';
    await call(url, 'PUT', T);
    await call(url, 'PUT', S2, { topic: T });
    await call(url, 'PUT', IDLE_TOPIC);
    await call(url, 'PUT', IDLE, { topic: IDLE_TOPIC });

    const longPull = fetch(`${url}/v1/${IDLE}:pull`, { method: 'POST', body: JSON.stringify({ maxMessages: 5 }) }).then(
      async (response) => ({ status: response.status, body: await response.text() }),
      (error: unknown) => ({ status: 0, body: String(error) }),
    );
    const sent = new Map<string, Sent>();
    const publishers = publishUnderLoad(url, 16, sent);
    await waitFor('200 acknowledged publishes', () => publishers.acknowledged >= 200, 30_000);

    const signalledAt = Date.now();
    first.child.kill(signal);
    const code = await Promise.race([first.exited, sleep(20_000).then(() => 'still running 20 s after the signal')]);
    const exitMs = Date.now() - signalledAt;
    await publishers.stop();

    expect(code, first.output().slice(-2000)).toBe(0);
    expect(publishers.failures, 'publishes in flight at shutdown answered with something else than 200').toEqual([]);
    expect(await longPull, 'the long pull in flight is answered at shutdown').toEqual({ status: 200, body: '{}' });
    // The HTTP server cuts connections still open after 10 s; a clean shutdown ends well before.
    expect(exitMs, 'the shutdown waited for something instead of waking it').toBeLessThan(8_000);
    expect(errorLogs(first.output()), 'errors logged by the process').toEqual([]);

    const second = await serve(dir);
    expect(await call(second.url, 'GET', IDLE)).toMatchObject({ topic: IDLE_TOPIC });
    const onS2 = new Map((await drain(second.url, S2)).map((r) => [r.message.messageId, r.message]));
    expect([...sent.keys()].filter((id) => !onS2.has(id)), 'acknowledged publishes missing after the restart').toEqual([]);
    for (const [id, message] of sent) expect({ data: onS2.get(id)!.data, attributes: onS2.get(id)!.attributes }).toEqual(message);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);

  it('SIGTERM while a request is still arriving: it is answered 200 (or its connection closed), never 500, and the process still exits', async () => {
    const dir = freshDir();
    const first = await serve(dir);
    await call(first.url, 'PUT', T);
    await call(first.url, 'PUT', S2, { topic: T });

    // A publish whose headers and first bytes arrive before the signal, the rest after it.
    const message = { data: encode('in flight at SIGTERM'), attributes: { when: 'shutdown' } };
    const body = JSON.stringify({ messages: [message] });
    let write!: (chunk: string | null) => void;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        write = (chunk) => (chunk === null ? controller.close() : controller.enqueue(new TextEncoder().encode(chunk)));
      },
    });
    const answer = fetch(`${first.url}/v1/${T}:publish`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(20_000),
    } as RequestInit).then(
      async (response) => ({ status: response.status, body: await response.text() }),
      (error: unknown) => ({ status: 0, body: String((error as Error).cause ?? error) }),
    );
    write(body.slice(0, 10));
    await sleep(200);
    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    await sleep(100);
    write(body.slice(10));
    write(null);

    const got = await answer;
    const code = await Promise.race([first.exited, sleep(10_000).then(() => 'still running 10 s after SIGTERM')]);
    const exitMs = Date.now() - signalledAt;
    expect(got.status === 200 || got.status === 0, `the publish in flight got ${got.status} ${got.body}`).toBe(true);
    expect(code).toBe(0);
    expect(exitMs, 'the process waited for an idle client connection to time out').toBeLessThan(8_000);
    expect(errorLogs(first.output()), 'errors logged by the process').toEqual([]);

    if (got.status === 200) {
      const second = await serve(dir);
      const [id] = (JSON.parse(got.body) as { messageIds: string[] }).messageIds;
      const onS2 = await drain(second.url, S2);
      expect(onS2.map((r) => [r.message.messageId, r.message.data, r.message.attributes])).toEqual([[id, message.data, message.attributes]]);
    }
  }, 60_000);
});
