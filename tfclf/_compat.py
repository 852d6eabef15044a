"""The one place that imports TensorFlow, tf-keras and transformers, and checks their versions."""

from __future__ import annotations

import logging
import os
import random
import warnings

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
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
