import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendPush } from './push-http.ts';
import { buildPushRequest, isAckStatus, PUSH_USER_AGENT, type PushMessage } from './push-request.ts';

const SUBSCRIPTION = 'projects/myproject/subscriptions/mysubscription';
const ENDPOINT = 'https://www.example.com/my-push-endpoint';

// The message of Google's push example (https://cloud.google.com/pubsub/docs/push).
const exampleMessage: PushMessage = {
  messageId: '2070443601311540',
  data: Buffer.from('Hello Cloud Pub/Sub! Here is my message!'),
  attributes: { key: 'value' },
  orderingKey: 'key',
  publishTime: Date.UTC(2021, 1, 26, 19, 13, 55, 749),
};

describe('buildPushRequest, wrapped', () => {
  it('writes the body byte for byte as Google does, deliveryAttempt included when given', () => {
    const request = buildPushRequest(SUBSCRIPTION, { pushEndpoint: ENDPOINT }, exampleMessage, 5);

    expect(request.url).toBe(ENDPOINT);
    expect(request.body).toBe(
      '{"message":{"attributes":{"key":"value"},"data":"SGVsbG8gQ2xvdWQgUHViL1N1YiEgSGVyZSBpcyBteSBtZXNzYWdlIQ==",' +
        '"messageId":"2070443601311540","message_id":"2070443601311540","orderingKey":"key",' +
        '"publishTime":"2021-02-26T19:13:55.749Z","publish_time":"2021-02-26T19:13:55.749Z"},' +
        '"subscription":"projects/myproject/subscriptions/mysubscription","deliveryAttempt":5}',
    );
  });

  it('leaves out deliveryAttempt, attributes, orderingKey and empty data like a production body', () => {
    // Shape of the body in functions-framework-python#170 (no attributes) without its ordering key.
    const plain = buildPushRequest(
      'projects/p/subscriptions/s',
      { pushEndpoint: ENDPOINT },
      { messageId: '3390469820526936', data: Buffer.from('dasfdsafdasf'), attributes: {}, publishTime: Date.UTC(2021, 10, 16, 19, 21, 9, 107) },
      undefined,
    );
    expect(plain.body).toBe(
      '{"message":{"data":"ZGFzZmRzYWZkYXNm","messageId":"3390469820526936","message_id":"3390469820526936",' +
        '"publishTime":"2021-11-16T19:21:09.107Z","publish_time":"2021-11-16T19:21:09.107Z"},' +
        '"subscription":"projects/p/subscriptions/s"}',
    );

    const attributeOnly = buildPushRequest(
      'projects/p/subscriptions/s',
      { pushEndpoint: ENDPOINT },
      { messageId: '1', data: Buffer.alloc(0), attributes: { a: 'b' }, publishTime: 0 },
      1,
    );
    expect(JSON.parse(attributeOnly.body as string).message).toEqual({
      attributes: { a: 'b' },
      messageId: '1',
      message_id: '1',
      publishTime: '1970-01-01T00:00:00.000Z',
      publish_time: '1970-01-01T00:00:00.000Z',
    });
  });

  it('keeps millisecond precision even at a whole second', () => {
    const request = buildPushRequest(SUBSCRIPTION, { pushEndpoint: ENDPOINT }, { ...exampleMessage, publishTime: Date.UTC(2026, 0, 1) }, undefined);
    expect(JSON.parse(request.body as string).message.publishTime).toBe('2026-01-01T00:00:00.000Z');
  });

  it('sends JSON with Google user agent, and the OIDC token only when given', () => {
    const anonymous = buildPushRequest(SUBSCRIPTION, { pushEndpoint: ENDPOINT }, exampleMessage, undefined);
    expect(anonymous.headers).toEqual({ 'content-type': 'application/json', 'user-agent': PUSH_USER_AGENT });
    expect(PUSH_USER_AGENT).toBe('APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)');

    const signed = buildPushRequest(SUBSCRIPTION, { pushEndpoint: ENDPOINT }, exampleMessage, undefined, 'a.b.c');
    expect(signed.headers.authorization).toBe('Bearer a.b.c');
  });

  it('treats pushConfig.attributes as configuration, not as headers', () => {
    const request = buildPushRequest(
      SUBSCRIPTION,
      { pushEndpoint: ENDPOINT, attributes: { 'x-goog-version': 'v1' } },
      exampleMessage,
      undefined,
    );
    expect(Object.keys(request.headers).sort()).toEqual(['content-type', 'user-agent']);
    expect(request.body).toBe(buildPushRequest(SUBSCRIPTION, { pushEndpoint: ENDPOINT }, exampleMessage, undefined).body);
  });
});

