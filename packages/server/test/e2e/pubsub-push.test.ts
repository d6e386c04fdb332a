/**
 * Push delivery to real local HTTP receivers, with subscriptions managed through Google's
 * `googleapis` client: the wrapped body and headers exactly as Google sends them, noWrapper,
 * which answers count as acks, retries (backoff driven by a manual clock), isolation of a dead
 * endpoint, detach and modifyPushConfig, and OIDC tokens verified with jose against the JWKS
 * mailwatch serves (reference/pubsub.md, "Push delivery").
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { google, type pubsub_v1 } from 'googleapis';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** How a receiver answers one request: a status, 102 Processing with no final answer, or nothing at all. */
type Answer = number | 'processing' | 'hang';

/** A push endpoint on 127.0.0.1 that records every request and answers what `respond` says. */
class Receiver {
  readonly requests: Received[] = [];
  respond: (request: Received) => Answer = () => 200;
  url = '';
  #server: Server | undefined;
  readonly #open = new Set<ServerResponse>();

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(received);
        const answer = this.respond(received);
        if (answer === 'hang' || answer === 'processing') {
          if (answer === 'processing') res.writeProcessing();
          this.#open.add(res);
          return;
        }
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
    return this;
  }

  /** The JSON bodies (wrapped pushes) received so far. */
  bodies(): any[] {
    return this.requests.map((r) => JSON.parse(r.body.toString()));
  }

  async stop(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

const P = 'projects/push-e2e';
let server: RunningServer;
let clock: ManualClock;
let pubsub: pubsub_v1.Pubsub;
let receivers: Receiver[];
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;
const b64 = (text: string) => Buffer.from(text).toString('base64');

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  server = await startMailwatch({ memory: true, clock, config: { pushPollMs: 50 } });
  pubsub = google.pubsub({ version: 'v1', rootUrl: `${server.url}/` });
  receivers = [];
});
afterEach(async () => {
  await server.stop();
  await Promise.all(receivers.map((r) => r.stop()));
});

async function receiver(respond?: Receiver['respond']): Promise<Receiver> {
  const r = await new Receiver().start();
  if (respond) r.respond = respond;
  receivers.push(r);
  return r;
}

async function topic(): Promise<string> {
  const name = `${P}/topics/${unique('topic')}`;
  await pubsub.projects.topics.create({ name });
  return name;
}

async function pushSubscription(topicName: string, pushConfig: pubsub_v1.Schema$PushConfig, extra: pubsub_v1.Schema$Subscription = {}): Promise<string> {
  const name = `${P}/subscriptions/${unique('push')}`;
  await pubsub.projects.subscriptions.create({ name, requestBody: { topic: topicName, pushConfig, ...extra } });
  return name;
}

async function publish(topicName: string, ...messages: pubsub_v1.Schema$PubsubMessage[]): Promise<string[]> {
  return (await pubsub.projects.topics.publish({ topic: topicName, requestBody: { messages } })).data.messageIds!;
}

const messageIdOf = (r: Received) => JSON.parse(r.body.toString()).message.messageId as string;

/**
 * Proves that `messageId` was acknowledged by the receiver's last answer: time moves past any
 * ack deadline and backoff, then a sentinel is published and pushed. A message that was not
 * acknowledged would be pushed again before the sentinel (a failure halves the push window to
 * one request at a time, oldest first).
 */
async function expectAcked(topicName: string, r: Receiver, messageId: string, deliveries = 1): Promise<void> {
  clock.advance(15 * 60_000);
  const [sentinel] = await publish(topicName, { data: b64('sentinel') });
  await vi.waitFor(() => expect(r.requests.map(messageIdOf), 'the sentinel is pushed').toContain(sentinel), { timeout: 3000 });
  expect(r.requests.map(messageIdOf).filter((id) => id === messageId), `${messageId} was pushed again: not acked`).toHaveLength(deliveries);
}

