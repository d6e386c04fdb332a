/**
 * Invariant 6 of DESIGN.md, property-based (fast-check): random and mutated requests to every
 * Pub/Sub REST route. For every request:
 * - the status is never 5xx, except 501 with status UNIMPLEMENTED;
 * - every error body is Google's envelope: numeric `code` equal to the HTTP status, a non-empty
 *   `message`, a canonical `status` that maps to that HTTP status; every success body is JSON;
 * - nothing hangs (each request has a deadline) and GET /healthz still answers 200;
 * - reads and refused requests write nothing: the listings of topics and subscriptions and the
 *   IAM policies are unchanged after any GET and after any 4xx.
 * After the run, an audit subscription (which no request names) holds exactly the messages of
 * the publishes to its topic that answered 200: nothing acknowledged is lost, and no refused
 * publish left a message behind.
 *
 * Set MAILWATCH_FUZZ_SEED / MAILWATCH_FUZZ_RUNS to replay or lengthen a run; a failure prints the
 * exact request (method, raw path and query, content-type, body) in its message.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

const P = 'projects/p';
const TOPIC_A = `${P}/topics/topic-a`; // subscriptions below hang off it
const TOPIC_B = `${P}/topics/topic-b`; // no subscriptions
const DLQ = `${P}/topics/dead-letters`;
const AUDITED = `${P}/topics/audited`; // requests publish here; never deleted, never a body value
const SUB_A = `${P}/subscriptions/sub-a`;
const SUB_ORDERED = `${P}/subscriptions/sub-ordered`;
const SUB_EOD = `${P}/subscriptions/sub-exactly-once`;
const SUB_FILTERED = `${P}/subscriptions/sub-filtered`;
/** Never named by a generated request: it records what reached AUDITED. */
const AUDIT = `${P}/subscriptions/audit-3f9c2e`;

const FIXTURE_TOPICS = [TOPIC_A, TOPIC_B, DLQ, AUDITED];
const FIXTURE_SUBS: Record<string, Record<string, unknown>> = {
  [SUB_A]: { topic: TOPIC_A },
  [SUB_ORDERED]: {
    topic: TOPIC_A,
    enableMessageOrdering: true,
    deadLetterPolicy: { deadLetterTopic: DLQ, maxDeliveryAttempts: 5 },
    retryPolicy: { minimumBackoff: '1s', maximumBackoff: '2s' },
  },
  [SUB_EOD]: { topic: TOPIC_A, enableExactlyOnceDelivery: true, ackDeadlineSeconds: 30 },
  [SUB_FILTERED]: { topic: TOPIC_A, filter: 'attributes:k OR hasPrefix(attributes.i, "1")' },
  [AUDIT]: { topic: AUDITED },
};

/** Google's HTTP status for each canonical code (google/rpc/code.proto, as ESF maps them). */
const HTTP_OF_STATUS: Record<string, number> = {
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

const REQUEST_DEADLINE_MS = 10_000;
const RUNS = Number(process.env.MAILWATCH_FUZZ_RUNS ?? 700);
const SEED = process.env.MAILWATCH_FUZZ_SEED === undefined ? undefined : Number(process.env.MAILWATCH_FUZZ_SEED);

let server: RunningServer;
/**
 * Ack ids of real deliveries per subscription, most recent last. Bodies refer to them as
 * `@ack:N@` (an id of the subscription the request names, when it has any) and `@anyack:N@`
 * (an id of any subscription).
 */
const ackIds = new Map<string, string[]>();
function rememberAckId(subscription: string, ackId: string): void {
  const list = ackIds.get(subscription) ?? [];
  list.push(ackId);
  if (list.length > 100) list.splice(0, 50);
  ackIds.set(subscription, list);
}
/** Message ids of every publish to AUDITED that answered 200. */
const auditedIds = new Set<string>();

async function v1(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${server.url}/v1/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
  });
  return { status: response.status, json: await response.json() };
}

/** (Re)creates whatever fixture a request deleted, detached or re-pointed. */
async function ensureFixtures(): Promise<void> {
  for (const topic of FIXTURE_TOPICS) {
    if ((await v1('GET', topic)).status === 404) expect((await v1('PUT', topic)).status).toBe(200);
  }
  for (const [name, body] of Object.entries(FIXTURE_SUBS)) {
    const got = await v1('GET', name);
    if (got.status === 200 && !got.json.detached && got.json.topic === body.topic) continue;
    if (got.status === 200) expect((await v1('DELETE', name)).status).toBe(200);
    ackIds.delete(name);
    const put = await v1('PUT', name, body);
    expect(put.status, JSON.stringify(put.json)).toBe(200);
  }
}

async function publishSeed(topic: string, count: number): Promise<string[]> {
  const messages = Array.from({ length: count }, (_, i) => ({
    data: Buffer.from(`seed-${i}`).toString('base64'),
    attributes: { i: String(i), ...(i % 2 ? { k: 'v' } : {}) },
  }));
  const { status, json } = await v1('POST', `${topic}:publish`, { messages });
  expect(status).toBe(200);
  return json.messageIds;
}

/** Leases a few messages (never acked) so that bodies can carry real ack ids. */
async function harvestAckIds(): Promise<void> {
  for (const sub of [SUB_A, SUB_ORDERED, SUB_EOD, SUB_FILTERED]) {
    const { json } = await v1('POST', `${sub}:pull`, { maxMessages: 3, returnImmediately: true });
    for (const r of json.receivedMessages ?? []) rememberAckId(sub, r.ackId);
  }
}

