"""What the book computes and measures with the neural core (``normlab.nn``).

Probes (``analysis``), the chapters' experiments and their settings (``experiments``,
``deepstacks``, ``training``, ``schedules``, ``lm``, ``logits``, ``llmnorms``, ``batchnorm``), cost formulas
(``costs``) and the debugging case studies (``casestudies``). This layer imports
``normlab.nn`` and never the quizzes, demos, checks or the book's tooling
(the normlab-layers contract in pyproject.toml). Import a module by name, e.g.
``from normlab.studies import experiments``; importing this package loads none of them.
"""
