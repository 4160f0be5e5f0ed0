"""shared/applyengine: the one engine of validate_restore, pre-data and post-data, with a stand-in database (the same
engine on PostgreSQL: tests/validate_restore/test_apply_live.py, tests/load_schema/test_skip_chains_live.py)."""

from __future__ import annotations

import threading

from shared.applyengine import ApplyEngine, apply_in_order, left_not_there
from shared.objects_report import ObjectReport
from shared.sqlblocks import SqlObject


def obj(kind: str, name: str, *depends_on: str, **extra) -> SqlObject:
    return SqlObject(kind, name, f"CREATE {kind} {name};", name, tuple(depends_on), tuple(extra.items()))


class FakeDatabase:
    """Applies objects; those named in `broken` fail with `broken[name]`, those in `late` only once `late[name]`
    exists (a dependency only the database sees)."""

    def __init__(self, broken: dict[str, str] | None = None, late: dict[str, str] | None = None):
        self.broken, self.late = broken or {}, late or {}
        self.created: list[str] = []
        self.tried: list[str] = []

    def apply(self, item: SqlObject) -> ObjectReport:
        self.tried.append(item.name)
        if item.name in self.broken:
            return ObjectReport.of(item, "failed", self.broken[item.name])
        if item.name in self.late and self.late[item.name] not in self.created:
            return ObjectReport.of(item, "failed", f"{self.late[item.name]} does not exist")
        self.created.append(item.name)
        return ObjectReport.of(item, "applied")


CHAIN = [obj("schema", "s"), obj("table", "s.t"), obj("view", "s.v1", "s.t"), obj("view", "s.v2", "s.v1"),
         obj("table", "s.other"), obj("view", "s.v_other", "s.other")]


def outcomes(result) -> dict[str, tuple[str, str | None]]:
    return {r.name: (r.status, r.reason) for r in result.reports}


def test_a_failed_root_skips_both_dependants_with_the_chain_and_applies_the_rest():
    database = FakeDatabase(broken={"s.t": 'type "geometry" does not exist'})
    result = apply_in_order(CHAIN, database.apply)
    assert outcomes(result) == {
        "s": ("applied", None),
        "s.t": ("failed", 'type "geometry" does not exist'),
        "s.v1": ("skipped", 'depends on table s.t, which failed: type "geometry" does not exist'),
        "s.v2": ("skipped", 'depends on view s.v1, which depends on table s.t, which failed: '
                            'type "geometry" does not exist'),
        "s.other": ("applied", None),
        "s.v_other": ("applied", None),
    }
    assert "s.v1" not in database.tried and "s.v2" not in database.tried  # never sent: their root had failed
    assert result.attempts == [1, 2, 0, 0, 1, 1]  # t again after others made progress; v1, v2 never
    assert [o.name for o in result.applied_order] == ["s", "s.other", "s.v_other"]


def test_a_failed_schema_is_the_root_of_its_objects():
    result = apply_in_order(CHAIN, FakeDatabase(broken={"s": "permission denied"}).apply)
    assert outcomes(result)["s.v2"] == ("skipped", "depends on view s.v1, which depends on table s.t, which depends "
                                                   "on schema s, which failed: permission denied")


def test_failures_are_tried_again_after_progress_and_the_passes_counted():
    objects = [obj("view", "s.late"), obj("view", "s.base"), obj("view", "s.on_late", "s.late")]
    result = apply_in_order(objects, FakeDatabase(late={"s.late": "s.base"}).apply)
    assert [r.status for r in result.reports] == ["applied"] * 3
    assert result.attempts == [2, 1, 1]  # on_late waited while late was failing, then went once
    assert [o.name for o in result.applied_order] == ["s.base", "s.late", "s.on_late"]
    assert result.passes == 2  # nothing left after the second


def test_one_pass_only_when_asked():
    objects = [obj("view", "s.late"), obj("view", "s.base")]
    result = apply_in_order(objects, FakeDatabase(late={"s.late": "s.base"}).apply, max_passes=1)
    assert [r.status for r in result.reports] == ["failed", "applied"] and result.passes == 1


def test_a_pass_that_brings_nothing_new_is_the_last():
    objects = [obj("table", "s.t"), obj("view", "s.base"), obj("view", "s.late")]
    result = apply_in_order(objects, FakeDatabase(broken={"s.t": "boom"}, late={"s.late": "s.base"}).apply)
    assert result.attempts == [2, 1, 1] and result.passes == 2  # t tried again after base, then nothing new


def test_violations_are_not_tried_again():
    calls = []

    def apply(item: SqlObject) -> ObjectReport:
        calls.append(item.name)
        if item.name == "s.t.pk":
            return ObjectReport.of(item, "failed", "3 row(s) violate it", violations=3)
        return ObjectReport.of(item, "applied")

    result = apply_in_order([obj("constraint", "s.t.pk"), obj("index", "s.t.i")], apply)
    assert calls == ["s.t.pk", "s.t.i"] and result.passes == 1
    assert result.reports[0].status == "failed"


