"""Read queries, one module per consumer area (``web_pages`` for the dashboard's pages, ...).

Convention: functions take a ``Session`` (or ``Engine``) and plain arguments and return frozen
dataclasses; no ORM object leaves storage.
"""
