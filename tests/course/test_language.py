"""The checkers answer in the language of ``ottt_edu.course.language`` (English or Chinese).

* At run time: with ``set_language("zh-CN")`` a right answer prints ``正确！``, an unattempted one
  writes ``尚未作答`` to stderr and a wrong one raises a mostly Chinese ``ExerciseError`` with
  the same numbers as the English message, for checkers of ``ottt_edu.course.exercises`` and of
  ``ottt_edu.course.playground``; after ``set_language("en")`` every message is the English one
  again, unchanged.
* Statically: every student-facing string literal of both modules sits inside ``say(en, zh)``
  (or in an English table with a ``_ZH`` twin), each ``say`` has Chinese in its second argument
  and none in its first, and both arguments format the same values.

The correct and wrong answers come from the English tests (``test_exercises``,
``test_playground_tasks``), so both editions are checked on the same answers.
"""
from __future__ import annotations

import ast
import collections
import difflib
import importlib
import inspect
import math
import pkgutil
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import test_exercises as te
import test_playground_tasks as tp
from ottt_edu import (OTTTLIFNode, OTTTSequential, ReplaceforGrad, get_language, reset_net,
                      set_language)
from ottt_edu.course import language
from ottt_edu.course import exercises as ex
from ottt_edu.course import playground as pt
from ottt_edu.course.exercises import ExerciseError

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_OR_PUNCT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# A run of ASCII with a character of code, maths or a number in it: x_r, v[t], (T=4,, 0.5.
CODE = re.compile(r"[_.()\[\]{}=<>*/^'`\"\d@+-]")
# Names a Chinese message keeps in English (API and method names, Python types, short maths).
KEEP_ENGLISH = re.compile(
    r"(OTTT(_A|_O)?|BPTT|SpikingJelly|OTTTLIFNode|OTTTSequential|GradwithTrace|SpikeTraceOp|"
    r"ReplaceforGrad|MyGradwithTrace|MySpikeTraceOp|Function|NotImplementedError|RuntimeError|"
    r"ValueError|None|int|float|str|function|dtype|torch|nn|Linear|Conv|Conv2d|Sequential|LIF|"
    r"MLP|CNN|SGD|forward|backward|flatten|net|nan|alpha|tau|[A-Za-z])")
ENGLISH_GLUE = {"the", "your", "must", "hint", "expected", "got", "wrong", "answer", "Correct",
                "attempted"}


def _english_words(message: str) -> list[str]:
    """The English prose words of ``message``: ASCII runs (Chinese text has no spaces, so a
    Chinese character ends a run) without code characters and not in ``KEEP_ENGLISH``."""
    runs = [run.strip(".,;:!?()") for run in re.findall(r"[!-~]+", message)]
    return [w for run in runs if not CODE.search(run)
            for w in re.findall(r"[A-Za-z]+", run) if not KEEP_ENGLISH.fullmatch(w)]


def translated_part(message: str, english: str) -> str:
    """``message`` without what it quotes verbatim from the English message ``english`` (20
    characters or more: a library's error text, a code snippet): that is not translated."""
    blocks = difflib.SequenceMatcher(None, message, english, autojunk=False).get_matching_blocks()
    for b in sorted((b for b in blocks if b.size >= 20), key=lambda b: -b.a):
        message = message[:b.a] + " " + message[b.a + b.size:]
    return message


def chinese_share(message: str) -> float:
    """Share of Chinese characters among the letters of ``message``'s prose, as
    ``scripts/zh_twins.py`` measures a translated cell."""
    cjk = len(CJK.findall(message))
    latin = sum(len(w) for w in _english_words(message))
    return cjk / (cjk + latin) if cjk + latin else 0.0


def numbers(message: str) -> list[str]:
    return sorted(re.findall(r"\d+(?:\.\d+)?", message))


@pytest.fixture(autouse=True)
def restore_language():
    """Every test here leaves the checkers' language as it found it (English for the others)."""
    before = get_language()
    yield
    set_language(before)


# -- the answers ------------------------------------------------------------------------------
def _not_implemented(*args):
    raise NotImplementedError


def _todo(cls):
    class Todo(cls):
        def forward(self, x):
            raise NotImplementedError
    return Todo


