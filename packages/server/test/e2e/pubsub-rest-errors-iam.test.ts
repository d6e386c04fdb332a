/**
 * Pub/Sub REST through Google's own `googleapis` client (rootUrl pointed at mailwatch, no auth):
 * errors exactly as a Google client sees them (reference/pubsub.md, "Errors"), IAM on topics,
 * subscriptions and projects, snapshots and seek, and the routes answered UNIMPLEMENTED.
 * Each test works in its own project.
 */
import { google, type pubsub_v1 } from 'googleapis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, idOf, notFound, projectNamer, subIn, topicIn } from '../helpers/google-errors.ts';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

let server: RunningServer;
let pubsub: pubsub_v1.Pubsub;
const newProject = projectNamer('err');

beforeAll(async () => {
  server = await startMailwatch({ memory: true });
  pubsub = google.pubsub({ version: 'v1', rootUrl: `${server.url}/` });
});
afterAll(async () => server.stop());

describe('errors as Google clients see them', () => {
  it('404 NOT_FOUND "Resource not found (resource=X)." on every route of a missing resource', async () => {
    const project = newProject();
    const topic = topicIn(project, 'missing-topic');
    const sub = subIn(project, 'missing-sub');
    const calls: [string, () => Promise<unknown>][] = [
      ['topics.get', () => pubsub.projects.topics.get({ topic })],
      ['topics.patch', () => pubsub.projects.topics.patch({ name: topic, requestBody: { topic: { labels: { a: 'b' } }, updateMask: 'labels' } })],
      ['topics.delete', () => pubsub.projects.topics.delete({ topic })],
      ['topics.publish', () => pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: 'YQ==' }] } })],
      ['topics.getIamPolicy', () => pubsub.projects.topics.getIamPolicy({ resource: topic })],
      ['topics.setIamPolicy', () => pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: {} } })],
      ['topics.testIamPermissions', () => pubsub.projects.topics.testIamPermissions({ resource: topic, requestBody: { permissions: ['pubsub.topics.get'] } })],
      ['subscriptions.get', () => pubsub.projects.subscriptions.get({ subscription: sub })],
      ['subscriptions.patch', () => pubsub.projects.subscriptions.patch({ name: sub, requestBody: { subscription: { labels: { a: 'b' } }, updateMask: 'labels' } })],
      ['subscriptions.delete', () => pubsub.projects.subscriptions.delete({ subscription: sub })],
      ['subscriptions.detach', () => pubsub.projects.subscriptions.detach({ subscription: sub })],
      ['subscriptions.pull', () => pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 1, returnImmediately: true } })],
      ['subscriptions.acknowledge', () => pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: ['1-1-1'] } })],
      ['subscriptions.modifyAckDeadline', () => pubsub.projects.subscriptions.modifyAckDeadline({ subscription: sub, requestBody: { ackIds: ['1-1-1'], ackDeadlineSeconds: 0 } })],
      ['subscriptions.modifyPushConfig', () => pubsub.projects.subscriptions.modifyPushConfig({ subscription: sub, requestBody: { pushConfig: {} } })],
      ['subscriptions.seek', () => pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { time: new Date(0).toISOString() } })],
      ['subscriptions.getIamPolicy', () => pubsub.projects.subscriptions.getIamPolicy({ resource: sub })],
      ['subscriptions.setIamPolicy', () => pubsub.projects.subscriptions.setIamPolicy({ resource: sub, requestBody: { policy: {} } })],
      ['snapshots.create', () => pubsub.projects.snapshots.create({ name: `${project}/snapshots/of-missing`, requestBody: { subscription: sub } })],
      ['subscriptions.testIamPermissions', () => pubsub.projects.subscriptions.testIamPermissions({ resource: sub, requestBody: { permissions: ['pubsub.subscriptions.get'] } })],
    ];
    for (const [label, call] of calls) {
      const expected = label.startsWith('topics') ? topic : sub;
      expect(await failure(call()), label).toEqual(notFound(expected));
    }
    // A subscription of a missing topic: the topic is the resource not found.
    expect(await failure(pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic } }))).toEqual(notFound(topic));
  });

  it('409 ALREADY_EXISTS "Resource already exists in the project (resource=X)." for topics, subscriptions and snapshots', async () => {
    const project = newProject();
    const topic = topicIn(project, 'twice');
    const sub = subIn(project, 'twice-sub');
    const snapshot = `${project}/snapshots/twice-snap`;
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic } });
    await pubsub.projects.snapshots.create({ name: snapshot, requestBody: { subscription: sub } });
    const exists = (name: string) => ({
      code: 409,
      envelopeCode: 409,
      status: 'ALREADY_EXISTS',
      message: `Resource already exists in the project (resource=${idOf(name)}).`,
    });
    expect(await failure(pubsub.projects.topics.create({ name: topic }))).toEqual(exists(topic));
    expect(await failure(pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic } }))).toEqual(exists(sub));
    expect(await failure(pubsub.projects.snapshots.create({ name: snapshot, requestBody: { subscription: sub } }))).toEqual(exists(snapshot));
  });

  it('400 INVALID_ARGUMENT "Invalid resource name given (name=...)" for malformed names', async () => {
    const project = newProject();
    const invalid = (name: string) => ({
      code: 400,
      envelopeCode: 400,
      status: 'INVALID_ARGUMENT',
      message: `Invalid resource name given (name=${name}). Refer to https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names for more information.`,
    });
    for (const id of ['ab', 'goog-topic', '1starts-with-digit', 'has$dollar', 'x'.repeat(256)]) {
      const name = topicIn(project, id);
      expect(await failure(pubsub.projects.topics.create({ name })), id).toEqual(invalid(name));
    }
    const topic = topicIn(project, 'good-topic');
    await pubsub.projects.topics.create({ name: topic });
    expect(await failure(pubsub.projects.subscriptions.create({ name: subIn(project, 'no'), requestBody: { topic } }))).toEqual(
      invalid(subIn(project, 'no')),
    );
    expect(await failure(pubsub.projects.subscriptions.create({ name: subIn(project, 'bad-topic'), requestBody: { topic: 'nope' } }))).toEqual(
      invalid('nope'),
    );
    expect(await failure(pubsub.projects.subscriptions.get({ subscription: subIn(project, 'g') }))).toEqual(invalid(subIn(project, 'g')));
    // The longest valid id, 255 characters, is fine.
    const longest = topicIn(project, `a${'b'.repeat(254)}`);
    expect((await pubsub.projects.topics.create({ name: longest })).data.name).toBe(longest);
  });

  it('other invalid arguments: ack deadlines, retention, dead-letter bounds, filters, push endpoints', async () => {
    const project = newProject();
    const topic = topicIn(project, 'strict');
    await pubsub.projects.topics.create({ name: topic });
    const cases: [string, pubsub_v1.Schema$Subscription, string][] = [
      ['ack deadline 9', { topic, ackDeadlineSeconds: 9 }, 'INVALID_ARGUMENT'],
      ['ack deadline 601', { topic, ackDeadlineSeconds: 601 }, 'INVALID_ARGUMENT'],
      ['retention 9 minutes', { topic, messageRetentionDuration: '540s' }, 'INVALID_ARGUMENT'],
      ['expiration ttl under a day', { topic, expirationPolicy: { ttl: '3600s' } }, 'INVALID_ARGUMENT'],
      ['maxDeliveryAttempts 4', { topic, deadLetterPolicy: { deadLetterTopic: topic, maxDeliveryAttempts: 4 } }, 'OUT_OF_RANGE'],
      ['maxDeliveryAttempts 101', { topic, deadLetterPolicy: { deadLetterTopic: topic, maxDeliveryAttempts: 101 } }, 'OUT_OF_RANGE'],
      ['backoff over 600s', { topic, retryPolicy: { minimumBackoff: '601s' } }, 'INVALID_ARGUMENT'],
      ['max backoff below min', { topic, retryPolicy: { minimumBackoff: '60s', maximumBackoff: '10s' } }, 'INVALID_ARGUMENT'],
      ['a filter that does not parse', { topic, filter: 'attributes.x = ' }, 'INVALID_ARGUMENT'],
      ['a push endpoint that is not http(s)', { topic, pushConfig: { pushEndpoint: 'ftp://example.com/x' } }, 'INVALID_ARGUMENT'],
    ];
    for (const [label, requestBody, status] of cases) {
      const name = subIn(project, `bad-${cases.findIndex((c) => c[0] === label)}`);
      expect(await failure(pubsub.projects.subscriptions.create({ name, requestBody })), label).toMatchObject({ code: 400, status });
      expect(await failure(pubsub.projects.subscriptions.get({ subscription: name })), `${label}: nothing was created`).toEqual(notFound(name));
    }
    const missingDlq = await failure(
      pubsub.projects.subscriptions.create({ name: subIn(project, 'dlq-missing'), requestBody: { topic, deadLetterPolicy: { deadLetterTopic: topicIn(project, 'no-dlq') } } }),
    );
    expect(missingDlq).toMatchObject({ code: 404, status: 'NOT_FOUND' });
    expect(
      await failure(pubsub.projects.subscriptions.pull({ subscription: subIn(project, 'anything'), requestBody: { maxMessages: 1, returnImmediately: true } })),
    ).toMatchObject({ code: 404 });
  });
});

