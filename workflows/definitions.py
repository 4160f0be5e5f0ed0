"""The r2a Argo manifests, built with Hera: the single source of truth for workflows/rendered/*.yaml.

Every step runs `python -m steps.<name> --run-id … [flags]` (the same command `r2a run-local` runs).
Secrets arrive only as mounted files (passwords through `*_FILE`), never as parameters or env values, and each
template mounts only the Secrets its step uses (STEP_SECRETS).
"""

from __future__ import annotations

from hera.workflows import (
    DAG,
    Container,
    CronWorkflow,
    Parameter,
    Task,
    Workflow,
    WorkflowTemplate,
)
from hera.workflows import (
    models as m,
)

from shared import argo_outputs
from shared.loader_items import BIG_TABLE_MB, LOADERS_PER_BIG_TABLE
from shared.loader_items import ITEM_PREFIX as LOADER_ITEM_PREFIX
from workflows.images import STEPS, Images
from workflows.podspec import (
    POSTGRES_UID,
    SCRATCH_DIRS,
    SCRATCH_PGDATA,
    STEP_TMP,
    ScratchDir,
    container_security_context,
    pod_security_context,
    step_secrets,
)

DEFAULT_IMAGES = Images()

TEMPLATE_NAME = "redshift-to-alloydb"
RETRY_TEMPLATE_NAME = "retry-failed"
CUTOVER_TEMPLATE_NAME = "cutover"
NAMESPACE = "argo"
SERVICE_ACCOUNT = "r2a-workflow"
# Argo gives this ServiceAccount's token to its own init/wait containers only; the step containers get none
# (automountServiceAccountToken: false). https://argo-workflows.readthedocs.io/en/latest/workflow-rbac/
EXECUTOR_SERVICE_ACCOUNT = "r2a-executor"
SUPPORTED_ARGO = "v4.1"

# Concurrency of the table fan-out: a literal parallelism caps one run (Argo does not accept an expression for it);
# two ConfigMap semaphores cap all runs of the namespace together, at the two real bottlenecks, and an edit of the
# ConfigMap applies to running workflows (https://argo-workflows.readthedocs.io/en/latest/synchronization/).
# A table-transfer pod UNLOADs, copies and COPYs at once (pipeline.py), so it holds both for its whole life: Argo
# locks per template, and a template with several semaphores starts only when it holds all of them.
TRANSFER_PARALLELISM = 8
SEMAPHORE_CONFIGMAP = "r2a-limits"
UNLOADS_KEY = "redshift-unloads"  # concurrent UNLOADs per Redshift cluster (its WLM slots)
COPIES_KEY = "alloydb-copy-sessions"  # concurrent COPY pods per AlloyDB instance
SEMAPHORE_KEYS = (UNLOADS_KEY, COPIES_KEY)

# An item of load-schema's fan-out list is "schema.table" (or "b64:…" for a name holding an Argo tag), "batch-NNNN" or
# "loader-N-of-K:schema.table"
# (steps/load_schema/fanout.py, shared/loader_items.py; workflows/README.md): pick the flag.
TRANSFER_ITEM_FLAG = ("{{=sprig.hasPrefix('batch-', inputs.parameters.item) ? '--batch' : "
                      f"sprig.hasPrefix('{LOADER_ITEM_PREFIX}', inputs.parameters.item) ? '--loader' : '--table'}}}}")
# An empty run-id (the CronWorkflow's) becomes the workflow's name, which `argo retry` keeps (a timestamp would not).
RUN_ID = "{{=workflow.parameters['run-id'] != '' ? workflow.parameters['run-id'] : workflow.name}}"
ITEM = "{{item}}"

# The Secrets and which step mounts which: workflows/podspec.py.