def _todo_function(ctx, *args):
    raise NotImplementedError


def _late(x, tau, v_threshold):
    t = te.first_spike_time(x, tau, v_threshold)
    return None if t is None else t + 1


def _no_alpha(x, alpha):
    s = torch.sigmoid(x)
    return te.heaviside(x).detach() + (s - s.detach())


def _ottt_a_without_reset(net, x_seq, y, optimizer):
    optimizer.zero_grad()
    total = 0.0
    for t in range(x_seq.shape[0]):
        loss = F.cross_entropy(net(x_seq[t]), y) / x_seq.shape[0]
        loss.backward()
        total += loss.item()
    optimizer.step()
    return total


def _ottt_a_summed(net, x_seq, y, optimizer):
    optimizer.zero_grad()
    T = x_seq.shape[0]
    loss = sum(F.cross_entropy(net(x_seq[t]), y) / T for t in range(T))
    loss.backward()
    optimizer.step()
    reset_net(net)
    return loss.item()


def _ottt_a_online(net, x_seq, y, optimizer):
    optimizer.zero_grad()
    T, total = x_seq.shape[0], 0.0
    for t in range(T):
        loss = F.cross_entropy(net(x_seq[t]), y) / T
        loss.backward()
        total += loss.item()
        optimizer.step()
        optimizer.zero_grad()
    reset_net(net)
    return total


class _GradFromTrace(te.MyGradwithTrace):
    def forward(self, x):
        spike, trace = x
        return self.module(ReplaceforGrad.apply(spike, trace))


class _SwappedSpikeTraceOp(te.MySpikeTraceOp):
    def forward(self, x):
        s, a = super().forward(x)
        return [a, s]


def _as_answer(value):
    """A prediction as the notebook writes it: a function that returns it."""
    return lambda: value


def _net():
    return OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.Flatten(), nn.Linear(6, 3))


CORRECT = {
    "first_spike_time": lambda: ex.check_first_spike_time(te.first_spike_time),
    "surrogate_spike": lambda: ex.check_surrogate_spike(te.surrogate_spike),
    "replace_by_detach": lambda: ex.check_replace_by_detach(lambda x, x_r: x + (x_r - x).detach()),
    "trace_closed_form": lambda: ex.check_trace_closed_form(te.trace_closed_form),
    "ottt_weight_grad": lambda: ex.check_ottt_weight_grad(
        lambda g, a: torch.einsum("tbo,tbi->oi", g, a)),
    "wrapping_prediction": lambda: ex.check_wrapping_prediction(
        _net(), _as_answer(["GradwithTrace", "neuron", "SpikeTraceOp", "GradwithTrace"])),
    "ottt_a_step": lambda: ex.check_ottt_a_step(te._reference_ottt_a),
    "replace_for_grad": lambda: ex.check_replace_for_grad(te._RFG),
    "ottt_lif_step": lambda: ex.check_ottt_lif_step(te.ottt_lif_step),
    "grad_with_trace": lambda: ex.check_grad_with_trace(te.MyGradwithTrace),
    "spike_trace_op": lambda: ex.check_spike_trace_op(te.MySpikeTraceOp),
    "ottt_dispatch": lambda: ex.check_ottt_dispatch(te.ottt_forward),
    **{f"playground-{check.__name__}": (lambda c=check, r=right: c(tp._f(r)))
       for check, right, _, _ in tp.CASES},
}

NOT_ATTEMPTED = {
    "first_spike_time": lambda: ex.check_first_spike_time(_not_implemented),
    "surrogate_spike": lambda: ex.check_surrogate_spike(_not_implemented),
    "replace_by_detach": lambda: ex.check_replace_by_detach(_not_implemented),
    "trace_closed_form": lambda: ex.check_trace_closed_form(_not_implemented),
    "ottt_weight_grad": lambda: ex.check_ottt_weight_grad(_not_implemented),
    "wrapping_prediction": lambda: ex.check_wrapping_prediction(_net(), None),
    "wrapping_prediction-answer_function": lambda: ex.check_wrapping_prediction(
        _net(), _not_implemented),
    "ottt_a_step": lambda: ex.check_ottt_a_step(_not_implemented),
    "replace_for_grad": lambda: ex.check_replace_for_grad(
        te._rfg(_todo_function, _todo_function)),
    "ottt_lif_step": lambda: ex.check_ottt_lif_step(_not_implemented),
    "grad_with_trace": lambda: ex.check_grad_with_trace(_todo(te.MyGradwithTrace)),
    "spike_trace_op": lambda: ex.check_spike_trace_op(_todo(te.MySpikeTraceOp)),
    "ottt_dispatch": lambda: ex.check_ottt_dispatch(_not_implemented),
    **{f"playground-{check.__name__}": (lambda c=check: c(None)) for check in tp.CHECKERS},
}

