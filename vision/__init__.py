"""Footage and photo input, frame selection, the YOLO detector adapter, pixel-to-ground
placement, de-duplication, privacy redaction, dataset import, training and reports.

Imports only :mod:`mission` of skyledger's packages. Heavy libraries (OpenCV, ONNX Runtime,
torch and Ultralytics) are imported inside the functions that need them."""

from vision.errors import VisionError

__all__ = ["VisionError"]