/** What the server sees: the path after URL normalisation, each segment percent-decoded. */
function decodedPath(url: string): string | undefined {
  try {
    return new URL(url).pathname.split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}

/** Everything a request could change that can be read without changing it. */
async function snapshot(): Promise<string> {
  const reads = [
    `${P}/topics?pageSize=1000`,
    `${P}/subscriptions?pageSize=1000`,
    `${TOPIC_A}/subscriptions?pageSize=1000`,
    `${P}:getIamPolicy`,
    `${TOPIC_A}:getIamPolicy`,
    `${AUDITED}:getIamPolicy`,
    `${SUB_A}:getIamPolicy`,
  ];
  const parts = await Promise.all(reads.map(async (path) => `${path} ${JSON.stringify((await v1('GET', path)).json)}`));
  return parts.join('\n');
}

beforeAll(async () => {
  server = await startMailwatch({ memory: true, config: { pullWaitMs: 0 } });
  await ensureFixtures();
  for (const id of await publishSeed(AUDITED, 5)) auditedIds.add(id);
  await publishSeed(TOPIC_A, 60);
  await harvestAckIds();
  expect(ackIds.size).toBeGreaterThan(0);
});
afterAll(async () => server?.stop());

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/** A path segment: `text` is percent-encoded before sending, `raw` is sent as written. */
type Segment = { text: string } | { raw: string };
const text = (s: string): Segment => ({ text: s });
const raw = (s: string): Segment => ({ raw: s });
const split = (name: string): Segment[] => name.split('/').map(text);

const unicode = fc.string({ unit: 'grapheme', maxLength: 12 });
const badIds = fc.oneof(
  fc.constantFrom(
    '', 'ab', '1abc', '-abc', 'goog-abc', 'GOOGabc', 'a b c', 'tópico', '😀😀😀', 'abc/def', 'abc?x=1', 'abc#frag', '..', '.',
    'a'.repeat(255), 'a'.repeat(256), 'x'.repeat(5000), 'abc%', 'abc:def', 'topic-a:', ':publish', 'abc\u0000', 'abc\n',
  ),
  fc.string({ maxLength: 40 }),
  unicode,
);
const validIds = fc.stringMatching(/^[A-Za-z][A-Za-z0-9\-_.~+%]{2,30}$/);
const collections = fc.constantFrom('topics', 'subscriptions', 'snapshots', 'schemas', 'bogus', 'Topics', '');
const projects = fc.oneof(
  { arbitrary: fc.constant('p'), weight: 6 },
  { arbitrary: fc.constantFrom('other-project', 'P', '', ' ', 'p q', '_', 'a'.repeat(101), '日本'), weight: 1 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
);
/** Raw segments, percent-encoding valid and invalid, sent without re-encoding. */
const rawSegments = fc.constantFrom(
  '%zz', '%', '%2', '%E0%A4%A', '%C0%AF', '%FF', '%00', '%2F', '%2f', '%3A', '%20', '%F0%9F%98%80', '%ED%A0%80',
  '%74opic-a', 'topic%2Da', 'sub%2Da', '%25', '%25zz', '%%', 'topic-a%3Apublish', 'x'.repeat(20) + '%zz',
);

const fixtureNames = fc.constantFrom(TOPIC_A, TOPIC_B, DLQ, AUDITED, SUB_A, SUB_ORDERED, SUB_EOD, SUB_FILTERED);

const segments: fc.Arbitrary<Segment[]> = fc.oneof(
  { arbitrary: fixtureNames.map(split), weight: 8 },
  { arbitrary: fc.constantFrom(`${P}/topics/missing-topic`, `${P}/subscriptions/missing-sub`, `${P}/snapshots/snap`, `${P}/schemas/schema`).map(split), weight: 2 },
  { arbitrary: fc.constantFrom(P, 'projects/other', 'projects', 'projects/', '', `${P}/topics`, `${P}/subscriptions`, `${P}/snapshots`, `${P}/schemas`).map(split), weight: 3 },
  {
    arbitrary: fc.tuple(fc.constantFrom(TOPIC_A, TOPIC_B, `${P}/topics/missing-topic`), fc.constantFrom('subscriptions', 'snapshots', 'bogus', '')).map(
      ([t, c]) => split(`${t}/${c}`),
    ),
    weight: 2,
  },
  { arbitrary: fc.tuple(projects, collections, fc.oneof(validIds, badIds)).map(([p, c, id]) => [text('projects'), text(p), text(c), text(id)]), weight: 4 },
  {
    // A fixture name with one segment replaced by a raw (possibly invalid) percent-encoding.
    arbitrary: fc.tuple(fixtureNames, fc.nat(3), rawSegments).map(([name, i, r]) => {
      const parts = split(name);
      parts[i] = raw(r);
      return parts;
    }),
    weight: 2,
  },
  { arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 10 }).map(text), rawSegments.map(raw)), { maxLength: 7 }), weight: 1 },
  { arbitrary: fc.tuple(fixtureNames, fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 3 })).map(([n, extra]) => [...split(n), ...extra.map(text)]), weight: 1 },
);

const KNOWN_VERBS = [
  'publish', 'pull', 'acknowledge', 'modifyAckDeadline', 'modifyPushConfig', 'detach', 'seek',
  'getIamPolicy', 'setIamPolicy', 'testIamPermissions',
] as const;
const verbs = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 3 },
  { arbitrary: fc.constantFrom(...KNOWN_VERBS), weight: 8 },
  { arbitrary: fc.constantFrom('', 'PUBLISH', 'publish:pull', 'streamingPull', 'list', 'undefined', '__proto__', 'constructor', 'toString'), weight: 1 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
);
const METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;

/** Any method, any path, any verb. */
const randomTargets = fc.record({ method: fc.constantFrom(...METHODS), segments, verb: verbs });

