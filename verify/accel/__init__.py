"""The verifier's accelerator: the one seam through which certseal replaces functions of
pyHanko and asn1crypto, and only in processes that verify and nothing else (the
verification workers, ``certseal verify``, the bench's own side). Importing it changes
nothing; sealing never runs with it.

``install()`` refuses, with a warning in the log, unless pyHanko and asn1crypto are
exactly the audited versions and every function it replaces (and the one it imitates,
``read_object``) is still the library's own, by module, name and a SHA-256 of its source;
then the libraries run as shipped. ``uninstall()`` puts the originals back. What each
replacement does, and why its answers are the library's, is in ``pdf_readers.py`` and
``names.py``; tests/verify/test_accel_*.py compare them with the originals.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils import generic, misc

from verify.accel import names, pdf_readers
from verify.cache import Cache

log = logging.getLogger("verify.accel")

# What the replacements were written and tested against.
AUDITED_VERSIONS = {"pyHanko": "0.38.0", "asn1crypto": "1.5.1"}
_AUDITED_CONSTANTS = {"PDF_WHITESPACE": b" \n\r\t\f\x00", "PDF_DELIMITERS": b"()<>[]{}/%"}


@dataclass(frozen=True)
class Target:
    """One library attribute the accelerator replaces (or, with no ``build``, relies on)."""

    owner: Any  # the module or class holding it
    attribute: str
    kind: str  # "function", "staticmethod", "property" (its getter is replaced)
    module: str  # where the audited function is defined
    qualname: str
    source_sha256: str
    build: Callable[[Callable, Accelerator], Callable] | None = None

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"

    def current(self) -> Any:
        """The attribute as the owner holds it now (a staticmethod or property object)."""
        return self.owner.__dict__.get(self.attribute)

    def function_of(self, held: Any) -> Any:
        if self.kind == "staticmethod":
            return held.__func__ if isinstance(held, staticmethod) else None
        if self.kind == "property":
            return held.fget if isinstance(held, property) else None
        return held

    def wrap(self, function: Callable, original: Any) -> Any:
        if self.kind == "staticmethod":
            return staticmethod(function)
        if self.kind == "property":
            return property(function, doc=original.__doc__)
        return function


def _build_hex(original: Callable, _: Accelerator) -> Callable:
    return pdf_readers.hex_string_reader(original)


def _build_tokens(original: Callable, _: Accelerator) -> Callable:
    return pdf_readers.token_reader(original)


def _build_names(original: Callable, _: Accelerator) -> Callable:
    return pdf_readers.name_decoder(original)


def _build_arrays(original: Callable, _: Accelerator) -> Callable:
    return pdf_readers.array_reader(original)


def _build_name_eq(original: Callable, accelerator: Accelerator) -> Callable:
    return names.name_comparison(original, accelerator.name_answers)


def _build_name_key(original: Callable, accelerator: Accelerator) -> Callable:
    return names.name_key(original, accelerator.name_keys)


_GENERIC = "pyhanko.pdf_utils.generic"
TARGETS = (
    Target(generic, "read_hex_string_from_stream", "function", _GENERIC,
           "read_hex_string_from_stream",
           "2004d63b8e1ce3d9a894ab0912667f0f056ffb290b95c7615e59b36b883233e2", _build_hex),
    # generic's own name for misc.read_until_delimiter: what generic's readers call.
    Target(generic, "read_until_delimiter", "function", "pyhanko.pdf_utils.misc",
           "read_until_delimiter",
           "1c951935fdb8d4b72c7c15662aaddfdf8ea5f5f56296c8e8f7bec2603533fd5c", _build_tokens),
    Target(generic, "_decode_name", "function", _GENERIC, "_decode_name",
           "963405df0a1e5d065bee31c001a23282daaa69306db2be73f67ee1f9cf9c74a9", _build_names),
    Target(generic.ArrayObject, "read_from_stream", "staticmethod", _GENERIC,
           "ArrayObject.read_from_stream",
           "e2c6269bea88390bb10dfac37a78afad649a28db5c1260d098d485e7b1e0aebf", _build_arrays),
    Target(x509.Name, "__eq__", "function", "asn1crypto.x509", "Name.__eq__",
           "7b7709c4f15eba0bad0403a1e09ed99d7e6c76543fe0741be728a1a86cfb8c41",
           _build_name_eq),
    Target(x509.Name, "hashable", "property", "asn1crypto.x509", "Name.hashable",
           "5f59e0d1a65a619ebc4143c2e947fc52e5b28e98580e57c8982cdecf89d3b413",
           _build_name_key),
    # Not replaced: the array reader gives its numbers the container reference this
    # function gives every object it reads.
    Target(generic, "read_object", "function", _GENERIC, "read_object",
           "90577693a939543fe8a33d77c8a38f7861cf64883d62e68ac7b792f1c5aa5d8f"),
)


def source_sha256(function: Callable) -> str:
    return hashlib.sha256(inspect.getsource(function).encode("utf-8")).hexdigest()


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def audit() -> list[str]:
    """Why the accelerator may not be installed here ([] when it may)."""
    problems = []
    for distribution, wanted in AUDITED_VERSIONS.items():
        found = _version(distribution)
        if found != wanted:
            problems.append(f"{distribution} is {found}, audited {wanted}")
    for name, wanted in _AUDITED_CONSTANTS.items():
        if getattr(misc, name, None) != wanted:
            problems.append(f"pyhanko.pdf_utils.misc.{name} is not the audited value")
    for target in TARGETS:
        problem = _not_audited(target)
        if problem is not None:
            problems.append(problem)
    return problems


def _not_audited(target: Target) -> str | None:
    """Why the function in place is not the audited original (None when it is)."""
    function = target.function_of(target.current())
    if function is None or not callable(function):
        return f"{target.name} is missing or not a {target.kind}"
    where = (getattr(function, "__module__", None), getattr(function, "__qualname__", None))
    if where != (target.module, target.qualname):
        return f"{target.name} was replaced (by {where[0]}.{where[1]})"
    try:
        digest = source_sha256(function)
    except (OSError, TypeError):
        return f"{target.name}: source not readable"
    if digest != target.source_sha256:
        return f"{target.name}: source differs from the audited one"
    return None


class Accelerator:
    """One installation: the replacements put in place and the caches they answer from."""

    def __init__(self, targets: tuple[Target, ...]) -> None:
        self.targets = targets
        self.name_answers = Cache()  # (DER, DER) -> bool
        self.name_keys = Cache()  # DER -> Name.hashable
        self.replaced: list[tuple[Target, Any, Any]] = []  # target, original, replacement

    def put_in_place(self) -> None:
        for target in self.targets:
            if target.build is None:
                continue
            original = target.current()
            function = target.build(target.function_of(original), self)
            replacement = target.wrap(function, original)
            setattr(target.owner, target.attribute, replacement)
            self.replaced.append((target, original, replacement))

    def take_out(self) -> None:
        for target, original, replacement in reversed(self.replaced):
            if target.current() is replacement:
                setattr(target.owner, target.attribute, original)
            else:  # someone replaced ours: leave theirs, say so
                log.warning("verification accelerator: %s was replaced while installed; "
                            "left as found", target.name)
        self.replaced.clear()
        self.name_answers.clear()
        self.name_keys.clear()


_lock = threading.Lock()
_installed: Accelerator | None = None


def install(enabled: bool = True) -> bool:
    """Put the accelerator in place for this process (idempotent); whether it is. Only
    for processes that verify: never where anything is sealed."""
    global _installed
    with _lock:
        if _installed is not None:
            return True
        if not enabled:
            log.info("verification accelerator off (setting verify_accelerator, "
                     "CERTSEAL_VERIFY_ACCELERATOR): pyHanko and asn1crypto run as shipped")
            return False
        problems = audit()
        if problems:
            log.warning("verification accelerator refused: %s; pyHanko and asn1crypto run "
                        "as shipped", "; ".join(problems))
            return False
        accelerator = Accelerator(TARGETS)
        accelerator.put_in_place()
        _installed = accelerator
    log.info("verification accelerator installed: pyHanko %s, asn1crypto %s, %d functions",
             AUDITED_VERSIONS["pyHanko"], AUDITED_VERSIONS["asn1crypto"],
             len(accelerator.replaced))
    return True


def uninstall() -> None:
    """The libraries' own functions again (idempotent)."""
    global _installed
    with _lock:
        if _installed is None:
            return
        _installed.take_out()
        _installed = None


@contextlib.contextmanager
def accelerated(enabled: bool = True) -> Iterator[bool]:
    """The accelerator in place for the block when allowed (yields whether it is), and out
    again after it unless it was in place before."""
    already = _installed is not None
    on = install(enabled)
    try:
        yield on
    finally:
        if on and not already:
            uninstall()


def installed() -> Accelerator | None:
    return _installed


def shipped() -> bool:
    """Whether every function the accelerator replaces is the library's own right now."""
    return all(_not_audited(target) is None for target in TARGETS)
