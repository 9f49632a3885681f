"""What every exercise checker shares (notebooks 01-06).

``ExerciseError`` (a wrong answer), the "not attempted yet" path (an answer that still raises
``NotImplementedError``), the short value text of the messages (``_fmt``), calling the
student's function (``_call``), ``answer_value`` (an answer given as a zero-argument function),
``assert_own_code`` with ``LIBRARY_NAMES`` (the hidden test that a build-it answer is not the
library, nor calls it), and the small checks of an answer's type, shape and dtype
(``_need_class``, ``_need_tensor``, ``_need_dtype``) with the ``Correct!`` / wrong-answer
lines (``_correct``, ``_fail``). Every message is in English and Chinese (``say``).

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195).
"""
from __future__ import annotations

import ast
import contextvars
import functools
import inspect
import os
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from ..language import say

__all__ = ["ExerciseError", "answer_value", "assert_own_code", "LIBRARY_NAMES", "watched"]


class ExerciseError(AssertionError):
    """A wrong answer to an exercise; the message says which case failed and gives a hint."""


class _NotAttempted(Exception):
    """Internal: the answer still raises ``NotImplementedError``."""


# -- shared helpers ---------------------------------------------------------------------------
def _fmt(x: Any) -> str:
    """Short, rounded, address-free text for a value in an error message."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.numel() <= 8:
            vals = [round(float(v), 4) for v in x.reshape(-1)]
            return say(f"tensor of shape {tuple(x.shape)} with values {vals}",
                       f"形状为 {tuple(x.shape)} 的张量，值为 {vals}")
        first = [round(float(v), 4) for v in x.reshape(-1)[:6]]
        return say(f"tensor of shape {tuple(x.shape)} (first values {first} ...)",
                   f"形状为 {tuple(x.shape)} 的张量（前几个值为 {first} ...）")
    if isinstance(x, float):
        return f"{x:.4f}"
    return repr(x) if isinstance(x, (int, str, type(None), list, tuple)) else type(x).__name__


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the student's ``fn``; turn ``NotImplementedError`` into "not attempted"."""
    if not callable(fn):
        raise ExerciseError(say(
            f"{name}: expected a function, got {type(fn).__name__}. Pass the function itself, "
            f"e.g. check(my_fn), not check(my_fn(...)).",
            f"{name}：需要一个函数，收到的是 {type(fn).__name__}。请传入函数本身，例如 "
            f"check(my_fn)，而不是 check(my_fn(...))。"
        ))
    try:
        return fn(*args)
    except NotImplementedError as e:
        raise _NotAttempted() from e


#: Python lines a student's function may run for one case of a checker that calls it with a
#: step limit: a loop capped at 100 000 steps runs about 300 000; ``while True`` waiting for the
#: spike of a neuron that never fires would run forever (about 3 s to reach the limit here)
STEP_LIMIT_LINES = 5_000_000


class _TooLong(BaseException):
    """Raised into the student's frame by the step limit (not an ``Exception``: an ``except
    Exception`` around the loop does not swallow it)."""


