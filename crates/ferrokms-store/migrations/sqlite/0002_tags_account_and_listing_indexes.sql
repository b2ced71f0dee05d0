-- Tags carry their account, and listings filter them through one index (account, key,
-- value) instead of one probe per filter and row; listings walk (account, region,
-- created_at) in order, so a page costs its own rows. (ferrokms_schema version 2.)
ALTER TABLE tags ADD COLUMN account_id BIGINT NOT NULL DEFAULT 0;
UPDATE tags SET account_id = COALESCE(
    (SELECT account_id FROM keys WHERE keys.id = tags.resource_id),
    (SELECT account_id FROM data_keys WHERE data_keys.id = tags.resource_id),
    0);
CREATE INDEX tags_filter ON tags (account_id, tag_key, tag_value);
CREATE INDEX keys_listing ON keys (account_id, region, created_at);
CREATE INDEX data_keys_listing ON data_keys (account_id, region, created_at);