WORKFLOW_PARAMETERS: list[tuple[str, str, str]] = [
    # (name, default, description)
    ("database", "dev", "Redshift database to migrate; also the first part of run-id"),
    ("run-id", "", "<database>_<YYYYMMDD_HHMMSS> (r2a submit fills it in); empty = the workflow's name"),
    ("schemas", "", "only these schemas (comma-separated); empty = all"),
    ("exclude-schemas", "", "schemas to leave out (comma-separated)"),
    ("tables", "", "only tables whose schema.name matches this regex; empty = all"),
    ("redshift-host", "redshift.example.internal", "Redshift endpoint as seen from the bastion"),
    ("redshift-port", "5439", "Redshift port"),
    ("redshift-user", "r2a", "Redshift user (password from Secret r2a-redshift)"),
    ("redshift-sslmode", "verify-full", "libpq sslmode towards Redshift: verify-full checks its certificate and "
                                        "endpoint name, also through the bastion (CA bundle from Secret "
                                        "r2a-redshift key ca-bundle.crt)"),
    ("bastion-host", "bastion.example.internal", "SSH bastion ('VPN instance')"),
    ("bastion-port", "22", "SSH bastion port"),
    ("bastion-user", "ec2-user", "SSH bastion user (key from Secret acceso-vpn)"),
    ("bastion-key-item", "key", "item of Secret acceso-vpn holding the bastion's private key: key (as the old "
                                "system created it) or id_ed25519"),
    ("bastion-host-key", "", "the bastion's public host key, as `ssh-keyscan -t ed25519 <bastion>` prints it, or its "
                             "SHA256 fingerprint (`ssh-keygen -lf`); empty = ConfigMap r2a-bastion key host-key, "
                             "else the known_hosts item of Secret acceso-vpn"),
    ("alloydb-host", "10.0.0.2", "AlloyDB primary IP (127.0.0.1 with the AlloyDB Auth Proxy)"),
    ("alloydb-port", "5432", "AlloyDB port"),
    ("alloydb-sslmode", "verify-full", "libpq sslmode towards AlloyDB (CA from Secret r2a-alloydb key ca.pem); "
                                       "disable only with the AlloyDB Auth Proxy on 127.0.0.1"),
    ("alloydb-database", "postgres", "AlloyDB database"),
    ("alloydb-user", "postgres", "AlloyDB user (password from Secret r2a-alloydb)"),
    ("s3-bucket", "r2a-unload", "S3 bucket UNLOAD writes to"),
    ("s3-prefix", "r2a", "S3 prefix"),
    ("aws-region", "us-east-1", "AWS region of the S3 bucket"),
    ("unload-iam-role", "default", "IAM role Redshift assumes for UNLOAD: `default` = the cluster's default role, or "
                                   "an ARN; empty = the keys of acceso-aws, which Redshift then keeps in its query "
                                   "history"),
    ("gcs-bucket", "r2a-artifacts", "GCS bucket of the run folder"),
    ("gcs-prefix", "r2a", "GCS prefix of the run folder"),
    ("gcp-credentials-file", "", "service account key file (/secrets/gcp/key.json from Secret r2a-gcp-sa); "
                                 "empty = Workload Identity"),
    ("format", "text", "UNLOAD format: text|csv"),
    ("compression", "zstd", "UNLOAD compression: zstd|gzip"),
    ("verify", "count", "table verification: count|checksum"),
    ("cleanup", "s3,gcs", "after a table is verified, delete its UNLOAD parts (s3) and staged copies (gcs) of "
                          "this run; empty = keep them (a failed table always keeps them for the retry)"),
    ("sync-config", "", "sync config (gs://… or s3://…, or /config/sync/<key> from the optional ConfigMap "
                        "r2a-sync-config; JSON or YAML) naming tables synced incrementally (append|upsert by a "
                        "cursor column; `r2a sync-config init` writes a starting one); empty = every table is "
                        "loaded in full"),
    ("merge-in-one-mb", "256", "sync-config: the window of a table of up to this many MB (svv_table_info) is merged "
                               "in one transaction; a bigger table's window is loaded part by part (resumable) into "
                               "a shadow and merged at the end; 0 = every table (steps/table_transfer/README.md)"),
    ("on-existing", "refresh", "load-schema when a table exists: refresh (keep and reload what an earlier r2a run "
                               "created; stop at any other table)|fail|skip|replace"),
    ("dropped-in-source", "keep", "refresh: tables an earlier r2a run created that the source no longer has: "
                                  "keep (reported) | drop (DROP TABLE, refused while a view uses it)"),
    ("own-pod-min-mb", "256", "load-schema: a table of at least this many MB (svv_table_info size) gets a "
                              "table-transfer pod of its own; smaller ones go into batches of about this much work; "
                              "0 = a pod for every table (workflows/README.md, Sizing the fan-out)"),
    ("big-table-mb", str(BIG_TABLE_MB), "load-schema: a table of at least this many MB (svv_table_info) is loaded "
                                        "by loaders-per-big-table pods"),
    ("loaders-per-big-table", str(LOADERS_PER_BIG_TABLE),
     "pods loading one big table's parts (1 = its own only); each holds an alloydb-copy-sessions semaphore slot, "
     "so keep it at most that value"),
    ("index-jobs", "4", "post-data: AlloyDB sessions building keys and indexes and running ANALYZE at once "
                        "(like pgcopydb's --index-jobs); each one is a backend doing CPU and I/O on the instance"),
    ("dry-run", "false", "true: dump, rewrite and validate the schema, then plan the run (every table's rows and "
                         "size, S3 bytes, egress, objects not migrated, a duration estimate: plan.json); nothing is "
                         "written to AlloyDB"),
]