def _call_limited(name: str, case: str, fn: Callable[..., Any], *args: Any,
                  hint: str = "") -> Any:
    """:func:`_call` with at most :data:`STEP_LIMIT_LINES` lines run in the student's own code
    (``sys.settrace``, on the student's frames only): a loop that never ends becomes an
    ``ExerciseError`` naming the case instead of a cell that runs forever."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > STEP_LIMIT_LINES:
                raise _TooLong()
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if _kind(frame.f_code.co_filename) == "student" else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        return _call(name, fn, *args)
    except _TooLong:
        raise ExerciseError(say(
            f"{name}: for {case} your function ran {STEP_LIMIT_LINES:,} lines without returning: "
            f"a loop that never ends?" + (f"\n  hint: {hint}" if hint else ""),
            f"{name}：{case}：你的函数运行了 {STEP_LIMIT_LINES:,} 行仍未返回：是不是一个永远不会结束的循环？"
            + (f"\n  提示：{hint}" if hint else ""))) from None
    finally:
        sys.settrace(previous)


def _not_attempted(what: str) -> bool:
    # To stderr: it stands out in the notebook, and nbgrader's autograder scores a graded cell
    # that writes to stderr with zero points (``nbgrader.utils.determine_grade``), while "Run all"
    # goes on to the end.
    print(say(
        f"Not attempted yet: {what} still raises NotImplementedError. Replace that line with your "
        f"code and run the cell again, then this one. (The rest of the notebook does not use your "
        f"answer, so it runs on.)",
        f"尚未作答：{what} 仍会抛出 NotImplementedError。请把那一行替换为你的代码，重新运行那个"
        f"单元格，再运行本单元格。（笔记本的其余部分不使用你的答案，会继续运行。）",
    ), file=sys.stderr)
    return False


def answer_value(name: str, answer: Any, forbidden: Optional[Sequence[str]] = None) -> Any:
    """The answer itself, or what a zero-argument answer function returns.

    The student edition asks for such answers as ``def my_answer(): ...; return value`` (its
    body is ``raise NotImplementedError()`` until answered); a ``NotImplementedError`` from it
    means "not attempted", like ``None``. With ``forbidden`` (names the answer must not call,
    as :func:`assert_own_code`), only a function is accepted, and it is judged first: a bare
    value cannot show that it was found without the library, and the graded check judges the
    function in the same way (what the notebook calls correct scores at grading).
    """
    if forbidden is not None and answer is not None and not callable(answer):
        raise ExerciseError(say(
            f"{name}: write your answer as the function the cell sets out (def my_answer(): ... "
            f"return value), not as a bare value ({type(answer).__name__}): the checker runs it, "
            f"so that the value is your own work.",
            f"{name}：请按单元格给出的形式把答案写成函数（def my_answer(): ... return value），"
            f"而不是直接给出一个值（{type(answer).__name__}）：检查函数会运行它，以确认这个值是你"
            f"自己得出的。"))
    if callable(answer) and forbidden is not None:
        assert_own_code(answer, forbidden)
    if callable(answer):
        try:
            return answer()
        except NotImplementedError:
            return None
        except TypeError as e:
            raise ExerciseError(say(f"{name}: call your answer function with no arguments failed "
                                    f"({e}); write it as def my_answer(): ... return value.",
                                    f"{name}：不带参数调用你的答案函数失败 ({e})；请写成 "
                                    f"def my_answer(): ... return value 的形式。")) from e
    return answer


#: The library's names that a build-it exercise must not hand in or call (hidden tests).
LIBRARY_NAMES = ("ReplaceforGrad", "GradwithTrace", "SpikeTraceOp", "OTTTSequential",
                 "OTTTLIFNode", "LIFNode", "SLTTLIFNode", "ottt_edu")


def _functions_of(obj: Any) -> list[Callable[..., Any]]:
    """The functions a class holds (methods, static and class methods, a property's getter and
    setter, the function of a ``functools.partial``), or ``[obj]``."""
    if not inspect.isclass(obj):
        return [obj]
    found = []
    for f in vars(obj).values():
        if isinstance(f, property):
            found += [g for g in (f.fget, f.fset, f.fdel) if g is not None]
        elif isinstance(f, functools.partial):
            found.append(f.func)
        elif inspect.isfunction(f) or isinstance(f, (staticmethod, classmethod)) or inspect.isbuiltin(f):
            found.append(f)
    return found


_PACKAGE_DIR = str(Path(__file__).resolve().parents[2])  # ottt_edu/


def _library_code(fn: Any) -> bool:
    """Whether ``fn`` is the library's own function (its module or its code's file is
    ``ottt_edu``'s), however the student's class came to hold it."""
    fn = getattr(fn, "__func__", fn)
    module = getattr(fn, "__module__", None)
    if isinstance(module, str) and module.split(".")[0] == "ottt_edu":
        return True
    code = getattr(fn, "__code__", None)
    filename = getattr(code, "co_filename", "") or ""
    try:
        return str(Path(filename).resolve()).startswith(_PACKAGE_DIR + os.sep)
    except (OSError, ValueError):
        return False


def _names_used(code: Any) -> set[str]:
    """Global names a code object (and the functions nested in it) looks up."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _names_used(const)
    return names


