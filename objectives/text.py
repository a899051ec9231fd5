"""Text classification, the classic way: tokenize, normalize, bag-of-words.

The project ships no text files to download: :func:`make_corpus` writes a
small corpus of short reviews deterministically (fixed seed), labelled "yes"
(the reviewer liked it) or "no". Negations ("not good", "wasn't bad") and
mixed reviews make unigrams imperfect, so ``ngram = 2`` is a hyperparameter
that matters, and a little label noise keeps 100 % out of reach.

The vocabulary is always built from the rows the model is fitted on (the
training split during search), never from validation or test rows.

Why not scikit-learn's CountVectorizer / TfidfTransformer: measured on the
1,000-review corpus with bigrams, they give the same matrices (to 2e-16, see
tests/objectives/test_text_objective.py) in the same time (10-17 ms), but
importing them costs about 0.75 s (scikit-learn and SciPy) in every trial
process, which the trial path otherwise never imports. Their ``max_features``
also ranks terms by total count, not by document frequency as below.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

CORPUS_SEED = 20120201  # fixed: the corpus is part of the project, not of a study

_SUBJECTS = [
    "the movie",
    "this film",
    "the plot",
    "the acting",
    "the soundtrack",
    "the ending",
    "the dialogue",
    "the cast",
    "the story",
    "the pacing",
    "the camera work",
    "the script",
]
_VERBS = ["was", "is", "felt", "seemed"]
_CONTRACT = {"was": "wasn't", "is": "isn't"}
_INTENS = ["", "", "really", "very", "quite", "truly", "rather"]
_POS = [
    "good",
    "great",
    "wonderful",
    "brilliant",
    "moving",
    "funny",
    "clever",
    "beautiful",
    "gripping",
    "charming",
    "superb",
    "delightful",
]
_NEG = [
    "bad",
    "boring",
    "awful",
    "dull",
    "terrible",
    "predictable",
    "clumsy",
    "weak",
    "tedious",
    "messy",
    "forgettable",
    "painful",
]
_FILLER = [
    "i watched it on a sunday",
    "my friend recommended it",
    "we saw it in the cinema",
    "it runs about two hours",
    "i went in with no expectations",
    "the trailer gave little away",
    "there were popcorn breaks",
    "it was based on a novel",
]
_TOKEN = re.compile(r"[a-z0-9']+")


def make_corpus(n_samples: int = 1000, noise: float = 0.05, seed: int = CORPUS_SEED) -> tuple[list[str], list[str]]:
    """``n_samples`` reviews and their labels ("yes" / "no"), deterministically."""
    rng = np.random.default_rng(seed)
    docs, labels = [], []
    for _ in range(n_samples):
        n_clauses = int(rng.choice([1, 1, 3]))
        sentences, total = [], 0
        for _ in range(n_clauses):
            sentence, polarity = _clause(rng)
            sentences.append(sentence)
            total += polarity
        if rng.random() < 0.5:
            sentences.insert(int(rng.integers(len(sentences) + 1)), str(rng.choice(_FILLER)))
        text = ". ".join(s[0].upper() + s[1:] if rng.random() < 0.7 else s for s in sentences)
        text += str(rng.choice([".", "!", "!!", "..."]))
        label = total > 0
        if rng.random() < noise:
            label = not label
        docs.append(text)
        labels.append("yes" if label else "no")
    return docs, labels


def _clause(rng: np.random.Generator) -> tuple[str, int]:
    """One "subject verb [intensifier | not] adjective" clause and its polarity (+1/-1)."""
    positive = rng.random() < 0.5
    adjective = str(rng.choice(_POS if positive else _NEG))
    verb = str(rng.choice(_VERBS))
    negated = verb in _CONTRACT and rng.random() < 0.4
    words = [str(rng.choice(_SUBJECTS))]
    if negated:  # "not" right before the adjective: a bigram can learn it, a unigram cannot
        words += [_CONTRACT[verb]] if rng.random() < 0.5 else [verb, "not"]
    else:
        words.append(verb)
        intensifier = str(rng.choice(_INTENS))
        if intensifier:
            words.append(intensifier)
    words.append(adjective.upper() if rng.random() < 0.1 else adjective)
    polarity = (1 if positive else -1) * (-1 if negated else 1)
    return " ".join(words), polarity


def tokenize(text: str) -> list[str]:
    """Lower-case, split on anything but letters/digits/apostrophes, expand "n't"."""
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        token = token.strip("'")
        if token.endswith("n't") and len(token) > 3:
            tokens += [token[:-3], "not"]
        elif token:
            tokens.append(token)
    return tokens


def ngrams(tokens: Sequence[str], n: int) -> list[str]:
    """Unigrams, plus bigrams ... up to ``n``-grams joined by spaces."""
    out = list(tokens)
    for k in range(2, n + 1):
        out += [" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)]
    return out


def build_vocabulary(docs: Sequence[Sequence[str]], *, vocab_size: int, min_count: int, ngram: int) -> dict[str, int]:
    """Map the ``vocab_size`` most document-frequent terms (ties: alphabetical) to columns."""
    df = Counter()
    for tokens in docs:
        df.update(set(ngrams(tokens, ngram)))
    kept = sorted((t for t, c in df.items() if c >= min_count), key=lambda t: (-df[t], t))[:vocab_size]
    return {term: j for j, term in enumerate(kept)}


def vectorize(
    docs: Sequence[Sequence[str]],
    vocabulary: dict[str, int],
    *,
    ngram: int,
    features: str,
    idf: np.ndarray | None = None,
) -> np.ndarray:
    """Bag-of-words matrix: binary presence, raw counts, or L2-normalized tf-idf."""
    X = np.zeros((len(docs), len(vocabulary)), dtype=np.float64)
    for i, tokens in enumerate(docs):
        for term in ngrams(tokens, ngram):
            j = vocabulary.get(term)
            if j is not None:
                X[i, j] += 1.0
    if features == "binary":
        return np.minimum(X, 1.0)
    if features == "tfidf":
        X *= idf if idf is not None else 1.0
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)
    return X


def inverse_document_frequency(docs: Sequence[Sequence[str]], vocabulary: dict[str, int], ngram: int) -> np.ndarray:
    """Smoothed idf (as scikit-learn's): log((1 + n) / (1 + df)) + 1."""
    df = np.zeros(len(vocabulary))
    for tokens in docs:
        for term in set(ngrams(tokens, ngram)):
            j = vocabulary.get(term)
            if j is not None:
                df[j] += 1
    return np.log((1 + len(docs)) / (1 + df)) + 1.0


def bag_of_words(
    docs: Sequence[Sequence[str]],
    fit_rows: np.ndarray,
    row_sets: Sequence[np.ndarray],
    *,
    vocab_size: int,
    min_count: int,
    ngram: int,
    features: str,
) -> list[np.ndarray]:
    """Vectorize ``row_sets`` with a vocabulary (and idf) learnt on ``fit_rows`` only."""
    fit_docs = [docs[i] for i in fit_rows]
    vocabulary = build_vocabulary(fit_docs, vocab_size=vocab_size, min_count=min_count, ngram=ngram)
    if not vocabulary:
        vocabulary = {"<empty>": 0}
    idf = inverse_document_frequency(fit_docs, vocabulary, ngram) if features == "tfidf" else None
    return [
        vectorize([docs[i] for i in rows], vocabulary, ngram=ngram, features=features, idf=idf) for rows in row_sets
    ]
