/**
 * The interfaces the domain needs from storage. Every method is one transaction: it returns
 * only after its writes are committed (invariant 1 of DESIGN.md), so a caller that answers
 * success after awaiting it never acknowledges something a crash could lose.
 */
import type { Policy } from '../domain/broker/iam.ts';
import type { Message, NewMessage, Subscription, Topic } from '../domain/broker/types.ts';

export interface Capabilities {
  /** Work can be leased by several processes at once (FOR UPDATE SKIP LOCKED). */
  skipLocked: boolean;
  /** Commits can wake other processes (LISTEN/NOTIFY). */
  listenNotify: boolean;
}

export interface SubscriptionRow {
  id: number;
  subscription: Subscription;
  /** Epoch ms after which the subscription counts as expired; null = never. */
  expiresAt: number | null;
}

/** A subscription as fan-out needs it. */
export interface FanoutTarget {
  id: number;
  name: string;
  filter: string;
  ordered: boolean;
}

export interface PublishBatch {
  topic: string;
  messages: NewMessage[];
  /** For each message, the ids of the subscriptions that receive it (filters applied). */
  targets: FanoutTarget[][];
  now: number;
}

export interface LeaseRequest {
  subscriptionId: number;
  max: number;
  now: number;
  /** Lease length in ms. */
  deadlineMs: number;
  ordered: boolean;
  /** Messages published before this (epoch ms) are past retention and are not delivered. */
  retentionCutoff: number;
  /** Extra wait after a lease ends before the next delivery (retryPolicy), by delivery count. */
  retryDelayMs: (deliveryCount: number) => number;
  /** Rows whose delivery count reached this are returned in `exhausted`, not leased. */
  maxDeliveryAttempts?: number;
  /** Push-style bookkeeping: a pull or a push attempt counts as activity for expiration. */
  expiresAt: number | null;
}

export interface Delivery {
  seq: number;
  /** The delivery count of this delivery (1 for the first). */
  deliveryCount: number;
  message: Message;
}

export interface LeaseResult {
  deliveries: Delivery[];
  /** Messages that used up their delivery attempts and go to the dead-letter topic. */
  exhausted: Delivery[];
}

/** An ack id decoded: the message and which delivery of it. */
export interface AckRef {
  seq: number;
  deliveryCount: number;
}

export interface DeadlineChange extends AckRef {
  /** When the message becomes deliverable again. */
  availableAt: number;
  /** Lease end, or null for a nack. */
  leasedUntil: number | null;
}

/** An IAM policy as stored; the domain's Policy. */
export type StoredPolicy = Policy;

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

export interface BrokerStore {
  readonly capabilities: Capabilities;

  /** False when a topic of that name exists. */
  insertTopic(topic: Topic, now: number): Promise<boolean>;
  getTopic(name: string): Promise<Topic | undefined>;
  listTopics(project: string, pageSize: number, after: string | undefined): Promise<Page<Topic>>;
  updateTopic(topic: Topic): Promise<boolean>;
  /** Deletes the topic and points its subscriptions at the deleted-topic sentinel. */
  deleteTopic(name: string): Promise<boolean>;
  listTopicSubscriptions(topic: string, pageSize: number, after: string | undefined): Promise<Page<string>>;
  fanoutTargets(topic: string, now: number): Promise<FanoutTarget[]>;

  /** False when a subscription of that name exists, or the topic is missing (checked first). */
  insertSubscription(sub: Subscription, expiresAt: number | null, now: number): Promise<'ok' | 'exists' | 'no-topic'>;
  getSubscription(name: string): Promise<SubscriptionRow | undefined>;
  listSubscriptions(project: string, pageSize: number, after: string | undefined): Promise<Page<SubscriptionRow>>;
  /** Subscriptions with a push endpoint, for the push runner. */
  pushSubscriptions(): Promise<SubscriptionRow[]>;
  updateSubscription(sub: Subscription, expiresAt: number | null): Promise<boolean>;
  deleteSubscription(name: string): Promise<boolean>;
  /** Marks the subscription detached and drops its backlog. */
  detachSubscription(name: string): Promise<boolean>;

