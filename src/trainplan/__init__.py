"""trainplan: capacity planning for distributed training of large language models."""

from .evaluate import evaluate
from .inputs import InputError

__all__ = ["InputError", "evaluate"]
__version__ = "0.1.0"
