"""run-local: Argo tags and expressions, depends, fan-out, retries and secrets, with real local processes.

Synthetic workflows here run `python -c` tasks; the real rendered Workflow runs against devstack in test_demo.py.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from shared.loader_items import item_name, list_json, loader_item
from workflows.definitions import TRANSFER_ITEM_FLAG
from workflows.expressions import UnsupportedExpression, depends_satisfied, evaluate, substitute
from workflows.local_env import LocalEnvironment
from workflows.run_local import RENDERED, RunLocalError, load_result, retry_workflow, run_workflow

ITEM_FLAG = TRANSFER_ITEM_FLAG


def test_simple_tags_and_the_transfer_flag_expression():
    variables = {"workflow.parameters.run-id": "dev_1", "inputs.parameters.item": "batch-0003"}
    assert substitute("--run-id={{workflow.parameters.run-id}}", variables) == "--run-id=dev_1"
    assert substitute(ITEM_FLAG, variables) == "--batch"
    assert substitute(ITEM_FLAG, {**variables, "inputs.parameters.item": "tickit.sales"}) == "--table"
    assert substitute(ITEM_FLAG, {**variables, "inputs.parameters.item": "loader-2-of-4:tickit.sales"}) == "--loader"
    assert substitute(ITEM_FLAG, {**variables, "inputs.parameters.item": '"loader-x".t'}) == "--table"
    assert substitute(ITEM_FLAG, {**variables, "inputs.parameters.item": item_name('s."t{{x}}"')}) == "--table"
    assert evaluate("asInt(lastRetry.exitCode) == 1", {"lastRetry.exitCode": "1"}) is True
    assert evaluate("asInt(lastRetry.exitCode) == 1", {"lastRetry.exitCode": "7"}) is False
    assert evaluate("workflow.parameters['run-id'] + '-x'", variables) == "dev_1-x"


@pytest.mark.parametrize("text", ["{{workflow.parameters.nope}}", "{{=sprig.regexFind('a', 'b')}}",
                                  "{{=inputs.parameters.item ~ 1}}"])
def test_what_run_local_cannot_evaluate_is_an_error_not_a_guess(text):
    with pytest.raises(UnsupportedExpression):
        substitute(text, {"inputs.parameters.item": "x"})


def test_a_value_holding_a_tag_fails_as_argos_next_substitution_pass_would():
    # https://github.com/argoproj/argo-workflows/issues/1765: a tag put in by one pass is read by the next one
    with pytest.raises(UnsupportedExpression, match="failed to resolve"):
        substitute("--table {{inputs.parameters.item}}", {"inputs.parameters.item": 's."t{{workflow.name}}"'})


@pytest.mark.parametrize("as_the_step_lists_it", [False, True], ids=["raw names", "list_json"])
def test_a_fan_out_over_names_holding_tags_runs_only_as_the_steps_list_them(tmp_path, as_the_step_lists_it):
    names = ['s."t{{workflow.name}}"', 's."{{inputs.parameters.item}}"', "s.plain"]
    items = [*names, loader_item(names[0], 2, 2)]
    listed = list_json(items) if as_the_step_lists_it else json.dumps(items)
    lister = _python("lister", f"print({listed!r})")
    worker = _python("worker", """
        import sys
        from shared.loader_items import name_of_item, parse_loader_item
        item, out = sys.argv[1], sys.argv[2]
        name = str(parse_loader_item(item).table) if item.startswith('loader-') else name_of_item(item)
        with open(out + '/names', 'a', encoding='utf-8') as f:
            f.write(name + '\\n')""", inputs=["item"])
    worker["container"]["args"] = ["{{inputs.parameters.item}}", "{{workflow.parameters.out}}"]
    tasks = [{"name": "list", "template": "lister"},
             {"name": "work", "template": "worker", "depends": "list", "withParam": "{{tasks.list.outputs.result}}",
              "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}}]
    result = run_workflow(_workflow(tmp_path, tasks, [lister, worker]), {}, LocalEnvironment(secrets={"my-secret": {}}),
                          tmp_path / "run", progress=lambda message: None)
    if not as_the_step_lists_it:
        assert result.phase != "Succeeded" and not (tmp_path / "names").exists()
        return
    assert result.phase == "Succeeded"
    assert sorted((tmp_path / "names").read_text(encoding="utf-8").splitlines()) == sorted([*names, names[0]])


def test_every_tag_in_the_rendered_yaml_is_supported():
    checked = 0
    for path in RENDERED.glob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        spec = document["spec"].get("workflowSpec", document["spec"])
        parameters = {p["name"] for p in (spec.get("arguments") or {}).get("parameters", [])}
        for template in spec.get("templates", []):
            inputs = {p["name"] for p in (template.get("inputs") or {}).get("parameters", [])}
            variables = {f"workflow.parameters.{name}": "v" for name in parameters}
            variables.update({f"inputs.parameters.{name}": "tickit.sales" for name in inputs})
            variables.update({"item": "tickit.sales", "workflow.name": "w"})
            variables.update({f"tasks.{t['name']}.outputs.result": "[]"
                              for t in (template.get("dag") or {}).get("tasks", [])})
            # Metrics are the controller's, evaluated when a node ends; run-local emits none (test_crd_schema checks
            # their variables).
            text = json.dumps({k: v for k, v in template.items() if k != "metrics"})
            for tag in re.findall(r"\{\{.*?\}\}", text):
                substitute(json.loads(f'"{tag}"'), variables)
                checked += 1
            for task in (template.get("dag") or {}).get("tasks", []):
                if task.get("depends"):
                    depends_satisfied(task["depends"], {t["name"]: "Succeeded" for t in template["dag"]["tasks"]})
    assert checked > 50


@pytest.mark.parametrize(("expression", "phases", "expected"), [
    ("a", {"a": "Succeeded"}, True),
    ("a", {"a": "Skipped"}, True),
    ("a", {"a": "Failed"}, False),
    ("a.Failed || a.Errored", {"a": "Failed"}, True),
    ("(t.Succeeded || t.Failed) && (p.Succeeded || p.Omitted)", {"t": "Failed", "p": "Omitted"}, True),
    ("t-x.Succeeded && !p", {"t-x": "Succeeded", "p": "Failed"}, True),
])
def test_depends(expression, phases, expected):
    assert depends_satisfied(expression, phases) is expected


def _workflow(tmp_path: Path, tasks: list[dict], templates: list[dict], parallelism: int = 2) -> Path:
    document = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"generateName": "t-"},
                "spec": {"entrypoint": "main",
                         "arguments": {"parameters": [{"name": "run-id", "value": "r1"},
                                                      {"name": "out", "value": str(tmp_path)}]},
                         "volumes": [{"name": "key", "secret": {"secretName": "my-secret"}}],
                         "templates": [{"name": "main", "parallelism": parallelism, "dag": {"tasks": tasks}},
                                       *templates]}}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _python(name: str, code: str, *, inputs: list[str] | None = None, retry: dict | None = None,
            env: list[dict] | None = None) -> dict:
    template = {"name": name, "container": {"image": "x", "command": ["python", "-c", textwrap.dedent(code)],
                                            "args": [], "env": env or [],
                                            "volumeMounts": [{"name": "key", "mountPath": "/secrets/key"}]}}
    if inputs:
        template["inputs"] = {"parameters": [{"name": n} for n in inputs]}
    if retry:
        template["retryStrategy"] = retry
    return template


def test_fan_out_respects_parallelism_and_failures_reach_only_what_tolerates_them(tmp_path):
    lister = _python("lister", "import json; print(json.dumps(['a', 'b', 'c', 'bad', 'e']))")
    worker = _python("worker", """
        import os, sys, time
        item, out = sys.argv[1], sys.argv[2]
        open(os.path.join(out, item + '.start'), 'w').write(str(time.time()))
        time.sleep(0.4)
        open(os.path.join(out, item + '.end'), 'w').write(str(time.time()))
        sys.exit(3 if item == 'bad' else 0)""", inputs=["item"])
    worker["container"]["args"] = ["{{inputs.parameters.item}}", "{{workflow.parameters.out}}"]
    after = _python("after", "open('{{workflow.parameters.out}}/after-ran', 'w')")
    report = _python("report", "open('{{workflow.parameters.out}}/report-ran', 'w')")
    tasks = [{"name": "list", "template": "lister"},
             {"name": "work", "template": "worker", "depends": "list",
              "withParam": "{{tasks.list.outputs.result}}",
              "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}},
             {"name": "after", "template": "after", "depends": "work"},
             {"name": "report", "template": "report", "depends": "work.Succeeded || work.Failed"}]
    result = run_workflow(_workflow(tmp_path, tasks, [lister, worker, after, report], parallelism=2),
                          {}, LocalEnvironment(secrets={"my-secret": {"k": "v"}}), tmp_path / "run",
                          progress=lambda message: None)
    assert result.phase == "Failed"
    assert {n.name: n.phase for n in result.nodes if n.task == "work" and "(" in n.name} == {
        "work(0:a)": "Succeeded", "work(1:b)": "Succeeded", "work(2:c)": "Succeeded",
        "work(3:bad)": "Failed", "work(4:e)": "Succeeded"}
    assert result.task_phase("work") == "Failed"
    assert result.task_phase("after") == "Omitted" and not (tmp_path / "after-ran").exists()
    assert result.task_phase("report") == "Succeeded" and (tmp_path / "report-ran").exists()
    spans = [(float((tmp_path / f"{i}.start").read_text()), float((tmp_path / f"{i}.end").read_text()))
             for i in "a b c bad e".split()]
    most_at_once = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert most_at_once == 2


def test_retry_strategy_retries_only_what_its_expression_allows(tmp_path):
    flaky = _python("flaky", """
        import os, sys
        marker = os.path.join('{{workflow.parameters.out}}', 'tried-' + sys.argv[1])
        first = not os.path.exists(marker)
        open(marker, 'w')
        sys.exit(int(sys.argv[1]) if first else 0)""", inputs=["code"],
                    retry={"limit": "2", "expression": "asInt(lastRetry.exitCode) == 1"})
    flaky["container"]["args"] = ["{{inputs.parameters.code}}"]
    tasks = [{"name": "transient", "template": "flaky",
              "arguments": {"parameters": [{"name": "code", "value": "1"}]}},
             {"name": "permanent", "template": "flaky",
              "arguments": {"parameters": [{"name": "code", "value": "4"}]}}]
    result = run_workflow(_workflow(tmp_path, tasks, [flaky]), {}, LocalEnvironment(secrets={"my-secret": {}}),
                          tmp_path / "run", retry_backoff_s=0.01, progress=lambda message: None)
    by_name = {n.name: n for n in result.nodes}
    assert (by_name["transient"].phase, by_name["transient"].attempts) == ("Succeeded", 2)
    assert (by_name["permanent"].phase, by_name["permanent"].attempts, by_name["permanent"].exit_code) == (
        "Failed", 1, 4)


def test_argo_retry_runs_again_only_what_did_not_succeed_and_keeps_outputs(tmp_path):
    """`argo retry` (https://argo-workflows.readthedocs.io/en/latest/cli/argo_retry/): failed nodes are reset and run
    again in the same workflow; succeeded ones, a fan-out's succeeded items and post-data-like tasks, are kept."""
    log = "open('{{workflow.parameters.out}}/runs.log', 'a').write(%s + '\\n')"
    lister = _python("lister", f"import json; {log % repr('list')}; print(json.dumps(['a', 'bad', 'c']))")
    worker = _python("worker", f"""
        import os, sys
        {log % 'sys.argv[1]'}
        sys.exit(3 if sys.argv[1] == 'bad' and not os.path.exists('{{{{workflow.parameters.out}}}}/fixed') else 0)""",
                     inputs=["item"])
    worker["container"]["args"] = ["{{inputs.parameters.item}}"]
    post = _python("post", log % repr("post"))
    report = _python("report", f"""
        import os, sys
        {log % repr('report')}
        sys.exit(0 if os.path.exists('{{{{workflow.parameters.out}}}}/fixed') else 7)""")
    tasks = [{"name": "list", "template": "lister"},
             {"name": "work", "template": "worker", "depends": "list", "withParam": "{{tasks.list.outputs.result}}",
              "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}},
             {"name": "post", "template": "post", "depends": "work.Succeeded || work.Failed"},
             {"name": "report", "template": "report", "depends": "post"}]
    path = _workflow(tmp_path, tasks, [lister, worker, post, report])
    environment = LocalEnvironment(secrets={"my-secret": {}})
    first = run_workflow(path, {}, environment, tmp_path / "run", progress=lambda message: None)
    assert first.phase == "Failed" and first.task_phase("report") == "Failed"
    assert sorted((tmp_path / "runs.log").read_text().split()) == ["a", "bad", "c", "list", "post", "report"]
    (tmp_path / "runs.log").unlink()
    (tmp_path / "fixed").touch()
    workflow, saved = load_result(tmp_path / "run")  # what `r2a run-local --retry run/` reads
    assert workflow == path and saved.run_id == "r1"
    retried = retry_workflow(workflow, saved, {}, environment, progress=lambda message: None)
    assert retried.phase == "Succeeded"
    assert (tmp_path / "runs.log").read_text().split() == ["bad", "report"]
    assert {n.name: n.phase for n in retried.nodes if n.task == "work" and "(" in n.name} == {
        "work(0:a)": "Succeeded", "work(1:bad)": "Succeeded", "work(2:c)": "Succeeded"}
    assert retried.workdir == first.workdir and load_result(tmp_path / "run")[1].phase == "Succeeded"
    with pytest.raises(RunLocalError, match="keeps the run id"):
        retry_workflow(workflow, saved, {"run-id": "other"}, environment, progress=lambda message: None)
    (tmp_path / "run" / "nodes.json").write_text("{")
    with pytest.raises(RunLocalError, match="not a finished run-local run"):
        load_result(tmp_path / "run")


def test_secrets_arrive_as_env_and_as_files_at_the_mount_path_and_nothing_else_leaks_in(tmp_path, monkeypatch):
    monkeypatch.setenv("SOMETHING_FROM_THE_LAPTOP", "must-not-reach-the-task")
    reader = _python("reader", """
        import json, os
        print(json.dumps({'password': os.environ['PASSWORD'], 'file': open(os.environ['KEY_FILE']).read(),
                          'key_file': os.environ['KEY_FILE'], 'mode': os.stat(os.environ['KEY_FILE']).st_mode,
                          'laptop': os.environ.get('SOMETHING_FROM_THE_LAPTOP')}))""",
                     env=[{"name": "KEY_FILE", "value": "/secrets/key/id"},
                          {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}])
    tasks = [{"name": "read", "template": "reader"}]
    local = LocalEnvironment(secrets={"my-secret": {"id": "KEY-CONTENT"}, "db": {"password": "s3cr3t"}})
    result = run_workflow(_workflow(tmp_path, tasks, [reader]), {}, local, tmp_path / "run",
                          progress=lambda message: None)
    seen = json.loads(result.nodes[0].result)
    assert seen["password"] == "s3cr3t" and seen["file"] == "KEY-CONTENT"
    assert seen["key_file"].endswith("/read/secrets/key/id")  # the task's pod folder, at the mount path
    assert seen["laptop"] is None
    assert seen["mode"] & 0o777 == 0o644  # a Secret volume without defaultMode: the API's default, 0644
    assert not Path(seen["key_file"]).exists()  # secret files are removed when the run ends; logs stay


def test_unknown_parameters_and_missing_secrets_are_one_line_errors(tmp_path):
    reader = _python("reader", "print(1)", env=[
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "password"}}}])
    path = _workflow(tmp_path, [{"name": "read", "template": "reader"}], [reader])
    with pytest.raises(RunLocalError, match="unknown workflow parameter"):
        run_workflow(path, {"nope": "1"}, LocalEnvironment(), tmp_path / "run", progress=lambda message: None)
    result = run_workflow(path, {}, LocalEnvironment(secrets={"my-secret": {}}), tmp_path / "run2",
                          progress=lambda message: None)
    assert result.nodes[0].phase == "Errored" and result.phase == "Failed"


