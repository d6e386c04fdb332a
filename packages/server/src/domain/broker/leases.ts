/**
 * Deliveries: leasing messages to a puller or the push runner, acks, ack-deadline changes,
 * redelivery with retryPolicy backoff, and forwarding to the dead-letter topic once a message
 * used up deadLetterPolicy.maxDeliveryAttempts.
 *
 * A lease is a row of the subscription's backlog with `leased_until` set; when it passes, the
 * message is deliverable again (after the retry backoff) with a fresh ack id.
 */
import { durationMs } from '../duration.ts';
import { ApiError, invalidArgument } from '../errors.ts';
import type { Delivery, SubscriptionRow } from '../../storage/ports.ts';
import { exactlyOnceFailure, formatAckId, parseAckId, parseAckIds } from './ack-ids.ts';
import type { AckRef } from '../../storage/ports.ts';
import { nextBackoff } from './retry.ts';
import type { BrokerService } from './service.ts';
import { MAX_ACK_DEADLINE_SECONDS, expiresAt } from './subscriptions.ts';
import type { NewMessage, ReceivedMessage, Subscription } from './types.ts';

/** Production returns at most 1,000 messages per pull whatever maxMessages asks. */
const MAX_PULL = 1000;

export interface PullOptions {
  maxMessages: number;
  /** Wait up to this long for a message when none is ready (0 = answer at once). */
  waitMs: number;
  signal?: AbortSignal;
}

export class Leases {
  readonly #broker: BrokerService;

  constructor(broker: BrokerService) {
    this.#broker = broker;
  }

  async pull(name: string, options: PullOptions): Promise<ReceivedMessage[]> {
    // The emulator's text when maxMessages is absent or 0 (EMULATOR_NOTES.md).
    if (!options.maxMessages) throw invalidArgument('No max_messages specified');
    if (options.maxMessages < 0) {
      throw invalidArgument(`Invalid max_messages given (max_messages=${options.maxMessages}). It must be a positive number.`);
    }
    const deadline = performance.now() + options.waitMs;
    for (;;) {
      const row = await this.#broker.subscriptionRow(name);
      if (row.subscription.detached) {
        throw new ApiError('FAILED_PRECONDITION', `Subscription ${name} is detached; it delivers no messages.`);
      }
      const received = await this.lease(row, Math.min(options.maxMessages, MAX_PULL), row.subscription.ackDeadlineSeconds * 1000);
      const remaining = deadline - performance.now();
      if (received.length > 0 || remaining <= 0 || options.signal?.aborted) return received;
      await this.#broker.signals.waitFor(row.id, remaining, options.signal);
    }
  }