# (id, wrong answer, the exception it raises)
WRONG = [
    ("first_spike_time-off_by_one", lambda: ex.check_first_spike_time(_late), ExerciseError),
    ("first_spike_time-text", lambda: ex.check_first_spike_time(lambda x, t, v: "3"),
     ExerciseError),
    ("first_spike_time-not_a_function", lambda: ex.check_first_spike_time(3), ExerciseError),
    ("first_spike_time-never_fires", lambda: ex.check_first_spike_time(lambda x, t, v: None),
     ExerciseError),
    ("surrogate_spike-no_alpha", lambda: ex.check_surrogate_spike(_no_alpha), ExerciseError),
    ("replace_by_detach-value_of_x", lambda: ex.check_replace_by_detach(lambda x, x_r: x * 1.0),
     ExerciseError),
    ("trace_closed_form-float32", lambda: ex.check_trace_closed_form(
        lambda s, tau: te.trace_closed_form(s, tau).float()), ExerciseError),
    ("trace_closed_form-shape", lambda: ex.check_trace_closed_form(lambda s, tau: s[:, :1]),
     ExerciseError),
    ("trace_closed_form-wrong_decay", lambda: ex.check_trace_closed_form(
        lambda s, tau: te.trace_closed_form(s, 1.0 / (1.0 - math.exp(-1.0 / tau)))),
     ExerciseError),
    ("ottt_weight_grad-transposed", lambda: ex.check_ottt_weight_grad(
        lambda g, a: torch.einsum("tbo,tbi->io", g, a)), ExerciseError),
    ("wrapping_prediction-one_layer_wrong", lambda: ex.check_wrapping_prediction(
        _net(), _as_answer(["GradwithTrace", "neuron", "GradwithTrace", "GradwithTrace"])), ExerciseError),
    ("wrapping_prediction-length", lambda: ex.check_wrapping_prediction(
        _net(), _as_answer(["GradwithTrace", "neuron"])), ExerciseError),
    ("wrapping_prediction-unknown_name", lambda: ex.check_wrapping_prediction(
        _net(), _as_answer(["Linear", "neuron", "SpikeTraceOp", "GradwithTrace"])), ExerciseError),
    ("wrapping_prediction-plain_sequential", lambda: ex.check_wrapping_prediction(
        nn.Sequential(nn.Linear(2, 2)), _as_answer(["GradwithTrace"])), TypeError),
    ("ottt_a_step-online", lambda: ex.check_ottt_a_step(_ottt_a_online), ExerciseError),
    ("ottt_a_step-no_reset", lambda: ex.check_ottt_a_step(_ottt_a_without_reset), ExerciseError),
    ("ottt_a_step-summed_losses", lambda: ex.check_ottt_a_step(_ottt_a_summed), ExerciseError),
    ("replace_for_grad-value_of_x", lambda: ex.check_replace_for_grad(
        te._rfg(forward=lambda ctx, x, x_r: x.clone())), ExerciseError),
    ("replace_for_grad-one_gradient", lambda: ex.check_replace_for_grad(
        te._rfg(backward=lambda ctx, g: g)), ExerciseError),
    ("replace_for_grad-not_a_class", lambda: ex.check_replace_for_grad(lambda x, x_r: x_r),
     ExerciseError),
    ("ottt_lif_step-hard_reset", lambda: ex.check_ottt_lif_step(te._lif_variant(hard=True)),
     ExerciseError),
    ("ottt_lif_step-charge", lambda: ex.check_ottt_lif_step(te._lif_variant(decay_input=True)),
     ExerciseError),
    ("grad_with_trace-value_from_trace", lambda: ex.check_grad_with_trace(_GradFromTrace),
     ExerciseError),
    ("spike_trace_op-swapped", lambda: ex.check_spike_trace_op(_SwappedSpikeTraceOp),
     ExerciseError),
    ("ottt_dispatch-neuron_twice", lambda: ex.check_ottt_dispatch(te._dispatch_variant("twice")),
     ExerciseError),
    ("ottt_dispatch-by_type", lambda: ex.check_ottt_dispatch(te._dispatch_variant("type")),
     ExerciseError),
    ("assert_own_code-library", lambda: ex.assert_own_code(ReplaceforGrad, ["ReplaceforGrad"]),
     ExerciseError),
    ("answer_value-with_arguments", lambda: ex.answer_value("t", lambda x: x), ExerciseError),
    *[(f"playground-{check.__name__}-{wrong}", (lambda c=check, w=wrong: c(tp._f(w))), ExerciseError)
      for check, _, wrong, _ in tp.CASES],
    *[(f"playground-{check.__name__}-{bad!r}", (lambda c=check, b=bad: c(tp._f(b))), ExerciseError)
      for check in tp.CHECKERS[:2] for bad in ("8.0", float("nan"))],
]