def _library_use(fn: Callable[..., Any], used: str, forbidden: Sequence[str]) -> Optional[str]:
    """How ``fn`` reaches the library through the global (or attribute) name ``used``, or None."""
    if used in forbidden:
        return used
    target = fn.__globals__.get(used)
    module = getattr(target, "__module__", None) or getattr(target, "__name__", None) or ""
    if not isinstance(module, str) or not module.startswith("ottt_edu"):
        return None
    real = getattr(target, "__name__", used)
    if real in forbidden:
        return f"{used} ({module}.{real})" if real != module else f"{used} ({module})"
    return None


def _called_names(source: str) -> list[tuple[str, list[str]]]:
    """For every call in ``source``: (the root name, the attribute names on the way)."""
    calls = []
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Call):
            func, attrs = node.func, []
            while isinstance(func, (ast.Attribute, ast.Call, ast.Subscript)):
                if isinstance(func, ast.Attribute):
                    attrs.append(func.attr)
                func = func.func if isinstance(func, ast.Call) else func.value
            if isinstance(func, ast.Name):
                calls.append((func.id, attrs))
    return calls


def assert_own_code(obj: Any, forbidden: Sequence[str] = LIBRARY_NAMES) -> None:
    """Raise ``ExerciseError`` if ``obj`` (a function or a class) is, inherits from, or *calls*
    one of the library names in ``forbidden`` instead of
    doing the work itself.

    The graded cells call it before the checker: the checker compares with the library, so
    handing in the library (or a wrapper of it) would pass it. It looks at the classes in the MRO
    and at every call in the source of every function and method, aliases included (``mr =
    memory_ratio; mr()``); naming the library otherwise (``isinstance(m, OTTTSequential)``, a
    comment, a docstring) is fine. Without source (code made by ``exec``) every global name the
    code looks up counts.
    """
    name = "assert_own_code"
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj)
            or isinstance(obj, nn.Module)):
        raise ExerciseError(say(
            f"{name}: pass the function or class you wrote (e.g. {name}(MyReplaceforGrad)), got "
            f"{type(obj).__name__} {obj!r:.40}.",
            f"{name}：请传入你编写的函数或类（例如 {name}(MyReplaceforGrad)），收到的是 "
            f"{type(obj).__name__} {obj!r:.40}。"))
    if isinstance(obj, nn.Module):
        obj = type(obj)  # an instance: judge its class
    if inspect.isclass(obj):
        for base in obj.__mro__[1:]:
            if base.__module__.startswith("ottt_edu"):
                raise ExerciseError(say(f"{name}: {obj.__name__} inherits from the library's "
                                        f"{base.__name__}; build it from torch alone.",
                                        f"{name}：{obj.__name__} 继承了库中的 {base.__name__}；"
                                        f"请只用 torch 自己实现。"))
    if (getattr(obj, "__module__", None) or "").startswith("ottt_edu"):
        raise ExerciseError(say(f"{name}: this is the library's own {getattr(obj, '__name__', obj)}, "
                                f"not yours; hand in the function or class you wrote.",
                                f"{name}：这是库自带的 {getattr(obj, '__name__', obj)}，不是你写的；"
                                f"请提交你自己编写的函数或类。"))
    for fn in _functions_of(obj):
        fn = getattr(fn, "__func__", fn)
        if _library_code(fn):  # a method copied off a library class: forward = GradwithTrace.forward
            who = obj.__name__ if inspect.isclass(obj) else say("it", "它")
            what = getattr(fn, "__qualname__", fn)
            raise ExerciseError(say(
                f"{name}: {who} takes {what!s} from the library (a function copied off a "
                f"library class or module); write the method yourself.",
                f"{name}：{who} 直接取用了库中的 {what!s}（从库的类或模块复制过来的函数）；请自己编写该方法。"))
        try:
            calls = _called_names(inspect.getsource(fn))
        except (OSError, TypeError, SyntaxError):  # no source: every global name counts
            calls = [(used, []) for used in sorted(_names_used(fn.__code__))]
        for root, attrs in calls:
            how = _library_use(fn, root, forbidden) or next(
                (a for a in attrs if a in forbidden), None)
            if how:
                raise ExerciseError(say(f"{name}: {fn.__qualname__} calls {how} from the "
                                        f"library; the exercise is to write it yourself.",
                                        f"{name}：{fn.__qualname__} 调用了库中的 {how}；"
                                        f"本练习要求你自己编写。"))
    return None  # nothing to show in the graded cell


