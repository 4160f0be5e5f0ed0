"""`r2a run-local`: run the rendered Workflow's DAG on this machine, so the YAML users submit is the YAML we test.

Each DAG task runs its template's container command and arguments as a local process (parameters substituted,
`{{=...}}` expressions evaluated), withParam fans out with the DAG's parallelism, `depends` is honoured, and
retryStrategy is applied (its backoff shortened to `retry_backoff_s`), and a template's semaphores are held while its
node runs (workflows/semaphores.py). What a pod would get from Kubernetes
comes from a LocalEnvironment (workflows/local_env.py); nothing else is added. Each task's volumes are written the
way the kubelet writes them and, as root, the task runs as its template's user (workflows/pods.py).

`retry_workflow` is `argo retry` of a finished run: its nodes are read back from the work folder's nodes.json and
only those that did not succeed run again, in the same work folder and run; succeeded nodes keep their phase and
outputs ("argo retry: Retry a workflow", https://argo-workflows.readthedocs.io/en/latest/cli/argo_retry/: failed
nodes are reset and re-run, successful ones are kept unless --restart-successful).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared import progress as argo_progress
from shared.log import one_line, visible
from workflows.expressions import (
    UnsupportedExpression,
    depends_satisfied,
    depends_tasks,
    evaluate,
    substitute,
)
from workflows.local_env import LocalEnvironment
from workflows.pods import Identity, PodError, Pods
from workflows.runtime import StepRuntime, StepRuntimeError
from workflows.semaphores import ConfigMapLimits, SemaphoreError, Semaphores, template_semaphores

RENDERED = Path(__file__).resolve().parent / "rendered"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESULT_LIMIT = 256 * 1024  # Argo keeps at most 256 kB of a container's stdout as outputs.result
NODES_FILE = "nodes.json"
KEPT_PHASES = ("Succeeded", "Skipped")  # what `argo retry` does not run again
PROGRESS_EVERY_S = 10.0  # how often running nodes' progress files are read and changes shown


class RunLocalError(Exception):
    """The workflow cannot be run locally as written (one line, names what and where)."""


@dataclass
class NodeResult:
    task: str
    name: str  # the node's display name, as the Argo UI shows it: task or task(index:item)
    phase: str  # Succeeded, Failed, Errored, Skipped, Omitted
    exit_code: int | None = None
    seconds: float = 0.0
    attempts: int = 0
    log: Path | None = None
    result: str = ""
    progress: str = ""  # the N/M the node last wrote to its ARGO_PROGRESS_FILE ("" = none)


@dataclass
class RunLocalResult:
    run_id: str
    phase: str
    workdir: Path
    pods: Path  # the tasks' pod folders (secret files, emptyDirs), removed when the run ends
    nodes: list[NodeResult] = field(default_factory=list)
    seconds: float = 0.0

    def task_phase(self, task: str) -> str:
        return next(n.phase for n in self.nodes if n.name == task)

    @property
    def failed_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.phase in ("Failed", "Errored")]


def load_workflow(path: Path) -> dict:
    """The Workflow document with its templates inline (a workflowTemplateRef is resolved from the same folder)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RunLocalError(f"cannot read workflow {path}: {one_line(exc, 200)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("spec"), dict):
        raise RunLocalError(f"{path} is not an Argo Workflow (no spec mapping)")
    spec = document["spec"]
    reference = spec.get("workflowTemplateRef")
    if reference:
        template = _find_template(path.parent, reference["name"])
        given = {p["name"]: p.get("value") for p in (spec.get("arguments") or {}).get("parameters", [])}
        merged = dict(template["spec"])
        merged["arguments"] = {"parameters": [
            {**p, "value": given.get(p["name"], p.get("value"))}
            for p in (merged.get("arguments") or {}).get("parameters", [])]}
        document = {**document, "spec": merged}
    if "templates" not in document["spec"]:
        raise RunLocalError(f"{path} has no templates and no workflowTemplateRef")
    return document


def _find_template(folder: Path, name: str) -> dict:
    for candidate in sorted(folder.glob("*.yaml")):
        try:
            document = yaml.safe_load(candidate.read_text())
        except (OSError, yaml.YAMLError):
            continue  # a folder of rendered YAML may hold other files; only a matching template matters
        if (isinstance(document, dict) and document.get("kind") == "WorkflowTemplate"
                and (document.get("metadata") or {}).get("name") == name):
            return document
    raise RunLocalError(f"WorkflowTemplate {name!r} is not in {folder}")


def _serialized(progress: Callable[[str], None]) -> Callable[[str], None]:
    """progress told from one thread at a time: print() writes text and newline separately, so lines of
    concurrent fan-out tasks could otherwise share a line. A node's name carries its item (a table name from
    Redshift): shown through visible, it cannot start a line of its own."""
    lock = threading.Lock()

    def tell(message: str) -> None:
        with lock:
            progress(visible(message))

    return tell


class _Run:
    def __init__(self, document: dict, parameters: dict[str, str], local: LocalEnvironment, workdir: Path,
                 concurrency: int | None, retry_backoff_s: float, progress: Callable[[str], None],
                 kept: dict[str, NodeResult] | None = None):
        self.spec = document["spec"]
        self.templates = {t["name"]: t for t in self.spec["templates"]}
        declared = {p["name"]: p.get("value", "") for p in (self.spec.get("arguments") or {}).get("parameters", [])}
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise RunLocalError(f"unknown workflow parameter(s): {', '.join(unknown)}")
        self.parameters = {**declared, **parameters}
        self.local, self.workdir = local, workdir
        self.progress = _serialized(progress)
        self.retry_backoff_s = retry_backoff_s
        entry = self.templates.get(self.spec["entrypoint"])
        if entry is None or "dag" not in entry:
            raise RunLocalError(f"entrypoint {self.spec['entrypoint']!r} is not a DAG template")
        self.dag = entry
        self.concurrency = concurrency or int(entry.get("parallelism") or 4)
        self.globals = {f"workflow.parameters.{k}": v for k, v in self.parameters.items()}
        self.globals["workflow.name"] = f"local-{self.parameters.get('run-id', 'run')}"
        self.outputs: dict[str, str] = {}
        self.lock = threading.Lock()
        self.kept = {name: node for name, node in (kept or {}).items() if node.phase in KEPT_PHASES}
        self.pods = Pods()
        self.runtime = StepRuntime(self.pods.root)
        self.live: dict[str, Path] = {}  # running node → its progress file
        self.shown: dict[str, str] = {}
        self.progress_every_s = PROGRESS_EVERY_S
        self.semaphores = Semaphores(local.semaphore_dir or self.pods.root / "semaphores",
                                     ConfigMapLimits(local.config_map_files))

    # ------------------------------------------------------------ the DAG

    def run(self) -> list[NodeResult]:
        tasks = {t["name"]: t for t in self.dag["dag"]["tasks"]}
        upstream = {name: self._upstream(task) for name, task in tasks.items()}
        phases: dict[str, str] = {}
        nodes: list[NodeResult] = []

        def not_run(name: str, phase: str, why: str) -> None:
            phases[name] = phase
            nodes.append(NodeResult(task=name, name=name, phase=phase))
            self.progress(f"  -  {name}: {phase.lower()} ({why})")

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            running: dict[str, list[Future]] = {}
            told_at = time.monotonic()
            while len(phases) < len(tasks):
                if time.monotonic() - told_at >= self.progress_every_s:
                    self._show_progress()
                    told_at = time.monotonic()
                started = False
                for name, task in tasks.items():
                    if name in phases or name in running or not upstream[name] <= set(phases):
                        continue
                    started = True
                    kept = self.kept.get(name)
                    if kept is not None and "withParam" not in task and "withItems" not in task:
                        phases[name] = kept.phase
                        nodes.append(kept)
                        if kept.phase == "Succeeded":
                            self.outputs[name] = kept.result
                        self.progress(f"  =  {name}: {kept.phase.lower()} (kept by the retry)")
                    elif not self._should_run(task, phases):
                        not_run(name, "Omitted", "depends not met")
                    elif not self._when(task):
                        not_run(name, "Skipped", f"when: {task['when']}")
                    else:
                        futures = [pool.submit(self._kept_or_run, task, name, item, index)
                                   for index, item in self._items(task)]
                        if futures:
                            running[name] = futures
                        else:
                            not_run(name, "Skipped", "empty withParam")
                for name, futures in list(running.items()):
                    if all(f.done() for f in futures):
                        children = [f.result() for f in futures]
                        nodes.extend(children)
                        phases[name] = _aggregate([c.phase for c in children])
                        if len(children) > 1 or "withParam" in tasks[name] or "withItems" in tasks[name]:
                            nodes.append(NodeResult(task=name, name=name, phase=phases[name],
                                                    seconds=max(c.seconds for c in children)))
                        del running[name]
                        started = True
                if not started:
                    time.sleep(0.05)
        return nodes

    def _show_progress(self) -> None:
        """What running nodes wrote to their progress files since last shown (Argo's UI shows it per node)."""
        with self.lock:
            live = dict(self.live)
        for name, path in live.items():
            value = argo_progress.read(path)
            if value is not None and str(value) != self.shown.get(name):
                self.shown[name] = str(value)
                self.progress(f"  ~  {name}: {value}")

    @staticmethod
    def _upstream(task: dict) -> set[str]:
        if task.get("depends"):
            return depends_tasks(task["depends"])
        return set(task.get("dependencies") or [])

    def _should_run(self, task: dict, phases: dict[str, str]) -> bool:
        if task.get("depends"):
            return depends_satisfied(task["depends"], phases)
        return all(phases[d] in ("Succeeded", "Skipped") for d in task.get("dependencies") or [])

    def _when(self, task: dict) -> bool:
        """Argo's `when`: the condition after substitution (our YAML compares words, e.g. `false != true`)."""
        return not task.get("when") or bool(evaluate(substitute(task["when"], self._variables()), {}))

    def _items(self, task: dict) -> list[tuple[int | None, Any]]:
        if "withParam" in task:
            text = substitute(task["withParam"], self._variables())
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                raise RunLocalError(f"task {task['name']}: withParam is not a JSON list: {one_line(text, 120)!r}") from None
            if not isinstance(items, list):
                raise RunLocalError(f"task {task['name']}: withParam is not a JSON list")
            return list(enumerate(items))
        if "withItems" in task:
            return list(enumerate(task["withItems"]))
        return [(None, None)]

    def _variables(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            variables = {**self.globals, **{f"tasks.{t}.outputs.result": r for t, r in self.outputs.items()}}
        return {**variables, **(extra or {})}

    # ------------------------------------------------------------ one node

    def _kept_or_run(self, task: dict, task_name: str, item: Any, index: int | None) -> NodeResult:
        kept = self.kept.get(_node_name(task_name, item, index)) if index is not None else None
        return kept if kept is not None else self._run_node(task, task_name, item, index)

    def _run_node(self, task: dict, task_name: str, item: Any, index: int | None) -> NodeResult:
        item_text = _item_text(item)
        node_name = _node_name(task_name, item, index)
        node = NodeResult(task=task_name, name=node_name, phase="Errored")
        started = time.monotonic()
        try:
            template = self.templates[task["template"]]
            scope = {"item": item_text} if index is not None else {}
            inputs = {p["name"]: substitute(str(p.get("value", "")), self._variables(scope))
                      for p in (task.get("arguments") or {}).get("parameters", [])}
            scope.update({f"inputs.parameters.{k}": v for k, v in inputs.items()})
            self._attempts(template, node, scope)
        except (UnsupportedExpression, RunLocalError, PodError, StepRuntimeError, SemaphoreError) as exc:
            node.phase = "Errored"
            self.progress(f"  !  {node_name}: cannot run locally: {exc}")
        node.seconds = time.monotonic() - started
        if index is None and node.phase == "Succeeded":
            with self.lock:
                self.outputs[task_name] = node.result
        return node

    def _attempts(self, template: dict, node: NodeResult, scope: dict[str, Any]) -> None:
        safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in node.name)[:150]
        identity = Identity.of(self.spec, template)
        command, environ = self._command(template, scope, safe_name, identity)
        progress_file = self.pods.argo_dir(safe_name, identity) / "progress"
        environ[argo_progress.ENV] = str(progress_file)  # what Argo's controller sets in every main container
        python, cwd, extra = self.runtime.resolve((identity.uid, identity.gid, *identity.groups), identity.preexec())
        if command[0] == sys.executable:
            command[0] = python
        environ.update(extra)
        node.log = self.workdir / "logs" / f"{safe_name}.log"
        node.log.parent.mkdir(parents=True, exist_ok=True)
        self.progress(f"  >  {node.name}")
        semaphores = template_semaphores(template)

        def waiting(missing: list) -> None:
            self.progress(f"  …  {node.name}: waiting for semaphore {', '.join(map(str, missing))}")

        with self.lock:
            self.live[node.name] = progress_file
        try:
            self._run_attempts(template, node, command, environ, cwd, identity,
                               lambda: self.semaphores.hold(semaphores, waiting))
        finally:
            with self.lock:
                self.live.pop(node.name, None)
            value = argo_progress.read(progress_file)
            node.progress = str(value) if value is not None else ""
        mark = "ok" if node.phase == "Succeeded" else f"FAILED (exit {node.exit_code})"
        done = f", progress {node.progress}" if node.progress else ""
        self.progress(f"  {'✓' if node.phase == 'Succeeded' else '✗'}  {node.name}: {mark}, "
                      f"{node.attempts} attempt(s){done}, log {node.log}")

    def _run_attempts(self, template: dict, node: NodeResult, command: list[str], environ: dict[str, str],
                      cwd: Path, identity: Identity, locks: Callable) -> None:
        """retryStrategy around the node's process; each attempt holds the template's semaphores while it runs."""
        strategy = template.get("retryStrategy") or {}
        limit = int(strategy.get("limit", 0))
        deadline = template.get("activeDeadlineSeconds")
        while True:
            node.attempts += 1
            with locks(), node.log.open("a") as log:
                log.write(f"--- attempt {node.attempts}: {' '.join(command)}\n")
                log.flush()
                try:
                    done = subprocess.run(command, env=environ, cwd=cwd, stdout=subprocess.PIPE,
                                          stderr=log, timeout=float(deadline) if deadline else None,
                                          preexec_fn=identity.preexec())
                    node.exit_code = done.returncode
                    stdout = done.stdout.decode(errors="replace")
                except subprocess.TimeoutExpired:
                    node.exit_code, stdout = None, ""
                    log.write(f"--- deadline of {deadline} s exceeded\n")
                log.write(stdout)
            node.result = stdout.strip()[:RESULT_LIMIT]
            node.phase = "Succeeded" if node.exit_code == 0 else "Failed"
            if node.phase == "Succeeded" or node.attempts > limit or not self._retry(strategy, node):
                break
            time.sleep(self.retry_backoff_s * (2 ** (node.attempts - 1)))

    @staticmethod
    def _retry(strategy: dict, node: NodeResult) -> bool:
        expression = strategy.get("expression")
        if not expression:
            return True
        variables = {"lastRetry.exitCode": str(node.exit_code if node.exit_code is not None else -1),
                     "lastRetry.status": node.phase, "lastRetry.duration": "0"}
        return bool(evaluate(expression, variables))

    def _command(self, template: dict, scope: dict[str, Any], pod: str,
                 identity: Identity) -> tuple[list[str], dict[str, str]]:
        container = template.get("container")
        if container is None:
            raise RunLocalError(f"template {template['name']!r} has no container (only container templates run)")
        variables = self._variables(scope)
        volumes = {v["name"]: v for v in [*self.spec.get("volumes", []), *template.get("volumes", [])]}
        mounts = self.pods.prepare(pod, template, volumes, self.local.secrets, identity)
        environ = self.local.base_environ()
        for variable in container.get("env", []):
            environ[variable["name"]] = self._env_value(variable, variables, mounts)
        for sidecar in template.get("sidecars", []):
            if sidecar["name"] not in self.local.sidecars:
                raise RunLocalError(f"sidecar {sidecar['name']!r} of {template['name']} has no local stand-in")
            environ.update(self.local.sidecars[sidecar["name"]])
        environ.update(self.local.endpoints)
        pod_tmp = "/tmp"  # nosec B108  # the mount path of the pod's emptyDir, mapped to the task's private folder
        if pod_tmp in mounts:  # this task's temporary files go to its own emptyDir, not to ours
            environ["TMPDIR"] = mounts[pod_tmp]
        command = [_remap(substitute(part, variables), mounts) for part in container["command"] + container.get(
            "args", [])]
        if command[0] in ("python", "python3"):
            command[0] = sys.executable
        return command, environ

    def _env_value(self, variable: dict, variables: dict[str, Any], mounts: dict[str, str]) -> str:
        if "value" in variable:
            return _remap(substitute(str(variable["value"]), variables), mounts)
        reference = (variable.get("valueFrom") or {}).get("secretKeyRef")
        if reference is None:
            raise RunLocalError(f"env {variable['name']}: only value and secretKeyRef are supported locally")
        value = self.local.secrets.get(reference["name"], {}).get(reference["key"])
        if value is None:
            raise RunLocalError(f"env {variable['name']}: secret {reference['name']}/{reference['key']} "
                                "has no local value")
        return value


def _item_text(item: Any) -> str | None:
    return item if isinstance(item, str) or item is None else json.dumps(item)


def _node_name(task_name: str, item: Any, index: int | None) -> str:
    return task_name if index is None else f"{task_name}({index}:{_item_text(item)})"


def _remap(text: str, mounts: dict[str, str]) -> str:
    for mount_path, folder in mounts.items():
        if text == mount_path or text.startswith(mount_path.rstrip("/") + "/"):
            return folder + text[len(mount_path.rstrip("/")):]
    return text


def _aggregate(phases: list[str]) -> str:
    """A fan-out's phase from its children's: any Failed fails it, else any Errored errs it."""
    for phase in ("Failed", "Errored"):
        if phase in phases:
            return phase
    return "Succeeded" if phases else "Skipped"


def run_workflow(path: Path, parameters: dict[str, str], local: LocalEnvironment, workdir: Path, *,
                 concurrency: int | None = None, retry_backoff_s: float = 1.0,
                 progress: Callable[[str], None] = print, kept: list[NodeResult] | None = None) -> RunLocalResult:
    """Run the rendered Workflow at `path`; the run's logs, secret files and nodes.json live under `workdir`.
    `kept`: nodes of an earlier run of the same workflow that are not run again when they succeeded."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    run = _Run(load_workflow(path), parameters, local, workdir, concurrency, retry_backoff_s, progress,
               {node.name: node for node in kept or []})
    try:
        nodes = run.run()
    finally:
        run.pods.close()  # the logs stay; the pods' secret files and emptyDirs do not
    failed = any(n.phase in ("Failed", "Errored") for n in nodes)
    result = RunLocalResult(run_id=run.parameters.get("run-id", ""), phase="Failed" if failed else "Succeeded",
                            workdir=workdir, pods=run.pods.root, nodes=nodes,
                            seconds=time.monotonic() - started)
    _save_nodes(result, path)
    return result


def retry_workflow(path: Path, previous: RunLocalResult, parameters: dict[str, str], local: LocalEnvironment, *,
                   concurrency: int | None = None, retry_backoff_s: float = 1.0,
                   progress: Callable[[str], None] = print) -> RunLocalResult:
    """`argo retry` of `previous` (the same workflow, run id and work folder): only the nodes that did not succeed
    run again; the others keep their phase and outputs."""
    if parameters.get("run-id", previous.run_id) != previous.run_id:
        raise RunLocalError(f"argo retry keeps the run id: {previous.run_id!r}, not {parameters['run-id']!r}")
    return run_workflow(path, {**parameters, "run-id": previous.run_id}, local, previous.workdir,
                        concurrency=concurrency, retry_backoff_s=retry_backoff_s, progress=progress,
                        kept=previous.nodes)


def _save_nodes(result: RunLocalResult, path: Path) -> None:
    nodes = [{"task": n.task, "name": n.name, "phase": n.phase, "exit_code": n.exit_code, "seconds": n.seconds,
              "attempts": n.attempts, "log": str(n.log) if n.log else None, "result": n.result,
              "progress": n.progress}
             for n in result.nodes]
    (result.workdir / NODES_FILE).write_text(json.dumps(
        {"workflow": str(path), "run_id": result.run_id, "phase": result.phase, "pods": str(result.pods),
         "nodes": nodes}, indent=1) + "\n")


def load_result(workdir: Path) -> tuple[Path, RunLocalResult]:
    """(the rendered workflow, the finished run) recorded in a run-local work folder."""
    try:
        saved = json.loads((workdir / NODES_FILE).read_text())
        nodes = [NodeResult(n["task"], n["name"], n["phase"], n["exit_code"], n["seconds"], n["attempts"],
                            Path(n["log"]) if n["log"] else None, n["result"], n.get("progress", ""))
                 for n in saved["nodes"]]
        return Path(saved["workflow"]), RunLocalResult(saved["run_id"], saved["phase"], workdir,
                                                       Path(saved.get("pods") or workdir), nodes)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunLocalError(f"{workdir / NODES_FILE}: not a finished run-local run "
                            f"({one_line(exc, 160)})") from None


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise RunLocalError(f"-p {pair!r} is not name=value")
        parameters[name.strip()] = value
    return parameters


def node_progress(nodes: list[NodeResult]) -> argo_progress.Progress:
    """Argo's progress of these leaf nodes summed: what a node wrote to its progress file, else 1/1 once it
    completed and 0/1 before (https://argo-workflows.readthedocs.io/en/latest/progress/)."""
    done = total = 0
    for node in nodes:
        value = argo_progress.parse(node.progress) if node.progress else None
        if value is None:
            value = argo_progress.Progress(int(node.phase in ("Succeeded", "Failed", "Errored")), 1)
        done, total = done + value.done, total + value.total
    return argo_progress.Progress(done, total)


def print_nodes(result: RunLocalResult, echo: Callable[[str], None] = print) -> None:
    """One line per task (fan-outs summarised, with their progress summed as Argo does), then the failed nodes."""
    ran = [n for n in result.nodes if n.phase not in ("Skipped", "Omitted") and n.log is not None]
    for node in result.nodes:
        if "(" in node.name:
            continue
        children = [n for n in result.nodes if n.task == node.task and "(" in n.name]
        detail = ""
        if children:
            ok = sum(1 for n in children if n.phase == "Succeeded")
            detail = f"  ({ok}/{len(children)} succeeded, progress {node_progress(children)})"
        elif node.progress:
            detail = f"  (progress {node.progress})"
        echo(f"  {node.name:<22} {node.phase:<10} {node.seconds:7.1f} s{detail}")
    for node in result.failed_nodes:
        echo(f"  failed: {visible(node.name)} (exit {node.exit_code}); log: {node.log}")
    echo(f"workflow {result.phase} in {result.seconds:.1f} s, progress {node_progress(ran)}; run id {result.run_id}; "
         f"work folder {result.workdir}")
