"""trainplan: capacity planning for distributed training of large language models."""

from trainplan.schema.inputs import InputError
from trainplan.schema.table import evaluate

__all__ = ["InputError", "evaluate"]
__version__ = "0.1.0"
