"""An HTTP JSON service for a saved predictor (``tfclf serve``), with micro-batching.

Endpoints: ``POST /predict``, ``POST /explain``, ``GET /health``, ``GET /info``, ``GET /stats``,
and FastAPI's ``/openapi.json`` and ``/docs``. Every error is JSON ``{"error": "..."}``:

    400  the body is not valid JSON
    413  over a server limit: body bytes, texts per request, characters per text (split the request)
    415  the body is not sent as application/json
    422  the body has the wrong shape or types, an empty ``texts`` list, or an empty text to explain

Concurrent ``/predict`` requests are gathered by a `MicroBatcher` into one model call, and the
model runs on one thread only, so a burst of small requests costs a few batched forward passes.

FastAPI and uvicorn are imported only when a server is built: ``pip install "tfclf[serve]"``.
"""

import contextlib
import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tfclf._util import positive_int
from tfclf.batching import MicroBatcher

if TYPE_CHECKING:  # pragma: no cover
    import fastapi
    import uvicorn

MAX_EXPLAIN_SAMPLES = 5000  # LIME runs the model on every sample: this bounds one request's cost
MAX_EXPLAIN_FEATURES = 50
MAX_EXPLAIN_STEPS = 256  # Integrated Gradients runs the model forward and backward steps + 1 times