  /**
   * Leases up to `max` deliverable messages for `deadlineMs`. Messages out of delivery attempts
   * are forwarded to the dead-letter topic instead. Used by pull and by the push runner.
   */
  async lease(row: SubscriptionRow, max: number, deadlineMs: number, push = false): Promise<ReceivedMessage[]> {
    const sub = row.subscription;
    const now = this.#broker.clock.now();
    const dlq = sub.deadLetterPolicy;
    const { deliveries, exhausted } = await this.#broker.store.lease({
      subscriptionId: row.id,
      max,
      now,
      deadlineMs,
      ordered: Boolean(sub.enableMessageOrdering),
      retentionCutoff: now - durationMs(sub.messageRetentionDuration),
      retryDelayMs: (count) => nextBackoff(count, sub.retryPolicy, push),
      maxDeliveryAttempts: dlq?.maxDeliveryAttempts,
      expiresAt: expiresAt(sub, now),
    });
    if (exhausted.length > 0) await this.#deadLetter(row, exhausted);
    return deliveries.map((d) => ({
      ackId: formatAckId(row.id, d.seq, d.deliveryCount),
      message: d.message,
      deliveryAttempt: d.deliveryCount,
    }));
  }

  async acknowledge(name: string, ackIds: readonly string[]): Promise<void> {
    const row = await this.#broker.subscriptionRow(name);
    // The emulator's text (EMULATOR_NOTES.md).
    if (ackIds.length === 0) throw invalidArgument('No ack ids specified.');
    const retain = Boolean(row.subscription.retainAckedMessages);
    const now = this.#broker.clock.now();
    if (row.subscription.enableExactlyOnceDelivery) {
      const { valid, failed } = splitAckIds(ackIds, row.id);
      const acked = await this.#broker.store.acknowledge(row.id, valid.map((v) => v.ref), now, retain, now);
      valid.forEach((v, i) => acked[i] || failed.push(v.id));
      this.#broker.signals.released(row.id, ackIds);
      if (failed.length > 0) throw exactlyOnceFailure(failed);
      return;
    }
    await this.#broker.store.acknowledge(row.id, parseAckIds(ackIds, row.id), now, retain);
    this.#broker.signals.released(row.id, ackIds);
  }

  /** 0 is a nack: the message is deliverable again after the retry backoff. */
  async modifyAckDeadline(name: string, ackIds: readonly string[], seconds: number): Promise<void> {
    const row = await this.#broker.subscriptionRow(name);
    if (ackIds.length === 0) throw invalidArgument('No ack ids specified');
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_ACK_DEADLINE_SECONDS) {
      // Production's text (reference/pubsub.md).
      throw invalidArgument(
        `Invalid ack deadline given (ack_deadline=${seconds}). The ack deadline must be between 0 and ${MAX_ACK_DEADLINE_SECONDS} seconds.`,
      );
    }
    if (row.subscription.enableExactlyOnceDelivery) {
      const { valid, failed } = splitAckIds(ackIds, row.id);
      const changed = await this.changeDeadlines(row, valid.map((v) => v.ref), seconds * 1000, false, true);
      valid.forEach((v, i) => changed[i] || failed.push(v.id));
      if (seconds === 0) {
        this.#broker.signals.released(row.id, ackIds);
        this.#broker.signals.deliverable([row.id]);
      }
      if (failed.length > 0) throw exactlyOnceFailure(failed);
      return;
    }
    const refs = parseAckIds(ackIds, row.id);
    await this.changeDeadlines(row, refs, seconds * 1000);
    if (seconds === 0) {
      this.#broker.signals.released(row.id, ackIds);
      this.#broker.signals.deliverable([row.id]);
    }
  }

  /** Extends the leases by `ms`, or nacks them when `ms` is 0 (also used by the push runner). */
  async changeDeadlines(
    row: SubscriptionRow,
    refs: { seq: number; deliveryCount: number }[],
    ms: number,
    push = false,
    liveOnly = false,
  ): Promise<boolean[]> {
    const sub = row.subscription;
    const now = this.#broker.clock.now();
    return this.#broker.store.modifyDeadlines(
      row.id,
      refs.map((ref) => {
        const backoff = nextBackoff(ref.deliveryCount, sub.retryPolicy, push);
        return ms === 0
          ? { ...ref, availableAt: now + backoff, leasedUntil: null }
          : { ...ref, availableAt: now + ms + backoff, leasedUntil: now + ms };
      }),
      liveOnly ? now : undefined,
    );
  }

  /**
   * Republishes exhausted messages to the dead-letter topic and acks them, in one transaction,
   * with the attributes Google adds (https://cloud.google.com/pubsub/docs/handling-failures,
   * "Track delivery attempts"; CloudPubSubDeadLetterSource*).
   */
  async #deadLetter(row: SubscriptionRow, exhausted: Delivery[]): Promise<void> {
    const sub: Subscription = row.subscription;
    const topic = sub.deadLetterPolicy?.deadLetterTopic ?? '';
    const now = this.#broker.clock.now();
    const [, project, , subscriptionId] = sub.name.split('/');
    const messages: NewMessage[] = exhausted.map((d) => ({
      data: d.message.data,
      attributes: {
        ...d.message.attributes,
        CloudPubSubDeadLetterSourceDeliveryCount: String(d.deliveryCount),
        CloudPubSubDeadLetterSourceSubscription: subscriptionId,
        CloudPubSubDeadLetterSourceSubscriptionProject: project,
        CloudPubSubDeadLetterSourceTopicPublishTime: new Date(d.message.publishTime).toISOString(),
      },
      ...(d.message.orderingKey ? { orderingKey: d.message.orderingKey } : {}),
    }));
    const targets = await this.#broker.fanout(topic, messages, now);
    await this.#broker.store.forwardToDeadLetter(
      row.id,
      exhausted.map((d) => ({ seq: d.seq, deliveryCount: d.deliveryCount })),
      { topic, messages, targets, now },
    );
    this.#broker.signals.deliverable([...new Set(targets.flat().map((t) => t.id))]);
  }
}

/** Under exactly-once delivery a malformed id fails alone instead of failing the request. */
function splitAckIds(ackIds: readonly string[], subscriptionId: number): { valid: { id: string; ref: AckRef }[]; failed: string[] } {
  const valid: { id: string; ref: AckRef }[] = [];
  const failed: string[] = [];
  for (const id of ackIds) {
    const ref = parseAckId(id, subscriptionId);
    if (ref) valid.push({ id, ref });
    else failed.push(id);
  }
  return { valid, failed };
}
