-- Imported (BYOK) material: when it expires (0: never) and a fingerprint that a re-import
-- must match once the material itself has been deleted. (ferrokms_schema version 3.)
ALTER TABLE keys ADD COLUMN material_expires_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN material_fingerprint BLOB NOT NULL DEFAULT x'';
CREATE INDEX keys_material_expiry ON keys (material_expires_at) WHERE material_expires_at > 0;
