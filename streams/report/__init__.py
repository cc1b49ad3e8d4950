"""The main job's run report: a pure function of the decoded events and a few run facts (build.py),
rendered as self-contained HTML with SVG plots (html.py, svg.py) and written to disk (write.py).

May import: `streams.domain`, `schemas`. Never Kafka or Faust.
"""
