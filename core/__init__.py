"""The shared vocabulary every other package may import (the bottom layer in DESIGN.md).

Nothing here imports from another jingshao package: text folding, time parsing and similar
plain functions that crawlers, nlp, alerts and reports must agree on.
"""
