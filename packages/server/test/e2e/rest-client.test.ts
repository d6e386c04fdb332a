/**
 * Every Pub/Sub REST route driven by Google's own `googleapis` client (rootUrl pointed at
 * mailwatch), as an application would call them.
 */
import { google, type pubsub_v1 } from 'googleapis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

let server: RunningServer;
let pubsub: pubsub_v1.Pubsub;
const P = 'projects/client-test';
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}-${Date.now().toString(36)}`;
const topicName = (id: string) => `${P}/topics/${id}`;
const subName = (id: string) => `${P}/subscriptions/${id}`;

/** The Google error a googleapis call rejected with: HTTP status and the envelope's status. */
async function failure(call: Promise<unknown>): Promise<{ code: number; status: string; message: string }> {
  try {
    await call;
  } catch (error: any) {
    const body = error.response?.data?.error;
    return { code: error.response?.status, status: body?.status, message: body?.message };
  }
  throw new Error('the call succeeded');
}

beforeAll(async () => {
  server = await startMailwatch();
  pubsub = google.pubsub({ version: 'v1', rootUrl: `${server.url}/` });
});
afterAll(async () => server.stop());

describe('topics', () => {
  it('create, get, patch, list with paging, delete', async () => {
    const names = [unique('alpha'), unique('bravo'), unique('charlie')].map(topicName);
    for (const name of names) {
      const { data } = await pubsub.projects.topics.create({ name, requestBody: { labels: { team: 'mail' } } });
      expect(data).toEqual({ name, labels: { team: 'mail' } });
    }
    expect((await pubsub.projects.topics.get({ topic: names[0] })).data.name).toBe(names[0]);

    const patched = await pubsub.projects.topics.patch({
      name: names[0],
      requestBody: { topic: { messageRetentionDuration: '7200s', labels: { team: 'ops' } }, updateMask: 'messageRetentionDuration,labels' },
    });
    expect(patched.data).toEqual({ name: names[0], labels: { team: 'ops' }, messageRetentionDuration: '7200s' });

    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const { data } = await pubsub.projects.topics.list({ project: P, pageSize: 2, pageToken });
      expect((data.topics ?? []).length).toBeLessThanOrEqual(2);
      seen.push(...(data.topics ?? []).map((t) => t.name!));
      pageToken = data.nextPageToken ?? undefined;
    } while (pageToken);
    expect(seen.filter((s) => names.includes(s))).toEqual([...names].sort());
    expect(new Set(seen).size).toBe(seen.length);

    await pubsub.projects.topics.delete({ topic: names[1] });
    expect(await failure(pubsub.projects.topics.get({ topic: names[1] }))).toEqual({
      code: 404,
      status: 'NOT_FOUND',
      message: `Resource not found (resource=${names[1].split('/').pop()}).`,
    });
  });

  it('answers Google errors for duplicates, bad names and bad masks', async () => {
    const name = topicName(unique('dup'));
    await pubsub.projects.topics.create({ name });
    expect(await failure(pubsub.projects.topics.create({ name }))).toEqual({
      code: 409,
      status: 'ALREADY_EXISTS',
      message: `Resource already exists in the project (resource=${name.split('/').pop()}).`,
    });
    const bad = await failure(pubsub.projects.topics.create({ name: `${P}/topics/goog-reserved` }));
    expect(bad).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(bad.message).toMatch(/^Invalid resource name given \(name=projects\/client-test\/topics\/goog-reserved\)/);
    expect(await failure(pubsub.projects.topics.patch({ name, requestBody: { topic: {}, updateMask: 'bogus' } }))).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
    });
  });

  it('lists a topic\'s subscriptions by name', async () => {
    const topic = topicName(unique('fan'));
    await pubsub.projects.topics.create({ name: topic });
    const subs = [subName(unique('s-a')), subName(unique('s-b'))];
    for (const name of subs) await pubsub.projects.subscriptions.create({ name, requestBody: { topic } });
    const { data } = await pubsub.projects.topics.subscriptions.list({ topic });
    expect(data.subscriptions).toEqual([...subs].sort());
  });
});

describe('subscriptions', () => {
  it('create with every field echoes them, with production defaults filled in', async () => {
    const topic = topicName(unique('all-fields'));
    const dead = topicName(unique('dead'));
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.topics.create({ name: dead });
    const name = subName(unique('everything'));
    const requestBody: pubsub_v1.Schema$Subscription = {
      topic,
      pushConfig: {
        pushEndpoint: 'https://example.com/push',
        attributes: { 'x-goog-version': 'v1' },
        oidcToken: { serviceAccountEmail: 'push@p.iam.gserviceaccount.com', audience: 'aud' },
        noWrapper: { writeMetadata: true },
      },
      ackDeadlineSeconds: 30,
      retainAckedMessages: true,
      messageRetentionDuration: '3600s',
      labels: { env: 'test' },
      enableMessageOrdering: true,
      expirationPolicy: { ttl: '172800s' },
      filter: 'attributes:kind',
      deadLetterPolicy: { deadLetterTopic: dead, maxDeliveryAttempts: 7 },
      retryPolicy: { minimumBackoff: '1s', maximumBackoff: '30s' },
      enableExactlyOnceDelivery: true,
    };
    const { data } = await pubsub.projects.subscriptions.create({ name, requestBody });
    expect(data).toEqual({ name, ...requestBody, state: 'ACTIVE' });
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data).toEqual(data);
  });

  it('get, list, patch, modifyPushConfig, detach, delete', async () => {
    const topic = topicName(unique('lifecycle'));
    await pubsub.projects.topics.create({ name: topic });
    const name = subName(unique('life'));
    const created = (await pubsub.projects.subscriptions.create({ name, requestBody: { topic } })).data;
    expect(created).toEqual({
      name,
      topic,
      pushConfig: {},
      ackDeadlineSeconds: 10,
      messageRetentionDuration: '604800s',
      expirationPolicy: { ttl: '2678400s' },
      state: 'ACTIVE',
    });
    const listed = (await pubsub.projects.subscriptions.list({ project: P, pageSize: 1000 })).data.subscriptions ?? [];
    expect(listed.find((s) => s.name === name)).toEqual(created);

    const patched = await pubsub.projects.subscriptions.patch({
      name,
      requestBody: { subscription: { ackDeadlineSeconds: 42, labels: { a: 'b' } }, updateMask: 'ackDeadlineSeconds,labels' },
    });
    expect(patched.data).toMatchObject({ ackDeadlineSeconds: 42, labels: { a: 'b' } });
    expect(
      await failure(pubsub.projects.subscriptions.patch({ name, requestBody: { subscription: { topic }, updateMask: 'topic' } })),
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });

    await pubsub.projects.subscriptions.modifyPushConfig({ subscription: name, requestBody: { pushConfig: { pushEndpoint: 'https://example.com/x' } } });
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data.pushConfig).toEqual({ pushEndpoint: 'https://example.com/x' });
    await pubsub.projects.subscriptions.modifyPushConfig({ subscription: name, requestBody: { pushConfig: {} } });
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data.pushConfig).toEqual({});

    await pubsub.projects.subscriptions.detach({ subscription: name });
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data.detached).toBe(true);
    expect(await failure(pubsub.projects.subscriptions.pull({ subscription: name, requestBody: { maxMessages: 1, returnImmediately: true } })))
      .toMatchObject({ code: 400, status: 'FAILED_PRECONDITION' });

    await pubsub.projects.subscriptions.delete({ subscription: name });
    expect(await failure(pubsub.projects.subscriptions.get({ subscription: name }))).toMatchObject({ code: 404, status: 'NOT_FOUND' });
  });

  it('rejects invalid subscriptions as production does', async () => {
    const topic = topicName(unique('invalid'));
    await pubsub.projects.topics.create({ name: topic });
    const cases: [pubsub_v1.Schema$Subscription, number, string][] = [
      [{ topic, ackDeadlineSeconds: 9 }, 400, 'INVALID_ARGUMENT'],
      [{ topic, filter: 'attributes.x = ' }, 400, 'INVALID_ARGUMENT'],
      [{ topic, pushConfig: { pushEndpoint: 'ftp://x' } }, 400, 'INVALID_ARGUMENT'],
      [{ topic, deadLetterPolicy: { deadLetterTopic: topic, maxDeliveryAttempts: 4 } }, 400, 'OUT_OF_RANGE'],
      [{ topic: topicName('missing-topic') }, 404, 'NOT_FOUND'],
    ];
    for (const [requestBody, code, status] of cases) {
      const got = await failure(pubsub.projects.subscriptions.create({ name: subName(unique('bad')), requestBody }));
      expect(got, JSON.stringify(requestBody)).toMatchObject({ code, status });
    }
  });
});

describe('publish, pull, acknowledge, modifyAckDeadline', () => {
  async function setup(requestBody: Partial<pubsub_v1.Schema$Subscription> = {}) {
    const topic = topicName(unique('flow'));
    const sub = subName(unique('flow-sub'));
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic, ...requestBody } });
    return { topic, sub };
  }
  const pull = async (sub: string, maxMessages = 10) =>
    (await pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages, returnImmediately: true } })).data
      .receivedMessages ?? [];
  const text = (received: pubsub_v1.Schema$ReceivedMessage[]) => received.map((r) => Buffer.from(r.message!.data ?? '', 'base64').toString());

  it('delivers published messages, redelivers a nack with a fresh ack id, ignores stale ids', async () => {
    const { topic, sub } = await setup();
    const published = await pubsub.projects.topics.publish({
      topic,
      requestBody: { messages: [{ data: Buffer.from('hello').toString('base64'), attributes: { k: 'v' } }] },
    });
    expect(published.data.messageIds).toHaveLength(1);
    const [first] = await pull(sub);
    expect(first.message).toMatchObject({ data: 'aGVsbG8=', attributes: { k: 'v' }, messageId: published.data.messageIds![0] });
    expect(first.message!.publishTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(first.deliveryAttempt).toBeUndefined();
    expect(await pull(sub)).toEqual([]);

    await pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: [first.ackId!], ackDeadlineSeconds: 0 } });
    const [second] = await pull(sub);
    expect(second.message!.messageId).toBe(first.message!.messageId);
    expect(second.ackId).not.toBe(first.ackId);

    await pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: [first.ackId!] } }); // stale
    await pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: [second.ackId!], ackDeadlineSeconds: 0 } });
    const [third] = await pull(sub);
    await pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: [third.ackId!] } });
    await pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: [third.ackId!], ackDeadlineSeconds: 0 } });
    expect(await pull(sub), 'acked: a nack after the ack changes nothing').toEqual([]);
  });

  it('applies filters, reports deliveryAttempt with a dead-letter policy, keeps ordering keys in order', async () => {
    const dead = topicName(unique('dlq'));
    await pubsub.projects.topics.create({ name: dead });
    const { topic, sub } = await setup({
      filter: 'attributes.region = "eu" OR hasPrefix(attributes.region, "asia")',
      deadLetterPolicy: { deadLetterTopic: dead },
      enableMessageOrdering: true,
    });
    const msg = (data: string, region: string) => ({ data: Buffer.from(data).toString('base64'), attributes: { region }, orderingKey: 'key' });
    await pubsub.projects.topics.publish({ topic, requestBody: { messages: [msg('eu-1', 'eu'), msg('us-1', 'us'), msg('asia-1', 'asia-east')] } });
    await pubsub.projects.topics.publish({ topic, requestBody: { messages: [msg('eu-2', 'eu')] } });

    const first = await pull(sub);
    expect(text(first), 'one outstanding message per ordering key').toEqual(['eu-1']);
    expect(first[0].deliveryAttempt).toBe(1);
    await pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: [first[0].ackId!] } });
    const second = await pull(sub);
    expect(text(second)).toEqual(['asia-1']);
    await pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: [second[0].ackId!], ackDeadlineSeconds: 0 } });
    const again = await pull(sub);
    expect(text(again)).toEqual(['asia-1']);
    expect(again[0].deliveryAttempt).toBe(2);
  });

  it('rejects bad publish and ack requests with INVALID_ARGUMENT and acknowledges nothing', async () => {
    const { topic, sub } = await setup();
    expect(await failure(pubsub.projects.topics.publish({ topic, requestBody: { messages: [] } }))).toMatchObject({ code: 400 });
    expect(
      await failure(pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: '!!not base64!!' }] } })),
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    await pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: 'YQ==' }] } });
    const [received] = await pull(sub);
    expect(
      await failure(pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: [received.ackId!, 'garbage'] } })),
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(
      await failure(pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: [received.ackId!], ackDeadlineSeconds: 601 } })),
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    await pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: [received.ackId!], ackDeadlineSeconds: 0 } });
    expect(text(await pull(sub)), 'the rejected ack acknowledged nothing').toEqual(['a']);
  });
});

describe('IAM', () => {
  it('getIamPolicy, setIamPolicy with etags, testIamPermissions on topics and subscriptions', async () => {
    const topic = topicName(unique('iam'));
    const sub = subName(unique('iam-sub'));
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic } });

    const empty = (await pubsub.projects.topics.getIamPolicy({ resource: topic, 'options.requestedPolicyVersion': 3 })).data;
    expect(empty.bindings).toBeUndefined();
    expect(empty.etag).toBe('ACAB');
    const binding = { role: 'roles/pubsub.publisher', members: ['serviceAccount:gmail-api-push@system.gserviceaccount.com'] };
    const set = (await pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [binding], etag: empty.etag } } }))
      .data;
    expect(set.bindings).toEqual([binding]);
    expect(set.etag).not.toBe(empty.etag);
    expect((await pubsub.projects.topics.getIamPolicy({ resource: topic })).data).toEqual(set);
    expect(
      await failure(pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [], etag: empty.etag } } })),
    ).toMatchObject({ code: 409, status: 'ABORTED' });
    expect(
      await failure(pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [{ role: 'roles/nope', members: ['user:a@b.co'] }] } } })),
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });

    const tested = await pubsub.projects.subscriptions.testIamPermissions({
      resource: sub,
      requestBody: { permissions: ['pubsub.subscriptions.consume', 'pubsub.topics.publish'] },
    });
    expect(tested.data.permissions).toEqual(['pubsub.subscriptions.consume']);
    const subPolicy = await pubsub.projects.subscriptions.setIamPolicy({
      resource: sub,
      requestBody: { policy: { bindings: [{ role: 'roles/pubsub.subscriber', members: ['user:reader@example.com'] }] } },
    });
    expect((await pubsub.projects.subscriptions.getIamPolicy({ resource: sub })).data).toEqual(subPolicy.data);
    expect(await failure(pubsub.projects.topics.getIamPolicy({ resource: topicName('no-such-topic') }))).toMatchObject({ code: 404 });
  });

  it('project IAM is served in Resource Manager\'s shape (projects/p:getIamPolicy)', async () => {
    const url = `${server.url}/v1/${P}`;
    const post = (verb: string, body: unknown) =>
      fetch(`${url}:${verb}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const got = (await (await post('getIamPolicy', {})).json()) as any;
    const binding = { role: 'roles/pubsub.admin', members: ['group:ops@example.com'] };
    const set = await post('setIamPolicy', { policy: { bindings: [binding], etag: got.etag } });
    expect(set.status).toBe(200);
    expect(((await set.json()) as any).bindings).toEqual([binding]);
    expect(((await (await post('getIamPolicy', {})).json()) as any).bindings).toEqual([binding]);
  });
});

