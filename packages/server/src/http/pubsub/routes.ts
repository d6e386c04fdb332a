/**
 * The Pub/Sub v1 REST route table (HTTP rules of google/pubsub/v1/pubsub.proto and
 * google/iam/v1/iam_policy.proto). Paths carry custom verbs after a colon
 * (`/v1/projects/p/topics/t:publish`), which Fastify's router does not split, so `/v1/*` is
 * dispatched here: the path is percent-decoded segment by segment, then matched on its shape
 * (`projects/*\/topics/*`), its verb and the HTTP method.
 */
import { ApiError, invalidArgument } from '../../domain/errors.ts';
import type { BrokerService } from '../../domain/broker/service.ts';
import type { Leases } from '../../domain/broker/leases.ts';
import type { Snapshots } from '../../domain/broker/snapshots.ts';
import { decodeMessage, parseJsonBody } from '../proto-json.ts';
import { decodePageToken } from '../../domain/broker/page-token.ts';
import { EMPTY, readMessage, wirePage, wirePolicy, wireReceived, wireSnapshot, wireSubscription, wireTopic } from './wire.ts';

export interface RouteContext {
  /** The resource name of the path, e.g. `projects/p/topics/t`. */
  name: string;
  body: string;
  query: Record<string, string | string[] | undefined>;
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
}

type Handler = (ctx: RouteContext) => Promise<unknown>;

interface Route {
  method: string;
  /** Path shape with `*` for each name segment, e.g. `projects/*\/topics/*`. */
  shape: string;
  verb?: string;
  handler: Handler;
}

export interface PubsubDeps {
  broker: BrokerService;
  leases: Leases;
  snapshots: Snapshots;
  /** How long a pull without returnImmediately waits for a message. */
  pullWaitMs: number;
}

const TOPIC = 'projects/*/topics/*';
const SUB = 'projects/*/subscriptions/*';
const SNAPSHOT = 'projects/*/snapshots/*';

