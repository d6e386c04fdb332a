/**
 * Random and mutated requests to every route (fast-check): the server never answers 5xx
 * (except 501 UNIMPLEMENTED), every error is Google's envelope, and it stays healthy.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

let server: RunningServer;
const P = 'projects/fuzz';
const TOPIC = `${P}/topics/topic-a`;
const SUB = `${P}/subscriptions/sub-a`;

beforeAll(async () => {
  server = await startMailwatch({ memory: true, config: { pullWaitMs: 0 } });
  const put = (path: string, body: unknown) => fetch(`${server.url}/v1/${path}`, { method: 'PUT', body: JSON.stringify(body) });
  await put(TOPIC, {});
  await put(`${P}/topics/dead-letters`, {});
  await put(SUB, { topic: TOPIC });
  await put(`${P}/subscriptions/sub-b`, { topic: TOPIC, deadLetterPolicy: { deadLetterTopic: `${P}/topics/dead-letters` }, enableMessageOrdering: true });
  await fetch(`${server.url}/v1/${TOPIC}:publish`, {
    method: 'POST',
    body: JSON.stringify({ messages: Array.from({ length: 50 }, (_, i) => ({ data: 'YQ==', attributes: { i: String(i) } })) }),
  });
});
afterAll(async () => server.stop());

const names = fc.oneof(
  fc.constantFrom(TOPIC, SUB, `${P}/subscriptions/sub-b`, `${P}/topics/dead-letters`, `${P}/topics/missing`, `${P}/subscriptions/missing`),
  fc.constantFrom(P, 'projects', 'projects/', `${P}/topics`, `${P}/subscriptions`, `${P}/snapshots/snap`, `${P}/schemas`),
  fc.tuple(fc.constantFrom('topics', 'subscriptions', 'snapshots', 'bogus'), fc.string({ maxLength: 300 })).map(([c, id]) => `${P}/${c}/${id}`),
  fc.string({ maxLength: 80 }).map((s) => `projects/${s}`),
  fc.constantFrom('projects/%zz/topics/abc', 'projects/p/topics/%E0%A4%A', `${P}/topics/${'x'.repeat(5000)}`, 'projects/p/topics/a b c'),
);
const verbs = fc.option(
  fc.oneof(
    fc.constantFrom(
      'publish', 'pull', 'acknowledge', 'modifyAckDeadline', 'modifyPushConfig', 'detach', 'seek',
      'getIamPolicy', 'setIamPolicy', 'testIamPermissions', 'subscriptions', 'snapshots',
    ),
    fc.string({ maxLength: 20 }),
  ),
);
const suffixes = fc.constantFrom('', '/subscriptions', '/snapshots', '/bogus');

/** Bodies close to valid ones, then mutated. */
const valid = fc.constantFrom<Record<string, unknown>>(
  { messages: [{ data: 'aGVsbG8=', attributes: { k: 'v' } }] },
  { messages: [{ data: 'aGVsbG8=', orderingKey: 'k' }] },
  { maxMessages: 10, returnImmediately: true },
  { ackIds: ['1-1-1'], ackDeadlineSeconds: 10 },
  { topic: TOPIC, ackDeadlineSeconds: 20, filter: 'attributes:k', retryPolicy: { minimumBackoff: '1s' } },
  { topic: TOPIC, pushConfig: { pushEndpoint: 'http://127.0.0.1:1/x', oidcToken: { serviceAccountEmail: 'a@b.co' } } },
  { subscription: { ackDeadlineSeconds: 30 }, updateMask: 'ackDeadlineSeconds' },
  { topic: { labels: { a: 'b' } }, updateMask: 'labels' },
  { policy: { bindings: [{ role: 'roles/pubsub.viewer', members: ['user:a@example.com'] }], etag: 'ACAB' } },
  { permissions: ['pubsub.topics.get', 'pubsub.subscriptions.consume'] },
  { options: { requestedPolicyVersion: 3 } },
  { pushConfig: { pushEndpoint: 'https://example.com' } },
);
const mutation = fc.oneof(
  fc.constant((b: Record<string, unknown>) => b),
  fc.tuple(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 })).map(([k, v]) => (b: Record<string, unknown>) => ({ ...b, [k]: v })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => (b: Record<string, unknown>) => {
    const keys = Object.keys(b);
    return keys.length === 0 ? b : { ...b, [keys[0]]: v };
  }),
  fc.constant((b: Record<string, unknown>) => Object.fromEntries(Object.entries(b).slice(1))),
  fc.constantFrom(-1, 0, 2 ** 31, 2 ** 63, 1.5, -0, 1e308, '', '!!!', null, true, [], {}).map((v) => (b: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(b).map(([k]) => [k, v])),
  ),
);
const bodies = fc.oneof(
  fc.tuple(valid, mutation).map(([b, m]) => JSON.stringify(m(b))),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '{"a":', '[', 'null', '"x"', '{"messages":[{"data":"YQ=="}]', '\u0000', '{"a":1,}', "{'a':1}"),
  fc.integer({ min: 50, max: 300 }).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.integer({ min: 50, max: 300 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
);
const queries = fc.option(
  fc.array(
    fc.tuple(fc.constantFrom('pageSize', 'pageToken', 'options.requestedPolicyVersion', 'alt', '$alt', 'x'), fc.string({ maxLength: 15 })),
    { maxLength: 3 },
  ),
);
const contentTypes = fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json; charset=latin1');

const request = fc.record({
  method: fc.constantFrom('GET', 'PUT', 'POST', 'PATCH', 'DELETE'),
  name: names,
  suffix: suffixes,
  verb: verbs,
  body: bodies,
  query: queries,
  contentType: contentTypes,
});

describe('random requests', () => {
  it('never answer 5xx (but 501) and always use Google\'s error envelope', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const path = `${r.name}${r.suffix}${r.verb === null ? '' : `:${r.verb}`}`;
        const query = r.query ? `?${r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : '';
        const encoded = path.split('/').map((s) => (/%[0-9A-Za-z]{0,2}/.test(s) ? s : encodeURIComponent(s).replace(/%3A/g, ':'))).join('/');
        const response = await fetch(`${server.url}/v1/${encoded}${query}`, {
          method: r.method,
          body: r.method === 'GET' || r.method === 'DELETE' ? undefined : r.body,
          headers: r.contentType ? { 'content-type': r.contentType } : {},
        });
        const text = await response.text();
        const label = `${r.method} /v1/${encoded}${query} ${JSON.stringify(r.body).slice(0, 200)} -> ${response.status} ${text.slice(0, 300)}`;
        expect(response.status < 500 || response.status === 501, label).toBe(true);
        if (response.status >= 400) {
          const error = JSON.parse(text).error;
          expect(error.code, label).toBe(response.status);
          expect(typeof error.status, label).toBe('string');
          expect(error.message.length, label).toBeGreaterThan(0);
          if (response.status === 501) expect(error.status).toBe('UNIMPLEMENTED');
        } else {
          expect(() => JSON.parse(text), label).not.toThrow();
        }
      }),
      { numRuns: 3000 },
    );
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  }, 120_000);
});