/** A route of the REST surface on a name of the right kind, so that valid bodies can succeed. */
const topicNames = fc.oneof(
  { arbitrary: fc.constantFrom(TOPIC_A, TOPIC_B, DLQ, AUDITED), weight: 4 },
  { arbitrary: validIds.map((id) => `${P}/topics/${id}`), weight: 1 },
);
const subNames = fc.oneof(
  { arbitrary: fc.constantFrom(SUB_A, SUB_ORDERED, SUB_EOD, SUB_FILTERED), weight: 4 },
  { arbitrary: validIds.map((id) => `${P}/subscriptions/${id}`), weight: 1 },
);
const iamNames = fc.oneof(topicNames, subNames, fc.constant(P));
/** Creation mostly under new names. */
const newTopicNames = fc.oneof({ arbitrary: topicNames, weight: 1 }, { arbitrary: validIds.map((id) => `${P}/topics/${id}`), weight: 2 });
const newSubNames = fc.oneof({ arbitrary: subNames, weight: 1 }, { arbitrary: validIds.map((id) => `${P}/subscriptions/${id}`), weight: 2 });
const target = (method: string, names: fc.Arbitrary<string>, verb?: string, suffix = '') =>
  names.map((name) => ({ method, segments: split(name + suffix), verb: verb as string | undefined }));
const routedTargets = fc.oneof(
  { arbitrary: target('PUT', newTopicNames), weight: 2 },
  { arbitrary: target('GET', topicNames), weight: 1 },
  { arbitrary: target('PATCH', topicNames), weight: 2 },
  { arbitrary: target('DELETE', topicNames), weight: 1 },
  { arbitrary: target('GET', topicNames, undefined, '/subscriptions'), weight: 1 },
  { arbitrary: target('GET', topicNames, undefined, '/snapshots'), weight: 1 },
  { arbitrary: target('POST', topicNames, 'publish'), weight: 6 },
  { arbitrary: target('PUT', newSubNames), weight: 3 },
  { arbitrary: target('GET', subNames), weight: 1 },
  { arbitrary: target('PATCH', subNames), weight: 2 },
  { arbitrary: target('DELETE', subNames), weight: 1 },
  { arbitrary: target('POST', subNames, 'pull'), weight: 6 },
  { arbitrary: target('POST', subNames, 'acknowledge'), weight: 5 },
  { arbitrary: target('POST', subNames, 'modifyAckDeadline'), weight: 5 },
  { arbitrary: target('POST', subNames, 'modifyPushConfig'), weight: 2 },
  { arbitrary: target('POST', subNames, 'detach'), weight: 1 },
  { arbitrary: target('POST', subNames, 'seek'), weight: 1 },
  { arbitrary: target('GET', iamNames, 'getIamPolicy'), weight: 1 },
  { arbitrary: target('POST', iamNames, 'getIamPolicy'), weight: 1 },
  { arbitrary: target('POST', iamNames, 'setIamPolicy'), weight: 3 },
  { arbitrary: target('POST', iamNames, 'testIamPermissions'), weight: 2 },
  { arbitrary: target('GET', fc.constantFrom(`${P}/topics`, `${P}/subscriptions`, `${P}/snapshots`, `${P}/schemas`, 'projects/other/topics')), weight: 2 },
);

// ---------------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------------

const queryValues = fc.oneof(
  fc.integer({ min: -5, max: 2000 }).map(String),
  fc.constantFrom(
    '', '0', '-0', '1', '3', '2147483647', '2147483648', '-2147483649', '99999999999', '1e3', ' 1', '1 ', '0x10', '1.5', 'NaN',
    'Infinity', 'abc', 'cHJvamVjdHMvcC90b3BpY3MvdG9waWMtYQ', '____', '%zz',
  ),
  fc.string({ maxLength: 15 }),
);
const queries = fc.oneof(
  { arbitrary: fc.constant(''), weight: 4 },
  {
    arbitrary: fc
      .array(fc.tuple(fc.constantFrom('pageSize', 'pageToken', 'options.requestedPolicyVersion', 'updateMask', 'alt', '$alt', 'key', 'x'), queryValues), {
        minLength: 1,
        maxLength: 4,
      })
      .map((pairs) => `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`),
    weight: 4,
  },
  {
    arbitrary: fc.constantFrom('?', '?&&', '?=', '?pageSize', '?pageSize=%zz', '?pageToken=%', '?__proto__=1', '?constructor=x&pageSize=1', '?pageSize[]=1', '?a[b]=c'),
    weight: 1,
  },
);

// ---------------------------------------------------------------------------------------------
// Bodies: valid ones per route, then mutated
// ---------------------------------------------------------------------------------------------

/** Placeholders replaced when the request is sent: real ack ids, raw JSON number texts. */
const ackRef = fc.tuple(fc.nat(1000), fc.nat(9)).map(([n, any]) => (any === 0 ? `@anyack:${n}@` : `@ack:${n}@`));
const RAW_JSON = ['99999999999999999999999', '1e999', '-1e999', '-0', '1.0e2', '18446744073709551616', '9223372036854775808', '-9223372036854775809', '0.0000001', '4294967296', '2147483648'];
const rawNumber = fc.nat(RAW_JSON.length - 1).map((n) => `@raw:${n}@`);

/** Mostly a valid value, sometimes an edge case. */
const mostly = <T,>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<unknown>): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: edge as fc.Arbitrary<T>, weight: 1 });

