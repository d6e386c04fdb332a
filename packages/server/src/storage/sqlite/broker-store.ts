/**
 * BrokerStore on SQLite. node:sqlite is synchronous: each method runs its statements inside
 * one BEGIN IMMEDIATE ... COMMIT on the single connection, so no two calls interleave and
 * every call has committed when its promise resolves.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { durationMs } from '../../domain/duration.ts';
import { DELETED_TOPIC } from '../../domain/broker/names.ts';
import type { Message, Subscription, Topic } from '../../domain/broker/types.ts';
import type {
  AckRef,
  BrokerStore,
  DeadlineChange,
  Delivery,
  FanoutTarget,
  LeaseRequest,
  LeaseResult,
  Page,
  PublishBatch,
  StoredPolicy,
  SubscriptionRow,
} from '../ports.ts';
import { transaction } from './db.ts';

/** Rows per multi-row INSERT (5 parameters each, well under SQLite's limit of 32,766). */
const PUBLISH_CHUNK = 200;

interface SubscriptionDbRow {
  id: number;
  resource: string;
  expires_at: number | null;
}

interface DeliveryDbRow {
  seq: number;
  delivery_count: number;
  data: Uint8Array;
  attributes: string | null;
  ordering_key: string | null;
  publish_time: number;
}

const toSubscriptionRow = (row: SubscriptionDbRow): SubscriptionRow => ({
  id: row.id,
  subscription: JSON.parse(row.resource) as Subscription,
  expiresAt: row.expires_at,
});

const toMessage = (row: DeliveryDbRow): Message => ({
  messageId: String(row.seq),
  data: Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength),
  attributes: row.attributes ? (JSON.parse(row.attributes) as Record<string, string>) : {},
  ...(row.ordering_key ? { orderingKey: row.ordering_key } : {}),
  publishTime: row.publish_time,
});

function page<T>(rows: T[], pageSize: number, key: (row: T) => string): Page<T> {
  if (rows.length <= pageSize) return { items: rows };
  const items = rows.slice(0, pageSize);
  return { items, nextPageToken: key(items[items.length - 1]) };
}