describe('IAM on topics, subscriptions and projects', () => {
  it('topics: getIamPolicy (GET with options.requestedPolicyVersion), setIamPolicy with etags, testIamPermissions', async () => {
    const topic = topicIn(newProject(), 'guarded');
    await pubsub.projects.topics.create({ name: topic });
    const empty = (await pubsub.projects.topics.getIamPolicy({ resource: topic, 'options.requestedPolicyVersion': 3 })).data;
    expect(empty).toEqual({ version: 1, etag: 'ACAB' });

    const binding = { role: 'roles/pubsub.publisher', members: ['serviceAccount:gmail-api-push@system.gserviceaccount.com'] };
    const set = (await pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [binding], etag: empty.etag } } })).data;
    expect(set).toMatchObject({ version: 1, bindings: [binding] });
    expect(set.etag).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(set.etag).not.toBe(empty.etag);
    expect((await pubsub.projects.topics.getIamPolicy({ resource: topic, 'options.requestedPolicyVersion': 1 })).data).toEqual(set);

    // Read-modify-write with a stale etag: 409 ABORTED, and the policy stays as it was.
    const stale = await failure(
      pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [], etag: empty.etag } } }),
    );
    expect(stale).toMatchObject({ code: 409, envelopeCode: 409, status: 'ABORTED' });
    expect((await pubsub.projects.topics.getIamPolicy({ resource: topic })).data).toEqual(set);

    // The current etag succeeds; no etag overwrites blindly.
    const second = (await pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [], etag: set.etag } } })).data;
    expect(second.bindings).toBeUndefined();
    expect(second.etag).not.toBe(set.etag);
    const blind = (await pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [binding] } } })).data;
    expect(blind.bindings).toEqual([binding]);

    const tested = await pubsub.projects.topics.testIamPermissions({
      resource: topic,
      requestBody: { permissions: ['pubsub.topics.publish', 'pubsub.topics.get', 'pubsub.subscriptions.consume'] },
    });
    expect(tested.data.permissions, 'topic permissions only, in request order').toEqual(['pubsub.topics.publish', 'pubsub.topics.get']);
    expect(
      await failure(pubsub.projects.topics.setIamPolicy({ resource: topic, requestBody: { policy: { bindings: [{ role: 'roles/pubsub.publisher', members: ['nobody'] }] } } })),
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
  });

  it('subscriptions: the same three methods, with roles checked against the resource type', async () => {
    const project = newProject();
    const topic = topicIn(project, 'iam-topic');
    const sub = subIn(project, 'iam-sub');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic } });

    const before = (await pubsub.projects.subscriptions.getIamPolicy({ resource: sub, 'options.requestedPolicyVersion': 3 })).data;
    expect(before).toEqual({ version: 1, etag: 'ACAB' });
    const binding = { role: 'roles/pubsub.subscriber', members: ['user:reader@example.com', 'group:team@example.com'] };
    const set = (await pubsub.projects.subscriptions.setIamPolicy({ resource: sub, requestBody: { policy: { bindings: [binding], etag: before.etag } } })).data;
    expect(set.bindings).toEqual([binding]);
    expect((await pubsub.projects.subscriptions.getIamPolicy({ resource: sub })).data).toEqual(set);
    expect(
      await failure(pubsub.projects.subscriptions.setIamPolicy({ resource: sub, requestBody: { policy: { bindings: [], etag: before.etag } } })),
    ).toMatchObject({ code: 409, status: 'ABORTED' });
    // Publisher has no subscription permission: "Role roles/pubsub.publisher is not supported for this resource."
    const wrongRole = await failure(
      pubsub.projects.subscriptions.setIamPolicy({ resource: sub, requestBody: { policy: { bindings: [{ role: 'roles/pubsub.publisher', members: ['user:a@example.com'] }] } } }),
    );
    expect(wrongRole).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: 'Role roles/pubsub.publisher is not supported for this resource.' });

    const tested = await pubsub.projects.subscriptions.testIamPermissions({
      resource: sub,
      requestBody: { permissions: ['pubsub.subscriptions.consume', 'pubsub.topics.publish', 'pubsub.subscriptions.update'] },
    });
    expect(tested.data.permissions).toEqual(['pubsub.subscriptions.consume', 'pubsub.subscriptions.update']);
    expect(
      await failure(pubsub.projects.subscriptions.testIamPermissions({ resource: sub, requestBody: { permissions: ['pubsub.*'] } })),
      'wildcards are refused',
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
  });

  it('projects: POST projects/{p}:getIamPolicy, :setIamPolicy, :testIamPermissions (plain fetch)', async () => {
    const project = newProject();
    const call = async (verb: string, body: unknown) => {
      const response = await fetch(`${server.url}/v1/${project}:${verb}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    const initial = await call('getIamPolicy', {});
    expect(initial).toEqual({ status: 200, body: { version: 1, etag: 'ACAB' } });
    const viaGet = await fetch(`${server.url}/v1/${project}:getIamPolicy?options.requestedPolicyVersion=3`);
    expect(await viaGet.json()).toEqual(initial.body);

    const admin = { role: 'roles/pubsub.admin', members: ['group:ops@example.com'] };
    const conditional = {
      role: 'roles/pubsub.viewer',
      members: ['user:temp@example.com'],
      condition: { title: 'until 2030', expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' },
    };
    const set = await call('setIamPolicy', { policy: { version: 3, bindings: [admin, conditional], etag: initial.body.etag } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ version: 3, bindings: [admin, conditional] });
    expect((await call('getIamPolicy', { options: { requestedPolicyVersion: 3 } })).body).toEqual(set.body);
    // Asked for version 1, a conditional binding's role is renamed <role>_withcond_<hash> and its condition hidden.
    const v1 = (await call('getIamPolicy', { options: { requestedPolicyVersion: 1 } })).body;
    expect(v1.version).toBe(1);
    expect(v1.bindings[0]).toEqual(admin);
    expect(v1.bindings[1].role).toMatch(/^roles\/pubsub\.viewer_withcond_[0-9a-f]+$/);
    expect(v1.bindings[1].condition).toBeUndefined();

    const stale = await call('setIamPolicy', { policy: { bindings: [], etag: initial.body.etag } });
    expect(stale).toMatchObject({ status: 409, body: { error: { code: 409, status: 'ABORTED' } } });
    expect(typeof stale.body.error.message).toBe('string');

    const tested = await call('testIamPermissions', { permissions: ['pubsub.topics.create', 'pubsub.subscriptions.consume'] });
    expect(tested).toEqual({ status: 200, body: { permissions: ['pubsub.topics.create', 'pubsub.subscriptions.consume'] } });
    expect((await call('testIamPermissions', { permissions: ['storage.buckets.get'] })).status).toBe(400);
  });
});

describe('snapshots, seek, and what is not served', () => {
  /** A topic, a subscription that retains acked messages, and helpers to publish and to pull-and-ack everything. */
  async function replaySetup() {
    const project = newProject();
    const topic = topicIn(project, 'replay');
    const sub = subIn(project, 'replay-sub');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic, retainAckedMessages: true } });
    const publish = (text: string) => pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: Buffer.from(text).toString('base64') }] } });
    const drain = async () => {
      const { data } = await pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 100, returnImmediately: true } });
      const received = data.receivedMessages ?? [];
      if (received.length > 0) await pubsub.projects.subscriptions.acknowledge({ subscription: sub, requestBody: { ackIds: received.map((r) => r.ackId!) } });
      return received.map((r) => Buffer.from(r.message!.data!, 'base64').toString()).sort();
    };
    return { project, topic, sub, publish, drain };
  }

  it('snapshots create/get/list/patch/delete, and seek to a snapshot restores its ack state', async () => {
    const { project, topic, sub, publish, drain } = await replaySetup();
    const snapshot = `${project}/snapshots/before-two`;
    await publish('one');
    expect(await drain()).toEqual(['one']);
    const created = (await pubsub.projects.snapshots.create({ name: snapshot, requestBody: { subscription: sub, labels: { k: 'v' } } })).data;
    expect(created).toMatchObject({ name: snapshot, topic, labels: { k: 'v' } });
    expect(Date.parse(created.expireTime!)).toBeGreaterThan(Date.now());
    expect((await pubsub.projects.snapshots.get({ snapshot })).data).toEqual(created);
    expect((await pubsub.projects.snapshots.list({ project })).data.snapshots).toEqual([created]);
    expect((await pubsub.projects.topics.snapshots.list({ topic })).data.snapshots).toEqual([snapshot]);
    const patched = (await pubsub.projects.snapshots.patch({ name: snapshot, requestBody: { snapshot: { labels: { k: 'w' } }, updateMask: 'labels' } })).data;
    expect(patched).toEqual({ ...created, labels: { k: 'w' } });

    await publish('two');
    expect(await drain()).toEqual(['two']);
    expect((await pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { snapshot } })).data).toEqual({});
    expect(await drain(), 'the snapshot was taken after "one" was acked, before "two" was published').toEqual(['two']);

    expect((await pubsub.projects.snapshots.delete({ snapshot })).data).toEqual({});
    expect(await failure(pubsub.projects.snapshots.get({ snapshot }))).toEqual(notFound(snapshot));
    expect(await failure(pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { snapshot } }))).toEqual(notFound(snapshot));
    expect(await failure(pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: {} })), 'no target').toMatchObject({ code: 400 });
  });

  it('seek to a past time replays retained acked messages; to a later time purges the backlog', async () => {
    const { sub, publish, drain } = await replaySetup();
    await publish('one');
    await publish('two');
    expect(await drain()).toEqual(['one', 'two']);
    await pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { time: new Date(0).toISOString() } });
    expect(await drain()).toEqual(['one', 'two']);
    await publish('three');
    await pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { time: new Date(Date.now() + 60_000).toISOString() } });
    expect(await drain(), 'everything published before the seek time is acknowledged').toEqual([]);
    await publish('four');
    expect(await drain()).toEqual(['four']);
  });

  it('seek to a snapshot changes ack states only: retained acked messages can still be replayed by time', async () => {
    // Seek "alters the acknowledgment state of messages in bulk"; what is retained is set by
    // message_retention_duration and retain_acked_messages (SeekRequest.time docs).
    const { project, sub, publish, drain } = await replaySetup();
    const snapshot = `${project}/snapshots/after-one`;
    await publish('one');
    expect(await drain()).toEqual(['one']);
    await pubsub.projects.snapshots.create({ name: snapshot, requestBody: { subscription: sub } });
    await pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { snapshot } });
    expect(await drain()).toEqual([]);
    await pubsub.projects.subscriptions.seek({ subscription: sub, requestBody: { time: new Date(0).toISOString() } });
    expect(await drain(), '"one" is still retained (retainAckedMessages) and published after the seek time').toEqual(['one']);
  });

  it('schema routes answer 501 UNIMPLEMENTED in Google\'s envelope', async () => {
    // googleapis retries 5xx answers of idempotent methods, so plain fetch checks these.
    const project = newProject();
    for (const [method, path] of [
      ['GET', `${project}/schemas`],
      ['POST', `${project}/schemas`],
      ['GET', `${project}/schemas/my-schema`],
      ['DELETE', `${project}/schemas/my-schema`],
    ]) {
      const response = await fetch(`${server.url}/v1/${path}`, { method, body: method === 'POST' ? '{}' : undefined });
      expect(response.status, `${method} ${path}`).toBe(501);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await response.json()) as any;
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error).toMatchObject({ code: 501, status: 'UNIMPLEMENTED', message: expect.any(String) });
    }
  });
});
