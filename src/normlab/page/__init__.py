"""What a chapter cell puts on a page: the demos' runtime.

- :mod:`.widgets`: ``precomputed_demo`` and its ``Control``/``Picture`` (every variant
  pre-rendered on a static page, re-rendered live in JupyterLab), the PNG encoder and the
  on-disk view cache;
- :mod:`.display`: the one HTML table of chapter cells and demos.

It sits below :mod:`normlab.demos` (which draws with it) and imports no other part of
normlab; the book's build tools (:mod:`normlab.book`) use it in turn.
"""
