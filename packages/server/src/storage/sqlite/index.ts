/** The SQLite store: one file under --data (WAL), or an in-memory database for --memory. */
import { join } from 'node:path';
import type { Store } from '../ports.ts';
import { SqliteBrokerStore } from './broker-store.ts';
import { openDatabase } from './db.ts';
import { SqliteSettingsStore } from './settings-store.ts';
import { SqliteSnapshotStore } from './snapshot-store.ts';

export interface SqliteOptions {
  /** Data directory; the database is `mailwatch.db` inside. Ignored with `memory`. */
  dataDir?: string;
  memory?: boolean;
  /** synchronous=FULL: survive power loss, not only process crashes. */
  fsync?: boolean;
}

export const DATABASE_FILE = 'mailwatch.db';

export function createSqliteStore(options: SqliteOptions): Store {
  const path = options.memory ? ':memory:' : join(options.dataDir ?? '.mailwatch', DATABASE_FILE);
  const db = openDatabase({ path, fsync: options.fsync });
  return {
    broker: new SqliteBrokerStore(db),
    snapshots: new SqliteSnapshotStore(db),
    settings: new SqliteSettingsStore(db),
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