  /** Inserts the messages and their backlog rows; returns message ids, or undefined if the topic is gone. */
  publish(batch: PublishBatch): Promise<string[] | undefined>;
  lease(request: LeaseRequest): Promise<LeaseResult>;
  /**
   * Acks current deliveries; stale refs are ignored. With `liveAt`, only deliveries whose lease
   * is still running at that time count (exactly-once delivery). Returns, per ref, whether it
   * was acked.
   */
  acknowledge(subscriptionId: number, refs: AckRef[], now: number, retain: boolean, liveAt?: number): Promise<boolean[]>;
  /** Changes deadlines of current deliveries; stale refs are ignored. `liveAt` as for acknowledge. */
  modifyDeadlines(subscriptionId: number, changes: DeadlineChange[], liveAt?: number): Promise<boolean[]>;
  /** Publishes to the dead-letter topic and acks the originals, in one transaction. */
  forwardToDeadLetter(subscriptionId: number, refs: AckRef[], batch: PublishBatch): Promise<void>;
  /** How many unacked messages the subscription holds (for tests and the admin API). */
  backlogSize(subscriptionId: number): Promise<number>;

  getPolicy(resource: string): Promise<StoredPolicy | undefined>;
  /** Stores the policy when the current etag equals `expectedEtag` (undefined = unconditional). */
  setPolicy(resource: string, policy: StoredPolicy): Promise<void>;

  /** Removes expired subscriptions, messages past retention and unreferenced messages. */
  sweep(now: number, retention: { defaultMs: number }): Promise<{ subscriptions: number; messages: number }>;
}

/** A snapshot as stored. */
export interface SnapshotRow {
  id: number;
  name: string;
  topic: string;
  labels?: Record<string, string>;
  /** Epoch ms. */
  expireAt: number;
}

/** A message a seek may restore, for the subscription's filter. */
export interface SeekCandidate {
  seq: number;
  attributes: Record<string, string>;
}

export interface SnapshotStore {
  /**
   * Takes a snapshot of the subscription's unacked messages; it expires when the oldest of them
   * is `maxAgeMs` old (or `maxAgeMs` from now without any). Undefined when the name is taken.
   */
  createSnapshot(name: string, topic: string, subscriptionId: number, labels: Record<string, string> | undefined, now: number, maxAgeMs: number): Promise<SnapshotRow | undefined>;
  getSnapshot(name: string): Promise<SnapshotRow | undefined>;
  listSnapshots(project: string, pageSize: number, after: string | undefined): Promise<Page<SnapshotRow>>;
  listTopicSnapshots(topic: string, pageSize: number, after: string | undefined): Promise<Page<string>>;
  updateSnapshot(snapshot: SnapshotRow): Promise<boolean>;
  deleteSnapshot(name: string): Promise<boolean>;
  /** The messages the snapshot holds that still exist. */
  snapshotCandidates(snapshotId: number): Promise<SeekCandidate[]>;
  /**
   * Makes exactly these messages the subscription's unacked backlog, deliverable at `now`;
   * the rest count as acknowledged (kept as acked with `retain`).
   */
  restoreBacklog(subscriptionId: number, seqs: number[], ordered: boolean, now: number, retain: boolean): Promise<void>;
  /**
   * Seek to a time: messages published before it count as acknowledged, those published at
   * or after it (retained acked ones included) as unacknowledged and deliverable at `now`.
   */
  seekToTime(subscriptionId: number, time: number, now: number, retain: boolean): Promise<void>;
}

export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export interface Store {
  readonly broker: BrokerStore;
  readonly snapshots: SnapshotStore;
  readonly settings: KeyValueStore;
  close(): Promise<void>;
}
