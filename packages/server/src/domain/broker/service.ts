/**
 * The broker: topics, subscriptions, publish with fan-out, and IAM. Both transports (REST now,
 * gRPC later) and the Gmail notifier call this class, so they can never drift. Deliveries
 * (pull, ack, modack, dead letters) live in leases.ts.
 */
import type { Clock } from '../clock.ts';
import { ApiError, resourceExists, resourceNotFound } from '../errors.ts';
import type { BrokerStore, FanoutTarget, Page, SubscriptionRow } from '../../storage/ports.ts';
import { matchesFilter, parseFilter, type Filter } from './filter.ts';
import { validatePublish } from './messages.ts';
import { DELETED_TOPIC, lastSegment, parseName, parseProject } from './names.ts';
import { Policies } from './policies.ts';
import type { Signals } from './signals.ts';
import { applySubscriptionUpdate, expiresAt, normalizeSubscription, validatePushConfig } from './subscriptions.ts';
import { applyTopicUpdate, normalizeTopic } from './topics.ts';
import type { NewMessage, PushConfig, Subscription, Topic } from './types.ts';

/** Production's page size when none (or 0) is given; Google documents no default, the emulator returns everything. */
const MAX_PAGE_SIZE = 1000;

export interface PageRequest {
  pageSize?: number;
  pageToken?: string;
}

export class BrokerService {
  readonly store: BrokerStore;
  readonly clock: Clock;
  readonly signals: Signals;
  readonly policies: Policies;
  readonly #filters = new Map<string, Filter | undefined>();

  constructor(store: BrokerStore, clock: Clock, signals: Signals) {
    this.store = store;
    this.clock = clock;
    this.signals = signals;
    this.policies = new Policies(store);
  }

  // --- topics ---------------------------------------------------------------------------

  async createTopic(name: string, input: Record<string, unknown>): Promise<Topic> {
    const topic = normalizeTopic(name, input);
    if (!(await this.store.insertTopic(topic, this.clock.now()))) throw resourceExists(lastSegment(name));
    return topic;
  }

  async getTopic(name: string): Promise<Topic> {
    parseName(name, 'topics');
    const topic = await this.store.getTopic(name);
    if (!topic) throw resourceNotFound(lastSegment(name));
    return topic;
  }

  async updateTopic(name: string, patch: Record<string, unknown>, paths: readonly string[]): Promise<Topic> {
    const current = await this.getTopic(name);
    const next = applyTopicUpdate(current, patch, paths);
    if (!(await this.store.updateTopic(next))) throw resourceNotFound(lastSegment(name));
    return next;
  }

  async deleteTopic(name: string): Promise<void> {
    parseName(name, 'topics');
    if (!(await this.store.deleteTopic(name))) throw resourceNotFound(lastSegment(name));
  }

  async listTopics(project: string, page: PageRequest): Promise<Page<Topic>> {
    const id = parseProject(project);
    return this.store.listTopics(id, pageSize(page), pageAfter(page));
  }

  async listTopicSubscriptions(topic: string, page: PageRequest): Promise<Page<string>> {
    parseName(topic, 'topics');
    return this.store.listTopicSubscriptions(topic, pageSize(page), pageAfter(page));
  }

  // --- subscriptions --------------------------------------------------------------------

  async createSubscription(name: string, input: Record<string, unknown>): Promise<Subscription> {
    const sub = normalizeSubscription(name, input);
    await this.#checkDeadLetterTopic(sub);
    const now = this.clock.now();
    const outcome = await this.store.insertSubscription(sub, expiresAt(sub, now), now);
    if (outcome === 'exists') throw resourceExists(lastSegment(name));
    if (outcome === 'no-topic') throw resourceNotFound(lastSegment(sub.topic));
    return sub;
  }

  async getSubscription(name: string): Promise<Subscription> {
    return (await this.subscriptionRow(name)).subscription;
  }

  /** The live row; an expired subscription is gone even before the sweeper deletes it. */
  async subscriptionRow(name: string): Promise<SubscriptionRow> {
    parseName(name, 'subscriptions');
    const row = await this.store.getSubscription(name);
    if (!row || (row.expiresAt !== null && row.expiresAt <= this.clock.now())) throw resourceNotFound(lastSegment(name));
    return row;
  }