/** Names used inside bodies (never AUDITED: no request may re-point anything at it). */
const bodyTopics = mostly(
  fc.constantFrom(TOPIC_A, TOPIC_B, DLQ),
  fc.constantFrom(`${P}/topics/missing-topic`, `${P}/topics/ab`, 'topics/abc', '', SUB_A, '_deleted-topic_', 'projects//topics/abc'),
);
const bodySubs = fc.constantFrom(SUB_A, SUB_ORDERED, `${P}/subscriptions/missing-sub`, '', TOPIC_A);
const ackIdValues = fc.oneof(
  { arbitrary: ackRef, weight: 8 },
  { arbitrary: fc.tuple(fc.nat(12), fc.nat(300), fc.nat(5)).map(([a, b, c]) => `${a}-${b}-${c}`), weight: 2 },
  { arbitrary: fc.constantFrom('', '1-1-1', '0-0-0', '999999999999999-999999999999999-999999999', '1-1', 'abc', '-1-1-1', '1-1-1 ', '01-01-01', '1-1-1-1'), weight: 1 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
);
/** Mostly ids of recent deliveries of the subscription named, sometimes mixed with bad ones. */
const ackIdLists = mostly(
  fc.array(fc.nat(1000).map((n) => `@ack:${n}@`), { minLength: 1, maxLength: 4 }),
  fc.array(ackIdValues, { minLength: 1, maxLength: 4 }),
);
const edgeDurations: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0s', '1s', '601s', '2678401s', '-1s', '600.000000001s', '315576000000s', '315576000001s', 's', '10', '10m', '', '1.0000000001s',
    '99999999999999999999s', '1e3s', ' 10s', '10s ', '+10s', '.5s', '5.s',
  ),
  fc.integer().map((n) => `${n}s`),
);
const retentions = mostly(fc.constantFrom('600s', '3600s', '86400s', '604800s', '2678400s', '1200.5s'), edgeDurations);
const ttls = mostly(fc.constantFrom('86400s', '2678400s', '172800.25s'), edgeDurations);
const backoffs = mostly(fc.constantFrom('0s', '1s', '2.5s', '10s', '60s', '600s'), edgeDurations);
const base64Data = mostly(
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')),
  fc.oneof(
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64url')),
    fc.constantFrom('', 'YQ==', 'YQ', 'YQ=', 'Y===', 'Y Q = =', '%%%', 'a-b+', '====', 'A', '\u00e9t\u00e9', 'YQ==YQ=='),
  ),
);
const attributes = mostly(
  fc.dictionary(fc.constantFrom('k', 'i', 'kind', 'x-y', 'émoji'), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
  fc.dictionary(
    fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'goog-x', 'googclient_x', 'k'.repeat(256), 'k'.repeat(257))),
    fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'v'.repeat(1024), 'v'.repeat(1025))),
    { maxKeys: 4 },
  ),
);
const message = mostly(
  fc.record({ data: base64Data, attributes }, { requiredKeys: ['data'] }),
  fc.record(
    {
      data: base64Data,
      attributes,
      orderingKey: fc.constantFrom('', 'k', 'o'.repeat(1024), 'o'.repeat(1025)),
      messageId: fc.constantFrom('1', 'x'),
      publishTime: fc.constantFrom('2024-01-01T00:00:00Z', 'yesterday'),
    },
    { requiredKeys: [] },
  ),
);
/** Messages of one publish share one ordering key (or none). */
const publishBodies = fc.oneof(
  { arbitrary: fc.record({ messages: fc.array(message, { minLength: 1, maxLength: 4 }) }), weight: 4 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom('k', 'other', 'ü'), fc.array(fc.record({ data: base64Data, attributes }), { minLength: 1, maxLength: 4 }))
      .map(([orderingKey, messages]) => ({ messages: messages.map((m) => ({ ...m, orderingKey })) })),
    weight: 1,
  },
);
const pushConfig = fc.record(
  {
    // Only closed local ports: the push runner must never reach the network.
    pushEndpoint: mostly(fc.constantFrom('', 'http://127.0.0.1:1/push'), fc.constantFrom('https://127.0.0.1:1/x', 'http://localhost:1', 'ftp://127.0.0.1:1', 'not a url', 'http://[::1', '/relative')),
    attributes: fc.dictionary(fc.constantFrom('x-goog-version', 'bogus', ''), fc.constantFrom('v1', 'v1beta1', '')),
    oidcToken: fc.record({ serviceAccountEmail: mostly(fc.constant('a@b.co'), fc.constantFrom('', 'not-an-email')), audience: fc.constantFrom('', 'aud') }, { requiredKeys: [] }),
    wrapper: mostly(
      fc.constantFrom(undefined, { pubsubWrapper: {} }, { noWrapper: { writeMetadata: true } }),
      fc.constantFrom({ pubsubWrapper: {}, noWrapper: {} }, { noWrapper: 'yes' }),
    ),
  },
  { requiredKeys: [] },
).map(({ wrapper, ...rest }) => ({ ...rest, ...(wrapper as object | undefined) }));
const filters = mostly(
  fc.constantFrom(
    'attributes:k', 'attributes.k = "v"', 'attributes.k != "v"', 'NOT attributes:k', '-attributes:k', 'hasPrefix(attributes.k, "a")',
    '(attributes:a AND attributes:b) OR attributes:c', 'attributes."iana.org/x" = "y"', 'attributes.k = "\\x41\\u00e9\\101"',
    '('.repeat(120) + 'attributes:a' + ')'.repeat(120), 'NOT '.repeat(60) + 'attributes:a', 'attributes:k AND '.repeat(15) + 'attributes:a',
  ),
  fc.oneof(
    fc.constantFrom('"unterminated', "attributes.k = 'v'", 'attributes', 'hasPrefix(attributes.k)', ' ', 'x'.repeat(257), 'attributes:a AND attributes:b OR attributes:c', 'attributes.k = "\\q"'),
    fc.string({ maxLength: 30 }),
  ),
);
const labels = mostly(
  fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), fc.stringMatching(/^[a-z0-9_-]{0,10}$/), { maxKeys: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);
