-- Exchange rates as the ECB publishes them: units of the currency per euro, kept as the exact
-- decimal text of the feed (SQLite has no exact decimal type, and a float would round it).
CREATE TABLE exchange_rates (
    currency CHAR(3) NOT NULL,
    rate_date DATE NOT NULL,
    per_euro VARCHAR(32) NOT NULL,
    PRIMARY KEY (currency, rate_date)
);

-- One row per order (its id is the key, so a retry cannot bill twice). Amounts are integers
-- in the minor unit of their currency: exact on every engine.
CREATE TABLE billing (
    order_id VARCHAR(64) PRIMARY KEY,
    customer_id VARCHAR(64) NOT NULL,
    currency CHAR(3) NOT NULL,
    amount_minor BIGINT NOT NULL,
    usd_minor BIGINT NOT NULL,
    usd_rate VARCHAR(32) NOT NULL,
    rate_date DATE NOT NULL,
    billed_at VARCHAR(40) NOT NULL
);
