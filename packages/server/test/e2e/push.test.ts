/**
 * Push delivery to a real local HTTP endpoint: Google's wrapped body, noWrapper headers, ack
 * statuses, retry with backoff (driven by the manual clock), isolation between subscriptions,
 * and OIDC tokens verified with jose against the JWKS mailwatch serves.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A push endpoint that records requests and answers with the status `respond` picks. */
class Receiver {
  readonly requests: Received[] = [];
  respond: (request: Received) => number | 'hang' = () => 200;
  #server: Server | undefined;
  #hanging = new Set<() => void>();
  url = '';

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(received);
        const status = this.respond(received);
        if (status === 'hang') {
          this.#hanging.add(() => res.destroy());
          return;
        }
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const release of this.#hanging) release();
    this.#server?.closeAllConnections();
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

let server: RunningServer;
let receiver: Receiver;
let clock: ManualClock;

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  server = await startMailwatch({ clock, config: { pushPollMs: 50 } });
  receiver = await new Receiver().start();
});
afterEach(async () => {
  await server.stop();
  await receiver.stop();
});

async function rest(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${server.url}/v1/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function pushSubscription(id: string, pushConfig: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  await rest('PUT', 'projects/p/topics/events').catch(() => undefined);
  return rest('PUT', `projects/p/subscriptions/${id}`, { topic: 'projects/p/topics/events', pushConfig, ...extra });
}

const publish = (messages: unknown[]) => rest('POST', 'projects/p/topics/events:publish', { messages });

describe('push delivery', () => {
  it('POSTs the wrapped body exactly as Google does and stops after a 200', async () => {
    await pushSubscription('wrapped', { pushEndpoint: `${receiver.url}/push?token=abc` });
    const { messageIds } = await publish([{ data: Buffer.from('hello').toString('base64'), attributes: { k: 'v' }, orderingKey: 'ok' }]);
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1));
    const [request] = receiver.requests;
    expect(request.path).toBe('/push?token=abc');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^APIs-Google/);
    expect(request.headers.authorization).toBeUndefined();
    const body = JSON.parse(request.body.toString());
    expect(Object.keys(body)).toEqual(['message', 'subscription']);
    expect(body.subscription).toBe('projects/p/subscriptions/wrapped');
    expect(body.message).toEqual({
      attributes: { k: 'v' },
      data: 'aGVsbG8=',
      messageId: messageIds[0],
      message_id: messageIds[0],
      orderingKey: 'ok',
      publishTime: expect.stringMatching(/Z$/),
      publish_time: body.message.publishTime,
    });
    clock.advance(60_000);
    await server.pushRunner.refresh();
    expect(receiver.requests, 'acked by the 200: never delivered again').toHaveLength(1);
  });

  it('counts 102/200/201/202/204 as acks and anything else as a nack retried with backoff', async () => {
    const statuses = [500, 404, 429, 204];
    receiver.respond = () => statuses.shift() ?? 599;
    await pushSubscription('retry', { pushEndpoint: receiver.url }, { retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' } });
    await publish([{ data: 'YQ==' }]);
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1));
    for (const [i, backoff] of [10_000, 20_000, 40_000].entries()) {
      clock.advance(backoff - 1);
      await server.pushRunner.refresh();
      expect(receiver.requests, `no retry before ${backoff} ms`).toHaveLength(i + 1);
      clock.advance(1);
      await vi.waitFor(() => expect(receiver.requests).toHaveLength(i + 2));
    }
    clock.advance(600_000);
    await server.pushRunner.refresh();
    expect(receiver.requests, 'the 204 acked it').toHaveLength(4);
    const ids = receiver.requests.map((r) => JSON.parse(r.body.toString()).message.messageId);
    expect(new Set(ids).size).toBe(1);
  });

  it('sends deliveryAttempt only with a dead-letter policy, and forwards after maxDeliveryAttempts', async () => {
    await rest('PUT', 'projects/p/topics/dead');
    await rest('PUT', 'projects/p/subscriptions/dead-pull', { topic: 'projects/p/topics/dead' });
    receiver.respond = () => 503;
    await pushSubscription('with-dlq', { pushEndpoint: receiver.url }, {
      deadLetterPolicy: { deadLetterTopic: 'projects/p/topics/dead', maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: '1s', maximumBackoff: '1s' },
    });
    await publish([{ data: 'YQ==' }]);
    for (let attempt = 1; attempt <= 5; attempt++) {
      await vi.waitFor(() => expect(receiver.requests).toHaveLength(attempt));
      expect(JSON.parse(receiver.requests[attempt - 1].body.toString()).deliveryAttempt).toBe(attempt);
      clock.advance(1000);
    }
    await vi.waitFor(async () => {
      await server.pushRunner.refresh();
      const pulled = await rest('POST', 'projects/p/subscriptions/dead-pull:pull', { maxMessages: 10, returnImmediately: true });
      expect(pulled.receivedMessages?.[0]?.message.attributes.CloudPubSubDeadLetterSourceDeliveryCount).toBe('5');
    });
    expect(receiver.requests).toHaveLength(5);
  });

  it('noWrapper sends the raw data, and writeMetadata adds Google\'s headers', async () => {
    await pushSubscription('raw', { pushEndpoint: `${receiver.url}/raw`, noWrapper: { writeMetadata: true } });
    const { messageIds } = await publish([{ data: Buffer.from('{"raw":true}').toString('base64'), attributes: { color: 'red' } }]);
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1));
    const [request] = receiver.requests;
    expect(request.body.toString()).toBe('{"raw":true}');
    expect(request.headers).toMatchObject({
      'x-goog-pubsub-subscription-name': 'projects/p/subscriptions/raw',
      'x-goog-pubsub-message-id': messageIds[0],
      color: 'red',
    });
    expect(request.headers['x-goog-pubsub-publish-time']).toMatch(/Z$/);
  });

  it('a dead endpoint does not hold up another subscription of the same topic', async () => {
    const dead = await new Receiver().start();
    dead.respond = () => 'hang';
    try {
      await pushSubscription('stuck', { pushEndpoint: dead.url }, { ackDeadlineSeconds: 600 });
      await pushSubscription('healthy', { pushEndpoint: receiver.url });
      for (let i = 0; i < 20; i++) await publish([{ data: Buffer.from(`m${i}`).toString('base64') }]);
      await vi.waitFor(() => expect(receiver.requests).toHaveLength(20));
      expect(dead.requests.length, 'the stuck endpoint holds one request at a time (slow start)').toBe(1);
    } finally {
      await dead.stop();
    }
  });
});

