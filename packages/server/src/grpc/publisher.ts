/** google.pubsub.v1.Publisher over the broker service (the REST routes call the same methods). */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { decodePageToken, encodePageToken } from '../domain/broker/page-token.ts';
import type { BrokerService } from '../domain/broker/service.ts';
import type { Snapshots } from '../domain/broker/snapshots.ts';
import type { NewMessage } from '../domain/broker/types.ts';
import { page, unary } from './handlers.ts';

const T = (name: string) => `google.pubsub.v1.${name}`;

export function publisher(broker: BrokerService, snapshots: Snapshots, logger: Logger): UntypedServiceImplementation {
  return {
    CreateTopic: unary(logger, T('Topic'), T('Topic'), (r) => broker.createTopic(r.name ?? '', r)),
    UpdateTopic: unary(logger, T('UpdateTopicRequest'), T('Topic'), (r) =>
      broker.updateTopic(r.topic?.name ?? '', r.topic ?? {}, r.updateMask ?? []),
    ),
    Publish: unary(logger, null, T('PublishResponse'), async (r) => {
      const messages: NewMessage[] = (r.messages ?? []).map((m: Record<string, any>) => ({
        data: m.data ?? Buffer.alloc(0),
        attributes: m.attributes ?? {},
        ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
      }));
      return { messageIds: await broker.publish(r.topic ?? '', messages) };
    }),
    GetTopic: unary(logger, T('GetTopicRequest'), T('Topic'), (r) => broker.getTopic(r.topic ?? '')),
    ListTopics: unary(logger, T('ListTopicsRequest'), T('ListTopicsResponse'), async (r) =>
      page('topics', await broker.listTopics(r.project ?? '', { pageSize: r.pageSize, pageToken: decodePageToken(r.pageToken) }), encodePageToken),
    ),
    ListTopicSubscriptions: unary(logger, T('ListTopicSubscriptionsRequest'), T('ListTopicSubscriptionsResponse'), async (r) =>
      page(
        'subscriptions',
        await broker.listTopicSubscriptions(r.topic ?? '', { pageSize: r.pageSize, pageToken: decodePageToken(r.pageToken) }),
        encodePageToken,
      ),
    ),
    ListTopicSnapshots: unary(logger, T('ListTopicSnapshotsRequest'), T('ListTopicSnapshotsResponse'), async (r) =>
      page('snapshots', await snapshots.listForTopic(r.topic ?? '', { pageSize: r.pageSize, pageToken: decodePageToken(r.pageToken) }), encodePageToken),
    ),
    DeleteTopic: unary(logger, T('DeleteTopicRequest'), 'google.protobuf.Empty', (r) => broker.deleteTopic(r.topic ?? '')),
    DetachSubscription: unary(logger, T('DetachSubscriptionRequest'), T('DetachSubscriptionResponse'), (r) =>
      broker.detachSubscription(r.subscription ?? ''),
    ),
  };
}