# The cutover template fixes these: it always verifies by checksum and always writes AlloyDB.
CUTOVER_FIXED = ("verify", "dry-run")
CUTOVER_PARAMETERS = [p for p in WORKFLOW_PARAMETERS if p[0] not in CUTOVER_FIXED]

__all__ = ["STEPS"]


def _param(name: str) -> str:
    return "{{workflow.parameters." + name + "}}"


def step_env(step: str) -> list[m.EnvVar]:
    """The step's settings: parameters as values, and the files of the Secrets it mounts (passwords as *_FILE)."""
    plain = {
        "R2A_LOG_FORMAT": "json",
        "REDSHIFT_HOST": _param("redshift-host"),
        "REDSHIFT_PORT": _param("redshift-port"),
        "REDSHIFT_DATABASE": _param("database"),
        "REDSHIFT_USER": _param("redshift-user"),
        "REDSHIFT_SSLMODE": _param("redshift-sslmode"),
        "SSH_BASTION_HOST": _param("bastion-host"),
        "SSH_BASTION_PORT": _param("bastion-port"),
        "SSH_BASTION_USER": _param("bastion-user"),
        "PGHOST": _param("alloydb-host"),
        "PGPORT": _param("alloydb-port"),
        "PGDATABASE": _param("alloydb-database"),
        "PGUSER": _param("alloydb-user"),
        "PGSSLMODE": _param("alloydb-sslmode"),
        "AWS_DEFAULT_REGION": _param("aws-region"),
        "R2A_S3_BUCKET": _param("s3-bucket"),
        "R2A_S3_PREFIX": _param("s3-prefix"),
        "R2A_UNLOAD_IAM_ROLE": _param("unload-iam-role"),
        "R2A_GCS_BUCKET": _param("gcs-bucket"),
        "R2A_GCS_PREFIX": _param("gcs-prefix"),
        "GOOGLE_APPLICATION_CREDENTIALS": _param("gcp-credentials-file"),
    }
    for secret in step_secrets(step):
        plain.update(secret.env())
    if "SSH_BASTION_HOST_KEY_FILE" in plain:  # the steps that go through the bastion
        plain["SSH_BASTION_HOST_KEY"] = _param("bastion-host-key")
    return [m.EnvVar(name=k, value=v) for k, v in plain.items()]


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> m.ResourceRequirements:
    return m.ResourceRequirements(requests={"cpu": cpu, "memory": memory},
                                  limits={"cpu": cpu_limit, "memory": memory_limit})


