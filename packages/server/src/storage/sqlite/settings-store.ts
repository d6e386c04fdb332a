/** Small named values (the OIDC signing key, instance id) in the settings table. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { KeyValueStore } from '../ports.ts';

export class SqliteSettingsStore implements KeyValueStore {
  readonly #get: StatementSync;
  readonly #set: StatementSync;

  constructor(db: DatabaseSync) {
    this.#get = db.prepare('SELECT value FROM settings WHERE key = ?');
    // First writer wins: two processes generating a key at once end up with the same one.
    this.#set = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
  }

  async get(key: string): Promise<string | undefined> {
    const row = this.#get.get(key) as { value: string } | undefined;
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    this.#set.run(key, value);
  }
}