const subscription = fc.record(
  {
    topic: bodyTopics,
    name: mostly(fc.constant(undefined), bodySubs),
    ackDeadlineSeconds: mostly(fc.integer({ min: 10, max: 600 }), fc.constantFrom(-5, 0, 9, 601, 2 ** 31 - 1, 2 ** 31, 10.5)),
    pushConfig,
    retainAckedMessages: fc.boolean(),
    messageRetentionDuration: retentions,
    labels,
    enableMessageOrdering: fc.boolean(),
    expirationPolicy: fc.record({ ttl: ttls }, { requiredKeys: [] }),
    filter: filters,
    deadLetterPolicy: fc.record(
      { deadLetterTopic: bodyTopics, maxDeliveryAttempts: mostly(fc.integer({ min: 5, max: 100 }), fc.integer({ min: -1, max: 200 })) },
      { requiredKeys: [] },
    ),
    retryPolicy: fc.record({ minimumBackoff: backoffs, maximumBackoff: backoffs }, { requiredKeys: [] }),
    detached: mostly(fc.constant(undefined), fc.boolean()),
    enableExactlyOnceDelivery: fc.boolean(),
    state: mostly(fc.constant(undefined), fc.constantFrom('ACTIVE', 'RESOURCE_ERROR', 'STATE_UNSPECIFIED', 'SLEEPING', 2)),
    bigqueryConfig: mostly(fc.constant(undefined), fc.constant({ table: 'p.d.t' })),
  },
  { requiredKeys: ['topic'] },
);
const topic = fc.record(
  {
    name: mostly(fc.constant(undefined), bodyTopics),
    labels,
    messageRetentionDuration: retentions,
    kmsKeyName: fc.constantFrom('', 'projects/p/locations/l/keyRings/r/cryptoKeys/k'),
    messageStoragePolicy: fc.record({ allowedPersistenceRegions: fc.array(fc.constantFrom('us-east1', '', 'mars'), { maxLength: 2 }) }),
    schemaSettings: mostly(
      fc.constant(undefined),
      fc.record({ schema: fc.constantFrom('projects/p/schemas/s', ''), encoding: fc.constantFrom('JSON', 'BINARY', 'ENCODING_UNSPECIFIED', 'XML') }, { requiredKeys: [] }),
    ),
    state: mostly(fc.constant(undefined), fc.constantFrom('ACTIVE', 'INGESTION_RESOURCE_ERROR')),
  },
  { requiredKeys: [] },
);
const updateMasks = mostly(
  fc.constantFrom(
    'labels', 'message_retention_duration', 'messageRetentionDuration', 'ack_deadline_seconds', 'ackDeadlineSeconds', 'push_config', 'pushConfig',
    'labels,ackDeadlineSeconds', 'retry_policy,dead_letter_policy', 'expiration_policy', 'enable_exactly_once_delivery', 'retain_acked_messages',
    'retry_policy.minimum_backoff', 'labels,message_retention_duration',
  ),
  fc.oneof(
    fc.constantFrom('topic', 'filter', 'name', 'bindings', 'etag', '', ',', 'bogus', 'a(b,c)', 'labels["x"]', '["x"]', ')', '(', 'enable_message_ordering', 'detached'),
    fc.string({ maxLength: 20 }),
  ),
);
const bindings = fc.array(
  fc.record(
    {
      role: mostly(
        fc.constantFrom('roles/pubsub.publisher', 'roles/pubsub.subscriber', 'roles/pubsub.viewer', 'roles/pubsub.admin', 'roles/pubsub.editor', 'roles/owner', 'roles/viewer'),
        fc.constantFrom('roles/bogus', '', 'pubsub.publisher', 'roles/storage.admin'),
      ),
      members: fc.array(
        mostly(
          fc.constantFrom('allUsers', 'allAuthenticatedUsers', 'user:a@example.com', 'serviceAccount:gmail-api-push@system.gserviceaccount.com', 'group:g@example.com', 'domain:example.com'),
          fc.constantFrom('deleted:user:a@example.com?uid=1', 'bogus', '', 'user:', 'principal://x', 'USER:a@example.com'),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      condition: fc.record({ expression: fc.constantFrom('request.time < timestamp("2030-01-01T00:00:00Z")', '', '(('), title: fc.constantFrom('t', ''), description: fc.constant('d') }, { requiredKeys: [] }),
    },
    { requiredKeys: ['role', 'members'] },
  ),
  { maxLength: 3 },
);
const policy = fc.record(
  {
    version: mostly(fc.constantFrom(1, 3), fc.constantFrom(0, 2, -1, 4)),
    bindings,
    etag: fc.constantFrom('ACAB', 'BwAAAAAAAAE=', 'BwAAAAAAAAA=', '!!', ''),
    auditConfigs: fc.constant([]),
  },
  { requiredKeys: [] },
);
const permissions = fc.array(
  mostly(
    fc.constantFrom('pubsub.topics.get', 'pubsub.topics.publish', 'pubsub.subscriptions.consume', 'pubsub.topics.setIamPolicy', 'pubsub.snapshots.seek', 'pubsub.subscriptions.get'),
    fc.oneof(fc.constantFrom('pubsub.*', 'storage.buckets.get', '', 'pubsub.topics.bogus'), fc.string({ maxLength: 10 })),
  ),
  { maxLength: 4 },
);
const timestamps = fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-01T00:00:00.123456789+05:30', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2024-13-01T00:00:00Z', 'now', '');

/** A valid-looking body for each route (by verb, or by method for bare resources). */
const BODIES: Record<string, fc.Arbitrary<unknown>> = {
  publish: publishBodies,
  pull: fc.record(
    { maxMessages: mostly(fc.integer({ min: 1, max: 20 }), fc.constantFrom(-3, 0, 1000, 1001, 2 ** 31 - 1)), returnImmediately: mostly(fc.constant(true), fc.boolean()) },
    { requiredKeys: ['maxMessages'] },
  ),
  acknowledge: fc.record({ ackIds: ackIdLists }),
  modifyAckDeadline: fc.record({
    ackIds: ackIdLists,
    ackDeadlineSeconds: mostly(fc.integer({ min: 0, max: 600 }), fc.constantFrom(-1, 601, 2 ** 31 - 1, -(2 ** 31), 1.5)),
  }),
  modifyPushConfig: fc.record({ pushConfig }, { requiredKeys: [] }),
  detach: fc.constant({}),
  seek: fc.oneof(fc.record({ time: timestamps }), fc.record({ snapshot: fc.constantFrom(`${P}/snapshots/snap`, '') }), fc.constant({})),
  getIamPolicy: fc.record({ options: fc.record({ requestedPolicyVersion: mostly(fc.constantFrom(0, 1, 3), fc.constantFrom(2, -1, 99)) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  setIamPolicy: fc.record({ policy, updateMask: mostly(fc.constantFrom('bindings', 'bindings,etag'), fc.constantFrom('version', 'bogus', 'etag')) }, { requiredKeys: ['policy'] }),
  testIamPermissions: fc.record({ permissions }, { requiredKeys: [] }),
  'PUT topics': topic,
  'PUT subscriptions': subscription,
  'PATCH topics': fc.record({ topic, updateMask: updateMasks }, { requiredKeys: ['updateMask'] }),
  'PATCH subscriptions': fc.record({ subscription, updateMask: updateMasks }, { requiredKeys: ['updateMask'] }),
};
const anyValidBody = fc.oneof(...Object.values(BODIES));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function deep(depth: number, array: boolean, leaf: Json): Json {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = array ? [value] : { a: value };
  return value;
}

const garbage: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(
    null, -1, 0, 1.5, -0, 2 ** 31, 2 ** 53, 2 ** 64, 1e308, -1e308, 5e-324, '', ' ', '!!!', '%%%', 'YQ', 'Y===', '\u0000', '\ud800', '\udc00x',
    true, false, [], {}, [[[]]], { a: { b: { c: {} } } }, 'x'.repeat(5000), [null, null], { '': '' }, 'null', 'true', '1',
  ),
  fc.constant(JSON.parse('{"__proto__":{"maxMessages":5}}') as Json),
  fc.string({ unit: 'binary', maxLength: 20 }),
  ackRef,
  rawNumber,
  fc.tuple(fc.integer({ min: 95, max: 220 }), fc.boolean(), fc.jsonValue({ maxDepth: 0 }) as fc.Arbitrary<Json>).map(([d, a, leaf]) => deep(d, a, leaf)),
);

/** One edit of a JSON tree at the node that `path` (child indexes, taken modulo) reaches. */
interface Edit {
  path: number[];
  kind: 'delete' | 'replace' | 'wrap-array' | 'stringify' | 'add-field' | 'nest';
  value: Json;
  key: string;
}
const someEdits = fc.array(
  fc.record({
    path: fc.array(fc.nat(), { maxLength: 5 }),
    kind: fc.constantFrom<Edit['kind']>('delete', 'replace', 'wrap-array', 'stringify', 'add-field', 'nest'),
    value: garbage,
    key: fc.oneof(fc.constantFrom('bogus', '', 'topic', 'messages', 'ackIds', '__proto__', 'constructor', '@type'), fc.string({ maxLength: 10 })),
  }),
  { minLength: 1, maxLength: 3 },
);
const edits: fc.Arbitrary<Edit[]> = fc.oneof({ arbitrary: fc.constant<Edit[]>([]), weight: 2 }, { arbitrary: someEdits as fc.Arbitrary<Edit[]>, weight: 1 });

function applyEdit(root: Json, edit: Edit): Json {
  if (edit.path.length === 0 || root === null || typeof root !== 'object') return editNode(root, edit);
  const keys = Array.isArray(root) ? root.map((_, i) => i) : Object.keys(root);
  if (keys.length === 0) return editNode(root, edit);
  const key = keys[edit.path[0] % keys.length];
  const copy: any = Array.isArray(root) ? [...root] : { ...root };
  const next = { ...edit, path: edit.path.slice(1) };
  if (edit.path.length === 1 && edit.kind === 'delete') {
    if (Array.isArray(copy)) copy.splice(key as number, 1);
    else delete copy[key];
    return copy;
  }
  Object.defineProperty(copy, key, { value: applyEdit(copy[key], next), enumerable: true, writable: true, configurable: true });
  return copy;
}

function editNode(node: Json, edit: Edit): Json {
  switch (edit.kind) {
    case 'delete':
    case 'replace':
      return edit.value;
    case 'wrap-array':
      return [node];
    case 'stringify':
      return JSON.stringify(node) ?? 'undefined';
    case 'add-field':
      if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
        const copy: Record<string, Json> = { ...node };
        Object.defineProperty(copy, edit.key, { value: edit.value, enumerable: true, writable: true, configurable: true });
        return copy;
      }
      return { [edit.key]: node };
    case 'nest':
      return deep(1 + (edit.path.length % 3), edit.path.length % 2 === 0, node);
  }
}

/** How the JSON text is spoiled after serialisation. */
const syntax = fc.oneof(
  { arbitrary: fc.constant((s: string) => s), weight: 20 },
  { arbitrary: fc.nat().map((n) => (s: string) => s.slice(0, n % (s.length + 1))), weight: 2 },
  {
    arbitrary: fc
      .constantFrom(
        (s: string) => `\ufeff${s}`,
        (s: string) => `${s},`,
        (s: string) => `${s}}`,
        (s: string) => `${s} garbage`,
        (s: string) => s.replace(/"([A-Za-z]+)":/g, '$1:'), // bare keys (ESF accepts them)
        (s: string) => s.replace(/"/g, "'"), // single quotes (ESF accepts them)
        (s: string) => s.replace(/}$/, ',}'), // trailing comma
        (s: string) => s.replace(/:/, ':/* c */'),
        (s: string) => s.replace(/\d/, '0x1'),
        (s: string) => `${s}\u0000`,
        (s: string) => `[${s}]`,
        (s: string) => s.replace(/,/, ',"dup":1,"dup":2,'),
      ),
    weight: 3,
  },
);

type BodySpec = { kind: 'json'; value: Json; edits: Edit[]; syntax: (s: string) => string } | { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array } | { kind: 'none' };

function jsonBody(valid: fc.Arbitrary<unknown>): fc.Arbitrary<BodySpec> {
  return fc.record({ value: valid as fc.Arbitrary<Json>, edits, syntax }).map(({ value, edits: e, syntax: s }) => ({ kind: 'json' as const, value, edits: e, syntax: s }));
}

const otherBodies: fc.Arbitrary<BodySpec> = fc.oneof(
  { arbitrary: jsonBody(fc.jsonValue({ maxDepth: 4 })), weight: 2 },
  { arbitrary: fc.string({ maxLength: 200 }).map((t) => ({ kind: 'text' as const, text: t })), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }).map((t) => ({ kind: 'text' as const, text: t })), weight: 1 },
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ kind: 'bytes' as const, bytes: b })), weight: 1 },
  {
    arbitrary: fc
      .constantFrom(
        '', ' ', '{', '}', '{"a":', '[', 'null', '"x"', '1', 'true', '{"messages":[{"data":"YQ=="}]', '\u0000', '{"a":1,}', "{'a':1}", '{a:1}',
        '{"maxMessages":1e999}', '{"maxMessages":-0}', '{"maxMessages":01}', '{"ackIds":"@ack:0@"}', '{"\\ud800":1}', '{"a":"\\ud800"}',
        '{"a":"\\u12"}', '{"a":"\\x41"}', '{"__proto__":{"maxMessages":5}}', '{"constructor":{"prototype":{}}}', '{"messages":[{"data":"YQ==",}]}',
      )
      .map((t) => ({ kind: 'text' as const, text: t })),
    weight: 2,
  },
  {
    arbitrary: fc.tuple(fc.integer({ min: 95, max: 220 }), fc.boolean()).map(([d, array]) => ({
      kind: 'text' as const,
      text: array ? `{"messages":${'['.repeat(d)}${']'.repeat(d)}}` : `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`,
    })),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 1 },
);

