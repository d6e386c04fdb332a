-- Snapshots: the acknowledgment state of a subscription at a point in time, to seek back to.
CREATE TABLE snapshots (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL UNIQUE,
  project    TEXT NOT NULL,
  topic      TEXT NOT NULL,
  labels     TEXT,              -- JSON object, NULL when empty
  expire_at  INTEGER NOT NULL,  -- epoch ms
  created_at INTEGER NOT NULL
);
CREATE INDEX snapshots_project ON snapshots (project, name);
CREATE INDEX snapshots_topic ON snapshots (topic, name);

-- The messages a snapshot holds: those unacked when it was taken, and every message published
-- to its topic since.
CREATE TABLE snapshot_messages (
  snapshot_id INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  PRIMARY KEY (snapshot_id, seq)
) WITHOUT ROWID;
CREATE INDEX snapshot_messages_seq ON snapshot_messages (seq);