# Only exit 1 (transient) is retried; 2-7, 70 and an OOM kill (137) are permanent and a retry cannot help. A node in
# Argo's "Error" phase lost its pod, not its step (evicted, node preempted or shut down, init/wait container failed):
# the steps are idempotent and lock-protected, so that is retried too.
RETRY_EXPRESSION = 'asInt(lastRetry.exitCode) == 1 || lastRetry.status == "Error"'
TRANSIENT_RETRY = m.RetryStrategy(
    limit="3", retry_policy="Always", expression=RETRY_EXPRESSION,
    backoff=m.Backoff(duration="30s", factor="2", max_duration="30m"))


def step_container(name: str, step: str, args: list[str], *, cpu: str = "250m", memory: str = "512Mi",
                   cpu_limit: str = "1", memory_limit: str = "1Gi", deadline: int = 3600,
                   inputs: list[Parameter] | None = None, extra_env: dict[str, str] | None = None,
                   images: Images = DEFAULT_IMAGES, sidecars: list[m.UserContainer] | None = None,
                   sidecar_dirs: tuple[ScratchDir, ...] = (), **extra) -> Container:
    """A step's template: its own Secrets only, an emptyDir for /tmp, and the pod's identity on every container."""
    env = step_env(step) + [m.EnvVar(name=k, value=v) for k, v in (extra_env or {}).items()]
    secrets = step_secrets(step)
    return Container(
        name=name, image=images.step(step), image_pull_policy="IfNotPresent",
        command=["python", "-m", f"steps.{step}"], args=["--run-id", RUN_ID, *args],
        env=env, volume_mounts=[s.mount() for s in secrets] + [STEP_TMP.mount()],
        volumes=[s.volume() for s in secrets] + [d.volume() for d in (STEP_TMP, *sidecar_dirs)],
        pod_security_context=pod_security_context(), security_context=container_security_context(),
        resources=_resources(cpu, memory, cpu_limit, memory_limit),
        retry_strategy=TRANSIENT_RETRY, active_deadline_seconds=deadline,
        inputs=inputs or None, sidecars=sidecars or None, **extra)


# The sidecar listens on the pod's loopback only, which no other pod can reach, and trusts whoever connects there:
# the containers of this pod. No password exists to leak. https://hub.docker.com/_/postgres (POSTGRES_HOST_AUTH_METHOD)
SCRATCH_DSN = "postgresql://postgres@127.0.0.1:5432/scratch?sslmode=disable"


def scratch_postgres_sidecar(images: Images = DEFAULT_IMAGES) -> m.UserContainer:
    return m.UserContainer(
        name="scratch-postgres", image=images.postgres(),
        args=["postgres", "-c", "listen_addresses=127.0.0.1"],
        env=[m.EnvVar(name="POSTGRES_HOST_AUTH_METHOD", value="trust"),
             m.EnvVar(name="POSTGRES_DB", value="scratch"),
             m.EnvVar(name="PGDATA", value=SCRATCH_PGDATA)],
        volume_mounts=[d.mount() for d in SCRATCH_DIRS],
        security_context=container_security_context(POSTGRES_UID),
        resources=_resources("250m", "512Mi", "1", "2Gi"),
        readiness_probe=m.Probe(exec=m.ExecAction(command=["pg_isready", "-h", "127.0.0.1", "-U", "postgres"]),
                                period_seconds=2))


