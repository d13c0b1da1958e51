"""Placeholder: filled in by issue 7."""

from fastapi import APIRouter

router = APIRouter()
