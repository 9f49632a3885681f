"""Which language the exercise checkers answer in: English (``"en"``) or Chinese (``"zh-CN"``).

The Chinese notebooks (``notebooks/zh-CN/``) start with ``set_language("zh-CN")``; everything
else is English unless the environment variable ``OTTT_EDU_LANG`` says otherwise. Only the
checkers' messages (``ottt_edu.course.exercises``, ``ottt_edu.course.playground``) follow the setting;
code, printed numbers, figure titles and widget labels stay English in both editions, so that
both editions print the same numbers.

练习检查器的提示语言: 英文 (``"en"``) 或中文 (``"zh-CN"``)。中文版笔记本的第一个代码单元调用
``set_language("zh-CN")``; 也可以用环境变量 ``OTTT_EDU_LANG`` 设置。
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..threads import warn_setting

LANGUAGES = ("en", "zh-CN")


@dataclass
class LanguageSetting:
    """The checkers' language; one instance, :data:`SETTING`, read by :func:`say`."""

    language: str = "en"


def _validated(language: object, source: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(
            f"{source} must be one of {', '.join(map(repr, LANGUAGES))}, got {language!r}. "
            f"Use set_language(\"zh-CN\") for Chinese checker messages, set_language(\"en\") "
            f"for English. / {source} 只能是 {' 或 '.join(map(repr, LANGUAGES))}。"
        )
    return language  # type: ignore[return-value]


def _from_environment() -> str:
    """``$OTTT_EDU_LANG``, or English; an unknown value gives a one-line warning (never an error
    at import) and English."""
    value = os.environ.get("OTTT_EDU_LANG", "").strip()
    if value and value not in LANGUAGES:
        warn_setting(f"OTTT_EDU_LANG={value!r} is not one of {', '.join(map(repr, LANGUAGES))}; the "
                     f"checkers answer in English (set OTTT_EDU_LANG=zh-CN for Chinese, or unset it)",
                     "OTTT_EDU_LANG")
        return "en"
    return value or "en"


SETTING = LanguageSetting(_from_environment())


def set_language(language: str) -> None:
    """Make the exercise checkers answer in ``language`` (``"en"`` or ``"zh-CN"``)."""
    SETTING.language = _validated(language, "set_language(language)")


def get_language() -> str:
    """The checkers' current language, ``"en"`` or ``"zh-CN"``."""
    return SETTING.language


def say(en: str, zh: str) -> str:
    """The message in the checkers' language: ``en`` or its Chinese translation ``zh``."""
    return zh if SETTING.language == "zh-CN" else en
