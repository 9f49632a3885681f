"""The classroom kit: the student edition and autograding, with nbgrader / 课堂工具。

``editions`` (the nbgrader course the notebooks are; ``build_student_edition``), ``grade``
(``grade`` a folder of submissions, ``write_csv``), and the command line
``python -m ottt_edu.classroom student|grade`` (``__main__``).
"""
from .editions import EDITIONS, ClassroomError, CourseConfig, build_student_edition, source_notebooks
from .grade import CellScore, Tampering, collect_submissions, find_tampering, grade, write_csv

__all__ = ["EDITIONS", "ClassroomError", "CourseConfig", "build_student_edition",
           "source_notebooks", "CellScore", "Tampering", "collect_submissions", "find_tampering",
           "grade", "write_csv"]
