"""The text objective: tokenize, normalize, bag-of-words, yes/no classifier."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from hpsearch.errors import UserError
from hpsearch.spec import spec_from_dict
from objectives import build_objective
from objectives.datasets import load_problem
from objectives.text import bag_of_words, make_corpus, tokenize


def test_corpus_is_deterministic_and_balanced():
    docs, labels = make_corpus(200)
    assert (docs, labels) == make_corpus(200)
    assert set(labels) == {"yes", "no"}
    assert 0.35 < labels.count("yes") / len(labels) < 0.65


def test_tokenize_normalizes_case_punctuation_and_negation():
    assert tokenize("The plot WASN'T good... I liked it!") == ["the", "plot", "was", "not", "good", "i", "liked", "it"]


def test_vocabulary_comes_from_fit_rows_only():
    docs = [["good", "film"], ["bad", "film"], ["unseen", "word"]]
    fit, other = bag_of_words(
        docs, np.array([0, 1]), [np.array([0, 1]), np.array([2])], vocab_size=10, min_count=1, ngram=1, features="count"
    )
    assert fit.shape == (2, 3) and other.tolist() == [[0.0, 0.0, 0.0]]
    (bigrams,) = bag_of_words(
        docs, np.array([0, 1]), [np.array([0])], vocab_size=10, min_count=1, ngram=2, features="binary"
    )
    assert bigrams.shape == (1, 5) and bigrams.sum() == 3  # film, good, "good film"


@pytest.mark.parametrize("features", ["binary", "count", "tfidf"])
def test_bag_of_words_equals_scikit_learns(features):
    """The hand-written vectorizer (kept to spare trials importing scikit-learn and SciPy) gives
    CountVectorizer's and TfidfTransformer's matrices for the same vocabulary."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    from objectives.text import build_vocabulary, ngrams

    docs = [tokenize(d) for d in make_corpus(300)[0]]
    fit, val = np.arange(200), np.arange(200, 300)
    ours = bag_of_words(docs, fit, [fit, val], vocab_size=150, min_count=2, ngram=2, features=features)
    fit_docs = [docs[i] for i in fit]
    vocab = build_vocabulary(fit_docs, vocab_size=150, min_count=2, ngram=2)
    cv = CountVectorizer(
        analyzer=lambda d: ngrams(d, 2), vocabulary=vocab, binary=features == "binary", dtype=np.float64
    )
    theirs = [cv.transform([docs[i] for i in rows]) for rows in (fit, val)]
    if features == "tfidf":
        tfidf = TfidfTransformer().fit(cv.transform(fit_docs))
        theirs = [tfidf.transform(m) for m in theirs]
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b.toarray(), rtol=0, atol=1e-12)


def test_text_objective_reaches_sensible_accuracy_and_bigrams_help():
    spec = spec_from_dict(
        {
            "study": {"name": "text", "objective": "text", "seed": 0},
            "training": {"max_epochs": 40, "patience": 6, "features": "count", "depth": 0},
            "space": {
                "ngram": {"type": "int", "low": 1, "high": 2},
                "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
            },
        }
    )
    objective = build_objective(spec)
    values = {}
    for ngram in (1, 2):
        params = {"ngram": ngram, "learning_rate": 0.01}
        values[ngram] = objective(optuna.trial.FixedTrial(params), params)
    assert values[2] >= 0.8  # chance is 0.5
    assert values[2] > values[1] + 0.03  # negations ("not good") need bigrams


def test_text_dataset_from_a_csv_file(tmp_path):
    docs, labels = make_corpus(60, seed=3)
    lines = ["review,liked"] + [f'"{d}",{y}' for d, y in zip(docs, labels, strict=True)]
    (tmp_path / "reviews.csv").write_text("\n".join(lines) + "\n")
    spec = spec_from_dict(
        {
            "study": {"name": "t", "objective": "text"},
            "data": {
                "dataset": "text",
                "path": str(tmp_path / "reviews.csv"),
                "text_column": "review",
                "target": "liked",
            },
            "space": {"ngram": {"type": "int", "low": 1, "high": 2}},
        }
    )
    p = load_problem(spec.data, spec.split_seed)
    assert p.classes == ("no", "yes") and len(p.y) == 60
    assert p.inputs[0] == tokenize(docs[0])
    bad = spec.model_copy(update={"data": spec.data.model_copy(update={"text_column": "text"})})
    with pytest.raises(UserError, match=r"reviews\.csv:1: expected a column named 'text'"):
        load_problem(bad.data, 0)