export class SqliteBrokerStore implements BrokerStore {
  readonly capabilities = { skipLocked: false, listenNotify: false };
  readonly #db: DatabaseSync;
  readonly #sql: Record<string, StatementSync>;
  readonly #insertMessagesBy = new Map<number, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
    const p = (sql: string) => db.prepare(sql);
    this.#sql = {
      insertTopic: p('INSERT INTO topics (name, project, resource, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      getTopic: p('SELECT resource FROM topics WHERE name = ?'),
      listTopics: p('SELECT resource FROM topics WHERE project = ? AND name > ? ORDER BY name LIMIT ?'),
      updateTopic: p('UPDATE topics SET resource = ? WHERE name = ?'),
      deleteTopic: p('DELETE FROM topics WHERE name = ?'),
      deletePolicy: p('DELETE FROM iam_policies WHERE resource = ?'),
      orphanSubscriptions: p(
        `UPDATE subscriptions SET topic = '${DELETED_TOPIC}', resource = json_set(resource, '$.topic', '${DELETED_TOPIC}') WHERE topic = ?`,
      ),
      topicSubscriptions: p('SELECT name FROM subscriptions WHERE topic = ? AND name > ? ORDER BY name LIMIT ?'),
      fanout: p(
        `SELECT id, name, coalesce(resource ->> '$.filter', '') AS filter, coalesce(resource ->> '$.enableMessageOrdering', 0) AS ordered
         FROM subscriptions WHERE topic = ? AND (expires_at IS NULL OR expires_at > ?)`,
      ),
      insertSubscription: p(
        `INSERT INTO subscriptions (name, project, topic, resource, push, retention_ms, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      getSubscription: p('SELECT id, resource, expires_at FROM subscriptions WHERE name = ?'),
      listSubscriptions: p('SELECT id, resource, expires_at FROM subscriptions WHERE project = ? AND name > ? ORDER BY name LIMIT ?'),
      pushSubscriptions: p('SELECT id, resource, expires_at FROM subscriptions WHERE push = 1'),
      updateSubscription: p('UPDATE subscriptions SET resource = ?, push = ?, retention_ms = ?, expires_at = ? WHERE name = ?'),
      deleteSubscription: p('DELETE FROM subscriptions WHERE name = ? RETURNING id'),
      clearBacklog: p('DELETE FROM backlog WHERE sub_id = ?'),
      touchSubscription: p('UPDATE subscriptions SET expires_at = ? WHERE id = ? AND expires_at IS NOT NULL AND expires_at < ?'),
      topicExists: p('SELECT 1 AS found FROM topics WHERE name = ?'),
      insertMessage: p('INSERT INTO messages (topic, data, attributes, ordering_key, publish_time) VALUES (?, ?, ?, ?, ?)'),
      insertBacklog: p(
        'INSERT INTO backlog (sub_id, seq, ordering_key, publish_time, available_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      ready: p(
        `SELECT b.seq, b.delivery_count, m.data, m.attributes, m.ordering_key, m.publish_time
         FROM backlog b JOIN messages m ON m.seq = b.seq
         WHERE b.sub_id = ? AND b.acked_at IS NULL AND b.available_at <= ? AND b.publish_time >= ?
         ORDER BY b.available_at, b.seq LIMIT ?`,
      ),
      // Ordering keys: only the oldest unacked message of a key may be outstanding.
      readyOrdered: p(
        `SELECT b.seq, b.delivery_count, m.data, m.attributes, m.ordering_key, m.publish_time
         FROM backlog b JOIN messages m ON m.seq = b.seq
         WHERE b.sub_id = ? AND b.acked_at IS NULL AND b.available_at <= ? AND b.publish_time >= ?
           AND (b.ordering_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM backlog e WHERE e.sub_id = b.sub_id AND e.ordering_key = b.ordering_key
               AND e.acked_at IS NULL AND e.seq < b.seq))
         ORDER BY b.available_at, b.seq LIMIT ?`,
      ),
      leaseRow: p('UPDATE backlog SET delivery_count = ?, leased_until = ?, available_at = ? WHERE sub_id = ? AND seq = ?'),
      ackDelete: p('DELETE FROM backlog WHERE sub_id = ? AND seq = ? AND delivery_count = ? AND acked_at IS NULL'),
      ackRetain: p(
        'UPDATE backlog SET acked_at = ?, leased_until = NULL WHERE sub_id = ? AND seq = ? AND delivery_count = ? AND acked_at IS NULL',
      ),
      // Exactly-once delivery: an ack counts only while its lease runs.
      ackDeleteLive: p(
        'DELETE FROM backlog WHERE sub_id = ? AND seq = ? AND delivery_count = ? AND acked_at IS NULL AND leased_until > ?',
      ),
      ackRetainLive: p(
        `UPDATE backlog SET acked_at = ?, leased_until = NULL
         WHERE sub_id = ? AND seq = ? AND delivery_count = ? AND acked_at IS NULL AND leased_until > ?`,
      ),
      isLive: p('SELECT 1 AS live FROM backlog WHERE sub_id = ? AND seq = ? AND delivery_count = ? AND acked_at IS NULL AND leased_until > ?'),
      // An extension only applies to a live lease: a nack (leased_until NULL) that overtook the
      // receipt modack must not be undone by it (reference/pubsub.md, "Ordering hazard").
      extend: p(
        `UPDATE backlog SET available_at = ?, leased_until = ?
         WHERE sub_id = ? AND seq = ? AND delivery_count = ? AND acked_at IS NULL AND leased_until IS NOT NULL`,
      ),
      nack: p(
        `UPDATE backlog SET available_at = ?, leased_until = NULL
         WHERE sub_id = ? AND seq = ? AND delivery_count = ? AND acked_at IS NULL`,
      ),
      backlogSize: p('SELECT count(*) AS n FROM backlog WHERE sub_id = ? AND acked_at IS NULL'),
      getPolicy: p('SELECT policy FROM iam_policies WHERE resource = ?'),
      setPolicy: p('INSERT INTO iam_policies (resource, policy) VALUES (?, ?) ON CONFLICT (resource) DO UPDATE SET policy = excluded.policy'),
      expiredSubscriptions: p('SELECT id FROM subscriptions WHERE expires_at IS NOT NULL AND expires_at <= ?'),
      deleteSubscriptionById: p('DELETE FROM subscriptions WHERE id = ?'),
      retentionBySub: p('SELECT id, retention_ms FROM subscriptions'),
      dropExpiredBacklog: p('DELETE FROM backlog WHERE sub_id = ? AND publish_time < ?'),
      dropOrphanBacklog: p('DELETE FROM backlog WHERE sub_id NOT IN (SELECT id FROM subscriptions)'),
      dropUnreferenced: p(
        `DELETE FROM messages WHERE seq IN (
           SELECT m.seq FROM messages m WHERE NOT EXISTS (SELECT 1 FROM backlog b WHERE b.seq = m.seq)
             AND NOT EXISTS (SELECT 1 FROM snapshot_messages s WHERE s.seq = m.seq) LIMIT 10000)`,
      ),
      // Snapshots of the topic keep every message published after they were taken.
      topicHasSnapshots: p('SELECT 1 AS found FROM snapshots WHERE topic = ? AND expire_at > ? LIMIT 1'),
      insertBacklogRange: p(
        `INSERT INTO backlog (sub_id, seq, ordering_key, publish_time, available_at)
         SELECT ?, seq, NULL, ?, ? FROM messages WHERE seq BETWEEN ? AND ? ON CONFLICT DO NOTHING`,
      ),
      snapshotPublish: p(
        'INSERT INTO snapshot_messages (snapshot_id, seq) SELECT id, ? FROM snapshots WHERE topic = ? AND expire_at > ?',
      ),
      expiredSnapshotMessages: p('DELETE FROM snapshot_messages WHERE snapshot_id IN (SELECT id FROM snapshots WHERE expire_at <= ?)'),
      expiredSnapshots: p('DELETE FROM snapshots WHERE expire_at <= ?'),
    };
  }

  async insertTopic(topic: Topic, now: number): Promise<boolean> {
    const project = topic.name.split('/')[1];
    return Number(this.#sql.insertTopic.run(topic.name, project, JSON.stringify(topic), now).changes) === 1;
  }

  async getTopic(name: string): Promise<Topic | undefined> {
    const row = this.#sql.getTopic.get(name) as { resource: string } | undefined;
    return row ? (JSON.parse(row.resource) as Topic) : undefined;
  }

  async listTopics(project: string, pageSize: number, after = ''): Promise<Page<Topic>> {
    const rows = (this.#sql.listTopics.all(project, after, pageSize + 1) as { resource: string }[]).map(
      (r) => JSON.parse(r.resource) as Topic,
    );
    return page(rows, pageSize, (t) => t.name);
  }

  async updateTopic(topic: Topic): Promise<boolean> {
    return Number(this.#sql.updateTopic.run(JSON.stringify(topic), topic.name).changes) === 1;
  }

  async deleteTopic(name: string): Promise<boolean> {
    return transaction(this.#db, () => {
      const deleted = Number(this.#sql.deleteTopic.run(name).changes) === 1;
      if (deleted) {
        this.#sql.orphanSubscriptions.run(name);
        this.#sql.deletePolicy.run(name);
      }
      return deleted;
    });
  }

  async listTopicSubscriptions(topic: string, pageSize: number, after = ''): Promise<Page<string>> {
    const rows = (this.#sql.topicSubscriptions.all(topic, after, pageSize + 1) as { name: string }[]).map((r) => r.name);
    return page(rows, pageSize, (n) => n);
  }

  async fanoutTargets(topic: string, now: number): Promise<FanoutTarget[]> {
    return (this.#sql.fanout.all(topic, now) as { id: number; name: string; filter: string; ordered: number }[]).map(
      (r) => ({ id: r.id, name: r.name, filter: r.filter, ordered: Boolean(r.ordered) }),
    );
  }

  async insertSubscription(sub: Subscription, expiresAt: number | null, now: number): Promise<'ok' | 'exists' | 'no-topic'> {
    return transaction(this.#db, () => {
      if (this.#sql.getSubscription.get(sub.name)) return 'exists';
      if (!this.#sql.topicExists.get(sub.topic)) return 'no-topic';
      const project = sub.name.split('/')[1];
      this.#sql.insertSubscription.run(
        sub.name,
        project,
        sub.topic,
        JSON.stringify(sub),
        sub.pushConfig.pushEndpoint ? 1 : 0,
        durationMs(sub.messageRetentionDuration),
        expiresAt,
        now,
      );
      return 'ok';
    });
  }

  async getSubscription(name: string): Promise<SubscriptionRow | undefined> {
    const row = this.#sql.getSubscription.get(name) as SubscriptionDbRow | undefined;
    return row ? toSubscriptionRow(row) : undefined;
  }

  async listSubscriptions(project: string, pageSize: number, after = ''): Promise<Page<SubscriptionRow>> {
    const rows = (this.#sql.listSubscriptions.all(project, after, pageSize + 1) as unknown as SubscriptionDbRow[]).map(toSubscriptionRow);
    return page(rows, pageSize, (r) => r.subscription.name);
  }

  async pushSubscriptions(): Promise<SubscriptionRow[]> {
    return (this.#sql.pushSubscriptions.all() as unknown as SubscriptionDbRow[]).map(toSubscriptionRow);
  }

  async updateSubscription(sub: Subscription, expiresAt: number | null): Promise<boolean> {
    const changes = this.#sql.updateSubscription.run(
      JSON.stringify(sub),
      sub.pushConfig.pushEndpoint ? 1 : 0,
      durationMs(sub.messageRetentionDuration),
      expiresAt,
      sub.name,
    ).changes;
    return Number(changes) === 1;
  }

  async deleteSubscription(name: string): Promise<boolean> {
    return transaction(this.#db, () => {
      const row = this.#sql.deleteSubscription.get(name) as { id: number } | undefined;
      if (row) {
        this.#sql.clearBacklog.run(row.id);
        this.#sql.deletePolicy.run(name);
      }
      return row !== undefined;
    });
  }

  async detachSubscription(name: string): Promise<boolean> {
    return transaction(this.#db, () => {
      const row = this.#sql.getSubscription.get(name) as SubscriptionDbRow | undefined;
      if (!row) return false;
      const sub = JSON.parse(row.resource) as Subscription;
      // The resource keeps its topic and says detached; the topic column no longer fans out to it.
      const detached: Subscription = { ...sub, detached: true };
      this.#db.prepare('UPDATE subscriptions SET resource = ?, topic = ? WHERE id = ?').run(JSON.stringify(detached), DELETED_TOPIC, row.id);
      this.#sql.clearBacklog.run(row.id);
      return true;
    });
  }

  async publish(batch: PublishBatch): Promise<string[] | undefined> {
    return transaction(this.#db, () => this.#publish(batch));
  }

  // Must run inside transaction().
  #publish({ topic, messages, targets, now }: PublishBatch): string[] | undefined {
    if (!this.#sql.topicExists.get(topic)) return undefined;
    // Messages go in by multi-row statements (about half the cost of one row per statement,
    // measured with bench/pubsub-rest.ts); in one statement their seqs are consecutive.
    const seqs: number[] = [];
    for (let start = 0; start < messages.length; start += PUBLISH_CHUNK) {
      const chunk = messages.slice(start, start + PUBLISH_CHUNK);
      const values: SQLInputValue[] = [];
      for (const m of chunk) {
        const attributes = Object.keys(m.attributes).length > 0 ? JSON.stringify(m.attributes) : null;
        values.push(topic, m.data, attributes, m.orderingKey || null, now);
      }
      const last = Number(this.#insertMessages(chunk.length).run(...values).lastInsertRowid);
      for (let i = chunk.length - 1; i >= 0; i--) seqs.push(last - i);
    }
    const hasSnapshots = this.#sql.topicHasSnapshots.get(topic, now) !== undefined;
    const sameTargets = targets.every((t) => t.length === targets[0].length && t.every((x, j) => x.id === targets[0][j].id));
    if (sameTargets && !messages.some((m) => m.orderingKey)) {
      // The common case (no filter split the batch, no ordering keys): one statement per subscription.
      for (const target of targets[0] ?? []) this.#sql.insertBacklogRange.run(target.id, now, now, seqs[0], seqs[seqs.length - 1]);
      if (hasSnapshots) for (const seq of seqs) this.#sql.snapshotPublish.run(seq, topic, now);
      return seqs.map(String);
    }
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (hasSnapshots) this.#sql.snapshotPublish.run(seqs[i], topic, now);
      for (const target of targets[i]) {
        this.#sql.insertBacklog.run(target.id, seqs[i], target.ordered && m.orderingKey ? m.orderingKey : null, now, now);
      }
    }
    return seqs.map(String);
  }

  #insertMessages(rows: number): StatementSync {
    let statement = this.#insertMessagesBy.get(rows);
    if (!statement) {
      const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?)').join(', ');
      statement = this.#db.prepare(`INSERT INTO messages (topic, data, attributes, ordering_key, publish_time) VALUES ${values}`);
      this.#insertMessagesBy.set(rows, statement);
    }
    return statement;
  }

  async lease(request: LeaseRequest): Promise<LeaseResult> {
    const { subscriptionId, max, now, deadlineMs, retentionCutoff, maxDeliveryAttempts } = request;
    return transaction(this.#db, () => {
      const statement = request.ordered ? this.#sql.readyOrdered : this.#sql.ready;
      const rows = statement.all(subscriptionId, now, retentionCutoff, max) as unknown as DeliveryDbRow[];
      const deliveries: Delivery[] = [];
      const exhausted: Delivery[] = [];
      for (const row of rows) {
        if (maxDeliveryAttempts !== undefined && row.delivery_count >= maxDeliveryAttempts) {
          exhausted.push({ seq: row.seq, deliveryCount: row.delivery_count, message: toMessage(row) });
          continue;
        }
        const count = row.delivery_count + 1;
        const leasedUntil = now + deadlineMs;
        this.#sql.leaseRow.run(count, leasedUntil, leasedUntil + request.retryDelayMs(count), subscriptionId, row.seq);
        deliveries.push({ seq: row.seq, deliveryCount: count, message: toMessage(row) });
      }
      if (request.expiresAt !== null) this.#sql.touchSubscription.run(request.expiresAt, subscriptionId, request.expiresAt - 60_000);
      return { deliveries, exhausted };
    });
  }

  async acknowledge(subscriptionId: number, refs: AckRef[], now: number, retain: boolean, liveAt?: number): Promise<boolean[]> {
    return transaction(this.#db, () => this.#acknowledge(subscriptionId, refs, now, retain, liveAt));
  }

  // Must run inside transaction().
  #acknowledge(subscriptionId: number, refs: AckRef[], now: number, retain: boolean, liveAt?: number): boolean[] {
    return refs.map((ref) => {
      const result =
        liveAt === undefined
          ? retain
            ? this.#sql.ackRetain.run(now, subscriptionId, ref.seq, ref.deliveryCount)
            : this.#sql.ackDelete.run(subscriptionId, ref.seq, ref.deliveryCount)
          : retain
            ? this.#sql.ackRetainLive.run(now, subscriptionId, ref.seq, ref.deliveryCount, liveAt)
            : this.#sql.ackDeleteLive.run(subscriptionId, ref.seq, ref.deliveryCount, liveAt);
      return Number(result.changes) === 1;
    });
  }

  async modifyDeadlines(subscriptionId: number, changes: DeadlineChange[], liveAt?: number): Promise<boolean[]> {
    return transaction(this.#db, () =>
      changes.map((c) => {
        if (liveAt !== undefined && !this.#sql.isLive.get(subscriptionId, c.seq, c.deliveryCount, liveAt)) return false;
        const result =
          c.leasedUntil === null
            ? this.#sql.nack.run(c.availableAt, subscriptionId, c.seq, c.deliveryCount)
            : this.#sql.extend.run(c.availableAt, c.leasedUntil, subscriptionId, c.seq, c.deliveryCount);
        return Number(result.changes) === 1;
      }),
    );
  }

  async forwardToDeadLetter(subscriptionId: number, refs: AckRef[], batch: PublishBatch): Promise<void> {
    transaction(this.#db, () => {
      // A missing dead-letter topic leaves the messages where they are (Google keeps retrying
      // delivery to the subscription until the topic exists again).
      if (this.#publish(batch) === undefined) return;
      this.#acknowledge(subscriptionId, refs, batch.now, false);
    });
  }

  async backlogSize(subscriptionId: number): Promise<number> {
    return Number((this.#sql.backlogSize.get(subscriptionId) as { n: number }).n);
  }

  async getPolicy(resource: string): Promise<StoredPolicy | undefined> {
    const row = this.#sql.getPolicy.get(resource) as { policy: string } | undefined;
    if (!row) return undefined;
    const stored = JSON.parse(row.policy) as Omit<StoredPolicy, 'etag'> & { etag: string };
    return { ...stored, etag: Buffer.from(stored.etag, 'base64') };
  }

  async setPolicy(resource: string, policy: StoredPolicy): Promise<void> {
    this.#sql.setPolicy.run(resource, JSON.stringify({ ...policy, etag: policy.etag.toString('base64') }));
  }

  async sweep(now: number): Promise<{ subscriptions: number; messages: number }> {
    return transaction(this.#db, () => {
      const expired = this.#sql.expiredSubscriptions.all(now) as { id: number }[];
      for (const { id } of expired) {
        this.#sql.deleteSubscriptionById.run(id);
        this.#sql.clearBacklog.run(id);
      }
      this.#sql.dropOrphanBacklog.run();
      for (const { id, retention_ms } of this.#sql.retentionBySub.all() as { id: number; retention_ms: number }[]) {
        this.#sql.dropExpiredBacklog.run(id, now - retention_ms);
      }
      this.#sql.expiredSnapshotMessages.run(now);
      this.#sql.expiredSnapshots.run(now);
      const messages = Number(this.#sql.dropUnreferenced.run().changes);
      return { subscriptions: expired.length, messages };
    });
  }
}
