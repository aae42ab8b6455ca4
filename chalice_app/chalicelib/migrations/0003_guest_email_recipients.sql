-- Guests type any address at checkout, so emails to one address are limited per hour: a
-- guest's email records its recipient (lower case) and when it was claimed, as UTC text of
-- one fixed width, which sorts as time does on every engine. Registered customers' emails
-- and the rows written before this migration leave both empty: they are not counted.
ALTER TABLE order_emails ADD COLUMN recipient VARCHAR(254);
ALTER TABLE order_emails ADD COLUMN claimed_at VARCHAR(40);

-- The count looks up one address's claims in a time range.
CREATE INDEX order_emails_by_recipient ON order_emails (recipient, claimed_at);
