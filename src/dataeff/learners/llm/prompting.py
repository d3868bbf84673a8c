"""Prompts for base LLMs: the task question, verbalizers, demonstrations, and the scored answers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dataeff.config import DEFAULT_SHOTS
from dataeff.data.builtin import builtin_task
from dataeff.data.serialize import serialize_row
from dataeff.errors import ConfigError
from dataeff.terms import setting_name

#: Demonstrations a few-shot prompt holds at most (the rest of the training rows go unused).
DEFAULT_K_MAX = DEFAULT_SHOTS


@dataclass
class Task:
    """What the LLM is asked, and the word that stands for each label."""

    question: str
    verbalizers: dict[str, str]  # label -> answer word
    style: str = "list"
    classes: list[str] = field(default_factory=list)
    descriptions: dict[str, str] | None = None  # the data dictionary: column -> meaning
    template: str | None = None  # a Jinja row template (replaces style)
    # How the question asks for its answer: "word" (scored by its log-probability: nothing
    # said), "choice" (written answers: the answer words listed), "confidence" (also a 0-100).
    answer_form: str = "word"

    @classmethod
    def for_dataset(cls, name: str, target: str, classes: list[str], question: str | None = None,
                    verbalizers: dict[str, str] | None = None, style: str = "list",
                    descriptions: dict[str, str] | None = None, template: str | None = None) -> Task:
        """The built-in question and words, or defaults from the target and label names."""
        default_q, default_v = builtin_task(name)  # declared with the dataset (data/builtin.py)
        if default_v and set(default_v) != set(classes):
            default_q, default_v = None, None
        question = question or default_q or f"What is the {str(target).replace('_', ' ')}?"
        verbalizers = verbalizers or default_v or {c: str(c).replace("_", " ") for c in classes}
        missing = set(classes) - set(verbalizers)
        if missing:
            raise ConfigError(f"Verbalizers lack label(s) {sorted(missing)}; give an answer word for every label.")
        words = [verbalizers[c] for c in classes]
        if len(set(words)) < len(words):
            raise ConfigError(f"Verbalizers must differ per label; got {verbalizers}.")
        return cls(question, {c: verbalizers[c] for c in classes}, style=style, classes=list(classes),
                   descriptions=descriptions, template=template)

    def row_text(self, row: pd.Series) -> str:
        return serialize_row(row, self.style, self.descriptions, self.template)

    def query(self, row: pd.Series) -> str:
        return f"{self.row_text(row)}\nQuestion: {self.question}{self._asking()}\nAnswer:"

    def _asking(self) -> str:
        """What the question adds for a model that writes its answer: which words to use."""
        if self.answer_form == "word":
            return ""
        words = " or ".join(self.verbalizers[c] for c in self.classes)
        if self.answer_form == "choice":
            return f" ({words})"
        example = self.verbalizers[self.classes[0]]
        return f" Reply {words}, then how sure you are from 0 to 100 (e.g. {example} 80)."

    def demonstration(self, row: pd.Series, label: str) -> str:
        return f"{self.query(row)} {self.verbalizers[label]}\n\n"

    def continuations(self) -> list[str]:
        return [f" {self.verbalizers[c]}" for c in self.classes]


def balanced_demonstrations(y: pd.Series, k: int, rng: np.random.Generator) -> list[int]:
    """Positions of up to ``k`` rows, classes taking turns (round-robin), in a shuffled order."""
    by_class = {c: list(rng.permutation(np.flatnonzero(y.to_numpy() == c))) for c in sorted(y.unique())}
    picked: list[int] = []
    while len(picked) < k and any(by_class.values()):
        for c in list(by_class):
            if by_class[c] and len(picked) < k:
                picked.append(int(by_class[c].pop()))
    return [picked[i] for i in rng.permutation(len(picked))]


def similar_demonstrations(similarity: np.ndarray, y: pd.Series, k: int, class_order: list[str]) -> list[int]:
    """Positions of up to ``k`` rows near one test row (``similarity``: to each labelled row),
    classes taking turns: each round adds every class's nearest row not yet taken, so a class
    with many near rows cannot fill the prompt (the model copies the labels it sees most). In
    prompt order: the farthest round first, the nearest next to the question; within a round,
    classes in ``class_order`` (fixed per cell, so the position bias is the same for every row)."""
    labels = y.to_numpy()
    by_class = {c: list(np.flatnonzero(labels == c)[np.argsort(-similarity[labels == c], kind="stable")])
                for c in class_order}
    rounds: list[list[int]] = []
    taken = 0
    while taken < k and any(by_class.values()):
        this_round = [int(by_class[c].pop(0)) for c in class_order if by_class[c]][: k - taken]
        rounds.append(this_round)
        taken += len(this_round)
    return [i for this_round in reversed(rounds) for i in this_round]


def probabilities(logprobs: np.ndarray) -> np.ndarray:
    """(rows, classes) summed log-likelihoods -> class probabilities (softmax per row)."""
    shifted = logprobs - logprobs.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def check_prompts_fit(X: pd.DataFrame, task: Task, shots: int | None, count_tokens, n_ctx: int,
                      sample: int = 2000, name: str | None = None) -> None:
    """Refuse, before a run starts, prompts that cannot fit the model's context (``n_ctx``, the
    most it was trained for; the llamacpp backend sizes each context to its prompts): a row
    too long to ask about at all, or ``shots`` demonstrations of typical rows (90th
    percentile) plus the question. Rare long rows that overflow only with demonstrations fail
    their cell with the same message instead. ``name``: the learner, named in the message."""
    rows = X.sample(min(len(X), sample), random_state=0) if len(X) > sample else X
    lengths = np.array(count_tokens([task.query(row) + task.continuations()[0] for _, row in rows.iterrows()]))
    if len(lengths) == 0:
        return
    who = f"{name}: " if name else ""
    longest = int(lengths.max())
    if longest > n_ctx:
        raise ConfigError(f"{who}a row's prompt takes {longest:,} tokens, more than the model's context of "
                          f"{n_ctx:,}; drop or shorten long text columns.")
    if shots:
        typical = int(np.percentile(lengths, 90))
        need = (shots + 1) * typical
        if need > n_ctx:
            fits = max(0, n_ctx // max(typical, 1) - 1)
            raise ConfigError(f"{who}{shots} demonstrations of rows of ~{typical:,} tokens need ~{need:,} tokens, "
                              f"more than the model's context of {n_ctx:,}; use {setting_name('llm_shots', fits)} "
                              f"(shots={fits} "
                              "in a variant) or shorter rows.")
