/**
 * Pub/Sub REST administration driven by Google's own `googleapis` client (rootUrl pointed at
 * mailwatch, no auth): every topic and subscription route (reference/pubsub.md, "Wire
 * details"). Errors, IAM and snapshots are in pubsub-rest-errors-iam.test.ts, delivery
 * semantics in pubsub-rest-delivery.test.ts. Each test works in its own project, so lists hold
 * only its items.
 */
import { google, type pubsub_v1 } from 'googleapis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, idOf, notFound, projectNamer, subIn, topicIn } from '../helpers/google-errors.ts';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

let server: RunningServer;
let pubsub: pubsub_v1.Pubsub;
const newProject = projectNamer('adm');

/** Every item of a paged list, checking each page honours pageSize and no item repeats. */
async function allPages<T>(fetchPage: (pageToken?: string) => Promise<{ items: T[]; next?: string | null }>, pageSize: number) {
  const items: T[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const { items: page, next } = await fetchPage(token);
    expect(page.length, 'a page holds at most pageSize items').toBeLessThanOrEqual(pageSize);
    expect(page.length, 'a page before the end is never empty').toBeGreaterThan(0);
    items.push(...page);
    token = next ?? undefined;
    pages++;
    expect(pages, 'paging terminates').toBeLessThan(50);
  } while (token);
  return { items, pages };
}

beforeAll(async () => {
  server = await startMailwatch({ memory: true });
  pubsub = google.pubsub({ version: 'v1', rootUrl: `${server.url}/` });
});
afterAll(async () => server.stop());