export function pubsubRoutes({ broker, leases, snapshots, pullWaitMs }: PubsubDeps): Route[] {
  const decode = (type: string, ctx: RouteContext) => decodeMessage(type, parseJsonBody(ctx.body));
  const page = (ctx: RouteContext) => ({ pageSize: intParam(ctx.query, 'pageSize'), pageToken: decodePageToken(strParam(ctx.query, 'pageToken')) });
  const unimplemented = (method: string): Handler => async () => {
    throw new ApiError('UNIMPLEMENTED', `Method ${method} is not implemented by mailwatch yet.`);
  };
  const iam = (shape: string): Route[] => [
    {
      method: 'GET',
      shape,
      verb: 'getIamPolicy',
      handler: async (ctx) => wirePolicy(await broker.policies.get(ctx.name, intParam(ctx.query, 'options.requestedPolicyVersion'))),
    },
    {
      // @google-cloud/pubsub over HTTP POSTs getIamPolicy (reference/pubsub.md, "Request details").
      method: 'POST',
      shape,
      verb: 'getIamPolicy',
      handler: async (ctx) => {
        const request = decode('google.iam.v1.GetIamPolicyRequest', ctx);
        return wirePolicy(await broker.policies.get(ctx.name, request.options?.requestedPolicyVersion));
      },
    },
    {
      method: 'POST',
      shape,
      verb: 'setIamPolicy',
      handler: async (ctx) => {
        const request = decode('google.iam.v1.SetIamPolicyRequest', ctx);
        return wirePolicy(await broker.policies.set(ctx.name, request.policy ?? {}));
      },
    },
    {
      method: 'POST',
      shape,
      verb: 'testIamPermissions',
      handler: async (ctx) => {
        const request = decode('google.iam.v1.TestIamPermissionsRequest', ctx);
        // Pub/Sub REST needs no credentials here (DESIGN.md, dev auth): the caller holds everything.
        const permissions = await broker.policies.test(ctx.name, request.permissions ?? [], null);
        return permissions.length > 0 ? { permissions } : EMPTY;
      },
    },
  ];

  return [
    // Topics.
    { method: 'PUT', shape: TOPIC, handler: async (ctx) => wireTopic(await broker.createTopic(ctx.name, decode('google.pubsub.v1.Topic', ctx))) },
    { method: 'GET', shape: TOPIC, handler: async (ctx) => wireTopic(await broker.getTopic(ctx.name)) },
    {
      method: 'PATCH',
      shape: TOPIC,
      handler: async (ctx) => {
        const request = decode('google.pubsub.v1.UpdateTopicRequest', ctx);
        return wireTopic(await broker.updateTopic(ctx.name, request.topic ?? {}, request.updateMask ?? []));
      },
    },
    { method: 'DELETE', shape: TOPIC, handler: async (ctx) => (await broker.deleteTopic(ctx.name), EMPTY) },
    { method: 'GET', shape: 'projects/*/topics', handler: async (ctx) => wirePage('topics', await broker.listTopics(ctx.name, page(ctx)), wireTopic) },
    {
      method: 'GET',
      shape: `${TOPIC}/subscriptions`,
      handler: async (ctx) => wirePage('subscriptions', await broker.listTopicSubscriptions(ctx.name, page(ctx))),
    },
    {
      method: 'GET',
      shape: `${TOPIC}/snapshots`,
      handler: async (ctx) => wirePage('snapshots', await snapshots.listForTopic(ctx.name, page(ctx))),
    },
    {
      method: 'POST',
      shape: TOPIC,
      verb: 'publish',
      handler: async (ctx) => {
        const request = decode('google.pubsub.v1.PublishRequest', ctx);
        const messages = ((request.messages ?? []) as Record<string, unknown>[]).map(readMessage);
        return { messageIds: await broker.publish(ctx.name, messages) };
      },
    },
    ...iam(TOPIC),

    // Subscriptions.
    {
      method: 'PUT',
      shape: SUB,
      handler: async (ctx) => wireSubscription(await broker.createSubscription(ctx.name, decode('google.pubsub.v1.Subscription', ctx))),
    },
    { method: 'GET', shape: SUB, handler: async (ctx) => wireSubscription(await broker.getSubscription(ctx.name)) },
    {
      method: 'PATCH',
      shape: SUB,
      handler: async (ctx) => {
        const request = decode('google.pubsub.v1.UpdateSubscriptionRequest', ctx);
        return wireSubscription(await broker.updateSubscription(ctx.name, request.subscription ?? {}, request.updateMask ?? []));
      },
    },
    { method: 'DELETE', shape: SUB, handler: async (ctx) => (await broker.deleteSubscription(ctx.name), EMPTY) },
    {
      method: 'GET',
      shape: 'projects/*/subscriptions',
      handler: async (ctx) => wirePage('subscriptions', await broker.listSubscriptions(ctx.name, page(ctx)), wireSubscription),
    },
    {
      method: 'POST',
      shape: SUB,
      verb: 'pull',
      handler: async (ctx) => {
        const row = await broker.subscriptionRow(ctx.name); // 404 before the body is read, as Google does
        const request = decode('google.pubsub.v1.PullRequest', ctx);
        const received = await leases.pull(ctx.name, {
          maxMessages: request.maxMessages ?? 0,
          waitMs: request.returnImmediately ? 0 : pullWaitMs,
          signal: ctx.signal,
        });
        const withAttempt = row.subscription.deadLetterPolicy !== undefined;
        return received.length > 0 ? { receivedMessages: received.map((r) => wireReceived(r, withAttempt)) } : EMPTY;
      },
    },
    {
      method: 'POST',
      shape: SUB,
      verb: 'acknowledge',
      handler: async (ctx) => {
        await broker.subscriptionRow(ctx.name);
        const request = decode('google.pubsub.v1.AcknowledgeRequest', ctx);
        await leases.acknowledge(ctx.name, request.ackIds ?? []);
        return EMPTY;
      },
    },
    {
      method: 'POST',
      shape: SUB,
      verb: 'modifyAckDeadline',
      handler: async (ctx) => {
        await broker.subscriptionRow(ctx.name);
        const request = decode('google.pubsub.v1.ModifyAckDeadlineRequest', ctx);
        await leases.modifyAckDeadline(ctx.name, request.ackIds ?? [], request.ackDeadlineSeconds ?? 0);
        return EMPTY;
      },
    },
    {
      method: 'POST',
      shape: SUB,
      verb: 'modifyPushConfig',
      handler: async (ctx) => {
        await broker.subscriptionRow(ctx.name);
        const request = decode('google.pubsub.v1.ModifyPushConfigRequest', ctx);
        await broker.modifyPushConfig(ctx.name, request.pushConfig ?? {});
        return EMPTY;
      },
    },
    { method: 'POST', shape: SUB, verb: 'detach', handler: async (ctx) => (await broker.detachSubscription(ctx.name), EMPTY) },
    {
      method: 'POST',
      shape: SUB,
      verb: 'seek',
      handler: async (ctx) => {
        await broker.subscriptionRow(ctx.name);
        const request = decode('google.pubsub.v1.SeekRequest', ctx);
        await snapshots.seek(ctx.name, { time: request.time, snapshot: request.snapshot });
        return EMPTY;
      },
    },
    ...iam(SUB),

    // Project IAM (Resource Manager's v1 shape, `projects/p:getIamPolicy`).
    ...iam('projects/*'),

    // Snapshots.
    {
      method: 'PUT',
      shape: SNAPSHOT,
      handler: async (ctx) => {
        const request = decode('google.pubsub.v1.CreateSnapshotRequest', ctx);
        return wireSnapshot(await snapshots.create(ctx.name, { subscription: request.subscription, labels: request.labels }));
      },
    },
    { method: 'GET', shape: SNAPSHOT, handler: async (ctx) => wireSnapshot(await snapshots.get(ctx.name)) },
    {
      method: 'PATCH',
      shape: SNAPSHOT,
      handler: async (ctx) => {
        const request = decode('google.pubsub.v1.UpdateSnapshotRequest', ctx);
        return wireSnapshot(await snapshots.update(ctx.name, request.snapshot ?? {}, request.updateMask ?? []));
      },
    },
    { method: 'DELETE', shape: SNAPSHOT, handler: async (ctx) => (await snapshots.delete(ctx.name), EMPTY) },
    {
      method: 'GET',
      shape: 'projects/*/snapshots',
      handler: async (ctx) => wirePage('snapshots', await snapshots.list(ctx.name, page(ctx)), wireSnapshot),
    },

    // Not served yet: answered with UNIMPLEMENTED, never a 404 page.
    ...['GET', 'POST'].map((method) => ({ method, shape: 'projects/*/schemas', handler: unimplemented('google.pubsub.v1.SchemaService') })),
    ...['GET', 'DELETE', 'PATCH'].map((method) => ({ method, shape: 'projects/*/schemas/*', handler: unimplemented('google.pubsub.v1.SchemaService') })),
  ];
}

