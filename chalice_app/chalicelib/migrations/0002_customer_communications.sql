-- Who to write to about an order: looked up by the customer id the order carries.
CREATE TABLE customer_contacts (
    customer_id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    email VARCHAR(254) NOT NULL
);

-- Addresses SES reported as permanently bouncing or complaining: never mailed again.
CREATE TABLE email_suppressions (
    email VARCHAR(254) PRIMARY KEY,
    reason VARCHAR(40) NOT NULL,
    suppressed_at VARCHAR(40) NOT NULL
);

-- One email per order and outcome: claimed before sending, marked once SES accepted it.
CREATE TABLE order_emails (
    order_id VARCHAR(64) NOT NULL,
    outcome VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL,
    message_id VARCHAR(200),
    updated_at VARCHAR(40) NOT NULL,
    PRIMARY KEY (order_id, outcome)
);
