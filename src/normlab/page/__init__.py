"""What a chapter cell puts on a page: the demos' runtime.

- :mod:`.widgets`: the one import path of the demos' runtime (``precomputed_demo``,
  ``Control``, ``Picture``, ...), re-exported from the modules that hold one idea each:
  :mod:`.images` (figure size, the PNG encoder, alt text), :mod:`.views` (a render's result
  encoded once), :mod:`.cache` (the on-disk view cache), :mod:`.controls` and :mod:`.demo`
  (the builder: ``live_demo`` and ``static_demo``);
- :mod:`.display`: the one HTML table of chapter cells and demos.

It sits below :mod:`normlab.demos` (which draws with it) and imports no other part of
normlab; the book's build tools (:mod:`normlab.book`) use it in turn.
"""