def auth_proxy_sidecars(instance_uri: str | None, images: Images = DEFAULT_IMAGES) -> list[m.UserContainer]:
    """The AlloyDB Auth Proxy beside a step that talks to AlloyDB (then alloydb-host is 127.0.0.1 and
    alloydb-sslmode disable: the proxy encrypts and authorises with the pod's Workload Identity). Its health server
    listens on localhost, where an httpGet probe (sent to the pod IP) cannot reach it, so it has no probe: a step
    retries a refused connection while the proxy starts."""
    if not instance_uri:
        return []
    return [m.UserContainer(
        name="alloydb-auth-proxy", image=images.auth_proxy(),
        args=["--address=127.0.0.1", "--port=5432", instance_uri],
        security_context=container_security_context(),
        resources=_resources("100m", "64Mi", "500m", "256Mi"))]


# Argo's custom Prometheus metrics (https://argo-workflows.readthedocs.io/en/latest/metrics/, variables in
# https://argo-workflows.readthedocs.io/en/latest/variables/#metrics): emitted by the controller when a node ends.
# Labelled by run (the workflow's name: the run id of a CronWorkflow run, 1:1 with a submitted run id) and
# database, never by table: thousands of tables would be thousands of series per metric. One help text per name,
# as Prometheus requires. The pod writes its totals to OUTPUTS_DIR (shared/argo_outputs.py); a pod that dies
# before writing them counts 0 through the default, and is counted by r2a_transfer_pods_failed_total.
OUTPUTS_DIR = "/tmp/outputs"  # nosec B108  # on the pod's /tmp emptyDir
RUN_LABELS = [m.MetricLabel(key="run", value="{{workflow.name}}"),
              m.MetricLabel(key="database", value=_param("database"))]
DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600]


def _counter(name: str, help_text: str, value: str, when: str | None = None) -> m.Prometheus:
    return m.Prometheus(name=name, help=help_text, labels=RUN_LABELS, counter=m.Counter(value=value), when=when)


def transfer_metrics() -> m.Metrics:
    return m.Metrics(prometheus=[
        m.Prometheus(name="r2a_table_transfer_duration_seconds", labels=[*RUN_LABELS, m.MetricLabel(
                         key="status", value="{{status}}")],
                     help="Duration of a table-transfer pod (one table, or one batch of small tables)",
                     histogram=m.Histogram(value="{{duration}}",
                                           buckets=[m.Amount(str(b)) for b in DURATION_BUCKETS])),
        _counter("r2a_rows_loaded_total", "Rows loaded into AlloyDB by table-transfer",
                 "{{outputs.parameters.rows}}"),
        _counter("r2a_bytes_unloaded_total", "Compressed bytes UNLOADed from Redshift by table-transfer",
                 "{{outputs.parameters.bytes}}"),
        _counter("r2a_tables_transferred_total", "Tables a table-transfer pod finished, succeeded or failed",
                 "{{outputs.parameters.tables}}"),
        _counter("r2a_tables_failed_total", "Tables that failed in table-transfer",
                 "{{outputs.parameters.tables-failed}}"),
        _counter("r2a_transfer_pods_failed_total", "table-transfer pods that did not succeed", "1",
                 when="{{status}} != Succeeded"),
    ])


def run_metrics() -> m.Metrics:
    """Workflow-level: the run's duration when it ends, labelled with its final status ({{workflow.status}} in a
    workflow-level metric label, as Argo's own controller metric tests use it)."""
    return m.Metrics(prometheus=[m.Prometheus(
        name="r2a_run_duration_seconds", help="Duration of an r2a run (workflow)",
        labels=[*RUN_LABELS, m.MetricLabel(key="status", value="{{workflow.status}}")],
        gauge=m.Gauge(value="{{workflow.duration}}", realtime=False))])