/** Bodies for a target: mostly the route's own (from its verb, or its method and collection). */
function bodiesFor(method: string, verb: string | undefined, segments: Segment[]): fc.Arbitrary<BodySpec> {
  const collection = segments.length === 4 && 'text' in segments[2] ? segments[2].text : '';
  const key = verb ?? `${method} ${collection}`;
  const own = Object.hasOwn(BODIES, key) ? BODIES[key] : undefined;
  return fc.oneof(
    ...(own ? [{ arbitrary: jsonBody(own), weight: 8 }] : []),
    { arbitrary: jsonBody(anyValidBody), weight: 1 },
    { arbitrary: otherBodies, weight: 1 },
  );
}

function renderBody(spec: BodySpec, subscription: string): string | Uint8Array | undefined {
  switch (spec.kind) {
    case 'none':
      return undefined;
    case 'bytes':
      return spec.bytes;
    case 'text':
      return placeholders(spec.text, subscription);
    case 'json': {
      const value = spec.edits.reduce(applyEdit, spec.value);
      return placeholders(spec.syntax(JSON.stringify(value) ?? ''), subscription);
    }
  }
}

/** `@ack:N@` -> a real ack id (the N-th most recent, wrapping); `"@raw:N@"` -> a raw number text. */
function placeholders(body: string, subscription: string): string {
  const pick = (list: string[], n: string) => list[list.length - 1 - (Number(n) % list.length)] ?? '1-1-1';
  const all = [...ackIds.values()].flat();
  return body
    .replace(/"@raw:(\d+)@"/g, (_, n: string) => RAW_JSON[Number(n) % RAW_JSON.length])
    .replace(/@anyack:(\d+)@/g, (_, n: string) => pick(all, n))
    .replace(/@ack:(\d+)@/g, (_, n: string) => pick(ackIds.get(subscription) ?? all, n));
}

