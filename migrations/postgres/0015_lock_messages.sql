-- Lock, unlock and override events go to the same webhook URLs as verdict messages:
-- such a message has no deploy and no verdict state, and carries its text.
ALTER TABLE notifications ALTER COLUMN deploy_id DROP NOT NULL;
ALTER TABLE notifications ALTER COLUMN state DROP NOT NULL;
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('turned_bad', 'final', 'lock'));
ALTER TABLE notifications ADD COLUMN message TEXT;
ALTER TABLE notifications ADD CONSTRAINT notifications_lock_message
    CHECK ((kind = 'lock') = (message IS NOT NULL AND deploy_id IS NULL AND state IS NULL));