def test_a_task_past_its_deadline_fails(tmp_path):
    slow = _python("slow", "import time; time.sleep(30)")
    slow["activeDeadlineSeconds"] = 1
    started = time.monotonic()
    result = run_workflow(_workflow(tmp_path, [{"name": "s", "template": "slow"}], [slow]), {},
                          LocalEnvironment(secrets={"my-secret": {}}), tmp_path / "run", progress=lambda m: None)
    assert result.phase == "Failed" and time.monotonic() - started < 10


def test_python_in_the_container_command_is_this_interpreter(tmp_path):
    which = _python("which", "import sys; print(sys.executable)")
    result = run_workflow(_workflow(tmp_path, [{"name": "w", "template": "which"}], [which]), {},
                          LocalEnvironment(secrets={"my-secret": {}}), tmp_path / "run", progress=lambda m: None)
    assert result.nodes[0].result == sys.executable


def test_progress_of_concurrent_tasks_is_told_one_message_at_a_time(tmp_path):
    """print() writes the text and the newline separately; a callback like it must never see two tellers at once."""
    lister = _python("lister", "import json; print(json.dumps([str(i) for i in range(6)]))")
    worker = _python("worker", "import time; time.sleep(0.05)", inputs=["item"])
    tasks = [{"name": "list", "template": "lister"},
             {"name": "work", "template": "worker", "depends": "list", "withParam": "{{tasks.list.outputs.result}}",
              "arguments": {"parameters": [{"name": "item", "value": "{{item}}"}]}}]
    written: list[str] = []

    def print_like(message: str) -> None:
        written.append(message)
        time.sleep(0.02)  # widens the gap print() leaves between the text and its newline
        written.append("\n")

    result = run_workflow(_workflow(tmp_path, tasks, [lister, worker], parallelism=3), {},
                          LocalEnvironment(secrets={"my-secret": {"k": "v"}}), tmp_path / "run", progress=print_like)
    assert result.phase == "Succeeded"
    lines = "".join(written).splitlines()
    starts = [line for line in lines if "  >  work(" in line]
    assert len(starts) == 6 and all(line.count("  >  ") == 1 for line in starts)
    assert all(line.count("work(") <= 1 for line in lines)