const contentTypes = fc.oneof(
  { arbitrary: fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8'), weight: 16 },
  {
    arbitrary: fc.constantFrom(
      'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream',
      'application/grpc', 'application/x-protobuf', '*/*', 'json', 'application/json;;;', '', ' ', 'application/json; charset=utf-16',
    ),
    weight: 2,
  },
  { arbitrary: fc.stringMatching(/^[ -~]{0,30}$/), weight: 1 },
);

const requests = fc
  .record({ target: fc.oneof({ arbitrary: routedTargets, weight: 3 }, { arbitrary: randomTargets, weight: 1 }), query: queries, contentType: contentTypes })
  .chain(({ target: t, ...rest }) => bodiesFor(t.method, t.verb, t.segments).map((body) => ({ ...t, ...rest, body })));

type Request = typeof requests extends fc.Arbitrary<infer T> ? T : never;

function rawPath(r: Request): string {
  const parts = r.segments.map((s) => ('raw' in s ? s.raw : encodeURIComponent(s.text)));
  if (r.verb !== undefined) parts[parts.length - 1] = `${parts[parts.length - 1] ?? ''}:${encodeURIComponent(r.verb)}`;
  return parts.join('/');
}

/** The fixtures no request may remove: deleting AUDITED would end the audit. */
function isProtected(path: string | undefined, method: string): boolean {
  return method === 'DELETE' && path === `/v1/${AUDITED}`;
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

interface Outcome {
  request: Request;
  /** The path as the server decodes it, e.g. `/v1/projects/p/topics/t:publish`. */
  path: string | undefined;
  status: number;
  json: any;
  /** The exact request and the answer, for failure messages. */
  what: string;
}

/** Sends one generated request; undefined when it would delete a fixture that must stay. */
async function send(r: Request): Promise<Outcome | undefined> {
  const url = `${server.url}/v1/${rawPath(r)}${r.query}`;
  const path = decodedPath(url);
  if (isProtected(path, r.method)) return undefined;
  const resource = path?.replace(/^\/v1\//, '').replace(/:[^/]*$/, '') ?? '';
  const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : renderBody(r.body, resource);
  const headers: Record<string, string> = r.contentType === undefined ? {} : { 'content-type': r.contentType };
  const shown = typeof body === 'string' ? body.slice(0, 400) : body === undefined ? '<none>' : `<${body.length} bytes: ${Buffer.from(body).toString('hex').slice(0, 200)}>`;
  const sent = new URL(url);
  const label = `${r.method} ${sent.pathname.slice(0, 300)}${sent.search.slice(0, 200)} content-type=${JSON.stringify(r.contentType)} body=${shown}`;

  let status: number;
  let text: string;
  try {
    const response = await fetch(url, { method: r.method, body, headers, signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
    status = response.status;
    text = await response.text();
  } catch (error) {
    throw new Error(`no answer (${String((error as Error).cause ?? error)}): ${label}`);
  }
  const what = `${label}\n  -> ${status} ${text.slice(0, 400)}`;
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${what}`);
  }
  if (status < 300 && r.verb === 'pull') for (const received of json.receivedMessages ?? []) rememberAckId(resource, received.ackId);
  if (status < 300 && path === `/v1/${AUDITED}:publish`) for (const id of json.messageIds ?? []) auditedIds.add(id);
  return { request: r, path, status, json, what };
}

/** The properties every single answer has. */
function checkAnswer({ request, status, json, what }: Outcome): void {
  expect(status < 500 || status === 501, `5xx: ${what}`).toBe(true);
  expect(status >= 200, what).toBe(true);
  if (status >= 400) {
    const error = json?.error;
    expect(typeof error === 'object' && error !== null, `no error envelope: ${what}`).toBe(true);
    expect(error.code, `code != HTTP status: ${what}`).toBe(status);
    expect(typeof error.message === 'string' && error.message.length > 0, `empty message: ${what}`).toBe(true);
    expect(HTTP_OF_STATUS[error.status], `status ${error.status} does not map to ${status}: ${what}`).toBe(status);
    if (status === 501) expect(error.status, what).toBe('UNIMPLEMENTED');
    return;
  }
  expect(json !== null && typeof json === 'object' && !Array.isArray(json), `success body is not an object: ${what}`).toBe(true);
  if (request.verb === 'pull') {
    for (const received of json.receivedMessages ?? []) {
      expect(typeof received.ackId === 'string' && received.ackId !== '', what).toBe(true);
      expect(typeof received.message?.messageId === 'string', what).toBe(true);
    }
  }
  if (request.verb === 'publish') expect(Array.isArray(json.messageIds) && json.messageIds.length > 0, what).toBe(true);
}

async function checkHealthy(after: string): Promise<void> {
  const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
  expect(health.status, `unhealthy after: ${after}`).toBe(200);
}

const changesFixtures = (o: Outcome) =>
  o.status < 300 && (o.request.method === 'DELETE' || o.request.method === 'PATCH' || o.request.verb === 'detach' || o.request.verb === 'modifyPushConfig');

let before = '';

async function checkOne(r: Request): Promise<void> {
  const outcome = await send(r);
  if (!outcome) return;
  checkAnswer(outcome);
  await checkHealthy(outcome.what);

  const after = await snapshot();
  if (r.method === 'GET' || outcome.status >= 400) {
    expect(after, `a ${r.method === 'GET' ? 'read' : 'refused request'} changed state: ${outcome.what}`).toBe(before);
  }
  before = after;
  if (changesFixtures(outcome)) {
    await ensureFixtures();
    before = await snapshot();
  }
  if (r.verb === 'pull' && outcome.status === 200 && outcome.json.receivedMessages === undefined && outcome.path === `/v1/${SUB_A}:pull`) {
    await publishSeed(TOPIC_A, 20); // keep a backlog for pulls and acks to work on
  }
}

async function checkConcurrent(batch: Request[]): Promise<void> {
  const outcomes = (await Promise.all(batch.map(send))).filter((o) => o !== undefined);
  for (const outcome of outcomes) checkAnswer(outcome);
  await checkHealthy(outcomes.map((o) => o.what).join('\n'));
  if (outcomes.some(changesFixtures)) await ensureFixtures();
  if (outcomes.some((o) => o.request.verb === 'pull')) await publishSeed(TOPIC_A, 20);
}

const options = (runs: number) => ({ numRuns: runs, ...(SEED === undefined ? {} : { seed: SEED }) });

describe('random and mutated requests to every route', () => {
  it('never answer 5xx (but 501 UNIMPLEMENTED), always answer in Google\'s envelope, never write on a read or a refusal', async () => {
    before = await snapshot();
    await fc.assert(fc.asyncProperty(requests, checkOne), options(RUNS));
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 120_000);

  it('the same holds for requests that run concurrently (no 5xx from interleavings)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(requests, { minLength: 2, maxLength: 8 }), checkConcurrent), options(Math.ceil(RUNS / 5)));
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 120_000);

  it('the audit subscription holds exactly the publishes that answered 200', async () => {
    const delivered = new Set<string>();
    for (;;) {
      const { status, json } = await v1('POST', `${AUDIT}:pull`, { maxMessages: 1000, returnImmediately: true });
      expect(status).toBe(200);
      const batch = json.receivedMessages ?? [];
      if (batch.length === 0) break;
      for (const r of batch) delivered.add(r.message.messageId);
      expect((await v1('POST', `${AUDIT}:acknowledge`, { ackIds: batch.map((r: any) => r.ackId) })).status).toBe(200);
    }
    expect(auditedIds.size).toBeGreaterThan(0);
    expect([...auditedIds].filter((id) => !delivered.has(id)), 'published (200) but never delivered').toEqual([]);
    expect([...delivered].filter((id) => !auditedIds.has(id)), 'delivered but no publish answered 200 for it').toEqual([]);
  });

  it('a request line beyond the header limit is refused in Google\'s envelope', async () => {
    const response = await fetch(`${server.url}/v1/${P}/topics/${'x'.repeat(20_000)}`, { signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
    const text = await response.text();
    const what = `GET /v1/${P}/topics/x{20000} -> ${response.status} ${text.slice(0, 300)}`;
    expect(response.status >= 400 && response.status < 500, what).toBe(true);
    let json: any;
    expect(() => (json = JSON.parse(text)), what).not.toThrow();
    expect(json.error?.code, what).toBe(response.status);
    expect(typeof json.error?.status, what).toBe('string');
    expect(json.error?.message, what).toBeTruthy();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