def _in(language_: str, fn, capsys) -> tuple[object, str, str]:
    set_language(language_)
    result = fn()
    captured = capsys.readouterr()
    return result, captured.out, captured.err


def _raised(language_: str, fn, exc: type) -> str:
    set_language(language_)
    with pytest.raises(exc) as info:
        fn()
    return str(info.value)


# -- at run time ------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", CORRECT.values(), ids=CORRECT.keys())
def test_correct_prints_zheng_que_in_chinese_and_correct_in_english(answer, capsys):
    result, out, err = _in("zh-CN", answer, capsys)
    assert result is True and err == ""
    assert out.startswith("正确！") and "Correct" not in out
    assert chinese_share(out) >= 0.6, out
    result, out_en, _ = _in("en", answer, capsys)
    assert result is True and out_en.startswith("Correct! ") and not CJK.search(out_en)
    assert numbers(out) == numbers(out_en)


@pytest.mark.parametrize("answer", NOT_ATTEMPTED.values(), ids=NOT_ATTEMPTED.keys())
def test_not_attempted_writes_shang_wei_zuo_da_to_stderr(answer, capsys):
    result, out, err = _in("zh-CN", answer, capsys)
    assert result is False and out == ""
    assert err.startswith("尚未作答") and "Not attempted" not in err
    assert chinese_share(err) >= 0.6, err
    result, out, err_en = _in("en", answer, capsys)
    assert result is False and out == ""
    assert err_en.startswith("Not attempted yet") and not CJK.search(err_en)


@pytest.mark.parametrize("answer, exc", [(w[1], w[2]) for w in WRONG], ids=[w[0] for w in WRONG])
def test_wrong_answer_raises_a_chinese_message_then_the_same_english_one(answer, exc):
    english = _raised("en", answer, exc)
    chinese = _raised("zh-CN", answer, exc)
    again = _raised("en", answer, exc)
    assert again == english and not CJK.search(english)
    translated = translated_part(chinese, english)
    assert chinese_share(translated) >= 0.6, chinese
    assert not ENGLISH_GLUE & set(_english_words(translated)), chinese
    assert ("提示：" in chinese) == ("hint:" in english)
    assert numbers(chinese) == numbers(english), (english, chinese)
    checker = re.match(r"\w+", english).group()
    assert chinese.startswith(checker + "：") or not english.startswith(checker + ":")


def test_the_language_is_read_at_every_call_not_at_import(capsys):
    answer = CORRECT["playground-check_memory_ratio"]
    for lang, start in [("zh-CN", "正确！"), ("en", "Correct! "), ("zh-CN", "正确！")]:
        assert _in(lang, answer, capsys)[1].startswith(start)


def test_set_language_accepts_the_two_languages_only():
    set_language("zh-CN")
    assert get_language() == "zh-CN" and language.say("a", "乙") == "乙"
    set_language("en")
    assert get_language() == "en" and language.say("a", "乙") == "a"
    with pytest.raises(ValueError, match="zh-CN") as info:
        set_language("zh")
    assert CJK.search(str(info.value))          # the error itself is bilingual
    assert get_language() == "en"


