-- What several nodes on one database share beyond the records: change notifications (each node
-- LISTENs on ferrokms_changes and drops what a payload names from its caches), Alibaba
-- signature nonces seen by any node, and the nodes alive (rate limits are shared among them).

CREATE FUNCTION ferrokms_notify_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('ferrokms_changes', 'k' || OLD.id);
    ELSE
        PERFORM pg_notify('ferrokms_changes', 'k' || NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER keys_notify AFTER INSERT OR UPDATE OR DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION ferrokms_notify_key();

CREATE FUNCTION ferrokms_notify_access_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('ferrokms_changes', 'a' || OLD.id);
    ELSE
        PERFORM pg_notify('ferrokms_changes', 'a' || NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER access_keys_notify AFTER INSERT OR UPDATE OR DELETE ON access_keys
    FOR EACH ROW EXECUTE FUNCTION ferrokms_notify_access_key();

CREATE TABLE nonces (
    account_id BIGINT NOT NULL,
    nonce BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE nodes (
    id TEXT COLLATE "C" PRIMARY KEY,
    alive_until BIGINT NOT NULL
);
