"""Every row count rebuilt from the rows, for rows loaded without the repositories that keep
the counts (the benchmark's bulk load, and tests that check the counters). The names come
from app/adapters/sqlalchemy/row_counts.py, so they cannot drift from what the app reads."""

from app.adapters.sqlalchemy.row_counts import CUSTOMERS, OF_CUSTOMER, ORDERS, USERS

_CUSTOMER_HEX = "replace(CAST(customer_id AS TEXT), '-', '')"

RECOUNT = (
    "DELETE FROM row_counts",
    f"INSERT INTO row_counts (name, shard, value) SELECT '{USERS}', 0, count(*) FROM users",
    f"INSERT INTO row_counts (name, shard, value) "
    f"SELECT '{CUSTOMERS}', 0, count(*) FROM customers",
    f"INSERT INTO row_counts (name, shard, value) SELECT '{ORDERS}', 0, count(*) FROM orders",
    f"INSERT INTO row_counts (name, shard, value) "
    f"SELECT '{ORDERS}:' || status, 0, count(*) FROM orders GROUP BY status",
    f"INSERT INTO row_counts (name, shard, value) "
    f"SELECT '{ORDERS}:{OF_CUSTOMER}:' || {_CUSTOMER_HEX}, 0, count(*) "
    f"FROM orders GROUP BY customer_id",
    f"INSERT INTO row_counts (name, shard, value) "
    f"SELECT '{ORDERS}:{OF_CUSTOMER}:' || {_CUSTOMER_HEX} || ':' || status, 0, count(*) "
    f"FROM orders GROUP BY customer_id, status",
)
