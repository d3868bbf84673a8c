"""Class probabilities from answers a model wrote: a label word read from each answer, then the
vote shares of ``k`` sampled answers (``sample``) or the confidence the answer states (``verbal``).

For models that give no token log-probabilities (Claude, the GPT-5 family, most Gemini models):
they can still be measured, at a coarser grain. ``k`` votes give at most ``k + 1`` distinct
probabilities per class, so a roc_auc from them ranks rows in ``k + 1`` steps.
"""

from __future__ import annotations

import re

import numpy as np

from dataeff.config import DEFAULT_SAMPLES
from dataeff.errors import ConfigError

#: How an LLM learner turns a prompt into class probabilities: the answer words' summed
#: log-probabilities (any backend that scores), or answers it writes.
SCORINGS = ("logprobs", "sample", "verbal")
__all__ = ["ANSWER_FORMS", "DEFAULT_SAMPLES", "EXTRA_TOKENS", "SCORINGS", "check_scoring", "confidence_shares",
           "parse_label", "vote_shares"]
#: The question's form for each scoring: a word scored by its log-probability (nothing said),
#: the answer words listed for a written answer, and a confidence asked for with them.
ANSWER_FORMS = {"logprobs": "word", "sample": "choice", "verbal": "confidence"}
#: Tokens an answer may take beyond its longest answer word: the word is all a vote needs (a
#: longer answer costs time and money and is not read), ``verbal`` adds a number after it.
EXTRA_TOKENS = {"sample": 1, "verbal": 5}


def check_scoring(scoring: str, samples: int) -> None:
    """A scoring the learners know and a positive number of samples, or one line."""
    if scoring not in SCORINGS:
        raise ConfigError(f"Unknown LLM scoring '{scoring}'; choose {', '.join(SCORINGS)}.")
    if not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"samples must be a whole number of at least 1 (answers sampled a row); got {samples!r}.")


def parse_label(text: str, words: dict[str, str]) -> str | None:
    """The label whose answer word ``text`` starts with (case-insensitive, whole words: 'No'
    in 'No.' or 'no, because' but not in 'Nothing'), the longest such word if several do;
    None when it names none, or echoes the choices ('Yes or No'). Quotes, asterisks and
    brackets before the word are skipped."""
    start = text.lstrip().lstrip("\"'*`([«“‘ ").casefold()
    matches = [(len(word), label) for label, word in words.items()
               if re.match(re.escape(word.strip().casefold()) + r"(?!\w)", start)]
    if not matches:
        return None
    length, label = max(matches)
    return None if re.match(r"\s*(?:or\b|/)", start[length:]) else label


def stated_confidence(text: str) -> float | None:
    """The first number after the answer word, read as a percentage (0-100) of confidence, or
    None where the answer states none."""
    found = re.search(r"(\d+(?:\.\d+)?)\s*%?", text)
    if found is None:
        return None
    return float(np.clip(float(found.group(1)) / 100.0, 0.0, 1.0))


def vote_shares(answers: list[list[str]], words: dict[str, str], classes: list[str]) -> tuple[np.ndarray, int]:
    """(rows, classes) probabilities: each row's share of answers naming each class, and how
    many answers named no label. A row none of whose answers names a label gets equal shares."""
    def one_vote(label: str, text: str) -> np.ndarray:
        return (np.asarray(classes) == label).astype(float)

    return _shares(answers, words, classes, one_vote)


def confidence_shares(answers: list[list[str]], words: dict[str, str], classes: list[str]
                      ) -> tuple[np.ndarray, int]:
    """(rows, classes) probabilities from one answer a row that names a label and states a
    confidence: that share to the label, the rest split evenly among the others (an answer
    stating no number counts as sure). Also how many answers named no label (equal shares)."""
    def stated(label: str, text: str) -> np.ndarray:
        sure = stated_confidence(text[text.casefold().find(words[label].strip().casefold()):])
        sure = 1.0 if sure is None else sure
        share = np.full(len(classes), (1.0 - sure) / max(1, len(classes) - 1))
        share[classes.index(label)] = sure
        return share

    return _shares(answers, words, classes, stated)


def _shares(answers: list[list[str]], words: dict[str, str], classes: list[str], share_of
            ) -> tuple[np.ndarray, int]:
    """Each row's answers that name a label, summed as ``share_of(label, text)`` and normalized;
    and the count of answers that named none."""
    proba = np.zeros((len(answers), len(classes)))
    unparsed = 0
    for i, row in enumerate(answers):
        for text in row:
            label = parse_label(text, words)
            if label is None:
                unparsed += 1
            else:
                proba[i] += share_of(label, text)
    return _normalized(proba), unparsed


def _normalized(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True)
    even = np.full_like(counts, 1.0 / max(1, counts.shape[1]))
    return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), even)