def transfer_container(auth_proxy: str | None = None, images: Images = DEFAULT_IMAGES,
                       verify: str = _param("verify")) -> Container:
    return step_container(
        "table-transfer", "table_transfer",
        [TRANSFER_ITEM_FLAG, "{{inputs.parameters.item}}", f"--format={_param('format')}",
         f"--compression={_param('compression')}", f"--verify={verify}", f"--cleanup={_param('cleanup')}",
         f"--merge-in-one-mb={_param('merge-in-one-mb')}",
         "--sync-config", _param("sync-config")],  # two arguments: run-local maps a mounted path given alone
        cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi", deadline=12 * 3600,
        inputs=[Parameter(name="item")], sidecars=auth_proxy_sidecars(auth_proxy, images), images=images,
        extra_env={argo_outputs.ENV: OUTPUTS_DIR},
        outputs=[Parameter(name=name, value_from=m.ValueFrom(path=f"{OUTPUTS_DIR}/{name}", default="0"))
                 for name in argo_outputs.TRANSFER_TOTALS],
        metrics=transfer_metrics(),
        synchronization=m.Synchronization(semaphores=[
            m.SemaphoreRef(config_map_key_ref=m.ConfigMapKeySelector(name=SEMAPHORE_CONFIGMAP, key=key))
            for key in SEMAPHORE_KEYS]))


def report_container(images: Images = DEFAULT_IMAGES, args: list[str] | None = None) -> Container:
    return step_container("report", "report", args or [], deadline=3600, images=images)


def pipeline_templates(auth_proxy: str | None = None, images: Images = DEFAULT_IMAGES, cutover: bool = False) -> list:
    """The container templates of the full migration DAG. `cutover`: no plan, every table verified by checksum, and
    the report also judges cut-over readiness (report/readiness.json; exit 7 unless every table is in sync)."""
    dump = step_container("dump-schema", "dump_schema", [
        f"--schemas={_param('schemas')}", f"--exclude-schemas={_param('exclude-schemas')}",
        f"--tables={_param('tables')}"], images=images)
    rewrite = step_container("rewrite-ddl", "rewrite_ddl", [], images=images)
    validate = step_container(
        "validate-restore", "validate_restore", [], extra_env={"R2A_SCRATCH_DSN": SCRATCH_DSN},
        sidecars=[scratch_postgres_sidecar(images)], sidecar_dirs=SCRATCH_DIRS, images=images)
    plan = [] if cutover else [step_container("plan", "plan", [
        f"--compression={_param('compression')}", f"--concurrency={TRANSFER_PARALLELISM}",
        f"--index-jobs={_param('index-jobs')}"], images=images)]
    pre = step_container("load-schema-pre", "load_schema",
                         ["--section", "pre-data", f"--on-existing={_param('on-existing')}",
                          f"--dropped-in-source={_param('dropped-in-source')}",
                          f"--own-pod-min-mb={_param('own-pod-min-mb')}", f"--concurrency={TRANSFER_PARALLELISM}",
                          f"--big-table-mb={_param('big-table-mb')}",
                          f"--loaders-per-big-table={_param('loaders-per-big-table')}"],
                         sidecars=auth_proxy_sidecars(auth_proxy, images), images=images)
    post = step_container("load-schema-post", "load_schema", ["--section", "post-data", f"--index-jobs={_param('index-jobs')}"], deadline=6 * 3600,
                          sidecars=auth_proxy_sidecars(auth_proxy, images), images=images)
    transfer = transfer_container(auth_proxy, images, "checksum") if cutover else transfer_container(auth_proxy, images)
    report = report_container(images, ["--readiness"] if cutover else None)
    return [dump, rewrite, validate, *plan, pre, transfer, post, report]


def retry_templates(auth_proxy: str | None = None, images: Images = DEFAULT_IMAGES) -> list:
    """retry-failed: list the run's unfinished tables (report --list-unfinished), transfer them, report again."""
    unfinished = step_container("list-unfinished", "report",
                                ["--list-unfinished", f"--big-table-mb={_param('big-table-mb')}",
                                 f"--loaders-per-big-table={_param('loaders-per-big-table')}"],
                                deadline=1800, images=images)
    return [unfinished, transfer_container(auth_proxy, images), report_container(images)]


