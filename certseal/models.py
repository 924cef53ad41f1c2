"""Imports every room's tables so that SQLModel.metadata is complete (Alembic, tests)."""

from sqlmodel import SQLModel

# Each room registers its tables on import; keep this list in step with the rooms.
import_errors: list[str] = []
for _module in ("ca.models", "ca.trust_models", "ca.audit_models", "seal.models",
                "certs.models"):
    try:
        __import__(_module)
    except ModuleNotFoundError as exc:  # a room without tables yet
        if exc.name != _module:
            raise

metadata = SQLModel.metadata