describe('push authentication', () => {
  it('signs an OIDC token with Google\'s claims that jose verifies against the served JWKS', async () => {
    const email = 'pusher@my-project.iam.gserviceaccount.com';
    await pushSubscription('oidc-aud', { pushEndpoint: `${receiver.url}/a`, oidcToken: { serviceAccountEmail: email, audience: 'my-app' } });
    await pushSubscription('oidc-default', { pushEndpoint: `${receiver.url}/b`, oidcToken: { serviceAccountEmail: email } });
    await publish([{ data: 'YQ==' }]);
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(2));

    const jwks = createRemoteJWKSet(new URL(`${server.url}/oauth2/v3/certs`));
    for (const request of receiver.requests) {
      const token = request.headers.authorization!.replace(/^Bearer /, '');
      const audience = request.path === '/a' ? 'my-app' : `${receiver.url}/b`;
      const { payload } = await jwtVerify(token, jwks, {
        issuer: 'https://accounts.google.com',
        audience,
        currentDate: new Date(clock.now()),
      });
      expect(payload).toMatchObject({ email, email_verified: true });
      expect(payload.sub).toMatch(/^\d{21}$/);
      expect(payload.exp! - payload.iat!).toBe(3600);
      expect(payload.iat).toBe(Math.floor(clock.now() / 1000));
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', kid: expect.stringMatching(/^[0-9a-f]{40}$/) });
      await expect(jwtVerify(token, jwks, { issuer: 'https://accounts.google.com', audience: 'someone-else', currentDate: new Date(clock.now()) }))
        .rejects.toThrow();
    }
  });

  it('keeps its signing key across restarts, so receivers keep verifying', async () => {
    const first = await (await fetch(`${server.url}/oauth2/v3/certs`)).json();
    const again = await startMailwatch({ config: { dataDir: server.dataDir } });
    try {
      expect(await (await fetch(`${again.url}/oauth2/v3/certs`)).json()).toEqual(first);
    } finally {
      await again.stop();
    }
  });
});