export interface Match {
  route: Route;
  name: string;
}

/**
 * Finds the route for a decoded path (below `/v1/`). A trailing `:verb` is tried as a custom
 * method first; when no route has that verb the whole last segment is read as a name, so
 * `GET .../topics/t:publish` is an invalid topic name, as the emulator answers.
 */
export function matchRoute(routes: readonly Route[], method: string, segments: readonly string[]): Match | undefined {
  const last = segments[segments.length - 1] ?? '';
  const colon = last.indexOf(':');
  if (colon > 0) {
    const base = [...segments.slice(0, -1), last.slice(0, colon)];
    const verb = last.slice(colon + 1);
    const found = find(routes, method, base, verb);
    if (found) return found;
  }
  return find(routes, method, segments, undefined);
}

function find(routes: readonly Route[], method: string, segments: readonly string[], verb: string | undefined): Match | undefined {
  for (const route of routes) {
    if (route.method !== method || route.verb !== verb) continue;
    const shape = route.shape.split('/');
    if (shape.length !== segments.length) continue;
    if (shape.every((part, i) => part === '*' ? segments[i] !== '' : part === segments[i])) {
      // The resource name is the path up to the last `*`, e.g. `projects/p/topics/t` for `.../t/subscriptions`.
      const lastStar = route.shape.split('/').lastIndexOf('*');
      return { route, name: segments.slice(0, lastStar + 1).join('/') };
    }
  }
  return undefined;
}

function strParam(query: RouteContext['query'], key: string): string | undefined {
  const value = query[key];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/** Google's text for a query parameter that is not an integer. */
function intParam(query: RouteContext['query'], key: string): number | undefined {
  const value = strParam(query, key);
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d{1,10}$/.test(value) || Math.abs(Number(value)) > 2 ** 31 - 1) {
    const field = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    throw invalidArgument(`Invalid value at '${field}' (TYPE_INT32), "${value}"`);
  }
  return Number(value);
}
