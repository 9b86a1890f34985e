-- 0001: the schema of the first release. A shipped migration is never
-- edited: later changes go into new files (0002_..., 0003_...).

CREATE TABLE personas (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
  system_prompt TEXT NOT NULL DEFAULT '',
  sampling_json TEXT NOT NULL DEFAULT '{}',
  model         TEXT NOT NULL DEFAULT '',
  builtin       INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,  -- unix milliseconds
  updated_at    INTEGER NOT NULL
);

-- num is the stable integer key the title index refers to; id is the public,
-- random, URL-safe id.
CREATE TABLE conversations (
  num           INTEGER PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,
  title         TEXT NOT NULL DEFAULT '',
  title_edited  INTEGER NOT NULL DEFAULT 0,
  persona_id    INTEGER REFERENCES personas(id) ON DELETE SET NULL,
  persona_name  TEXT NOT NULL DEFAULT '',
  system_prompt TEXT NOT NULL DEFAULT '',
  model         TEXT NOT NULL DEFAULT '',
  sampling_json TEXT NOT NULL DEFAULT '{}',
  leaf_id       INTEGER REFERENCES messages(id) ON DELETE SET NULL,
  pinned        INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX conversations_by_order ON conversations(pinned DESC, updated_at DESC);
CREATE INDEX conversations_by_leaf ON conversations(leaf_id);
CREATE INDEX conversations_by_persona ON conversations(persona_id);

-- Messages form a tree per conversation: siblings (same parent) are
-- alternative versions; the conversation's leaf_id picks the active path.
CREATE TABLE messages (
  id              INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  parent_id       INTEGER REFERENCES messages(id) ON DELETE CASCADE,
  role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  content         TEXT NOT NULL DEFAULT '',
  token_count     INTEGER NOT NULL DEFAULT 0,
  model           TEXT NOT NULL DEFAULT '',
  stats_json      TEXT NOT NULL DEFAULT '{}',
  status          TEXT NOT NULL DEFAULT 'done',
  error           TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE INDEX messages_by_parent ON messages(parent_id);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- Full-text search over message contents and conversation titles: external
-- content tables kept in step by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(
  content,
  content = 'messages',
  content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;

CREATE VIRTUAL TABLE conversations_fts USING fts5(
  title,
  content = 'conversations',
  content_rowid = 'num',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
  INSERT INTO conversations_fts(rowid, title) VALUES (new.num, new.title);
END;
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
  INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.num, old.title);
END;
CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
  INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.num, old.title);
  INSERT INTO conversations_fts(rowid, title) VALUES (new.num, new.title);
END;
