"""The neural core: shapes, norms, attention, feed-forward, blocks, stack, trace, describe.

Torch only: nothing here imports the rest of normlab (the lab, quizzes, demos or the
book's tooling). Learners import these names from the top level,
``from normlab import PreNormBlock, make_norm``.
"""