TRANSFER_DONE = ("table-transfer.Succeeded || table-transfer.Failed || table-transfer.Errored"
                 " || table-transfer.Skipped")


POST_DONE = ("load-schema-post.Succeeded || load-schema-post.Failed || load-schema-post.Errored"
             " || load-schema-post.Skipped")
# The report runs whatever the transfers and post-data did (depends, never continueOn) and exits 7 when a
# table failed, so the workflow fails and `argo retry` re-runs only the failed transfers plus the report.
REPORT_DEPENDS = f"({TRANSFER_DONE}) && ({POST_DONE})"


# dry-run: dump, rewrite and validate, then the plan (sizes and estimates, plan.json); nothing touches AlloyDB.
WRITES_ALLOYDB = "{{workflow.parameters.dry-run}} != true"
PLANS = "{{workflow.parameters.dry-run}} == true"


def main_dag(cutover: bool = False) -> DAG:
    """The migration DAG; `cutover`: without the plan branch (the cutover template has no dry-run parameter)."""
    writes = None if cutover else WRITES_ALLOYDB
    with DAG(name="main", parallelism=TRANSFER_PARALLELISM) as dag:
        dump = Task(name="dump-schema", template="dump-schema")
        rewrite = Task(name="rewrite-ddl", template="rewrite-ddl")
        validate = Task(name="validate-restore", template="validate-restore")
        if not cutover:
            validate >> Task(name="plan", template="plan", when=PLANS)
        pre = Task(name="load-schema-pre", template="load-schema-pre", when=writes)
        transfer = Task(name="table-transfer", template="table-transfer",
                        with_param="{{tasks.load-schema-pre.outputs.result}}",
                        arguments={"item": ITEM}, when=writes)
        Task(name="load-schema-post", template="load-schema-post", depends=TRANSFER_DONE, when=writes)
        Task(name="report", template="report", depends=REPORT_DEPENDS, when=writes)
        dump >> rewrite >> validate >> pre >> transfer
    return dag


def retry_dag() -> DAG:
    with DAG(name="main", parallelism=TRANSFER_PARALLELISM) as dag:
        unfinished = Task(name="list-unfinished", template="list-unfinished")
        transfer = Task(name="table-transfer", template="table-transfer",
                        with_param="{{tasks.list-unfinished.outputs.result}}", arguments={"item": ITEM})
        Task(name="report", template="report", depends=TRANSFER_DONE)
        unfinished >> transfer
    return dag


def _common_spec(parameters: list[tuple[str, str, str]] = WORKFLOW_PARAMETERS) -> dict:
    return dict(
        namespace=NAMESPACE,
        service_account_name=SERVICE_ACCOUNT,
        entrypoint="main",
        arguments=[Parameter(name=n, value=v, description=d) for n, v, d in parameters],
        # Pod defaults; each template repeats them (run-local reads the template's) and mounts its own volumes.
        security_context=pod_security_context(),
        automount_service_account_token=False,
        executor=m.ExecutorConfig(service_account_name=EXECUTOR_SERVICE_ACCOUNT),
        active_deadline_seconds=48 * 3600,
        # Thousands of pods: a succeeded one goes 10 minutes after it ends, a failed one stays for its logs until the
        # TTL deletes the workflow (https://argo-workflows.readthedocs.io/en/latest/running-at-massive-scale/).
        # The node statuses of a 5,000-table run fit etcd once Argo compresses them (workflows/README.md).
        pod_gc=m.PodGC(strategy="OnPodSuccess", delete_delay_duration="10m"),
        ttl_strategy=m.TTLStrategy(seconds_after_success=7 * 86400, seconds_after_failure=30 * 86400),
        artifact_repository_ref=m.ArtifactRepositoryRef(config_map="artifact-repositories", key="r2a-gcs"),
        workflow_metadata=m.WorkflowMetadata(labels={"r2a/database": _param("database"),
                                                     "r2a/run-id": _param("run-id")}),
        pod_metadata=m.Metadata(labels={"app.kubernetes.io/part-of": "r2a",  # k8s/networkpolicy.yaml selects it
                                        "r2a/database": _param("database"), "r2a/run-id": _param("run-id")}),
        labels={"app.kubernetes.io/part-of": "r2a"},
        metrics=run_metrics(),
    )


