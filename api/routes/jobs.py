"""Routes: jobs (being written for issue 6)."""

from fastapi import APIRouter

router = APIRouter()