describe('buildPushRequest, unwrapped', () => {
  it('sends only the raw data without writeMetadata', () => {
    const request = buildPushRequest(SUBSCRIPTION, { pushEndpoint: ENDPOINT, noWrapper: {} }, exampleMessage, 3);
    expect(request.body).toEqual(exampleMessage.data);
    expect(request.headers).toEqual({ 'user-agent': PUSH_USER_AGENT });
  });

  it('writes metadata to x-goog-pubsub-* headers and each attribute to its own header', () => {
    const request = buildPushRequest(
      SUBSCRIPTION,
      { pushEndpoint: ENDPOINT, noWrapper: { writeMetadata: true } },
      { ...exampleMessage, attributes: { someattributekey: 'someattributevalue', 'Content-Type': 'text/plain' } },
      2,
      'jwt',
    );
    expect(request.body).toEqual(exampleMessage.data);
    expect(request.headers).toEqual({
      someattributekey: 'someattributevalue',
      'Content-Type': 'text/plain',
      'x-goog-pubsub-subscription-name': SUBSCRIPTION,
      'x-goog-pubsub-message-id': '2070443601311540',
      'x-goog-pubsub-publish-time': '2021-02-26T19:13:55.749Z',
      'x-goog-pubsub-ordering-key': 'key',
      'user-agent': PUSH_USER_AGENT,
      authorization: 'Bearer jwt',
    });
  });

  it('writes no ordering key header when the message has none', () => {
    const request = buildPushRequest(
      SUBSCRIPTION,
      { pushEndpoint: ENDPOINT, noWrapper: { writeMetadata: true } },
      { ...exampleMessage, orderingKey: undefined },
      undefined,
    );
    expect(request.headers).not.toHaveProperty('x-goog-pubsub-ordering-key');
  });

  it('does not let an attribute replace metadata, identity or framing headers', () => {
    const request = buildPushRequest(
      SUBSCRIPTION,
      { pushEndpoint: ENDPOINT, noWrapper: { writeMetadata: true } },
      {
        ...exampleMessage,
        attributes: {
          'X-Goog-Pubsub-Message-Id': 'forged',
          Authorization: 'Bearer forged',
          'User-Agent': 'forged',
          'Content-Length': '1',
          Host: 'evil.example',
          'not a header name': 'x',
          kept: 'yes',
        },
      },
      undefined,
      'jwt',
    );
    const names = Object.keys(request.headers).map((name) => name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    expect(request.headers['x-goog-pubsub-message-id']).toBe('2070443601311540');
    expect(request.headers.authorization).toBe('Bearer jwt');
    expect(request.headers['user-agent']).toBe(PUSH_USER_AGENT);
    expect(names).not.toContain('content-length');
    expect(names).not.toContain('host');
    expect(names).not.toContain('not a header name');
    expect(request.headers.kept).toBe('yes');
  });
});

describe('isAckStatus', () => {
  it.each([
    [102, true],
    [200, true],
    [201, true],
    [202, true],
    [204, true],
    [203, false],
    [206, false],
    [301, false],
    [302, false],
    [400, false],
    [404, false],
    [429, false],
    [500, false],
    [503, false],
  ])('%i acks: %s', (status, ack) => {
    expect(isAckStatus(status)).toBe(ack);
  });
});

describe('a push over the wire', () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function endpoint(status: number): Promise<{ url: string; received: Promise<{ req: IncomingMessage; body: Buffer }> }> {
    let deliver: (value: { req: IncomingMessage; body: Buffer }) => void = () => {};
    const received = new Promise<{ req: IncomingMessage; body: Buffer }>((resolve) => (deliver = resolve));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        deliver({ req, body: Buffer.concat(chunks) });
        res.writeHead(status).end('thanks');
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/push`, received };
  }

  it('delivers an unwrapped message with UTF-8 metadata ', async () => {
    const { url, received } = await endpoint(200);
    const request = buildPushRequest(
      'projects/p/subscriptions/s',
      { pushEndpoint: url, noWrapper: { writeMetadata: true } },
      { messageId: '7', data: Buffer.from([0, 1, 2, 255]), attributes: { city: 'Zürich ✓' }, orderingKey: 'ключ', publishTime: 0 },
      undefined,
      'a.b.c',
    );

    expect(await sendPush(request, 5000)).toEqual({ ack: true, status: 200 });
    const { req, body } = await received;
    expect(req.method).toBe('POST');
    expect(body).toEqual(Buffer.from([0, 1, 2, 255]));
    const utf8 = (name: string) => Buffer.from(String(req.headers[name]), 'latin1').toString('utf8');
    expect(utf8('city')).toBe('Zürich ✓');
    expect(utf8('x-goog-pubsub-ordering-key')).toBe('ключ');
    expect(req.headers['x-goog-pubsub-subscription-name']).toBe('projects/p/subscriptions/s');
    expect(req.headers['user-agent']).toBe(PUSH_USER_AGENT);
    expect(req.headers.authorization).toBe('Bearer a.b.c');
  });

  it('delivers a wrapped message and reports a rejection', async () => {
    const { url, received } = await endpoint(503);
    const request = buildPushRequest('projects/p/subscriptions/s', { pushEndpoint: url }, exampleMessage, 2);

    expect(await sendPush(request, 5000)).toEqual({ ack: false, status: 503 });
    const { req, body } = await received;
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(body.toString('utf8'))).toMatchObject({ subscription: 'projects/p/subscriptions/s', deliveryAttempt: 2 });
  });

  it('acks on 102 Processing (which fetch never surfaces), nacks a timeout and a refused connection', async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/processing') res.writeProcessing();
      // /slow never answers
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
    const push = (url: string) => ({ url, headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await sendPush(push(`${base}/processing`), 5000)).toEqual({ ack: true, status: 102 });
    expect(await sendPush(push(`${base}/slow`), 200)).toEqual({ ack: false, error: 'push timed out after 200 ms' });
    server.closeAllConnections();
    const refused = await sendPush(push('http://127.0.0.1:1/x'), 5000);
    expect(refused.ack).toBe(false);
    expect(refused).toMatchObject({ error: expect.stringContaining('ECONNREFUSED') });
    expect(await sendPush(push('ftp://x/y'), 5000)).toMatchObject({ ack: false });
  });
});
