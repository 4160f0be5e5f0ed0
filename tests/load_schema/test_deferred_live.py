"""post-data defers the keys and indexes of a table whose transfer has not succeeded, and shared/finishing.py applies
them once the table is loaded, with the same rules as post-data (what a later transfer of the table calls)."""

from shared.config import load_settings
from shared.finishing import finish_table, finishing_session
from shared.identifiers import TableRef
from tests.load_schema.conftest import query
from tests.load_schema.test_post_data_live import post_data

ORDERS = TableRef("shop", "orders")
ORDER_ROWS = "INSERT INTO shop.orders (id, customer_id, amount) VALUES (5, 1, 10), (15, 2, 20), (25, 9, 30), (35, 8, 40)"


def _outcomes(folder) -> dict[str, dict]:
    return {o["name"]: o for o in folder.json(folder.layout.post_data_report_json)["objects"]}


def _orders_failed(folder, dsn) -> None:
    """shop.orders' transfer failed: its result says so and the target is empty (the load rolled back)."""
    url = folder.layout.result(ORDERS)
    folder.store.write_json(url, {**folder.store.read_json(url), "status": "failed"})
    query(dsn, "TRUNCATE shop.orders")


def test_keys_of_a_table_not_loaded_wait_for_it(loaded):
    folder, dsn = loaded
    _orders_failed(folder, dsn)
    done = post_data(folder)
    assert done.returncode == 0, done.stderr
    report = folder.json(folder.layout.post_data_report_json)
    outcomes = _outcomes(folder)
    assert report["deferred_tables"] == ["shop.orders"]
    for name in ("shop.orders.orders_pkey", "shop.orders.orders_customer_fkey", "shop.items.items_order_fkey",
                 "shop.orders.orders_customer_idx"):
        assert (outcomes[name]["status"], outcomes[name]["waits_for"]) == ("deferred", ["shop.orders"]), name
    assert outcomes["shop.customers.customers_pkey"]["status"] == "applied"
    assert "shop.orders.id" not in outcomes  # no reseed of an empty table
    assert query(dsn, "select count(*) from pg_constraint where conrelid = 'shop.orders'::regclass") == [(0,)]
    assert query(dsn, "select last_analyze is null from pg_stat_user_tables where relid = 'shop.orders'::regclass") \
        == [(True,)]
    assert folder.json(folder.layout.step_result("load_schema_post_data"))["counts"]["deferred"] == 4


def test_the_load_after_post_data_finishes_the_table_as_post_data_would_have(loaded):
    folder, dsn = loaded
    _orders_failed(folder, dsn)
    assert post_data(folder).returncode == 0
    query(dsn, ORDER_ROWS)  # the retried transfer's load
    with finishing_session(load_settings(folder.environ), "test", folder.run_id) as conn:
        record = finish_table(conn, folder.store, folder.layout, ORDERS, ORDERS)
    report = folder.json(folder.layout.post_data_report_json)
    outcomes = _outcomes(folder)
    assert report["deferred_tables"] == [] and "deferred" not in report["counts"]
    assert outcomes["shop.orders.orders_pkey"]["status"] == "applied"
    fkey = outcomes["shop.orders.orders_customer_fkey"]
    assert (fkey["status"], fkey["violations"]) == ("not_valid", 2)  # customers 9 and 8 do not exist
    assert outcomes["shop.items.items_order_fkey"]["status"] == "applied"  # items' orders 5 and 15 are there now
    assert outcomes["shop.orders.id"]["next_value"] == 45
    assert query(dsn, "select nextval(pg_get_serial_sequence('shop.orders', 'id'))") == [(45,)]
    assert query(dsn, "select last_analyze is not null from pg_stat_user_tables "
                      "where relid = 'shop.orders'::regclass") == [(True,)]
    assert query(dsn, "select customer_id, total from shop.mv_totals order by 1") == [(1, 10), (2, 20), (8, 40),
                                                                                       (9, 30)]
    assert record["materialized_views_refreshed"] == [{"materialized_view": "shop.mv_totals", "status": "applied"}]
    assert report["finished_after_post_data"] == [record]
    assert report["counts"] == folder.json(folder.layout.step_result("load_schema_post_data"))["counts"]


def test_a_key_the_late_rows_violate_is_reported_and_the_load_is_not_refused(loaded):
    folder, dsn = loaded
    _orders_failed(folder, dsn)
    assert post_data(folder).returncode == 0
    query(dsn, ORDER_ROWS + ", (35, 1, 1)")  # the duplicate id was loaded: no key stood in its way
    with finishing_session(load_settings(folder.environ), "test", folder.run_id) as conn:
        finish_table(conn, folder.store, folder.layout, ORDERS, ORDERS)
    pkey = _outcomes(folder)["shop.orders.orders_pkey"]
    assert (pkey["status"], pkey["violations"]) == ("failed", 2)
    assert query(dsn, "select count(*) from pg_constraint where conname = 'orders_pkey'") == [(0,)]


def test_without_a_post_data_report_the_transfer_leaves_the_work_to_post_data(loaded):
    folder, _ = loaded
    with finishing_session(load_settings(folder.environ), "test", folder.run_id) as conn:
        assert finish_table(conn, folder.store, folder.layout, ORDERS, ORDERS) is None
    assert not folder.has(folder.layout.post_data_report_json)
