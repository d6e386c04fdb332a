/** google.pubsub.v1.Subscriber over the broker service and its leases (StreamingPull in streaming-pull.ts). */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Leases } from '../domain/broker/leases.ts';
import { decodePageToken, encodePageToken } from '../domain/broker/page-token.ts';
import type { BrokerService } from '../domain/broker/service.ts';
import type { Snapshots } from '../domain/broker/snapshots.ts';
import type { ReceivedMessage } from '../domain/broker/types.ts';
import { page, unary } from './handlers.ts';
import { streamingPull } from './streaming-pull.ts';

const T = (name: string) => `google.pubsub.v1.${name}`;
const EMPTY = 'google.protobuf.Empty';

export interface SubscriberDeps {
  broker: BrokerService;
  leases: Leases;
  snapshots: Snapshots;
  logger: Logger;
  pullWaitMs: number;
  shutdown: AbortSignal;
}

/** A received message as the proto has it; deliveryAttempt only with a dead-letter policy. */
export function receivedToProto(received: ReceivedMessage, withDeliveryAttempt: boolean): Record<string, unknown> {
  const m = received.message;
  return {
    ackId: received.ackId,
    message: { data: m.data, attributes: m.attributes, messageId: m.messageId, publishTime: m.publishTime, orderingKey: m.orderingKey },
    ...(withDeliveryAttempt ? { deliveryAttempt: received.deliveryAttempt } : {}),
  };
}

export function subscriber(deps: SubscriberDeps): UntypedServiceImplementation {
  const { broker, leases, snapshots, logger } = deps;
  return {
    CreateSubscription: unary(logger, T('Subscription'), T('Subscription'), (r) => broker.createSubscription(r.name ?? '', r)),
    GetSubscription: unary(logger, T('GetSubscriptionRequest'), T('Subscription'), (r) => broker.getSubscription(r.subscription ?? '')),
    UpdateSubscription: unary(logger, T('UpdateSubscriptionRequest'), T('Subscription'), (r) =>
      broker.updateSubscription(r.subscription?.name ?? '', r.subscription ?? {}, r.updateMask ?? []),
    ),
    ListSubscriptions: unary(logger, T('ListSubscriptionsRequest'), T('ListSubscriptionsResponse'), async (r) =>
      page(
        'subscriptions',
        await broker.listSubscriptions(r.project ?? '', { pageSize: r.pageSize, pageToken: decodePageToken(r.pageToken) }),
        encodePageToken,
      ),
    ),
    DeleteSubscription: unary(logger, T('DeleteSubscriptionRequest'), EMPTY, (r) => broker.deleteSubscription(r.subscription ?? '')),
    ModifyAckDeadline: unary(logger, T('ModifyAckDeadlineRequest'), EMPTY, (r) =>
      leases.modifyAckDeadline(r.subscription ?? '', r.ackIds ?? [], r.ackDeadlineSeconds ?? 0),
    ),
    Acknowledge: unary(logger, T('AcknowledgeRequest'), EMPTY, (r) => leases.acknowledge(r.subscription ?? '', r.ackIds ?? [])),
    Pull: unary(logger, T('PullRequest'), T('PullResponse'), async (r, call) => {
      const row = await broker.subscriptionRow(r.subscription ?? '');
      const cancelled = new AbortController();
      call.once('cancelled', () => cancelled.abort());
      const received = await leases.pull(row.subscription.name, {
        maxMessages: r.maxMessages ?? 0,
        waitMs: r.returnImmediately ? 0 : deps.pullWaitMs,
        signal: AbortSignal.any([cancelled.signal, deps.shutdown]),
      });
      const withAttempt = row.subscription.deadLetterPolicy !== undefined;
      return { receivedMessages: received.map((m) => receivedToProto(m, withAttempt)) };
    }),
    StreamingPull: streamingPull(deps),
    ModifyPushConfig: unary(logger, T('ModifyPushConfigRequest'), EMPTY, (r) =>
      broker.modifyPushConfig(r.subscription ?? '', r.pushConfig ?? {}),
    ),
    GetSnapshot: unary(logger, T('GetSnapshotRequest'), T('Snapshot'), (r) => snapshots.get(r.snapshot ?? '')),
    ListSnapshots: unary(logger, T('ListSnapshotsRequest'), T('ListSnapshotsResponse'), async (r) =>
      page('snapshots', await snapshots.list(r.project ?? '', { pageSize: r.pageSize, pageToken: decodePageToken(r.pageToken) }), encodePageToken),
    ),
    CreateSnapshot: unary(logger, T('CreateSnapshotRequest'), T('Snapshot'), (r) =>
      snapshots.create(r.name ?? '', { subscription: r.subscription, labels: r.labels }),
    ),
    UpdateSnapshot: unary(logger, T('UpdateSnapshotRequest'), T('Snapshot'), (r) =>
      snapshots.update(r.snapshot?.name ?? '', r.snapshot ?? {}, r.updateMask ?? []),
    ),
    DeleteSnapshot: unary(logger, T('DeleteSnapshotRequest'), EMPTY, (r) => snapshots.delete(r.snapshot ?? '')),
    Seek: unary(logger, T('SeekRequest'), T('SeekResponse'), (r) => snapshots.seek(r.subscription ?? '', { time: r.time, snapshot: r.snapshot })),
  };
}