def test_the_environment_variable_chooses_the_start_language(monkeypatch):
    monkeypatch.setenv("OTTT_EDU_LANG", "zh-CN")
    assert language._from_environment() == "zh-CN"
    monkeypatch.setenv("OTTT_EDU_LANG", "")
    assert language._from_environment() == "en"
    monkeypatch.setenv("OTTT_EDU_LANG", "fr")  # never an error at import: a warning, English
    with pytest.warns(UserWarning, match="OTTT_EDU_LANG='fr' is not one of"):
        assert language._from_environment() == "en"


# -- statically: no student-facing text outside say(en, zh) -----------------------------------
# The exercises are a package, one module per notebook (and core, harness): check each module.
EXERCISE_MODULES = [importlib.import_module(f"{ex.__name__}.{m.name}")
                    for m in pkgutil.iter_modules(ex.__path__)]
MODULES = [*EXERCISE_MODULES, pt]
# A word of prose: letters that are not part of code (an identifier, a call, an attribute).
PROSE_WORD = re.compile(r"(?<![\w.(\[{=<>*/^'`-])[A-Za-z]{2,}(?![\w(\[{=]|\.\w)")


def is_prose(text: str) -> bool:
    """Text a student reads: words with a space between (not an identifier, an einsum spec,
    ``[module(spike), module(trace)]`` or ``x={x}, tau={tau}``)."""
    return " " in text.strip() and bool(PROSE_WORD.search(text))


# The calls whose string arguments a student sees: exceptions, print, and the helpers that put
# their arguments into a message.
MESSAGE_CALLS = {"ExerciseError", "TypeError", "ValueError", "AssertionError", "print", "_fail",
                 "_correct", "_not_attempted", "_wrong", "_check", "_need_tensor", "_need_dtype",
                 "_time_step_answer", "_run", "_inputs_unchanged", "_compare_online", "_grad_hint"}
# Where the Chinese formats other values than the English, on purpose: English grammar
# (entr-y/-ies) and a mode word that Chinese translates.
FORMAT_DIFFERENCES = {
    ("nb05_spike_trace_op_and_ottt_sequential", ("'y' if n == 1 else 'ies'",), ()),
    ("nb04_traces_and_grad_with_trace", ("'training' if training else 'eval'",),
     ("'训练' if training else '评估'",)),
    ("harness", ("mode",), ("'训练' if train else '评估'",)),
}


def _tree(module):
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node
    return tree


def _is_say(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "say"


def _inside_say(node) -> bool:
    while hasattr(node, "parent"):
        if _is_say(node.parent) and node in node.parent.args:
            return True
        node = node.parent
    return False


def _docstrings(tree) -> set:
    return {n.body[0].value for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)}