describe('the push request', () => {
  it('POSTs the wrapped body exactly as Google does, with Google\'s user agent and no auth', async () => {
    const r = await receiver();
    const t = await topic();
    const sub = await pushSubscription(t, { pushEndpoint: `${r.url}/push/here?token=abc`, attributes: { 'x-goog-version': 'v1' } });
    const [id] = await publish(t, { data: b64('hello'), attributes: { k: 'v', other: 'x' }, orderingKey: 'ok' });
    await vi.waitFor(() => expect(r.requests).toHaveLength(1));
    const [request] = r.requests;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/push/here?token=abc');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^APIs-Google/);
    expect(request.headers.authorization).toBeUndefined();
    expect(request.headers['x-goog-version'], 'pushConfig.attributes are settings, not headers').toBeUndefined();

    const body = JSON.parse(request.body.toString());
    const publishTime = new Date(clock.now()).toISOString();
    expect(Object.keys(body)).toEqual(['message', 'subscription']);
    expect(Object.keys(body.message)).toEqual(['attributes', 'data', 'messageId', 'message_id', 'orderingKey', 'publishTime', 'publish_time']);
    expect(body).toEqual({
      message: { attributes: { k: 'v', other: 'x' }, data: b64('hello'), messageId: id, message_id: id, orderingKey: 'ok', publishTime, publish_time: publishTime },
      subscription: sub,
    });
    await expectAcked(t, r, id);
  });

  it('adds deliveryAttempt only for a subscription with a dead-letter policy', async () => {
    const r = await receiver();
    const t = await topic();
    const dead = await topic();
    const withDlq = await pushSubscription(t, { pushEndpoint: `${r.url}/dlq` }, { deadLetterPolicy: { deadLetterTopic: dead } });
    const without = await pushSubscription(t, { pushEndpoint: `${r.url}/plain` });
    const [id] = await publish(t, { data: b64('counted') });
    await vi.waitFor(() => expect(r.requests).toHaveLength(2));
    const byPath = Object.fromEntries(r.requests.map((q) => [q.path, JSON.parse(q.body.toString())]));
    expect(Object.keys(byPath['/dlq'])).toEqual(['message', 'subscription', 'deliveryAttempt']);
    expect(byPath['/dlq']).toMatchObject({ subscription: withDlq, deliveryAttempt: 1, message: { messageId: id } });
    expect(Object.keys(byPath['/plain'])).toEqual(['message', 'subscription']);
    expect(byPath['/plain'].subscription).toBe(without);
  });

  it('noWrapper sends the raw data; writeMetadata adds the x-goog-pubsub-* and attribute headers', async () => {
    const r = await receiver();
    const t = await topic();
    const withMetadata = await pushSubscription(t, { pushEndpoint: `${r.url}/meta`, noWrapper: { writeMetadata: true } });
    await pushSubscription(t, { pushEndpoint: `${r.url}/bare`, noWrapper: { writeMetadata: false } });
    const raw = Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x0a, 0xc3]); // not UTF-8, not JSON
    const [id] = await publish(t, { data: raw.toString('base64'), attributes: { color: 'red', 'x-trace': 't-1' }, orderingKey: 'ord' });
    await vi.waitFor(() => expect(r.requests).toHaveLength(2));
    const meta = r.requests.find((q) => q.path === '/meta')!;
    const bare = r.requests.find((q) => q.path === '/bare')!;
    for (const request of [meta, bare]) {
      expect(request.method).toBe('POST');
      expect(request.body.equals(raw), 'the body is the message data, byte for byte').toBe(true);
      expect(request.headers['user-agent']).toMatch(/^APIs-Google/);
    }
    expect(meta.headers).toMatchObject({
      'x-goog-pubsub-subscription-name': withMetadata,
      'x-goog-pubsub-message-id': id,
      'x-goog-pubsub-publish-time': new Date(clock.now()).toISOString(),
      'x-goog-pubsub-ordering-key': 'ord',
      color: 'red',
      'x-trace': 't-1',
    });
    const gooHeaders = Object.keys(bare.headers).filter((h) => h.startsWith('x-goog-pubsub-') || h === 'color' || h === 'x-trace');
    expect(gooHeaders, 'without writeMetadata no metadata or attribute headers').toEqual([]);
  });
});

