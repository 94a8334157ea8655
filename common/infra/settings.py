"""One typed settings object for every service, read from environment variables.

Every variable is prefixed ``PP_`` (for example ``PP_REDIS_URL``). Secrets
(passwords, keys, connection strings) are ``SecretStr`` and come only from the
environment (or a ``.env`` file in development); nothing secret has a default.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class CassandraFlavor(StrEnum):
    apache = "apache"
    cosmos = "cosmos"


class StorageBackend(StrEnum):
    local = "local"
    azure_files = "azure-files"


class DetectorName(StrEnum):
    dlib_hog = "dlib-hog"
    dlib_cnn = "dlib-cnn"
    azure = "azure"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class WebWorkerClass(StrEnum):
    sync = "sync"
    gthread = "gthread"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PP_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- local state (services started by `persona-pipeline services`) ---
    state_dir: Path = Field(PROJECT_ROOT / ".local", description="Folder for local Cassandra, Redis and blobs")

    # --- Cassandra / Cosmos DB ---
    cassandra_flavor: CassandraFlavor = Field(CassandraFlavor.apache, description="`apache` or `cosmos`")
    cassandra_hosts: str = Field("127.0.0.1", description="Comma-separated contact points")
    cassandra_port: int = Field(9042, description="9042 for Apache Cassandra, 10350 for Cosmos DB")
    cassandra_keyspace: str = Field("persona_pipeline", description="Keyspace holding every table")
    cassandra_username: str | None = Field(None, description="User (Cosmos: the account name)")
    cassandra_password: SecretStr | None = Field(None, description="Password (Cosmos: the account key)")
    cassandra_tls: bool | None = Field(None, description="TLS on/off; default: on for cosmos, off for apache")
    cassandra_tls_verify: bool = Field(True, description="Validate the server certificate")
    cassandra_ca_file: Path | None = Field(None, description="CA bundle for TLS (default: system store)")
    cassandra_local_dc: str | None = Field(None, description="Local data center for load balancing")
    cassandra_consistency: str = Field("LOCAL_ONE", description="Consistency for reads and writes")
    cassandra_replication: str = Field(
        "{'class': 'SimpleStrategy', 'replication_factor': 1}",
        description="Replication map used when `migrate` creates the keyspace",
    )
    cassandra_request_timeout: float = Field(15.0, description="Per-request timeout in seconds")
    cassandra_connect_timeout: float = Field(10.0, description="Connection timeout in seconds")
    cassandra_overload_retries: int = Field(6, description="Retries on Overloaded (Cosmos 429)")
    cassandra_protocol_version: int | None = Field(
        None, ge=3, le=5, description="CQL protocol; default 4, the one Cosmos DB speaks (v5 checksums cost client CPU)"
    )

    # --- Redis / Celery ---
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Broker and lock store (rediss:// for TLS)")
    celery_visibility_timeout: int = Field(
        7200, description="Seconds before an unacked task is redelivered; longer than any task"
    )
    celery_task_time_limit: int = Field(
        3600, description="Hard limit per task in seconds; must stay below the visibility timeout"
    )
    task_retry_backoff_max: int = Field(
        300, description="Longest wait in seconds between retries of a task hit by an outage (Cassandra, Redis)"
    )
    celery_task_events: bool = Field(
        False,
        description="Workers send task events from the start (Flower turns them on while it runs anyway)",
    )
    flower_url: str = Field("http://127.0.0.1:5555", description="Link shown on the dashboard")
    heartbeat_file: Path = Field(
        Path("/tmp/worker-heartbeat"),
        description="File the workers touch on each Celery heartbeat; the liveness probe checks its age",
    )

    # --- blob storage ---
    storage_backend: StorageBackend = Field(StorageBackend.local, description="`local` or `azure-files`")
    storage_local_root: Path | None = Field(None, description="Blob folder (default: STATE_DIR/blobs)")
    azure_files_connection_string: SecretStr | None = Field(None, description="Azure Files connection string")
    azure_files_share: str = Field("persona-pipeline", description="Share holding blobs")
    azure_files_prefix: str = Field("blobs", description="Directory inside the share for blobs")

    # --- images and faces ---
    max_image_bytes: int = Field(20 * 1024 * 1024, description="Larger files are rejected")
    max_image_pixels: int = Field(80_000_000, description="Decompression-bomb cap (width x height)")
    max_image_frames: int = Field(100, description="Animations with more frames are rejected (else: first frame)")
    max_decode_bytes: int = Field(
        360 * 1024 * 1024,
        description="Images whose decoding would take more memory (decoded pixels + RGB copy) are rejected",
    )
    ingest_batch_size: int = Field(25, description="Images per ingest fan-out task")
    face_detector: DetectorName = Field(DetectorName.dlib_hog, description="`dlib-hog`, `dlib-cnn` or `azure`")
    detection_max_side: int = Field(1024, description="Long side of the copy faces are detected on")
    detection_upsample: int = Field(1, description="dlib upsampling passes (finds smaller faces)")
    detection_orientation_search: bool = Field(
        True, description="No face upright: also try the image turned 90, 180 and 270 degrees"
    )
    detection_min_side: int = Field(
        400, ge=0, description="Smaller images are enlarged to this long side for detection (thumbnails); 0: never"
    )
    detection_tile_min_face: int = Field(
        40,
        ge=0,
        description="Smallest face (pixels) looked for in full-resolution tiles of a large image when the first "
        "pass finds no face or small ones; 0: never tile",
    )
    detection_tile_side: int = Field(1024, ge=256, description="Side of a detection tile (pixels)")
    detection_tile_overlap: int = Field(
        256, ge=0, description="Overlap of neighbouring tiles (pixels): a smaller face is whole in one tile"
    )
    detection_tile_always_above: int = Field(
        0, ge=0, description="Images with a longer side are always tiled, faces or not; 0: only by the rule above"
    )
    azure_face_endpoint: str | None = Field(None, description="https://<name>.cognitiveservices.azure.com")
    azure_face_key: SecretStr | None = Field(None, description="Azure AI Face key")
    azure_face_calls_per_second: float = Field(10.0, description="Shared rate limit (S0 tier: 10)")

    # --- classifier ---
    unknown_distance: float = Field(0.6, description="Farther than this from a persona's faces -> unknown")
    min_probability: float = Field(0.35, description="Lower calibrated probability -> unknown")
    promotion_tolerance: float = Field(0.02, description="Allowed macro-F1 drop for promotion")
    eval_sample_faces: int = Field(
        2000,
        ge=2,
        description="Most confirmed faces held out to evaluate a trained model: max(2, this // evaluable "
        "personas) per persona, for at most this // that many personas (a seeded sample above)",
    )
    model_retention_versions: int = Field(
        20,
        ge=1,
        description="Newest model versions kept; older ones (rows, per-persona metrics, history, artifacts) are "
        "pruned after each training, except the active, the previous (rollback target) and pinned versions",
    )
    retrain_quiet_seconds: float = Field(5.0, description="Quiet period that coalesces label bursts")
    retrain_lock_seconds: int = Field(
        60,
        description="Expiry of the one-training-at-a-time lock; a running training renews it every third of "
        "this, so a crashed trainer blocks retraining at most this long",
    )
    reclassify_batch_size: int = Field(
        500, ge=1, description="Faces predicted and written together: one step of a full-pass shard"
    )
    reclassify_shard_faces: int = Field(
        2000,
        ge=1,
        description="Faces per full-pass shard (a token range of faces_by_image; a shard never splits an image)",
    )
    worker_threads: int = Field(
        0,
        ge=0,
        le=256,
        description="BLAS / OpenMP threads per worker pool process (1: one core each, so more processes mean "
        "more speed); 0: the libraries' default (every core)",
    )
    scoped_refresh: bool = Field(
        True, description="After a promotion, re-predict only the faces its label changes can change (else all)"
    )
    scoped_radius_margin: float = Field(
        0.1,
        ge=0.0,
        le=2.0,
        description="Scoped refresh: faces within the unknown distance plus this (embedder scale) of a changed "
        "prototype or rejection are re-predicted",
    )
    scoped_max_share: float = Field(
        0.25, gt=0.0, le=1.0, description="A scoped refresh touching more than this share of faces runs a full pass"
    )
    faces_per_cell: int = Field(
        1000, ge=10, description="Index of all faces: faces per k-means cell when a codebook is built"
    )
    calibration_max_age_hours: float = Field(
        24.0,
        ge=0.0,
        description="A training refits the embedding scale and temperature once the pinned ones are this old "
        "(then a full pass follows); 0: at every training",
    )
    audit_pass_hours: float = Field(
        24.0, ge=0.0, description="Hours between scheduled audit passes (a full pass that counts changed decisions)"
    )
    artifact_hmac_key: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 that signs model artifacts (at least 32 characters; the same in every "
        "service); unset with local storage and Apache Cassandra: generated once into STATE_DIR/secrets",
    )

    # --- web ---
    web_secret_key: SecretStr | None = Field(
        None, description="Flask session key, at least 32 characters (required outside PP_WEB_DEV_MODE)"
    )
    web_dev_mode: bool = Field(
        False, description="Development mode: login without a configured password, session cookie without TLS"
    )
    admin_username: str = Field("admin", description="First user, created at start")
    admin_password: SecretStr | None = Field(None, description="Its password (required to log in)")
    max_upload_bytes: int = Field(200 * 1024 * 1024, description="Largest request body the web app reads")
    allowed_ingest_roots: str = Field("", description="Comma-separated folders the web UI may ingest from")
    allowed_ingest_shares: str = Field(
        "",
        description="Comma-separated Azure Files shares (`share` or `share/dir`) of the configured account that "
        "may be ingested; empty: none",
    )
    allow_url_ingest: bool = Field(
        False, description="Ingest http(s) image URLs (public addresses only, fetched without a proxy)"
    )
    page_cache_seconds: int = Field(
        300, ge=0, description="Rendered persona/image pages kept this long at most; 0 turns the cache off"
    )
    user_cache_seconds: float = Field(5.0, ge=0, description="A role change or removed user applies within this")
    login_max_failures_per_user: int = Field(
        10, ge=1, description="Failed logins per user name in PP_LOGIN_WINDOW_SECONDS before logins are refused (429)"
    )
    login_max_failures_per_client: int = Field(
        50,
        ge=1,
        description="Failed logins per client address in PP_LOGIN_WINDOW_SECONDS before logins are refused (429)",
    )
    login_window_seconds: int = Field(900, ge=1, description="Window of the login failure counters, in seconds")
    trusted_proxy_hops: int = Field(
        0, ge=0, le=5, description="Proxies in front of the web app (ingress: 1) whose X-Forwarded-For is trusted"
    )
    api_token_days: int = Field(90, ge=1, le=3650, description="API tokens expire this many days after creation")
    metrics_port: int = Field(
        9464, ge=1, le=65535, description="/metrics is served only on this port (a second gunicorn --bind)"
    )
    worker_metrics_port: int = Field(
        9465, ge=0, le=65535, description="Each Celery worker serves /metrics on this port (0: none)"
    )
    metrics_dir: Path | None = Field(
        None,
        description="Folder for the metric files of each service's processes (default: the system temp folder)",
    )
    log_format: LogFormat = Field(
        LogFormat.text, description="`text`, or `json`: one object a line with time, level, logger, message, ids"
    )
    corpus_counts_seconds: float = Field(
        30.0, ge=1, description="The dashboard's rejected files of recent jobs are read again when older than this"
    )
    corpus_reconcile_seconds: float = Field(
        3600.0, ge=60, description="Corpus counters kept on write are counted exactly and corrected this often (beat)"
    )
    web_workers: int = Field(2, ge=1, le=64, description="gunicorn worker processes per web server")
    web_worker_class: WebWorkerClass = Field(
        WebWorkerClass.gthread,
        description="`gthread`: threads and keep-alive per process; `sync`: one request at a time per process, "
        "each going to an idle one (no keep-alive; slow clients need a buffering proxy, such as the ingress)",
    )
    web_threads: int = Field(4, ge=1, le=64, description="Threads per web process (gthread)")
    web_timeout: int = Field(
        120, ge=10, description="A web process silent this long is restarted (sync: one request running this long)"
    )

    @field_validator("cassandra_consistency")
    @classmethod
    def _known_consistency(cls, value: str) -> str:
        from cassandra import ConsistencyLevel

        name = value.upper()
        if name not in ConsistencyLevel.name_to_value:
            raise ValueError(f"unknown consistency level {value!r}")
        return name

    @model_validator(mode="after")
    def _visibility_outlasts_tasks(self) -> Settings:
        if self.celery_visibility_timeout <= self.celery_task_time_limit:
            raise ValueError(
                "PP_CELERY_VISIBILITY_TIMEOUT must be longer than PP_CELERY_TASK_TIME_LIMIT, "
                "or a running task would be delivered a second time"
            )
        return self

    @property
    def contact_points(self) -> list[str]:
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]

    @property
    def use_tls(self) -> bool:
        if self.cassandra_tls is not None:
            return self.cassandra_tls
        return self.cassandra_flavor is CassandraFlavor.cosmos

    @property
    def blob_root(self) -> Path:
        return self.storage_local_root or self.state_dir / "blobs"

    @property
    def ingest_roots(self) -> list[Path]:
        return [Path(p.strip()).resolve() for p in self.allowed_ingest_roots.split(",") if p.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache after changing the environment)."""
    return Settings()