def _strings(tree):
    """(node, its constant text) for every string literal; an f-string counts once, whole."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield node, "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and not isinstance(node.parent, (ast.JoinedStr, ast.FormattedValue))):
            yield node, node.value


def _module_tables(tree) -> dict:
    """Module-level assignments ``NAME = ...``: name -> node."""
    out = {}
    for st in tree.body:
        target = st.targets[0] if isinstance(st, ast.Assign) else getattr(st, "target", None)
        if isinstance(target, ast.Name):
            out[target.id] = st.value
    return out


def _table_of(node, tables) -> str | None:
    while hasattr(node, "parent"):
        for name, value in tables.items():
            if node.parent is value or node is value:
                return name
        node = node.parent
    return None


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_message_calls_have_no_bare_text(module):
    """Every literal with letters handed to an exception, print or a message helper is in say."""
    tree = _tree(module)
    bare = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id in MESSAGE_CALLS):
            continue
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            for node in ast.walk(arg):
                if isinstance(node, ast.JoinedStr):
                    text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and not isinstance(node.parent, ast.JoinedStr):
                    text = node.value
                else:
                    continue
                if is_prose(text) and not _inside_say(node):
                    bare.append(f"line {node.lineno}: {call.func.id}(... {text[:60]!r} ...)")
    for node in ast.walk(tree):           # assert messages
        if isinstance(node, ast.Assert) and node.msg is not None and not _is_say(node.msg):
            bare.append(f"line {node.lineno}: assert ..., {ast.unparse(node.msg)[:60]}")
    assert not bare, "\n".join(bare)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_prose_literal_is_in_say_or_in_a_table_with_a_chinese_twin(module):
    """The catch-all: any text of two words or more anywhere in the module (hints kept in
    variables, dict keys, tables) is translated, except docstrings, comparisons with library
    error texts (``_error_hint``) and the wrapper names a student types."""
    tree = _tree(module)
    docs, tables = _docstrings(tree), _module_tables(tree)
    twins = {name for name in tables if name + "_ZH" in tables} | {
        name for name in tables if name.endswith("_ZH")}
    missed = []
    for node, text in _strings(tree):
        if (node in docs or not is_prose(text) or _inside_say(node)
                or isinstance(node.parent, ast.Compare)
                or text in getattr(module, "WRAPPER_NAMES", ())
                or _table_of(node, tables) in twins):
            continue
        missed.append(f"line {node.lineno}: {text[:70]!r}")
    assert not missed, "not in say(en, zh):\n" + "\n".join(missed)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_tables_and_their_chinese_twins_match(module):
    names = [n for n in vars(module) if n.endswith("_ZH")]
    if module in EXERCISE_MODULES:
        assert set(names) <= {"_WRAPPER_REASON_ZH", "_ARCH_TEXT_ZH", "_DISPATCH_MISTAKES_ZH"}
    for name in names:
        english, chinese = getattr(module, name[:-3]), getattr(module, name)
        english = dict(english) if isinstance(english, tuple) else english
        assert english.keys() == chinese.keys(), name
        for key, text in english.items():
            assert not CJK.search(text)
            if text != chinese[key]:
                assert CJK.search(chinese[key]), (name, key)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_say_has_english_first_chinese_second_and_the_same_values(module):
    tree = _tree(module)
    calls = [n for n in ast.walk(tree) if _is_say(n)]
    assert len(calls) > (10 if module in EXERCISE_MODULES else 30)
    differences, problems = set(), []

    def values(node) -> collections.Counter:
        """The formatted values of ``node``'s f-strings, as written (``_ZH`` tables count as
        their English twins)."""
        return collections.Counter(
            ast.unparse(v.value).replace("_ZH[", "[")
            + (f"!{chr(v.conversion)}" if v.conversion != -1 else "")
            + (":" + "".join(c.value for c in v.format_spec.values) if v.format_spec else "")
            for v in ast.walk(node) if isinstance(v, ast.FormattedValue))

    for call in calls:
        if len(call.args) != 2 or call.keywords:
            problems.append(f"line {call.lineno}: say needs exactly (en, zh)")
            continue
        en, zh = call.args
        en_text = " ".join(t for _, t in _strings(en))
        zh_text = " ".join(t for _, t in _strings(zh))
        if CJK_OR_PUNCT.search(en_text):
            problems.append(f"line {call.lineno}: Chinese in the English text {en_text[:40]!r}")
        if re.search(r"[A-Za-z]{2}", en_text) and zh_text.strip() and not CJK_OR_PUNCT.search(zh_text):
            problems.append(f"line {call.lineno}: no Chinese in {zh_text[:40]!r}")
        e, z = values(en), values(zh)
        if e != z:
            differences.add((module.__name__.split(".")[-1], tuple(sorted((e - z).elements())),
                             tuple(sorted((z - e).elements()))))
    assert not problems, "\n".join(problems)
    assert differences == {d for d in FORMAT_DIFFERENCES
                           if d[0] == module.__name__.split(".")[-1]}


def test_the_exercise_modules_together_have_all_tables_and_messages():
    """What the exercises had as one module: its three ``_ZH`` tables and over 150 ``say``."""
    names = {n for m in EXERCISE_MODULES for n in vars(m) if n.endswith("_ZH")}
    assert names == {"_WRAPPER_REASON_ZH", "_ARCH_TEXT_ZH", "_DISPATCH_MISTAKES_ZH"}
    assert sum(1 for m in EXERCISE_MODULES for n in ast.walk(_tree(m)) if _is_say(n)) > 150