@pytest.mark.parametrize("text", ["just a word\n", "- a\n- list\n", "kind: Workflow\nspec: nope\n"])
def test_a_file_that_is_not_a_workflow_is_one_line(tmp_path, text):
    path = tmp_path / "not-a-workflow.yaml"
    path.write_text(text)
    with pytest.raises(RunLocalError) as raised:
        run_workflow(path, {}, LocalEnvironment(), tmp_path / "run", progress=lambda message: None)
    assert str(raised.value) == f"{path} is not an Argo Workflow (no spec mapping)"


def test_a_workflow_template_ref_is_found_among_other_yaml_files(tmp_path):
    path = _workflow(tmp_path, [{"name": "hello", "template": "hello"}], [_python("hello", "print('hi')")])
    template = yaml.safe_load(path.read_text())
    template.update({"kind": "WorkflowTemplate", "metadata": {"name": "tpl"}})
    (tmp_path / "b-template.yaml").write_text(yaml.safe_dump(template))
    (tmp_path / "a-junk.yaml").write_text("- not\n- a mapping\n")
    (tmp_path / "a-broken.yaml").write_text("kind: [\n")
    path.write_text(yaml.safe_dump({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                    "metadata": {"generateName": "t-"},
                                    "spec": {"workflowTemplateRef": {"name": "tpl"}}}))
    result = run_workflow(path, {}, LocalEnvironment(secrets={"my-secret": {"k": "v"}}), tmp_path / "run",
                          progress=lambda message: None)
    assert result.phase == "Succeeded" and result.task_phase("hello") == "Succeeded"


def test_run_local_without_a_devstack_is_one_line_and_a_config_error(tmp_path):
    from typer.testing import CliRunner

    from workflows.cli import app

    done = CliRunner().invoke(app, ["run-local", "--devstack", str(tmp_path / "none")])
    assert done.exit_code == 2
    assert done.output.strip().splitlines() == [
        f"r2a run-local: error: devstack is not running: {tmp_path / 'none' / 'env.json'} does not exist "
        "(run `python -m devstack up`)"]


def test_run_local_retry_of_a_folder_without_a_finished_run_is_one_line(tmp_path, devstack):
    from typer.testing import CliRunner

    from workflows.cli import app

    done = CliRunner().invoke(app, ["run-local", "--retry", str(tmp_path), "--devstack", devstack["state_dir"]])
    assert done.exit_code == 3
    (line,) = done.output.strip().splitlines()
    assert line.startswith(f"r2a run-local: error: {tmp_path / 'nodes.json'}: not a finished run-local run (")
