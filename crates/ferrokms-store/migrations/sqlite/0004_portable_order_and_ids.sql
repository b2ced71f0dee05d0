-- Portable ordering and ids, as the PostgreSQL schema has them:
-- - keys and data keys get `seq`, their insertion order as a real column (listings break ties
--   of `created_at` by it instead of by the implicit rowid); it is the rowid's alias, so
--   existing rows keep their order and new rows get the next one for free;
-- - accounts take their id from the database (`INSERT ... RETURNING id`) instead of MAX(id) + 1,
--   starting at 100000000001 as before;
-- - `meta` holds named values of the store itself (the root key's check value).
-- Tables are rebuilt (SQLite cannot change a primary key in place) in this one transaction.

CREATE TABLE accounts_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO accounts_new (id, name, created_at) SELECT id, name, created_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'accounts', 100000000000 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'accounts');
UPDATE sqlite_sequence SET seq = MAX(seq, 100000000000) WHERE name = 'accounts';

CREATE TABLE keys_new (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL,
    region TEXT NOT NULL,
    alias TEXT NOT NULL,
    description TEXT NOT NULL,
    usage TEXT NOT NULL,
    algorithm INTEGER NOT NULL,
    origin TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deletion_date BIGINT NOT NULL,
    rotation_enabled INTEGER NOT NULL,
    rotation_interval BIGINT NOT NULL,
    last_rotated_at BIGINT NOT NULL,
    next_rotation_at BIGINT NOT NULL,
    current_version BIGINT NOT NULL,
    deletion_protection INTEGER NOT NULL,
    deletion_protection_description TEXT NOT NULL,
    policy TEXT NOT NULL,
    revision BIGINT NOT NULL,
    material_expires_at BIGINT NOT NULL DEFAULT 0,
    material_fingerprint BLOB NOT NULL DEFAULT x''
);
INSERT INTO keys_new (seq, id, account_id, region, alias, description, usage, algorithm, origin, state, created_at,
    deletion_date, rotation_enabled, rotation_interval, last_rotated_at, next_rotation_at, current_version,
    deletion_protection, deletion_protection_description, policy, revision, material_expires_at, material_fingerprint)
SELECT rowid, id, account_id, region, alias, description, usage, algorithm, origin, state, created_at,
    deletion_date, rotation_enabled, rotation_interval, last_rotated_at, next_rotation_at, current_version,
    deletion_protection, deletion_protection_description, policy, revision, material_expires_at, material_fingerprint
FROM keys;
DROP TABLE keys;
ALTER TABLE keys_new RENAME TO keys;
CREATE UNIQUE INDEX keys_alias ON keys (account_id, region, alias);
CREATE INDEX keys_due ON keys (state, deletion_date);
CREATE INDEX keys_listing ON keys (account_id, region, created_at, seq);
CREATE INDEX keys_material_expiry ON keys (material_expires_at) WHERE material_expires_at > 0;

CREATE TABLE data_keys_new (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    number_of_bytes BIGINT NOT NULL,
    origin TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deletion_date BIGINT NOT NULL,
    ciphertext BLOB NOT NULL,
    context BLOB NOT NULL,
    revision BIGINT NOT NULL
);
INSERT INTO data_keys_new (seq, id, account_id, region, key_id, name, description, number_of_bytes, origin, state,
    created_at, deletion_date, ciphertext, context, revision)
SELECT rowid, id, account_id, region, key_id, name, description, number_of_bytes, origin, state,
    created_at, deletion_date, ciphertext, context, revision
FROM data_keys;
DROP TABLE data_keys;
ALTER TABLE data_keys_new RENAME TO data_keys;
CREATE UNIQUE INDEX data_keys_name ON data_keys (account_id, region, name);
CREATE INDEX data_keys_due ON data_keys (state, deletion_date);
CREATE INDEX data_keys_listing ON data_keys (account_id, region, created_at, seq);

CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- The schema is sqlx's to track from here on (_sqlx_migrations). A ferrokms from before reads
-- this table: version 1000 makes it refuse the database as newer than it knows, instead of
-- trying to create the schema again.
CREATE TABLE IF NOT EXISTS ferrokms_schema (version BIGINT NOT NULL);
INSERT INTO ferrokms_schema (version) VALUES (1000);
