"""The one place that imports TensorFlow, tf-keras and transformers, and checks their versions.

TensorFlow's shared libraries log a few lines (oneDNN, "Could not find cuda drivers") while it is
imported, before its logging is set up, so they ignore ``TF_CPP_MIN_LOG_LEVEL``. The import
therefore runs with file descriptor 2 sent to a temporary file; right after it, stderr is restored
and what was written is replayed, less the lines that ``TF_CPP_MIN_LOG_LEVEL`` says to hide (by
their ``I``/``W``/``E`` severity letter). Everything else, and everything if the import fails, is
replayed; with ``TF_CPP_MIN_LOG_LEVEL=0`` stderr is not touched at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# A line of TensorFlow's C++ (absl/glog) log: "I0000 00:00:1796249401.203575    5889 port.cc:153] ...".
_NATIVE_LOG_LINE = re.compile(r"([IWEF])\d{4} \d+:\d+:\d+\.\d+\s+\d+ [^\s\]]+:\d+\] ")
_ABSL_PRE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _hidden(line: str, level: int) -> bool:
    """Whether TensorFlow would hide this start-up line at `level` (fatal lines are never hidden)."""
    if line.rstrip("\r\n") == _ABSL_PRE_INIT:
        return level >= 1
    match = _NATIVE_LOG_LINE.match(line)
    return bool(match) and _SEVERITY[match.group(1)] < min(level, 3)


@contextlib.contextmanager
def _native_start_up_logs_filtered() -> Iterator[None]:
    """Applies ``TF_CPP_MIN_LOG_LEVEL`` to what the block writes to file descriptor 2 (see above)."""
    level = _min_log_level()
    saved = None
    if level > 0:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
        with contextlib.suppress(OSError):  # no usable fd 2 (closed, embedded interpreter)
            saved = os.dup(2)
    if saved is None:
        yield
        return
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 2)
    failed = True
    try:
        yield
        failed = False
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        lines = capture.read().decode("utf-8", "replace").splitlines(keepends=True)
        capture.close()
        kept = "".join(line for line in lines if failed or not _hidden(line, level))
        data = kept.encode("utf-8", "replace")
        while data:
            data = data[os.write(2, data):]


import numpy as np  # noqa: E402

with _native_start_up_logs_filtered():
    import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

# transformers warns on every TF class use that TF is deprecated in v5: we pin <5 on purpose.
warnings.filterwarnings("ignore", message=".*TensorFlow and JAX classes are deprecated.*")
import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
logging.getLogger("tensorflow").setLevel(logging.ERROR)

if not tf.keras.__name__.startswith("tf_keras"):  # pragma: no cover - depends on import order
    raise ImportError(
        "TensorFlow was imported before tfclf with Keras 3. Import tfclf first, or set "
        "TF_USE_LEGACY_KERAS=1 before importing TensorFlow."
    )

_tf_major_minor = tuple(int(p) for p in tf.__version__.split(".")[:2])
if _tf_major_minor < (2, 16):  # pragma: no cover
    raise ImportError(f"tfclf needs tensorflow>=2.16 with tf-keras; found {tf.__version__}")
if int(transformers.__version__.split(".")[0]) >= 5:  # pragma: no cover
    raise ImportError(
        f"transformers {transformers.__version__} has no TensorFlow models; install 'transformers<5'"
    )


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow so that training on CPU is repeatable.

    Args:
        seed: any non-negative integer.

    Example:
        >>> import tfclf
        >>> tfclf.set_seed(42)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    tf.random.set_seed(int(seed))
    keras.utils.set_random_seed(int(seed))


def versions() -> dict[str, str]:
    """The versions that matter when reporting a problem or reloading a saved predictor."""
    import platform

    import sklearn

    from tfclf import __version__

    return {
        "tfclf": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


__all__ = ["tf", "keras", "transformers", "np", "set_seed", "versions"]
