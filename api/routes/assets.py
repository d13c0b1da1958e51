"""Routes: assets (being written for issue 6)."""

from fastapi import APIRouter

router = APIRouter()