describe('topics', () => {
  it('create, get, patch with updateMask, delete', async () => {
    const name = topicIn(newProject(), 'orders');
    const created = await pubsub.projects.topics.create({ name, requestBody: { labels: { team: 'mail' } } });
    expect(created.status).toBe(200);
    expect(created.data).toEqual({ name, labels: { team: 'mail' } });
    expect((await pubsub.projects.topics.get({ topic: name })).data).toEqual(created.data);

    const patched = await pubsub.projects.topics.patch({
      name,
      requestBody: { topic: { labels: { team: 'ops' }, messageRetentionDuration: '86400s' }, updateMask: 'labels,messageRetentionDuration' },
    });
    expect(patched.data).toEqual({ name, labels: { team: 'ops' }, messageRetentionDuration: '86400s' });
    // A path in the mask whose field is absent from `topic` clears that field.
    const cleared = await pubsub.projects.topics.patch({ name, requestBody: { topic: {}, updateMask: 'labels' } });
    expect(cleared.data).toEqual({ name, messageRetentionDuration: '86400s' });
    expect((await pubsub.projects.topics.get({ topic: name })).data).toEqual(cleared.data);

    expect(await failure(pubsub.projects.topics.patch({ name, requestBody: { topic: { labels: { a: 'b' } } } })), 'no mask').toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
    });
    expect(
      await failure(pubsub.projects.topics.patch({ name, requestBody: { topic: { messageRetentionDuration: '60s' }, updateMask: 'messageRetentionDuration' } })),
      'retention below 10 minutes',
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });

    expect((await pubsub.projects.topics.delete({ topic: name })).data).toEqual({});
    expect(await failure(pubsub.projects.topics.get({ topic: name }))).toEqual(notFound(name));
    expect(await failure(pubsub.projects.topics.delete({ topic: name }))).toEqual(notFound(name));
  });

  it('list pages through every topic of the project with pageSize and pageToken', async () => {
    const project = newProject();
    const names = ['t-echo', 't-alpha', 't-delta', 't-charlie', 't-bravo'].map((id) => topicIn(project, id));
    for (const name of names) await pubsub.projects.topics.create({ name });
    await pubsub.projects.topics.create({ name: topicIn(newProject(), 't-other-project') });

    const { items, pages } = await allPages(async (pageToken) => {
      const { data } = await pubsub.projects.topics.list({ project, pageSize: 2, pageToken });
      return { items: (data.topics ?? []).map((t) => t.name!), next: data.nextPageToken };
    }, 2);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect([...items].sort()).toEqual([...names].sort());
    expect(new Set(items).size).toBe(items.length);

    const whole = (await pubsub.projects.topics.list({ project })).data;
    expect(whole.topics?.map((t) => t.name).sort()).toEqual([...names].sort());
    expect(whole.nextPageToken ?? undefined).toBeUndefined();
    expect((await pubsub.projects.topics.list({ project: newProject() })).data, 'an empty project').toEqual({});
  });

  it('subscriptions.list pages through the names of a topic\'s subscriptions', async () => {
    const project = newProject();
    const topic = topicIn(project, 'fan-out');
    const other = topicIn(project, 'elsewhere');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.topics.create({ name: other });
    const subs = ['s-one', 's-two', 's-three'].map((id) => subIn(project, id));
    for (const name of subs) await pubsub.projects.subscriptions.create({ name, requestBody: { topic } });
    await pubsub.projects.subscriptions.create({ name: subIn(project, 's-not-mine'), requestBody: { topic: other } });

    const { items } = await allPages(async (pageToken) => {
      const { data } = await pubsub.projects.topics.subscriptions.list({ topic, pageSize: 2, pageToken });
      return { items: data.subscriptions ?? [], next: data.nextPageToken };
    }, 2);
    expect([...items].sort()).toEqual([...subs].sort());
  });

  it('publish answers one message id per message, in order, all distinct', async () => {
    const topic = topicIn(newProject(), 'ids');
    await pubsub.projects.topics.create({ name: topic });
    const { data } = await pubsub.projects.topics.publish({
      topic,
      requestBody: { messages: [{ data: 'YQ==' }, { attributes: { only: 'attributes' } }, { data: 'Yw==', orderingKey: '' }] },
    });
    expect(data.messageIds).toHaveLength(3);
    expect(new Set(data.messageIds).size).toBe(3);
    for (const id of data.messageIds!) expect(id).toMatch(/^\d+$/);
    expect(await failure(pubsub.projects.topics.publish({ topic, requestBody: { messages: [{}] } })), 'an empty message').toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
    });
  });

  it('deleting a topic keeps its subscriptions, which then point at _deleted-topic_', async () => {
    const project = newProject();
    const topic = topicIn(project, 'doomed');
    const sub = subIn(project, 'survivor');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name: sub, requestBody: { topic } });
    await pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: Buffer.from('backlog').toString('base64') }] } });
    await pubsub.projects.topics.delete({ topic });

    expect((await pubsub.projects.subscriptions.get({ subscription: sub })).data.topic).toBe('_deleted-topic_');
    // A new topic of the same name starts without subscriptions.
    await pubsub.projects.topics.create({ name: topic });
    expect((await pubsub.projects.topics.subscriptions.list({ topic })).data.subscriptions ?? []).toEqual([]);
    await pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: Buffer.from('new').toString('base64') }] } });
    const pulled = (await pubsub.projects.subscriptions.pull({ subscription: sub, requestBody: { maxMessages: 10, returnImmediately: true } })).data;
    expect(pulled.receivedMessages?.map((r) => Buffer.from(r.message!.data!, 'base64').toString()), 'the backlog survives; the new topic does not feed it')
      .toEqual(['backlog']);
  });
});

