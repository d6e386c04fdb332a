/** SnapshotStore on SQLite; every method is one transaction on the shared connection. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Page, SeekCandidate, SnapshotRow, SnapshotStore } from '../ports.ts';
import { transaction } from './db.ts';

interface SnapshotDbRow {
  id: number;
  name: string;
  topic: string;
  labels: string | null;
  expire_at: number;
}

const toRow = (r: SnapshotDbRow): SnapshotRow => ({
  id: r.id,
  name: r.name,
  topic: r.topic,
  ...(r.labels ? { labels: JSON.parse(r.labels) as Record<string, string> } : {}),
  expireAt: r.expire_at,
});

function page<T>(rows: T[], pageSize: number, key: (row: T) => string): Page<T> {
  if (rows.length <= pageSize) return { items: rows };
  const items = rows.slice(0, pageSize);
  return { items, nextPageToken: key(items[items.length - 1]) };
}

export class SqliteSnapshotStore implements SnapshotStore {
  readonly #db: DatabaseSync;
  readonly #sql: Record<string, StatementSync>;

  constructor(db: DatabaseSync) {
    this.#db = db;
    const p = (sql: string) => db.prepare(sql);
    const columns = 'id, name, topic, labels, expire_at';
    this.#sql = {
      exists: p('SELECT 1 AS found FROM snapshots WHERE name = ?'),
      oldestUnacked: p('SELECT min(publish_time) AS oldest FROM backlog WHERE sub_id = ? AND acked_at IS NULL'),
      insert: p('INSERT INTO snapshots (name, project, topic, labels, expire_at, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      capture: p('INSERT INTO snapshot_messages (snapshot_id, seq) SELECT ?, seq FROM backlog WHERE sub_id = ? AND acked_at IS NULL'),
      get: p(`SELECT ${columns} FROM snapshots WHERE name = ?`),
      list: p(`SELECT ${columns} FROM snapshots WHERE project = ? AND name > ? ORDER BY name LIMIT ?`),
      listTopic: p('SELECT name FROM snapshots WHERE topic = ? AND name > ? ORDER BY name LIMIT ?'),
      update: p('UPDATE snapshots SET labels = ?, expire_at = ? WHERE name = ?'),
      deleteMessages: p('DELETE FROM snapshot_messages WHERE snapshot_id = (SELECT id FROM snapshots WHERE name = ?)'),
      delete: p('DELETE FROM snapshots WHERE name = ?'),
      candidates: p(
        `SELECT m.seq, m.attributes FROM snapshot_messages s JOIN messages m ON m.seq = s.seq WHERE s.snapshot_id = ? ORDER BY m.seq`,
      ),
      clearBacklog: p('DELETE FROM backlog WHERE sub_id = ?'),
      ackAll: p('UPDATE backlog SET acked_at = ?, leased_until = NULL WHERE sub_id = ? AND acked_at IS NULL'),
      unackOne: p('UPDATE backlog SET acked_at = NULL, leased_until = NULL, available_at = ? WHERE sub_id = ? AND seq = ?'),
      restore: p(
        `INSERT INTO backlog (sub_id, seq, ordering_key, publish_time, available_at)
         SELECT ?, seq, CASE WHEN ? THEN ordering_key ELSE NULL END, publish_time, ? FROM messages WHERE seq = ?
         ON CONFLICT DO NOTHING`,
      ),
      ackBefore: p('UPDATE backlog SET acked_at = ?, leased_until = NULL WHERE sub_id = ? AND publish_time < ? AND acked_at IS NULL'),
      deleteBefore: p('DELETE FROM backlog WHERE sub_id = ? AND publish_time < ?'),
      unackFrom: p(
        'UPDATE backlog SET acked_at = NULL, leased_until = NULL, available_at = ? WHERE sub_id = ? AND publish_time >= ?',
      ),
    };
  }

  async createSnapshot(
    name: string,
    topic: string,
    subscriptionId: number,
    labels: Record<string, string> | undefined,
    now: number,
    maxAgeMs: number,
  ): Promise<SnapshotRow | undefined> {
    return transaction(this.#db, () => {
      if (this.#sql.exists.get(name)) return undefined;
      const { oldest } = this.#sql.oldestUnacked.get(subscriptionId) as { oldest: number | null };
      const expireAt = (oldest ?? now) + maxAgeMs;
      const project = name.split('/')[1];
      const hasLabels = labels && Object.keys(labels).length > 0;
      const id = Number(this.#sql.insert.run(name, project, topic, hasLabels ? JSON.stringify(labels) : null, expireAt, now).lastInsertRowid);
      this.#sql.capture.run(id, subscriptionId);
      return { id, name, topic, ...(hasLabels ? { labels } : {}), expireAt };
    });
  }

  async getSnapshot(name: string): Promise<SnapshotRow | undefined> {
    const row = this.#sql.get.get(name) as SnapshotDbRow | undefined;
    return row ? toRow(row) : undefined;
  }

  async listSnapshots(project: string, pageSize: number, after = ''): Promise<Page<SnapshotRow>> {
    const rows = (this.#sql.list.all(project, after, pageSize + 1) as unknown as SnapshotDbRow[]).map(toRow);
    return page(rows, pageSize, (r) => r.name);
  }

  async listTopicSnapshots(topic: string, pageSize: number, after = ''): Promise<Page<string>> {
    const rows = (this.#sql.listTopic.all(topic, after, pageSize + 1) as { name: string }[]).map((r) => r.name);
    return page(rows, pageSize, (n) => n);
  }

  async updateSnapshot(snapshot: SnapshotRow): Promise<boolean> {
    const labels = snapshot.labels && Object.keys(snapshot.labels).length > 0 ? JSON.stringify(snapshot.labels) : null;
    return Number(this.#sql.update.run(labels, snapshot.expireAt, snapshot.name).changes) === 1;
  }

  async deleteSnapshot(name: string): Promise<boolean> {
    return transaction(this.#db, () => {
      this.#sql.deleteMessages.run(name);
      return Number(this.#sql.delete.run(name).changes) === 1;
    });
  }

  async snapshotCandidates(snapshotId: number): Promise<SeekCandidate[]> {
    return (this.#sql.candidates.all(snapshotId) as { seq: number; attributes: string | null }[]).map((r) => ({
      seq: r.seq,
      attributes: r.attributes ? (JSON.parse(r.attributes) as Record<string, string>) : {},
    }));
  }

  async restoreBacklog(subscriptionId: number, seqs: number[], ordered: boolean, now: number, retain: boolean): Promise<void> {
    transaction(this.#db, () => {
      // Seek changes acknowledgment state only: with retainAckedMessages, messages outside the
      // snapshot stay retained as acked (a later seek to a time can bring them back).
      if (retain) this.#sql.ackAll.run(now, subscriptionId);
      else this.#sql.clearBacklog.run(subscriptionId);
      for (const seq of seqs) {
        this.#sql.unackOne.run(now, subscriptionId, seq);
        this.#sql.restore.run(subscriptionId, ordered ? 1 : 0, now, seq);
      }
    });
  }

  async seekToTime(subscriptionId: number, time: number, now: number, retain: boolean): Promise<void> {
    transaction(this.#db, () => {
      if (retain) this.#sql.ackBefore.run(now, subscriptionId, time);
      else this.#sql.deleteBefore.run(subscriptionId, time);
      this.#sql.unackFrom.run(now, subscriptionId, time);
    });
  }
}
