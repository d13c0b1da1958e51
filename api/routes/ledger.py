"""The public transparency log: its signed checkpoints, its entries and their proofs.

Everyone may read these, without an account, and check them offline with the standalone
verifier (``/verify.py``, :mod:`compliance.ledger.verify`). Hashes, signatures and the raw
Ed25519 public key are lowercase hex; checkpoint timestamps are milliseconds since the Unix
epoch. An answer that can never change (an entry, a proof for a given size, a full page of
entries) says so (``Cache-Control: public, max-age=31536000, immutable``); the latest
checkpoint is kept 2 s. Errors are one line: 404 for an entry past the log's end, 422 for a
negative index, 400 for sizes the log does not have. The store: :class:`api.ledger.LedgerStore`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel

from api.routes.common import MAX_OFFSET

__all__ = [
    "CHECKPOINT_CACHE",
    "IMMUTABLE",
    "MAX_ENTRIES",
    "CheckpointPublic",
    "ConsistencyProof",
    "EntryPage",
    "EntryPublic",
    "InclusionProof",
    "router",
]

router = APIRouter(tags=["ledger"])

#: The Cache-Control of an answer that can never change.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The Cache-Control of the latest checkpoint.
CHECKPOINT_CACHE = "public, max-age=2"
#: The most entries one page answers.
MAX_ENTRIES = 1000
#: The largest index or size a request may name (JavaScript's largest safe integer).
MAX_INDEX = 2**53 - 1

Index = Annotated[int, Query(ge=0, le=MAX_INDEX)]


class CheckpointPublic(BaseModel):
    """A signed tree head: Ed25519 over the canonical JSON of ``{root_hash, timestamp,
    tree_size}``."""

    tree_size: int
    root_hash: str
    timestamp: int
    signature: str
    public_key: str


class NumberedCheckpoint(CheckpointPublic):
    """A checkpoint with its number (1 for the first the log signed)."""

    number: int


class CheckpointPage(BaseModel):
    """A page of the signed checkpoints, oldest first."""

    items: list[NumberedCheckpoint]
    total: int
    limit: int
    offset: int


class EntryPublic(BaseModel):
    """One entry: ``entry`` is the object whose canonical JSON is the leaf's bytes."""

    index: int
    entry: dict[str, Any]
    leaf_hash: str


class EntryPage(BaseModel):
    """Entries from ``start`` on (at most ``limit``) and the log's size."""

    items: list[EntryPublic]
    start: int
    limit: int
    tree_size: int


class InclusionProof(BaseModel):
    """The audit path of entry ``index`` in the tree of ``tree_size`` entries (RFC 9162
    §2.1.3), leaf to root."""

    index: int
    tree_size: int
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    """The proof that the tree of ``second`` entries extends the one of ``first`` (RFC 9162
    §2.1.4)."""

    first: int
    second: int
    proof: list[str]


def _store(request: Request) -> Any:
    return request.app.state.ledger


def _cache(response: Response, value: str) -> None:
    response.headers["Cache-Control"] = value


@router.get(
    "/public/ledger/checkpoint",
    response_model=CheckpointPublic,
    summary="The latest signed checkpoint of the transparency log",
)
def get_checkpoint(request: Request, response: Response) -> CheckpointPublic:
    latest = _store(request).latest_checkpoint()
    if latest is None:  # the service signs one when it starts: only a store never flushed
        raise HTTPException(503, "the transparency log has no signed checkpoint yet")
    _cache(response, CHECKPOINT_CACHE)
    return CheckpointPublic(**latest[1].to_json())


@router.get(
    "/public/ledger/checkpoints",
    response_model=CheckpointPage,
    summary="Every signed checkpoint, oldest first",
)
def list_checkpoints(
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CheckpointPage:
    total, found = _store(request).checkpoints(offset, limit)
    _cache(response, CHECKPOINT_CACHE)
    items = [NumberedCheckpoint(number=n, **cp.to_json()) for n, cp in found]
    return CheckpointPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/public/ledger/entries",
    response_model=EntryPage,
    summary="A page of entries from index start (at most 1000), to download the whole log",
)
def list_entries(
    request: Request,
    response: Response,
    start: Index = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = MAX_ENTRIES,
) -> EntryPage:
    store = _store(request)
    size = store.size()
    found = store.entries(start, limit)
    _cache(response, IMMUTABLE if len(found) == limit else CHECKPOINT_CACHE)
    items = [EntryPublic(index=i, entry=entry, leaf_hash=leaf) for i, entry, leaf in found]
    return EntryPage(items=items, start=start, limit=limit, tree_size=size)


@router.get(
    "/public/ledger/entries/{index}",
    response_model=EntryPublic,
    summary="One entry of the log and its leaf hash",
)
def get_entry(
    index: Annotated[int, Path(ge=0, le=MAX_INDEX, description="the entry's index (0 or more)")],
    request: Request,
    response: Response,
) -> EntryPublic:
    store = _store(request)
    found = store.entry(index)
    if found is None:
        raise HTTPException(
            404, f"ledger entry {index} does not exist (the log has {store.size()} entries)"
        )
    _cache(response, IMMUTABLE)
    return EntryPublic(index=index, entry=found[0], leaf_hash=found[1])


@router.get(
    "/public/ledger/proof/inclusion",
    response_model=InclusionProof,
    summary="The inclusion proof of an entry in the tree of a given size",
)
def get_inclusion_proof(
    request: Request, response: Response, index: Index, tree_size: Index
) -> InclusionProof:
    path = _store(request).inclusion_proof(index, tree_size)
    _cache(response, IMMUTABLE)
    return InclusionProof(index=index, tree_size=tree_size, audit_path=path)


@router.get(
    "/public/ledger/proof/consistency",
    response_model=ConsistencyProof,
    summary="The consistency proof between two sizes of the log",
)
def get_consistency_proof(
    request: Request, response: Response, first: Index, second: Index
) -> ConsistencyProof:
    proof = _store(request).consistency_proof(first, second)
    _cache(response, IMMUTABLE)
    return ConsistencyProof(first=first, second=second, proof=proof)