  async updateSubscription(name: string, patch: Record<string, unknown>, paths: readonly string[]): Promise<Subscription> {
    const row = await this.subscriptionRow(name);
    const next = applySubscriptionUpdate(row.subscription, patch, paths);
    await this.#checkDeadLetterTopic(next);
    // Any update counts as activity and restarts the expiration clock.
    if (!(await this.store.updateSubscription(next, expiresAt(next, this.clock.now())))) throw resourceNotFound(lastSegment(name));
    this.signals.deliverable([row.id]);
    return next;
  }

  async modifyPushConfig(name: string, config: PushConfig): Promise<void> {
    const row = await this.subscriptionRow(name);
    const next: Subscription = { ...row.subscription, pushConfig: validatePushConfig(config) };
    await this.store.updateSubscription(next, expiresAt(next, this.clock.now()));
    this.signals.deliverable([row.id]);
  }

  async deleteSubscription(name: string): Promise<void> {
    await this.subscriptionRow(name);
    if (!(await this.store.deleteSubscription(name))) throw resourceNotFound(lastSegment(name));
  }

  async detachSubscription(name: string): Promise<void> {
    await this.subscriptionRow(name);
    if (!(await this.store.detachSubscription(name))) throw resourceNotFound(lastSegment(name));
  }

  async listSubscriptions(project: string, page: PageRequest): Promise<Page<Subscription>> {
    const id = parseProject(project);
    const now = this.clock.now();
    const result = await this.store.listSubscriptions(id, pageSize(page), pageAfter(page));
    const items = result.items.filter((r) => r.expiresAt === null || r.expiresAt > now).map((r) => r.subscription);
    return { items, nextPageToken: result.nextPageToken };
  }

  // --- publish --------------------------------------------------------------------------

  /**
   * Stores the messages for every subscription of the topic that exists now and whose filter
   * matches; resolves with the message ids once committed. `principal`, when given, must hold
   * pubsub.topics.publish (users.watch publishes as Gmail's service account).
   */
  async publish(topicName: string, messages: NewMessage[], principal?: string): Promise<string[]> {
    parseName(topicName, 'topics');
    validatePublish(messages);
    if (principal !== undefined) {
      if (!(await this.store.getTopic(topicName))) throw resourceNotFound(lastSegment(topicName));
      await this.policies.check(topicName, principal, 'pubsub.topics.publish');
    }
    const now = this.clock.now();
    const targets = await this.fanout(topicName, messages, now);
    const ids = await this.store.publish({ topic: topicName, messages, targets, now });
    if (!ids) throw resourceNotFound(lastSegment(topicName));
    this.signals.deliverable([...new Set(targets.flat().map((t) => t.id))]);
    return ids;
  }

  /** For each message, the subscriptions of the topic that receive it (filters applied). */
  async fanout(topic: string, messages: readonly NewMessage[], now: number): Promise<FanoutTarget[][]> {
    const subscribers = await this.store.fanoutTargets(topic, now);
    return messages.map((m) => subscribers.filter((s) => matchesFilter(this.#filter(s), m.attributes)));
  }

  #filter(target: FanoutTarget): Filter | undefined {
    if (target.filter === '') return undefined;
    if (!this.#filters.has(target.filter)) {
      if (this.#filters.size > 10_000) this.#filters.clear();
      this.#filters.set(target.filter, parseFilter(target.filter));
    }
    return this.#filters.get(target.filter);
  }

  async #checkDeadLetterTopic(sub: Subscription): Promise<void> {
    const policy = sub.deadLetterPolicy;
    if (!policy) return;
    // The emulator answers 404 for a dead-letter policy without a topic too (EMULATOR_NOTES.md).
    const topic = policy.deadLetterTopic ?? '';
    if (topic === DELETED_TOPIC || !(await this.store.getTopic(topic))) {
      throw new ApiError('NOT_FOUND', `Dead letter topic not found (resource=${topic}).`);
    }
  }
}

function pageSize(page: PageRequest): number {
  const size = page.pageSize ?? 0;
  return size <= 0 || size > MAX_PAGE_SIZE ? MAX_PAGE_SIZE : size;
}

function pageAfter(page: PageRequest): string | undefined {
  return page.pageToken ? page.pageToken : undefined;
}
