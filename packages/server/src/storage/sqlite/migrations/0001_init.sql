-- mailwatch SQLite schema, version 1. Never edit after it lands: add 0002_*.sql instead.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE topics (
  name       TEXT PRIMARY KEY,
  project    TEXT NOT NULL,
  resource   TEXT NOT NULL,   -- JSON of the Topic
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX topics_project ON topics (project, name);

CREATE TABLE subscriptions (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ack ids carry it
  name         TEXT NOT NULL UNIQUE,
  project      TEXT NOT NULL,
  topic        TEXT NOT NULL,   -- topic name, or _deleted-topic_
  resource     TEXT NOT NULL,   -- JSON of the Subscription
  push         INTEGER NOT NULL, -- 1 when pushConfig.pushEndpoint is set
  retention_ms INTEGER NOT NULL,
  expires_at   INTEGER,         -- epoch ms; NULL = never
  created_at   INTEGER NOT NULL
);
CREATE INDEX subscriptions_project ON subscriptions (project, name);
CREATE INDEX subscriptions_topic ON subscriptions (topic, name);

CREATE TABLE messages (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- the message id; never reused
  topic        TEXT NOT NULL,
  data         BLOB NOT NULL,
  attributes   TEXT,                 -- JSON object, NULL when empty
  ordering_key TEXT,
  publish_time INTEGER NOT NULL
);
CREATE INDEX messages_publish_time ON messages (publish_time);

-- One row per (subscription, message) until the message is acked (or, with
-- retainAckedMessages, until it leaves retention).
CREATE TABLE backlog (
  sub_id         INTEGER NOT NULL,
  seq            INTEGER NOT NULL,
  ordering_key   TEXT,              -- only for subscriptions with message ordering
  publish_time   INTEGER NOT NULL,
  available_at   INTEGER NOT NULL,  -- deliverable from this time on
  delivery_count INTEGER NOT NULL DEFAULT 0,
  leased_until   INTEGER,           -- end of the current lease, NULL when not leased
  acked_at       INTEGER,           -- set only when retained after ack
  PRIMARY KEY (sub_id, seq)
) WITHOUT ROWID;
CREATE INDEX backlog_ready ON backlog (sub_id, available_at, seq) WHERE acked_at IS NULL;
CREATE INDEX backlog_ordering ON backlog (sub_id, ordering_key, seq) WHERE acked_at IS NULL AND ordering_key IS NOT NULL;
CREATE INDEX backlog_seq ON backlog (seq);

CREATE TABLE iam_policies (
  resource TEXT PRIMARY KEY,
  policy   TEXT NOT NULL   -- JSON {version, bindings, etag(base64)}
) WITHOUT ROWID;
