"""The HTTP service: a real uvicorn server on a loopback port, spoken to over HTTP with httpx.

Covers every endpoint, every class of bad input (and that the server keeps serving after each),
the OpenAPI document, micro-batching under concurrent requests, and graceful shutdown with a
request in flight.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

import helpers  # noqa: E402

import tfclf  # noqa: E402
from tfclf import serve  # noqa: E402
from tfclf.manifest import read_manifest  # noqa: E402

LIMITS = dict(max_texts=8, max_chars=2_000, max_body_bytes=200_000)
BATCH_WAIT_MS = 150  # long enough that a burst of concurrent requests shares model calls, on a busy machine too


def _bound_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port, handed to uvicorn (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Running:
    """A uvicorn.Server running in a background thread."""

    def __init__(self, server):
        self.server = server
        self.sock = _bound_socket()
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> None:
        self.server.should_exit = True  # what uvicorn's SIGTERM handler does
        self.thread.join(timeout)


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, trust_env=False)  # trust_env: never a proxy


@pytest.fixture(scope="module")
def predictor(trained):
    return tfclf.get_predictor(trained.learner.model, trained.t, batch_size=16)


@pytest.fixture(scope="module")
def saved(predictor, tmp_path_factory):
    return predictor.save(tmp_path_factory.mktemp("serve") / "p")


@pytest.fixture(scope="module")
def live(saved):
    """The server `tfclf serve` runs: loaded from the saved folder by `make_server`."""
    running = Running(serve.make_server(saved, **LIMITS, batch_wait_ms=BATCH_WAIT_MS, log_level="warning"))
    yield running
    running.stop()
    assert not running.thread.is_alive(), "the server did not stop"


@pytest.fixture(scope="module")
def http(live):
    with _client(live.url) as client:
        yield client


def _alive(http) -> None:
    r = http.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


# --------------------------------------------------------------------------- endpoints


def test_health(http):
    _alive(http)


def test_predict_gives_the_predictors_labels(http, predictor):
    texts = ["the movie was good and i love it", "awful plot , i hate this film", ""]
    r = http.post("/predict", json={"texts": texts})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {"labels": predictor.predict(texts), "classes": ["neg", "pos"]}  # no probabilities asked
    assert body["labels"][:2] == ["pos", "neg"]


def test_predict_with_probabilities(http, predictor):
    texts = ["great wonderful", "terrible boring"]
    body = http.post("/predict", json={"texts": texts, "return_proba": True}).json()
    probs = body["probabilities"]
    assert len(probs) == 2 and all(len(row) == 2 for row in probs)
    assert all(abs(sum(row) - 1) < 1e-5 for row in probs)
    assert [body["classes"][max(range(2), key=row.__getitem__)] for row in probs] == body["labels"]
    np.testing.assert_allclose(probs, predictor.predict_proba(texts), atol=1e-5)


def test_explain(http):
    r = http.post("/explain", json={"text": "the plot was good and i love it", "num_features": 4, "num_samples": 60})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"class_name", "probability", "predicted", "weights", "score", "num_samples", "html", "text"} <= set(body)
    assert body["predicted"] == "pos" and body["class_name"] == "pos" and body["num_samples"] == 60
    assert 1 <= len(body["weights"]) <= 4 and all(isinstance(w, str) for w, _ in body["weights"])
    assert "tfclf-explanation" in body["html"]


def test_info_describes_the_saved_predictor(http, saved):
    info = http.get("/info").json()
    manifest = read_manifest(saved, verify=False)
    assert info["classes"] == ["neg", "pos"] and info["label_mode"] == manifest["labels"]["mode"]
    assert info["model_type"] == "distilbert" and info["maxlen"] == 32
    assert info["files"] == manifest["files"] and "tf_model.h5" in info["files"]
    assert info["versions"] == manifest["versions"] and "fastapi" in info["serving_versions"]
    assert info["limits"]["max_texts"] == LIMITS["max_texts"] and "batches" in info["stats"]


def test_openapi_documents_the_endpoints(http):
    doc = http.get("/openapi.json").json()
    assert {"/predict", "/explain", "/health", "/info", "/stats"} <= set(doc["paths"])
    predict = doc["paths"]["/predict"]["post"]
    assert {"200", "413", "422"} <= set(predict["responses"])
    schemas = doc["components"]["schemas"]
    assert {"texts", "return_proba"} <= set(schemas["PredictRequest"]["properties"])
    assert schemas["ExplainRequest"]["properties"]["num_samples"]["maximum"] == serve.MAX_EXPLAIN_SAMPLES


# --------------------------------------------------------------------------- bad input

BAD_PREDICT = {
    # name: (request kwargs, status, words the error must contain)
    "malformed JSON": (dict(content=b'{"texts": ["a",', headers={"content-type": "application/json"}), 400,
                       "malformed JSON"),
    "not JSON at all": (dict(content=b"texts=a", headers={"content-type": "text/plain"}), 415, "application/json"),
    "no body": (dict(headers={"content-type": "application/json"}), 422, "body"),
    "texts not a list": (dict(json={"texts": "one text"}), 422, "texts"),
    "texts missing": (dict(json={"text": ["a"]}), 422, "texts: Field required"),
    "a non-string text": (dict(json={"texts": ["fine", 3]}), 422, "texts[1]"),
    "a null text": (dict(json={"texts": [None]}), 422, "texts[0]"),
    "empty texts": (dict(json={"texts": []}), 422, "texts"),
    "return_proba not a bool": (dict(json={"texts": ["a"], "return_proba": "yes"}), 422, "return_proba"),
    "body not an object": (dict(json=["a", "b"]), 422, "body"),
    "too many texts": (dict(json={"texts": ["a"] * 9}), 413, "limit is 8"),
    "a text too long": (dict(json={"texts": ["ok", "x" * 2_001]}), 413, "texts[1] has 2001 characters"),
    "body too large": (dict(json={"texts": ["word " * 50_000]}), 413, "200000"),
}


@pytest.mark.parametrize("case", list(BAD_PREDICT))
def test_bad_predict_requests_get_a_json_error(http, case):
    kwargs, status, words = BAD_PREDICT[case]
    r = http.post("/predict", **kwargs)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    _alive(http)


BAD_EXPLAIN = {
    "whitespace text": ({"text": "  \n "}, 422, "at least one word"),
    "empty text": ({"text": ""}, 422, "text"),
    "too many samples": ({"text": "good", "num_samples": 10**6}, 422, "num_samples"),
    "no features": ({"text": "good", "num_features": 0}, 422, "num_features"),
    "num_features as a string": ({"text": "good", "num_features": "5"}, 422, "num_features"),
    "unknown class": ({"text": "good", "num_samples": 10, "class_name": "meh"}, 422, "'meh'"),
    "text too long": ({"text": "good " * 500}, 413, "limit is 2000"),
}


@pytest.mark.parametrize("case", list(BAD_EXPLAIN))
def test_bad_explain_requests_get_a_json_error(http, case):
    body, status, words = BAD_EXPLAIN[case]
    r = http.post("/explain", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    _alive(http)


def test_unknown_paths_and_methods_get_json_errors(http):
    r = http.get("/nope")
    assert r.status_code == 404 and "error" in r.json()
    r = http.get("/predict")
    assert r.status_code == 405 and "error" in r.json()
    _alive(http)


def _raw_request(url: str, head: bytes, body: bytes = b"") -> tuple[int, dict]:
    """Sends bytes httpx would not (a lying Content-Length); returns the status and JSON body."""
    host, port = url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1])


def _length(response: bytes) -> int:
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def test_a_declared_body_over_the_limit_is_refused_unread(live, http):
    head = (b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n")
    status, body = _raw_request(live.url, head, b'{"texts": ["a"]}')
    assert status == 413 and "50000000 bytes" in body["error"]
    _alive(http)


def test_a_chunked_body_over_the_limit_is_refused(http):
    def chunks():  # no Content-Length: only the bytes that arrive tell the size
        yield b'{"texts": ["'
        for _ in range(3):
            yield b"a" * 90_000
        yield b'"]}'

    r = http.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit of 200000 bytes" in r.json()["error"]
    _alive(http)


# --------------------------------------------------------------------------- micro-batching


def test_concurrent_requests_share_model_calls(live, predictor):
    n = 32
    texts, _ = helpers.toy_sentiment(2 * n, seed=11)
    bodies = [{"texts": texts[2 * i:2 * i + 2]} for i in range(n)]  # 2 texts per request
    expected = predictor.predict(texts)

    async def burst():
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(base_url=live.url, timeout=60, trust_env=False, limits=limits) as client:
            # open the n connections first, so that the burst is n requests, not n TCP handshakes
            # spread over a busy machine's scheduler
            await asyncio.gather(*(client.get("/health") for _ in range(n)))
            start = (await client.get("/stats")).json()
            responses = await asyncio.gather(*(client.post("/predict", json=b) for b in bodies))
            end = (await client.get("/stats")).json()
        return start, responses, end

    start, responses, end = asyncio.run(burst())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    labels = [label for r in responses for label in r.json()["labels"]]
    assert labels == expected  # each request got its own texts' labels back, in order
    requests, batches = end["requests"] - start["requests"], end["batches"] - start["batches"]
    print(f"\nmicro-batching: {requests} requests, {end['texts'] - start['texts']} texts, {batches} model calls, "
          f"largest batch {end['largest_batch']} texts")
    assert requests == n
    assert 1 <= batches <= n // 4, f"{batches} model calls for {n} concurrent requests"


# --------------------------------------------------------------------------- shutdown


class SlowPredictor:
    """The real predictor, but each model call takes at least 0.5 s: a request stays in flight."""

    def __init__(self, predictor):
        self._predictor = predictor
        self.calls = 0
        self.in_model = threading.Event()

    def __getattr__(self, name):
        return getattr(self._predictor, name)

    def predict_proba(self, texts):
        self.calls += 1
        if self.calls > 1:  # the first call is the server's warm-up
            self.in_model.set()
        time.sleep(0.5)
        return self._predictor.predict_proba(texts)


def test_shutdown_lets_the_request_in_flight_finish(predictor):
    import uvicorn

    slow = SlowPredictor(predictor)
    app = serve.create_app(slow, batch_wait_ms=1)
    running = Running(uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                                    timeout_graceful_shutdown=10)))
    result = {}

    def request():
        with _client(running.url) as client:
            result["response"] = client.post("/predict", json={"texts": ["good great love"]})

    sender = threading.Thread(target=request)
    sender.start()
    try:
        assert slow.in_model.wait(30), "the request never reached the model"
        running.stop()  # while the model is still working on the request
    finally:
        sender.join(30)
    assert not running.thread.is_alive(), "the server did not stop"
    r = result["response"]
    assert r.status_code == 200 and r.json()["labels"] == ["pos"]
    with pytest.raises(httpx.ConnectError):  # and it no longer accepts connections
        with _client(running.url) as client:
            client.get("/health", timeout=2)


def test_serve_in_its_own_process_stops_cleanly_on_sigterm(saved):
    with socket.socket() as s:  # a free port (the child binds it itself, as `tfclf serve` does)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"from tfclf.serve import serve; serve({str(saved)!r}, port={port}, log_level='warning')"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        with _client(f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.stderr.read()[-2000:]
                assert time.monotonic() < deadline, "the server did not become healthy"
                try:
                    if client.get("/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert client.post("/predict", json={"texts": ["bad awful"]}).json()["labels"] == ["neg"]
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: the exit status says "SIGTERM".
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()


# --------------------------------------------------------------------------- packaging


def test_importing_serve_needs_neither_fastapi_nor_uvicorn():
    code = "import sys, tfclf.serve; assert not {'fastapi', 'uvicorn'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_missing_fastapi_says_what_to_install(monkeypatch, predictor):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ImportError
    with pytest.raises(ImportError, match=r'pip install "tfclf\[serve\]"'):
        serve.create_app(predictor)


def test_bad_limits_are_refused(predictor):
    with pytest.raises(ValueError, match="max_texts"):
        serve.create_app(predictor, max_texts=0)
    with pytest.raises(ValueError, match="batch_wait_ms"):
        serve.create_app(predictor, batch_wait_ms=-1)


def test_several_worker_processes_share_one_port(saved, tmp_path):
    # `tfclf serve --workers 2`: two processes, each with the predictor loaded once, on one port.
    import os

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TFCLF_PRECISION": "float32"}
    log = open(tmp_path / "server.log", "w")
    command = "from tfclf.cli import main; raise SystemExit(main())"
    proc = subprocess.Popen([sys.executable, "-c", command, "serve", str(saved), "--port", str(port), "--workers", "2"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        pids = set()
        while time.monotonic() < deadline and len(pids) < 2:
            try:
                # A new connection per request: the kernel spreads connections over the workers.
                with _client(url) as c:
                    r = c.post("/predict", json={"texts": ["good great love"]})
                    if r.status_code == 200:
                        assert r.json()["labels"] == ["pos"]
                        pids.add(c.get("/stats").json()["pid"])
            except httpx.TransportError:
                time.sleep(0.5)  # the workers are still loading
        assert len(pids) == 2, f"answers came from {len(pids)} process(es); log:\n{(tmp_path / 'server.log').read_text()[-3000:]}"
        assert proc.pid not in pids  # the parent only supervises
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
