"""The billing database in SQL: ledger, exchange rates, contacts, suppressions and emails.

- runner.py: SqlRunner, the one interface the SQL below is run through.
- db_api.py: the DB-API runner (SQLite, the local default, and PostgreSQL).
- data_api.py: the RDS Data API runner (Aurora Serverless v2 PostgreSQL on AWS).
- ledger.py: the ledger, exchange rates and guest email counts; contacts.py: contacts,
  suppressions and sent emails. Both are written once and run by either runner.
- database.py: database_from_url, the runner a BILLING_DATABASE_URL names.
"""