def test_kept_and_already_there_count_as_there():
    def apply(item: SqlObject) -> ObjectReport:
        if item.name == "s":
            return ObjectReport.of(item, "skipped", "already exists in AlloyDB; kept", kept=True)
        return ObjectReport.of(item, "unchanged", "kept") if item.name == "s.t" else ObjectReport.of(item, "applied")

    assert [r.status for r in apply_in_order(CHAIN[:4], apply).reports] == ["skipped", "unchanged", "applied",
                                                                           "applied"]


def test_unfit_blocks_are_skipped_untried_and_pass_their_reason_on():
    objects = [obj("function", "s.udf", status="unsupported", reason="Python UDF"),
               SqlObject("view", "s.empty", "-- nothing to run", "s.empty"),
               obj("view", "s.on_udf", "s.udf"), obj("view", "s.on_empty", "s.empty")]
    database = FakeDatabase()
    assert outcomes(apply_in_order(objects, database.apply)) == {
        "s.udf": ("skipped", "Python UDF"),
        "s.empty": ("skipped", "the block holds no SQL statement"),
        "s.on_udf": ("skipped", "depends on function s.udf, which was skipped: Python UDF"),
        "s.on_empty": ("skipped", "depends on view s.empty, which was skipped: the block holds no SQL statement"),
    }
    assert database.tried == []


def test_an_absent_object_is_the_root_of_the_chain():
    objects = [obj("index", "s.t.i", "s.t"), obj("view", "s.v", "s.t"), obj("view", "s.v2", "s.v")]
    result = apply_in_order(objects, FakeDatabase().apply, absent={"s.t": "failed in pre-data: no geometry"})
    assert outcomes(result) == {
        "s.t.i": ("skipped", "depends on s.t, which is not in AlloyDB: failed in pre-data: no geometry"),
        "s.v": ("skipped", "depends on s.t, which is not in AlloyDB: failed in pre-data: no geometry"),
        "s.v2": ("skipped", "depends on view s.v, which depends on s.t, which is not in AlloyDB: failed in pre-data: "
                            "no geometry"),
    }


def test_a_cycle_is_named_not_looped():
    objects = [obj("view", "s.a", "s.b"), obj("view", "s.b", "s.a"), obj("view", "s.c")]
    database = FakeDatabase(late={"s.a": "s.b"})
    result = apply_in_order(objects, database.apply)
    assert outcomes(result) == {"s.a": ("failed", "s.b does not exist"),
                                "s.b": ("failed", "dependency cycle through s.a"), "s.c": ("applied", None)}
    assert result.attempts == [2, 0, 1] and result.passes == 2


def test_a_long_chain_shows_its_head_and_its_root():
    objects = [obj("table", "s.t0")] + [obj("view", f"s.v{i}", f"s.{'t' if i == 1 else 'v'}{i - 1}")
                                        for i in range(1, 8)]
    reason = outcomes(apply_in_order(objects, FakeDatabase(broken={"s.t0": "boom"}).apply))["s.v7"][1]
    assert reason == ("depends on view s.v6, which depends on view s.v5, which depends on view s.v4, which depends "
                      "on (3 more), which depends on table s.t0, which failed: boom")


def test_sessions_in_threads_share_one_skip_rule():
    """post-data's way: its scheduler runs a pass in several sessions, each asking the engine to try an object."""
    database = FakeDatabase(broken={"s.t": "boom"})
    engine = ApplyEngine(CHAIN)
    lock = threading.Lock()

    def safe_apply(item: SqlObject) -> ObjectReport:
        with lock:
            return database.apply(item)

    def run_pass(pending: list[int]) -> None:  # each object in its own thread, in order: dependencies first
        for index in pending:
            thread = threading.Thread(target=engine.attempt, args=(index, safe_apply))
            thread.start()
            thread.join()

    result = engine.run(run_pass)
    assert outcomes(result) == outcomes(apply_in_order(CHAIN, FakeDatabase(broken={"s.t": "boom"}).apply))
    assert outcomes(result)["s.v2"][1] == "depends on view s.v1, which depends on table s.t, which failed: boom"


def test_what_an_earlier_application_left_not_there_holds_back_its_dependants_with_the_same_chain():
    """table_transfer's finishing applies a late table's deferred keys after post-data ran: a key post-data could
    not create ends the chain of what depends on it, as in post-data itself, and is not tried again."""
    key, kept = obj("constraint", "s.parent.pkey"), obj("index", "s.parent.kept_index")
    fk, on_kept = obj("constraint", "s.child.fk", "s.parent.pkey"), obj("view", "s.v", "s.parent.kept_index")
    earlier = [(key, ObjectReport.of(key, "failed", "2 row(s) violate it; not created")),
               (kept, ObjectReport.of(kept, "skipped", "already exists in AlloyDB; kept (relation exists)"))]
    database = FakeDatabase()
    engine = ApplyEngine([fk, on_kept], decided=[(o, r) for o, r in earlier if left_not_there(r)])

    def one_after_the_other(pending: list[int]) -> None:
        for index in pending:
            engine.attempt(index, database.apply)

    result = engine.run(one_after_the_other)
    assert outcomes(result)["s.child.fk"] == (
        "skipped", "depends on constraint s.parent.pkey, which failed: 2 row(s) violate it; not created")
    assert outcomes(result)["s.v"] == ("applied", None)  # a kept object is there
    assert database.tried == ["s.v"]