describe('snapshots and seek', () => {
  it('create, get, list, patch, seek to a snapshot and to a time, delete', async () => {
    const topic = topicName(unique('replay'));
    const sub = subName(unique('replay-sub'));
    const snapshot = `${P}/snapshots/${unique('snap')}`;
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic, retainAckedMessages: true } });
    const publish = (data: string) => pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: Buffer.from(data).toString('base64') }] } });
    const drain = async () => {
      const { data } = await pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 100, returnImmediately: true } });
      const received = data.receivedMessages ?? [];
      if (received.length > 0) await pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: received.map((r) => r.ackId!) } });
      return received.map((r) => Buffer.from(r.message!.data!, 'base64').toString()).sort();
    };

    await publish('one');
    const created = (await pubsub.projects.snapshots.create({ name: snapshot, requestBody: { subscription: sub, labels: { k: 'v' } } })).data;
    expect(created).toMatchObject({ name: snapshot, topic, labels: { k: 'v' } });
    expect(Date.parse(created.expireTime!)).toBeGreaterThan(Date.now());
    expect((await pubsub.projects.snapshots.get({ snapshot })).data).toEqual(created);
    expect((await pubsub.projects.snapshots.list({ project: P })).data.snapshots?.map((s) => s.name)).toContain(snapshot);
    expect((await pubsub.projects.topics.snapshots.list({ topic })).data.snapshots).toEqual([snapshot]);
    const patched = await pubsub.projects.snapshots.patch({ name: snapshot, requestBody: { snapshot: { labels: { k: 'w' } }, updateMask: 'labels' } });
    expect(patched.data.labels).toEqual({ k: 'w' });

    await publish('two');
    expect(await drain()).toEqual(['one', 'two']);
    await pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { snapshot } });
    expect(await drain(), 'seek to the snapshot').toEqual(['one', 'two']);
    await pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { time: new Date(0).toISOString() } });
    expect(await drain(), 'seek to a time replays retained acked messages').toEqual(['one', 'two']);
    expect(await failure(pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: {} }))).toMatchObject({ code: 400 });

    await pubsub.projects.snapshots.delete({ snapshot });
    expect(await failure(pubsub.projects.snapshots.get({ snapshot }))).toMatchObject({ code: 404, status: 'NOT_FOUND' });
  });

  it('answers UNIMPLEMENTED in Google\'s envelope for what is not served yet (schemas), never a 404 page', async () => {
    // googleapis retries 5xx answers, so these are checked with plain requests.
    for (const path of [`${P}/schemas`, `${P}/schemas/schema-a`]) {
      const response = await fetch(`${server.url}/v1/${path}`);
      expect(response.status, path).toBe(501);
      expect(((await response.json()) as any).error).toMatchObject({ code: 501, status: 'UNIMPLEMENTED' });
    }
  });
});
