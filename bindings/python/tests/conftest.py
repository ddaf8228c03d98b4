"""Shared fixtures: the repository's testdata (images and vectors)."""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
TESTDATA = ROOT / "testdata"
VECTORS = TESTDATA / "vectors"


def vectors(name):
    return json.loads((VECTORS / name).read_text())


def image(name):
    return (TESTDATA / name).read_bytes()


@pytest.fixture(scope="session")
def gopher():
    return image("gopher.png")


@pytest.fixture(scope="session")
def demo1():
    return image("demo1.jpg")