def _need_class(name: str, obj: Any, example: str) -> None:
    """A build-it checker's argument must be the student's class, not an instance or a value."""
    if isinstance(obj, nn.Module):
        raise ExerciseError(say(f"{name}: pass the class itself (e.g. {name}({example})), not an "
                                f"instance of it ({type(obj).__name__}(...)).",
                                f"{name}：请传入类本身（例如 {name}({example})），而不是它的实例"
                                f"（{type(obj).__name__}(...)）。"))
    if not callable(obj):
        raise ExerciseError(say(f"{name}: expected your class (e.g. {example}), got "
                                f"{type(obj).__name__}.",
                                f"{name}：需要你的类（例如 {example}），收到的是 "
                                f"{type(obj).__name__}。"))


#: the "Correct!" lines of the checker running under :func:`watched`, printed only once the
#: watch has found no library code run for the answer (else "Correct!" and "scores nothing"
#: would stand one above the other)
_PENDING: contextvars.ContextVar[Optional[list[str]]] = contextvars.ContextVar("pending", default=None)


def _correct(msg: str) -> bool:
    """Print the "Correct!" line; ``msg`` is already in the checkers' language (``say``)."""
    line, pending = say(f"Correct! {msg}", f"正确！{msg}"), _PENDING.get()
    if pending is None:
        print(line)
    else:
        pending.append(line)
    return True


def _fail(exercise: str, case: str, expected: Any, got: Any, hint: str) -> None:
    raise ExerciseError(say(
        f"{exercise}: wrong answer for {case}.\n"
        f"  expected: {_fmt(expected)}\n"
        f"  got:      {_fmt(got)}\n"
        f"  hint: {hint}",
        f"{exercise}：{case}，答案错误。\n"
        f"  期望值：{_fmt(expected)}\n"
        f"  实际值：{_fmt(got)}\n"
        f"  提示：{hint}"
    ))


