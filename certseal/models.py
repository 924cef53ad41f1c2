"""Imports every room's tables so that SQLModel.metadata is complete (Alembic, tests).
Keep this list in step with the rooms' table modules."""

from sqlmodel import SQLModel

import ca.audit_models
import ca.models
import ca.trust_models  # noqa: F401
import certs.models  # noqa: F401
import seal.models  # noqa: F401 - imported for their tables

metadata = SQLModel.metadata
