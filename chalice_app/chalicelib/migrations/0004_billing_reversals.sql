-- A cancelled order's charge is reversed by a row of its own; the charge row in billing is
-- never updated or deleted, so the ledger keeps what happened. One reversal per order (its
-- id is the key, so a retry or a second delivery cannot reverse twice), referencing the
-- charge: its amounts negated, at the charge's rate and rate date. An order's net is the
-- charge plus its reversal: the charge, or zero.
CREATE TABLE billing_reversals (
    order_id VARCHAR(64) PRIMARY KEY REFERENCES billing (order_id),
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor <= 0),
    usd_minor BIGINT NOT NULL CHECK (usd_minor <= 0),
    usd_rate VARCHAR(32) NOT NULL,
    rate_date DATE NOT NULL,
    reversed_at VARCHAR(40) NOT NULL
);
