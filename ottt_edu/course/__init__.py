"""The course's own tooling, imported by path from the notebooks / 课程工具。

``exercises`` (the checkers of notebooks 01-06, one module per notebook), ``playground`` (the
guided tasks of notebook 11; the exercises' reference answers live with the tests, in
``tests/course/reference_answers.py``),
``explore`` and ``widgets`` (the interactive explorers: pure compute, then thin widgets),
``language`` (the checkers' language) and ``environment`` (is this the pinned environment?).
Nothing in the library (``layer``, ``neuron``, ``functional``) or ``train`` imports this package.
"""
