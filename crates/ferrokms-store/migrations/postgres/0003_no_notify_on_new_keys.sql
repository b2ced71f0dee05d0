-- A key just created needs no change notification: no node can hold it in a cache yet (nodes
-- cache only keys they have read, and never that a key is missing). And NOTIFY takes a
-- database-wide lock from its transaction's commit until the commit is durable, so with it every
-- CreateKey on every node committed one after another.
DROP TRIGGER keys_notify ON keys;
CREATE TRIGGER keys_notify AFTER UPDATE OR DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION ferrokms_notify_key();