def workflow_template(auth_proxy: str | None = None, images: Images = DEFAULT_IMAGES) -> WorkflowTemplate:
    with WorkflowTemplate(name=TEMPLATE_NAME, **_common_spec()) as wt:
        pipeline_templates(auth_proxy, images)
        main_dag()
    return wt


def retry_failed_template(auth_proxy: str | None = None, images: Images = DEFAULT_IMAGES) -> WorkflowTemplate:
    """`retry-failed`: run-id names the earlier run; only its failed or missing tables are transferred again."""
    with WorkflowTemplate(name=RETRY_TEMPLATE_NAME, **_common_spec()) as wt:
        retry_templates(auth_proxy, images)
        retry_dag()
    return wt


def cutover_template(auth_proxy: str | None = None, images: Images = DEFAULT_IMAGES) -> WorkflowTemplate:
    """`cutover`: the final sync before cutting over. The migration DAG with every table verified by checksum (synced
    tables merge their last window and compare the whole table, the others reload), post-data with the identity
    reseed, then the report and the readiness verdict (report/readiness.json). The run fails unless every table is
    in sync."""
    with WorkflowTemplate(name=CUTOVER_TEMPLATE_NAME, **_common_spec(CUTOVER_PARAMETERS)) as wt:
        pipeline_templates(auth_proxy, images, cutover=True)
        main_dag(cutover=True)
    return wt


def submittable_workflow(arguments: dict[str, str] | None = None) -> Workflow:
    """A Workflow that runs the WorkflowTemplate (what `argo submit` / `r2a submit` sends)."""
    params = [Parameter(name=k, value=v) for k, v in (arguments or {}).items()]
    # The template already sets both; repeated so that the Workflow alone also says who its pods run as.
    return Workflow(generate_name=f"{TEMPLATE_NAME}-", namespace=NAMESPACE,
                    workflow_template_ref=m.WorkflowTemplateRef(name=TEMPLATE_NAME),
                    service_account_name=SERVICE_ACCOUNT, security_context=pod_security_context(),
                    arguments=params or None, labels={"app.kubernetes.io/part-of": "r2a"})


def cron_workflow(auth_proxy: str | None = None, images: Images = DEFAULT_IMAGES) -> CronWorkflow:
    spec = _common_spec()
    spec.pop("namespace")
    with CronWorkflow(name="redshift-to-alloydb-nightly", namespace=NAMESPACE, schedules=["0 2 * * *"],
                      timezone="Etc/UTC", concurrency_policy="Forbid", starting_deadline_seconds=3600,
                      successful_jobs_history_limit=3, failed_jobs_history_limit=3, **spec) as cw:
        pipeline_templates(auth_proxy, images)
        main_dag()
    return cw


def local_workflow(arguments: dict[str, str] | None = None, auth_proxy: str | None = None,
                   images: Images = DEFAULT_IMAGES) -> Workflow:
    """The full pipeline as one Workflow (templates inline): what `r2a run-local` executes."""
    spec = _common_spec()
    if arguments:
        given = dict((n, v) for n, v, _ in WORKFLOW_PARAMETERS) | arguments
        spec["arguments"] = [Parameter(name=n, value=v) for n, v in given.items()]
    with Workflow(generate_name=f"{TEMPLATE_NAME}-", **spec) as wf:
        pipeline_templates(auth_proxy, images)
        main_dag()
    return wf
