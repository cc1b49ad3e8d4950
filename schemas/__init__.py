"""The wire contract of arena-ledger: pydantic v2 models, codecs and exported JSON Schema.

``money`` (integer minor units), ``fields`` (ids and technical fields), ``genome``, ``policies``,
``commands`` (+ ``parse_command``), ``events`` (+ hash chain and codec), ``upcasting``,
``rejections`` (reason codes and error kinds), ``alerts`` and ``export`` (``python -m schemas.export``).
"""
