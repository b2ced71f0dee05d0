-- The first schema (ferrokms_schema version 1). Applied migrations are never edited.
CREATE TABLE accounts (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL,
    sealed_secret BLOB NOT NULL,
    active INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE keys (
    id TEXT PRIMARY KEY,
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
    revision BIGINT NOT NULL
);
CREATE UNIQUE INDEX keys_alias ON keys (account_id, region, alias);
CREATE INDEX keys_due ON keys (state, deletion_date);
CREATE TABLE key_versions (
    key_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    version_id TEXT NOT NULL UNIQUE,
    sealed_material BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE aliases (
    account_id BIGINT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, name)
);
CREATE INDEX aliases_key ON aliases (key_id);
CREATE TABLE tags (
    resource_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (resource_id, tag_key)
);
CREATE TABLE cloud_bindings (
    key_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (key_id, product_id, resource_id)
);
CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
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
CREATE UNIQUE INDEX data_keys_name ON data_keys (account_id, region, name);
CREATE INDEX data_keys_due ON data_keys (state, deletion_date);