def _require(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(f"tfclf serve needs {name}: pip install \"tfclf[serve]\"") from err


class _BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, by its Content-Length or as it arrives
    (chunked uploads have no Content-Length). The body is read here and replayed to the app."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from fastapi.responses import JSONResponse

        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = f"request body is {int(declared)} bytes; the limit is {self.max_bytes}"
            return await JSONResponse({"error": error}, 413)(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                error = f"request body is over the limit of {self.max_bytes} bytes"
                return await JSONResponse({"error": error}, 413)(scope, receive, send)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # the app may wait for http.disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _models():
    """The request/response schemas (built lazily: pydantic comes with the optional fastapi)."""
    from pydantic import BaseModel, ConfigDict, Field

    strict = ConfigDict(extra="forbid", strict=True)  # "10" is not a number, a typo'd key is an error

    class PredictRequest(BaseModel):
        model_config = ConfigDict(**strict, json_schema_extra={"examples": [{"texts": ["a great film"]}]})
        texts: list[str] = Field(min_length=1, description="the texts to classify (at least one)")
        return_proba: bool = Field(False, description="also return each text's class probabilities")
        min_confidence: float | None = Field(None, ge=0, le=1, description="abstain below it: a text whose "
                                             "highest probability is under this gets the label null")

    class PredictResponse(BaseModel):
        labels: list[str | list[str] | float | None] = Field(
            description="one label per text (a list of labels for multi-label models, a number for regression; "
                        "null where the model abstained under min_confidence)")
        probabilities: list[list[float]] | None = Field(None, description="rows in `classes` order")
        classes: list[str]

    class ExplainRequest(BaseModel):
        model_config = ConfigDict(**strict, json_schema_extra={"examples": [{"text": "a great film"}]})
        text: str = Field(min_length=1, description="the text to explain (at least one word)")
        num_features: int = Field(10, ge=1, le=MAX_EXPLAIN_FEATURES, description="words to weigh")
        num_samples: int = Field(500, ge=10, le=MAX_EXPLAIN_SAMPLES, description="perturbed texts LIME predicts")
        class_name: str | None = Field(None, description="the class to explain (default: the predicted one)")
        method: str = Field("lime", pattern="^(lime|gradients)$",
                            description="'lime', or 'gradients' (Integrated Gradients: deterministic, needs the "
                                        "TensorFlow transformer model)")
        steps: int = Field(32, ge=1, le=MAX_EXPLAIN_STEPS, description="Integrated Gradients' integration steps")

    class ExplainResponse(BaseModel):
        text: str
        class_name: str
        probability: float
        predicted: str | list[str] | float
        weights: list[tuple[str, float]] = Field(description="[word, weight], strongest first; "
                                                 "positive pushes towards the class")
        score: float | None = Field(description="LIME's local fit R^2")
        num_samples: int = Field(description="LIME's samples, or Integrated Gradients' steps")
        method: str
        completeness_error: float | None = Field(
            description="Integrated Gradients: |sum of attributions - logit change| / |logit change|")
        html: str = Field(description="the text with its weighed words highlighted")

    class ErrorResponse(BaseModel):
        error: str

    return PredictRequest, PredictResponse, ExplainRequest, ExplainResponse, ErrorResponse


def _loc(loc) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _versions(predictor) -> dict:
    from importlib import metadata

    if getattr(predictor, "format", None):  # an exported predictor: no TensorFlow in this process
        from tfclf.runtime import runtime_versions

        out = runtime_versions(predictor.format)
    else:
        from tfclf._compat import versions

        out = versions()
    for dist in ("fastapi", "uvicorn"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def create_app(predictor, *, max_texts: int = 64, max_chars: int = 100_000, max_body_bytes: int = 2_000_000,
               batch_wait_ms: float = 5.0, max_batch: int = 64, info: dict | None = None) -> "fastapi.FastAPI":
    """A FastAPI app serving `predictor` (see the module docstring for endpoints and errors).

    Args:
        predictor: a `tfclf.Predictor`.
        max_texts: texts per /predict request (more: 413).
        max_chars: characters per text (more: 413).
        max_body_bytes: request body size (more: 413).
        batch_wait_ms: how long a batch waits for more requests after its first one (0: no wait).
        max_batch: texts per model call.
        info: the manifest to show at /info (default: the one `load_predictor` read, if any).
    """
    fastapi = _require("fastapi")
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    for name, value in (("max_texts", max_texts), ("max_chars", max_chars), ("max_body_bytes", max_body_bytes),
                        ("max_batch", max_batch)):
        positive_int(value, name)
    if not isinstance(batch_wait_ms, (int, float)) or not 0 <= batch_wait_ms <= 10_000:
        raise ValueError(f"batch_wait_ms must be between 0 and 10000, got {batch_wait_ms!r}")
    PredictRequest, PredictResponse, ExplainRequest, ExplainResponse, ErrorResponse = _models()
    batcher = MicroBatcher(predictor.predict_proba, max_batch=max_batch, wait_ms=float(batch_wait_ms))
    limits = {"max_texts": max_texts, "max_chars": max_chars, "max_body_bytes": max_body_bytes,
              "max_batch": max_batch, "batch_wait_ms": float(batch_wait_ms),
              "max_explain_samples": MAX_EXPLAIN_SAMPLES, "max_explain_features": MAX_EXPLAIN_FEATURES}
    manifest = info or getattr(predictor, "manifest_", None) or {}
    model = getattr(predictor, "model", None)  # an exported predictor has none (its manifest says)
    preproc = getattr(predictor, "preproc", None)
    about = {
        "classes": predictor.get_classes(), "label_mode": predictor.mode, "threshold": predictor.threshold,
        "engine": getattr(predictor, "format", None) or "tensorflow",
        "model_type": manifest.get("model_type", getattr(getattr(model, "config", None), "model_type", None)),
        "model_name": manifest.get("model_name", str(getattr(preproc, "model_name", ""))),
        "architecture": manifest.get("architecture", type(model).__name__),
        "maxlen": int(manifest.get("maxlen", getattr(preproc, "maxlen", 0))),
        "created": manifest.get("created"),
        "versions": manifest.get("versions"),  # what the predictor was saved with
        "serving_versions": _versions(predictor),
        "files": manifest.get("files", {}),  # sha256 of each saved file
        "limits": limits,
    }

    @contextlib.asynccontextmanager
    async def lifespan(app):
        # Traces the model's graph before the first request, so /health means "ready to answer fast".
        await batcher.run(predictor.predict_proba, ["warm up"])
        yield
        await batcher.aclose()

    app = fastapi.FastAPI(title="tfclf", version=about["serving_versions"].get("tfclf", ""), lifespan=lifespan,
                          description="Text classification with a fine-tuned transformer (tfclf). "
                                      "Errors are JSON objects {\"error\": \"...\"}.")
    app.state.batcher, app.state.predictor = batcher, predictor
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)
    errors = {code: {"model": ErrorResponse} for code in (400, 413, 415, 422)}

    def error(status: int, message: str):
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request, exc: RequestValidationError):
        problems = exc.errors()
        if problems and problems[0]["type"] == "json_invalid":
            ctx = problems[0].get("ctx", {})
            return error(400, f"malformed JSON at position {problems[0]['loc'][-1]}: {ctx.get('error', '')}")
        content_type = request.headers.get("content-type", "")
        first = problems[0] if problems else {}
        if first.get("loc") == ("body",) and first.get("type") != "missing" and "json" not in content_type:
            return error(415, f"send a JSON object with Content-Type: application/json (got {content_type!r})")
        return error(422, "; ".join(f"{_loc(p['loc'])}: {p['msg']}" for p in problems))

    @app.exception_handler(HTTPException)
    async def on_http_error(request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_crash(request, exc: Exception):
        return error(500, f"internal server error ({type(exc).__name__}); see the server log")

    def check_length(text: str, name: str) -> None:
        if len(text) > max_chars:
            raise HTTPException(413, f"{name} has {len(text)} characters; the limit is {max_chars}")

    @app.post("/predict", response_model=PredictResponse, response_model_exclude_none=True, responses=errors,
              summary="Classify texts")
    async def predict(body: PredictRequest):
        if len(body.texts) > max_texts:
            raise HTTPException(413, f"{len(body.texts)} texts in one request; the limit is {max_texts} "
                                     "(split the request)")
        for i, text in enumerate(body.texts):
            check_length(text, f"texts[{i}]")
        probs = await batcher.submit(body.texts)
        try:
            labels = predictor.decode(probs, min_confidence=body.min_confidence)
        except ValueError as err:  # min_confidence on a regression model
            raise HTTPException(422, str(err)) from err
        out = {"labels": labels,
               "classes": about["classes"]}
        if body.return_proba:
            out["probabilities"] = probs.tolist()
        return out

    @app.post("/explain", response_model=ExplainResponse, responses=errors, summary="Explain one prediction (LIME)")
    async def explain(body: ExplainRequest):
        check_length(body.text, "text")
        if not body.text.strip():
            raise HTTPException(422, "text: must contain at least one word")
        try:
            how = ({"method": "gradients", "steps": body.steps} if body.method == "gradients"
                   else {"num_samples": body.num_samples})
            exp = await batcher.run(predictor.explain, body.text, num_features=body.num_features,
                                    class_name=body.class_name, **how)
        except ValueError as err:  # e.g. an unknown class_name, or a regression model
            raise HTTPException(422, str(err)) from err
        out = exp.as_dict()
        out["score"] = out["score"] if out["score"] == out["score"] else None  # NaN is not JSON
        return {**out, "text": exp.text, "html": exp.to_html()}

    @app.get("/health", summary="Liveness: the server answers")
    async def health():
        return {"status": "ok"}

    @app.get("/info", summary="The model, its classes, versions, file checksums and the server's limits")
    async def get_info():
        return {**about, "stats": batcher.stats()}

    @app.get("/stats", summary="Micro-batching counters: requests, texts and model calls (batches)")
    async def stats():
        # pid: with several worker processes, which one answered (each has its own counters).
        return {**batcher.stats(), "pid": os.getpid()}

    return app


def make_server(folder: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000, *, max_texts: int = 64,
                max_chars: int = 100_000, max_body_bytes: int = 2_000_000, batch_wait_ms: float = 5.0,
                max_batch: int = 64, log_level: str = "info", graceful_timeout_s: float = 5.0) -> "uvicorn.Server":
    """A uvicorn server (not yet running) for the predictor saved in `folder`; see `serve`."""
    uvicorn = _require("uvicorn")
    from tfclf.loading import load_predictor

    predictor = load_predictor(folder)  # verifies every file's checksum
    app = create_app(predictor, max_texts=max_texts, max_chars=max_chars, max_body_bytes=max_body_bytes,
                     batch_wait_ms=batch_wait_ms, max_batch=max_batch)
    # lifespan="on": a model that fails its warm-up stops the server instead of serving errors.
    # SIGTERM/SIGINT: uvicorn stops accepting, lets in-flight requests finish (up to the timeout).
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                            timeout_graceful_shutdown=graceful_timeout_s)
    return uvicorn.Server(config)


ENV_PREDICTOR = "TFCLF_SERVE_PREDICTOR"
ENV_OPTIONS = "TFCLF_SERVE_OPTIONS"


def app_from_env() -> "fastapi.FastAPI":
    """The app for the predictor named by ``$TFCLF_SERVE_PREDICTOR``: a factory for process managers.

    Each worker process calls it once, so each loads the predictor once. `serve(workers=N)` uses
    it through uvicorn; behind gunicorn::

        TFCLF_SERVE_PREDICTOR=saved_predictors/news gunicorn -w 4 -k uvicorn.workers.UvicornWorker \
            "tfclf.serve:app_from_env()"

    ``$TFCLF_SERVE_OPTIONS`` (JSON) may hold `create_app`'s limits and ``"threads"``, the
    TensorFlow threads per worker (default: the CPU cores divided by ``"workers"``, so that the
    workers together do not oversubscribe the cores).
    """
    import json

    from tfclf.loading import load_predictor

    folder = os.environ.get(ENV_PREDICTOR)
    if not folder:
        raise RuntimeError(f"set ${ENV_PREDICTOR} to the saved predictor's folder")
    options = json.loads(os.environ.get(ENV_OPTIONS) or "{}")
    workers = int(options.pop("workers", 1))
    threads = options.pop("threads", None) or max(1, (os.cpu_count() or 1) // max(workers, 1))
    from tfclf.manifest import export_fields, read_manifest

    if export_fields(read_manifest(folder, verify=False)) is None:
        from tfclf._compat import tf

        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    predictor = load_predictor(folder, threads=int(threads))
    return create_app(predictor, **options)


def serve(folder: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000, max_texts: int = 64,
          max_chars: int = 100_000, batch_wait_ms: float = 5.0, max_batch: int = 64, log_level: str = "info",
          *, max_body_bytes: int = 2_000_000, workers: int = 1, threads_per_worker: int | None = None) -> None:
    """Serves the predictor saved in `folder` over HTTP until SIGTERM or Ctrl-C.

    With ``workers > 1`` uvicorn starts that many processes on one listening socket; each loads
    the predictor once and runs its own micro-batcher, and the operating system spreads the
    connections over them. Put any HTTP load balancer in front of several such servers to go
    beyond one machine.

    Args:
        folder: a folder written by `Predictor.save`.
        host: the interface to listen on (the default, loopback, is reachable from this machine only).
        port: the TCP port.
        max_texts: texts per /predict request.
        max_chars: characters per text.
        batch_wait_ms: how long a batch waits for more concurrent requests.
        max_batch: texts per model call.
        log_level: uvicorn's log level.
        max_body_bytes: request body size.
        workers: server processes.
        threads_per_worker: TensorFlow threads per process (default: cores / workers).

    Example:
        >>> tfclf.serve.serve("saved_predictors/news", port=8000, workers=2)  # doctest: +SKIP
    """
    workers = positive_int(workers, "workers")
    if workers > 1 or threads_per_worker:
        import json

        from tfclf.manifest import read_manifest

        uvicorn = _require("uvicorn")
        _require("fastapi")
        read_manifest(folder)  # fail here, once, on a missing or altered predictor
        os.environ[ENV_PREDICTOR] = str(Path(folder).expanduser().resolve())
        os.environ[ENV_OPTIONS] = json.dumps({
            "max_texts": max_texts, "max_chars": max_chars, "max_body_bytes": max_body_bytes,
            "batch_wait_ms": batch_wait_ms, "max_batch": max_batch, "workers": workers,
            "threads": threads_per_worker})
        uvicorn.run("tfclf.serve:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, lifespan="on", timeout_graceful_shutdown=5)
        return
    make_server(folder, host, port, max_texts=max_texts, max_chars=max_chars, max_body_bytes=max_body_bytes,
                batch_wait_ms=batch_wait_ms, max_batch=max_batch, log_level=log_level).run()