describe('subscriptions', () => {
  it('create with every field echoes them; get and list answer the same resource', async () => {
    const project = newProject();
    const topic = topicIn(project, 'source');
    const dead = topicIn(project, 'dead-letters');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.topics.create({ name: dead });
    const name = subIn(project, 'everything');
    const requestBody: pubsub_v1.Schema$Subscription = {
      topic,
      pushConfig: {
        pushEndpoint: 'https://receiver.example.com/push?token=s3cr3t',
        attributes: { 'x-goog-version': 'v1' },
        oidcToken: { serviceAccountEmail: 'pusher@my-project.iam.gserviceaccount.com', audience: 'https://receiver.example.com' },
        noWrapper: { writeMetadata: true },
      },
      ackDeadlineSeconds: 45,
      retainAckedMessages: true,
      messageRetentionDuration: '7200s',
      labels: { env: 'test', owner: 'mail' },
      enableMessageOrdering: true,
      expirationPolicy: { ttl: '259200s' },
      filter: 'attributes.kind = "invoice" AND hasPrefix(attributes.region, "eu")',
      deadLetterPolicy: { deadLetterTopic: dead, maxDeliveryAttempts: 9 },
      retryPolicy: { minimumBackoff: '2s', maximumBackoff: '120s' },
      enableExactlyOnceDelivery: true,
    };
    const created = (await pubsub.projects.subscriptions.create({ name, requestBody })).data;
    expect(created).toEqual({ name, ...requestBody, state: 'ACTIVE' });
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data).toEqual(created);
    expect((await pubsub.projects.subscriptions.list({ project })).data.subscriptions).toEqual([created]);
  });

  it('create fills in Google\'s defaults, and list pages through the project', async () => {
    const project = newProject();
    const topic = topicIn(project, 'plain');
    const dead = topicIn(project, 'dlq');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.topics.create({ name: dead });
    const plain = (await pubsub.projects.subscriptions.create({ name: subIn(project, 'plain-sub'), requestBody: { topic } })).data;
    expect(plain).toEqual({
      name: subIn(project, 'plain-sub'),
      topic,
      pushConfig: {},
      ackDeadlineSeconds: 10,
      messageRetentionDuration: '604800s',
      expirationPolicy: { ttl: '2678400s' },
      state: 'ACTIVE',
    });
    const partial = (
      await pubsub.projects.subscriptions.create({
        name: subIn(project, 'partial-sub'),
        requestBody: { topic, ackDeadlineSeconds: 0, deadLetterPolicy: { deadLetterTopic: dead }, retryPolicy: {} },
      })
    ).data;
    expect(partial).toMatchObject({
      ackDeadlineSeconds: 10,
      deadLetterPolicy: { deadLetterTopic: dead, maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' },
    });
    for (const id of ['more-a', 'more-b', 'more-c']) await pubsub.projects.subscriptions.create({ name: subIn(project, id), requestBody: { topic } });

    const { items } = await allPages(async (pageToken) => {
      const { data } = await pubsub.projects.subscriptions.list({ project, pageSize: 2, pageToken });
      return { items: data.subscriptions ?? [], next: data.nextPageToken };
    }, 2);
    expect(items.map((s) => idOf(s.name!)).sort()).toEqual(['more-a', 'more-b', 'more-c', 'partial-sub', 'plain-sub']);
    expect(items.find((s) => s.name === plain.name)).toEqual(plain);
  });

  it('patch changes exactly the fields of the updateMask; immutable fields are refused', async () => {
    const project = newProject();
    const topic = topicIn(project, 'patchable');
    const dead = topicIn(project, 'patch-dlq');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.topics.create({ name: dead });
    const name = subIn(project, 'patch-me');
    await pubsub.projects.subscriptions.create({ name, requestBody: { topic, labels: { keep: 'me' }, filter: 'attributes:x' } });

    const patched = await pubsub.projects.subscriptions.patch({
      name,
      requestBody: {
        subscription: {
          ackDeadlineSeconds: 99,
          labels: { changed: 'yes' },
          retainAckedMessages: true,
          messageRetentionDuration: '3600s',
          pushConfig: { pushEndpoint: 'https://example.com/hook' },
          deadLetterPolicy: { deadLetterTopic: dead, maxDeliveryAttempts: 12 },
          retryPolicy: { minimumBackoff: '5s', maximumBackoff: '50s' },
          expirationPolicy: { ttl: '604800s' },
          enableExactlyOnceDelivery: true,
          enableMessageOrdering: true, // not in the mask: ignored
        },
        updateMask: 'ackDeadlineSeconds,labels,retainAckedMessages,messageRetentionDuration,pushConfig,deadLetterPolicy,retryPolicy,expirationPolicy,enableExactlyOnceDelivery',
      },
    });
    const expected = {
      name,
      topic,
      filter: 'attributes:x',
      ackDeadlineSeconds: 99,
      labels: { changed: 'yes' },
      retainAckedMessages: true,
      messageRetentionDuration: '3600s',
      pushConfig: { pushEndpoint: 'https://example.com/hook' },
      deadLetterPolicy: { deadLetterTopic: dead, maxDeliveryAttempts: 12 },
      retryPolicy: { minimumBackoff: '5s', maximumBackoff: '50s' },
      expirationPolicy: { ttl: '604800s' },
      enableExactlyOnceDelivery: true,
      state: 'ACTIVE',
    };
    expect(patched.data).toEqual(expected);
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data).toEqual(expected);

    // snake_case paths work too; a path whose field is absent from `subscription` clears it.
    const cleared = await pubsub.projects.subscriptions.patch({ name, requestBody: { subscription: {}, updateMask: 'dead_letter_policy,push_config' } });
    expect(cleared.data.deadLetterPolicy).toBeUndefined();
    expect(cleared.data.pushConfig).toEqual({});
    expect(cleared.data.ackDeadlineSeconds).toBe(99);

    for (const [subscription, updateMask] of [
      [{ topic: dead }, 'topic'],
      [{ filter: 'attributes:y' }, 'filter'],
      [{ enableMessageOrdering: true }, 'enableMessageOrdering'],
      [{ ackDeadlineSeconds: 20 }, 'noSuchField'],
      [{ ackDeadlineSeconds: 601 }, 'ackDeadlineSeconds'],
    ] as const) {
      expect(await failure(pubsub.projects.subscriptions.patch({ name, requestBody: { subscription, updateMask } })), updateMask).toMatchObject({
        code: 400,
        status: 'INVALID_ARGUMENT',
      });
    }
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data, 'refused patches changed nothing').toEqual(cleared.data);
  });

  it('modifyPushConfig turns a pull subscription into a push subscription and back', async () => {
    const project = newProject();
    const topic = topicIn(project, 'push-toggle');
    const name = subIn(project, 'toggle');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name, requestBody: { topic } });
    const pushConfig = { pushEndpoint: 'https://example.com/in', oidcToken: { serviceAccountEmail: 'a@b.iam.gserviceaccount.com' } };
    expect((await pubsub.projects.subscriptions.modifyPushConfig({ subscription: name, requestBody: { pushConfig } })).data).toEqual({});
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data.pushConfig).toEqual(pushConfig);
    await pubsub.projects.subscriptions.modifyPushConfig({ subscription: name, requestBody: { pushConfig: {} } });
    expect((await pubsub.projects.subscriptions.get({ subscription: name })).data.pushConfig).toEqual({});
    expect(
      await failure(pubsub.projects.subscriptions.modifyPushConfig({ subscription: name, requestBody: { pushConfig: { pushEndpoint: 'mailto:x@y.z' } } })),
    ).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
  });

  it('detach marks the subscription detached and pull answers FAILED_PRECONDITION; delete removes it', async () => {
    const project = newProject();
    const topic = topicIn(project, 'detachable');
    const name = subIn(project, 'detach-me');
    await pubsub.projects.topics.create({ name: topic });
    await pubsub.projects.subscriptions.create({ name, requestBody: { topic } });
    await pubsub.projects.topics.publish({ topic, requestBody: { messages: [{ data: 'YQ==' }] } });

    expect((await pubsub.projects.subscriptions.detach({ subscription: name })).data).toEqual({});
    const detached = (await pubsub.projects.subscriptions.get({ subscription: name })).data;
    expect(detached).toMatchObject({ name, detached: true });
    const pulled = await failure(pubsub.projects.subscriptions.pull({ subscription: name, requestBody: { maxMessages: 5, returnImmediately: true } }));
    expect(pulled).toMatchObject({ code: 400, envelopeCode: 400, status: 'FAILED_PRECONDITION' });

    expect((await pubsub.projects.subscriptions.delete({ subscription: name })).data).toEqual({});
    expect(await failure(pubsub.projects.subscriptions.get({ subscription: name }))).toEqual(notFound(name));
    expect(await failure(pubsub.projects.subscriptions.delete({ subscription: name }))).toEqual(notFound(name));
    expect((await pubsub.projects.subscriptions.list({ project })).data.subscriptions ?? []).toEqual([]);
  });
});
