-- 0002: release 2.
--
-- Persona names compare by a key: Unicode full case folding between NFD and
-- NFC normalisation (SQLite's NOCASE folds ASCII letters only, so "ÉCOLE"
-- and "école" were two personas whose export could not be imported). The
-- key of each existing persona is computed in Go and indexed right after
-- this step, in the same transaction (see migrationHooks in migrate.go).
ALTER TABLE personas ADD COLUMN name_key TEXT;

-- The overflow policy a conversation runs with ('' means the default,
-- keep-system-drop-oldest), so that continuing it keeps its choice.
ALTER TABLE conversations ADD COLUMN overflow_policy TEXT NOT NULL DEFAULT '';

-- The random seed a reply was sampled with, so that it can be reproduced
-- (NULL for greedy replies, user messages and replies of release 1).
ALTER TABLE messages ADD COLUMN seed INTEGER;

-- The Store session (see writers.go) streaming a reply, so that a reply
-- whose process died (crash, kill -9, SIGPIPE) is marked interrupted the
-- next time the history is opened, while another process's live reply is
-- left alone. NULL for finished replies and replies of release 1.
ALTER TABLE messages ADD COLUMN writer TEXT;
CREATE INDEX messages_streaming ON messages(writer) WHERE status = 'streaming';