describe('acknowledgement and retries', () => {
  it.each([200, 201, 202, 204])('a %i answer acknowledges the message', async (status) => {
    const r = await receiver(() => status);
    const t = await topic();
    await pushSubscription(t, { pushEndpoint: r.url });
    const [id] = await publish(t, { data: b64(`status ${status}`) });
    await vi.waitFor(() => expect(r.requests).toHaveLength(1));
    await expectAcked(t, r, id);
  });

  it('a 102 Processing answer acknowledges the message', async () => {
    let first = true;
    const r = await receiver(() => (first ? ((first = false), 'processing') : 200));
    const t = await topic();
    await pushSubscription(t, { pushEndpoint: r.url });
    const [id] = await publish(t, { data: b64('processing') });
    await vi.waitFor(() => expect(r.requests).toHaveLength(1));
    await expectAcked(t, r, id);
  });

  // Each retry test publishes a second message: with one push in flight at a time, the second
  // is pushed only after the first one's answer was recorded, so the clock is moved after that.
  it('any other answer is a nack: the message is pushed again', async () => {
    for (const status of [203, 301, 400, 404, 429, 500, 503]) {
      const r = await receiver((request) => (request.body.toString().includes(b64('first')) ? status : 200));
      const t = await topic();
      await pushSubscription(t, { pushEndpoint: r.url });
      const [first, second] = await publish(t, { data: b64('first') }, { data: b64('second') });
      await vi.waitFor(() => expect(r.requests.map(messageIdOf)).toEqual([first, second]));
      clock.advance(15 * 60_000);
      await vi.waitFor(() => expect(r.requests.map(messageIdOf), `after a ${status}`).toEqual([first, second, first]));
    }
  });

  it('a 500 then a 200: the message is retried after the backoff, then acknowledged and never pushed again', async () => {
    const answers = [500];
    const r = await receiver(() => answers.shift() ?? 200);
    const t = await topic();
    await pushSubscription(t, { pushEndpoint: r.url }, { retryPolicy: { minimumBackoff: '30s', maximumBackoff: '300s' } });
    const [flaky, next] = await publish(t, { data: b64('flaky'), attributes: { try: 'me' } }, { data: b64('next') });
    await vi.waitFor(() => expect(r.requests.map(messageIdOf)).toEqual([flaky, next]));

    clock.advance(29_999);
    const [early] = await publish(t, { data: b64('early sentinel') });
    await vi.waitFor(() => expect(r.requests.map(messageIdOf)).toContain(early));
    expect(r.requests.map(messageIdOf).filter((id) => id === flaky), 'not again before minimumBackoff').toHaveLength(1);

    clock.advance(1);
    await vi.waitFor(() => expect(r.requests.map(messageIdOf).filter((id) => id === flaky)).toHaveLength(2));
    const bodies = r.bodies().filter((b) => b.message.messageId === flaky);
    expect(bodies[1], 'the same message, the same body').toEqual(bodies[0]);
    expect(bodies[1].message.attributes).toEqual({ try: 'me' });
    await expectAcked(t, r, flaky, 2);
  });

  it('a dead endpoint (one that never answers, or a closed port) does not hold up another subscription', async () => {
    const hanging = await receiver(() => 'hang');
    const closed = await receiver();
    const closedUrl = closed.url;
    await closed.stop();
    receivers.splice(receivers.indexOf(closed), 1);
    const healthy = await receiver();
    const t = await topic();
    await pushSubscription(t, { pushEndpoint: hanging.url }, { ackDeadlineSeconds: 600 });
    await pushSubscription(t, { pushEndpoint: closedUrl });
    await pushSubscription(t, { pushEndpoint: healthy.url });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(...(await publish(t, { data: b64(`m${i}`) })));
    await vi.waitFor(() => expect(healthy.requests.map(messageIdOf).sort()).toEqual([...ids].sort()), { timeout: 5000 });
    expect(hanging.requests, 'the stuck endpoint has one request in flight at a time (slow start)').toHaveLength(1);
  });
});

