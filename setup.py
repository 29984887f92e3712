"""Package discovery for the `jingshao` package, whose root is this repository's root.

The design card asks for cli.py, scheduler.py, crawlers/, nlp/, storage/ ... at the top of the
repository. Mapping the root to the `jingshao` package keeps that layout without installing
generic top-level names such as `storage` or `cli` into site-packages; sub-packages are found
automatically so a new folder needs no edit here. Everything else lives in pyproject.toml.
"""

from setuptools import find_packages, setup

EXCLUDE = ["tests", "tests.*", "bench", "bench.*", "build", "build.*", "scripts", "scripts.*", "data", "data.*"]

setup(
    package_dir={"jingshao": "."},
    packages=["jingshao", *(f"jingshao.{p}" for p in find_packages(".", exclude=EXCLUDE))],
)