def _need_tensor(exercise: str, case: str, got: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(say(
            f"{exercise}: for {case} your function returned {type(got).__name__}, expected a "
            f"torch.Tensor of shape {shape}.",
            f"{exercise}：{case}：你的函数返回了 {type(got).__name__}，应返回形状为 "
            f"{shape} 的 torch.Tensor。"
        ))
    if tuple(got.shape) != shape:
        raise ExerciseError(say(
            f"{exercise}: for {case} your function returned shape {tuple(got.shape)}, expected "
            f"{shape}.",
            f"{exercise}：{case}：你的函数返回的形状是 {tuple(got.shape)}，应为 {shape}。"
        ))
    return got

def _need_dtype(exercise: str, case: str, got: torch.Tensor, dtype: torch.dtype) -> None:
    """Raise if the answer's dtype is not the input's (a stray ``.float()`` / ``.double()``)."""
    if got.dtype != dtype:
        g, w = str(got.dtype).replace("torch.", ""), str(dtype).replace("torch.", "")
        cast = ".float()" if got.dtype == torch.float32 else f".to({g})"
        raise ExerciseError(say(
            f"{exercise}: for {case} your answer is {g}, the input is {w}.\n"
            f"  hint: your answer is {g} for {w} input: keep the input's dtype (no {cast}).",
            f"{exercise}：{case}：你的答案是 {g}，而输入是 {w}。\n"
            f"  提示：输入为 {w} 时你的答案是 {g}：请保持输入的 dtype（不要用 {cast}）。"
        ))


# -- what the answer runs: the library, reached from the student's code -----------------------
_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # ottt_edu/
_CHECKERS = (os.path.dirname(os.path.abspath(__file__)),                # the checkers themselves
             os.path.join(_PACKAGE, "course", "language.py"))
_THIRD_PARTY = tuple(sorted({os.path.abspath(p) for p in (
    sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    if p} | {os.path.dirname(os.path.abspath(torch.__file__)), os.path.abspath(sys.base_prefix),
             os.path.abspath(sys.prefix)}))
_KIND: dict[str, str] = {}


def _kind(filename: str) -> str:
    """``"library"`` (``ottt_edu``), ``"checker"``, ``"other"`` (Python, torch, installed
    packages, frozen modules) or ``"student"`` (a notebook's cell, a test file, ``exec``)."""
    kind = _KIND.get(filename)
    if kind is None:
        path = os.path.abspath(filename) if not filename.startswith("<") else filename
        if path.startswith(_CHECKERS):
            kind = "checker"
        elif path.startswith(_PACKAGE + os.sep):
            kind = "library"
        elif path.startswith(_THIRD_PARTY) or filename.startswith("<frozen"):
            kind = "other"
        else:
            kind = "student"
        _KIND[filename] = kind
    return kind


#: library code a checker installs as a hook (autograd calls it inside the student's operations)
_CHECKERS_HOOKS = ("ottt_edu.measure.autograd_memory.SavedTensorMeter",)


class _LibraryWatch:
    """While active (``sys.setprofile``), notes the first function of the ``ottt_edu`` library
    that runs *for the student's code*: its nearest caller outside torch and Python's own
    modules is the student's (a notebook cell), whatever name, alias or attribute it was
    reached by (``ottt_edu.train.ottt_a_step``, ``SigmoidSpike.apply``, a method of a library
    object). ``allowed``: the library's parts an exercise may use (``"ottt_edu.neuron"``, or
    one function); the library's own calls (a checker running the reference) are never noted."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self.allowed = (*allowed, *_CHECKERS_HOOKS)
        self.found: Optional[tuple[str, str]] = None
        self._previous: Any = None

    def _allowed(self, qualname: str) -> bool:
        return any(qualname == a or qualname.startswith(a + ".") for a in self.allowed)

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event != "call" or self.found is not None:
            return
        code = frame.f_code
        if _kind(code.co_filename) != "library":
            return
        qualname = f"{frame.f_globals.get('__name__', '?')}.{getattr(code, 'co_qualname', code.co_name)}"
        if self._allowed(qualname):
            return
        caller = frame.f_back
        while caller is not None and _kind(caller.f_code.co_filename) == "other":
            caller = caller.f_back
        if caller is not None and _kind(caller.f_code.co_filename) == "student":
            self.found = (qualname, f"{getattr(caller.f_code, 'co_qualname', caller.f_code.co_name)} "
                                    f"line {caller.f_lineno}")

    def __enter__(self) -> "_LibraryWatch":
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.setprofile(self._previous)


def library_use_error(name: str, found: tuple[str, str]) -> ExerciseError:
    what, where = found
    return ExerciseError(say(
        f"{name}: your answer runs the library's {what} (called from your {where}); the exercise "
        f"is to write that part yourself, with torch. Using the library here would pass any "
        f"check, so it scores nothing.",
        f"{name}：你的答案运行了库中的 {what}（由你的 {where} 调用）；本练习要求你用 torch 自己"
        f"写出这一部分。在这里使用库会通过任何检查，因此不得分。"))


def watched(*allowed: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a checker with a :class:`_LibraryWatch`: an answer that runs a part of the library
    outside ``allowed`` (the exercise's own allow-list) is wrong, in the notebook and under
    grading alike (the same code runs in both). The error replaces the checker's verdict."""
    def wrap(checker: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(checker)
        def run(*args: Any, **kwargs: Any) -> Any:
            watch, token = _LibraryWatch(allowed), _PENDING.set([])
            try:
                with watch:
                    result = checker(*args, **kwargs)
                verdicts = _PENDING.get() or []
            except Exception as e:
                if watch.found is not None:
                    raise library_use_error(checker.__name__, watch.found) from None
                raise e.with_traceback(None) if isinstance(e, ExerciseError) else e
            finally:
                _PENDING.reset(token)
            if watch.found is not None:
                raise library_use_error(checker.__name__, watch.found)
            for line in verdicts:
                print(line)
            return result
        run.allowed_library = tuple(allowed)  # type: ignore[attr-defined]
        return run
    return wrap