describe('push configuration changes', () => {
  it('detach stops pushes to the endpoint', async () => {
    const detachedReceiver = await receiver();
    const liveReceiver = await receiver();
    const t = await topic();
    const detached = await pushSubscription(t, { pushEndpoint: detachedReceiver.url });
    await pushSubscription(t, { pushEndpoint: liveReceiver.url });
    await pubsub.projects.subscriptions.detach({ subscription: detached });
    expect((await pubsub.projects.subscriptions.get({ subscription: detached })).data.detached).toBe(true);
    const [id] = await publish(t, { data: b64('after detach') });
    await vi.waitFor(() => expect(liveReceiver.requests.map(messageIdOf)).toEqual([id]));
    clock.advance(60_000);
    await server.pushRunner.refresh();
    expect(detachedReceiver.requests).toEqual([]);
  });

  it('modifyPushConfig starts pushing a pull subscription\'s backlog, and an empty config makes it pull again', async () => {
    const r = await receiver();
    const t = await topic();
    const sub = `${P}/subscriptions/${unique('switch')}`;
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic: t } });
    const [waiting] = await publish(t, { data: b64('waiting in the backlog') });
    await pubsub.projects.subscriptions.modifyPushConfig({ subscription: sub, requestBody: { pushConfig: { pushEndpoint: `${r.url}/now-push` } } });
    await vi.waitFor(() => expect(r.requests.map(messageIdOf)).toEqual([waiting]));
    expect(r.requests[0].path).toBe('/now-push');

    await pubsub.projects.subscriptions.modifyPushConfig({ subscription: sub, requestBody: { pushConfig: {} } });
    const [pulledId] = await publish(t, { data: b64('pull me') });
    const { data } = await pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 10, returnImmediately: true } });
    expect(data.receivedMessages?.map((m) => m.message!.messageId)).toEqual([pulledId]);
    expect(r.requests).toHaveLength(1);
  });
});

describe('OIDC push authentication', () => {
  it('each request carries Authorization: Bearer <JWT> with Google\'s claims, verifiable against /oauth2/v3/certs', async () => {
    const email = 'pusher@my-project.iam.gserviceaccount.com';
    const r = await receiver();
    const t = await topic();
    await pushSubscription(t, { pushEndpoint: `${r.url}/with-audience`, oidcToken: { serviceAccountEmail: email, audience: 'https://my-app.example.com' } });
    await pushSubscription(t, { pushEndpoint: `${r.url}/default-audience`, oidcToken: { serviceAccountEmail: email } });
    await publish(t, { data: b64('one') });
    await publish(t, { data: b64('two') });
    await vi.waitFor(() => expect(r.requests).toHaveLength(4));

    const jwks = createRemoteJWKSet(new URL(`${server.url}/oauth2/v3/certs`));
    const keys = ((await (await fetch(`${server.url}/oauth2/v3/certs`)).json()) as { keys: { kid: string }[] }).keys;
    for (const request of r.requests) {
      const authorization = request.headers.authorization ?? '';
      expect(authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      const token = authorization.slice('Bearer '.length);
      const audience = request.path === '/with-audience' ? 'https://my-app.example.com' : `${r.url}/default-audience`;
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: 'https://accounts.google.com',
        audience,
        currentDate: new Date(clock.now()),
      });
      expect(protectedHeader.alg).toBe('RS256');
      expect(keys.map((k) => k.kid)).toContain(decodeProtectedHeader(token).kid);
      expect(payload).toMatchObject({ email, email_verified: true, aud: audience, iss: 'https://accounts.google.com' });
      expect(payload.sub).toMatch(/^\d+$/);
      expect(payload.azp).toBe(payload.sub);
      expect(payload.iat).toBe(Math.floor(clock.now() / 1000));
      expect(payload.exp).toBe(payload.iat! + 3600);
      await expect(
        jwtVerify(token, jwks, { issuer: 'https://accounts.google.com', audience: 'https://someone-else.example.com', currentDate: new Date(clock.now()) }),
        'a token for another audience is refused',
      ).rejects.toThrow();
    }
  });
});
