"""scikit-learn estimators over the NumPy MLP: ``MLPClassifier`` and ``MLPRegressor``.

They are thin: validate the hyperparameters and the data the way scikit-learn
expects (so they pass its own ``check_estimator`` and drop into Pipelines and
GridSearchCV), translate labels and targets into the network's form, then hand
over to :class:`Network` and :func:`train`. Everything numerical lives in the
core; these classes only own the scikit-learn conventions.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from hpsearch.nn._estimator_params import EstimatorParams, validate_estimator_params
from hpsearch.nn._network import Network
from hpsearch.nn._training import train
from hpsearch.nn._validation import seed_streams


class _BaseMLP(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no type hints
    """Shared fit/predict plumbing; subclasses say how targets map to a network head.

    Every parameter is keyword-only and stored unchanged (scikit-learn clones
    estimators by re-calling ``__init__`` with ``get_params()``); checks happen
    in :meth:`fit`, each error naming the parameter and the allowed values.

    The defaults are scikit-learn's where they matter for accuracy: one
    100-unit layer, Adam at 1e-3, batches of 200 rows (of at most n_samples),
    200 epochs, Glorot-uniform weights (``init="auto"``). Measured against
    scikit-learn's MLPs at their defaults in benchmarks/bench_defaults.py; with
    batches of 64, 200 epochs took three times as many steps and over-fitted
    small sets (diabetes R^2 0.27 against scikit-learn's 0.30; 0.34 at 200).
    """

    def __init__(
        self,
        *,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        momentum: float = 0.9,
        batch_size: int = 200,
        max_epochs: int = 200,
        schedule: str = "constant",
        dropout: float = 0.0,
        batch_norm: bool = False,
        init: str = "auto",
        weight_decay: float = 0.0,
        l1: float = 0.0,
        clip_norm: float | None = None,
        early_stopping: bool = False,
        patience: int = 10,
        validation_fraction: float = 0.1,
        target_loss: float | None = None,
        dtype: Any = "float32",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.schedule = schedule
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.init = init
        self.weight_decay = weight_decay
        self.l1 = l1
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.target_loss = target_loss
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # --- subclass hooks -------------------------------------------------
    def _validate_Xy(self, X: Any, y: Any, dtype: type) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _encode_targets(self, y: np.ndarray) -> tuple[np.ndarray, str, int]:
        """Return (targets in the network's form, task, n_outputs)."""
        raise NotImplementedError

    _stratify = False

    # --- fitting --------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _BaseMLP:
        """Train a fresh network on (X, y); a diverged run warns instead of raising."""
        hp = validate_estimator_params(self.get_params(deep=False))
        X, y = self._validate_Xy(X, y, hp.dtype)
        targets, task, n_outputs = self._encode_targets(y)
        init_rng, split_rng, train_rng = seed_streams(self.random_state, 3)
        X_tr, t_tr, X_val, t_val = self._split(hp, X, targets, split_rng)

        net = Network(
            X.shape[1],
            hp.hidden,
            n_outputs,
            task=task,
            activation=hp.activation,
            dropout=hp.dropout,
            batch_norm=hp.batch_norm,
            init=hp.init,
            dtype=hp.dtype,
            random_state=init_rng,
        )
        # A divergence is reported below; train() keeps numpy's overflow warnings quiet itself.
        result = train(
            net,
            X_tr,
            t_tr,
            X_val=X_val,
            y_val=t_val,
            optimizer=hp.optimizer,
            learning_rate=hp.learning_rate,
            momentum=hp.momentum,
            weight_decay=hp.weight_decay,
            l1=hp.l1,
            clip_norm=hp.clip_norm,
            batch_size=min(hp.batch_size, X_tr.shape[0]),
            max_epochs=hp.max_epochs,
            schedule=hp.schedule,
            target_loss=hp.target_loss,
            patience=hp.patience if hp.early_stopping else None,
            callbacks=(self._print_epoch,) if hp.verbose else (),
            random_state=train_rng,
        )

        self.network_ = net
        self.n_outputs_ = n_outputs
        self.history_ = list(result.history)
        self.n_iter_ = int(result.epochs_run)
        self.loss_ = float(result.history[-1].train_loss) if result.history else float("nan")
        self.best_epoch_ = result.best_epoch
        self.stop_reason_ = result.stop_reason
        self.diverged_ = bool(result.diverged)
        # Inference runs in float64 whatever the training dtype: float32 BLAS
        # kernels differ with the batch shape, so a row's float32 output moves
        # (~1e-7) with the rows predicted alongside it. scikit-learn requires
        # predictions invariant to batching, and the cost is one weight copy.
        self._predictor = net if hp.dtype is np.float64 else net.astype(np.float64)
        # What to predict where a diverged network outputs NaN: the training
        # prior (class frequencies, or the target mean), i.e. a constant model.
        self._fallback = (
            np.mean(targets, axis=0)
            if task != "multiclass"
            else (np.bincount(targets, minlength=n_outputs) / len(targets))
        )
        if self.diverged_:
            warnings.warn(
                f"{type(self).__name__}: training diverged (non-finite or exploding loss) after "
                f"{self.n_iter_} epoch(s) with learning_rate={hp.learning_rate:g}; "
                "predictions fall back to the training prior where the network "
                "outputs are not finite. Try a smaller learning_rate or clip_norm.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _split(
        self, hp: EstimatorParams, X: np.ndarray, t: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Hold out ``validation_fraction`` for early stopping (stratified for classifiers)."""
        if not hp.early_stopping:
            return X, t, None, None
        n = X.shape[0]
        if n < 2:
            raise ValueError(
                f"early_stopping=True needs at least 2 samples to hold out "
                f"validation_fraction={hp.validation_fraction:g}; got n_samples={n}"
            )
        seed = int(rng.integers(np.iinfo(np.int32).max))
        kwargs = dict(test_size=hp.validation_fraction, random_state=seed)
        if self._stratify:
            try:
                X_tr, X_val, t_tr, t_val = train_test_split(X, t, stratify=t, **kwargs)
                return X_tr, t_tr, X_val, t_val
            except ValueError:
                pass  # a class too rare to stratify (or a tiny set): a plain random split
        X_tr, X_val, t_tr, t_val = train_test_split(X, t, **kwargs)
        return X_tr, t_tr, X_val, t_val

    @staticmethod
    def _print_epoch(record: Any) -> bool:
        val = "" if record.val_loss is None else f", val_loss={record.val_loss:.5f}"
        print(f"epoch {record.epoch}: train_loss={record.train_loss:.5f}{val} ({record.seconds:.3f}s)")
        return False

    # --- prediction -----------------------------------------------------
    def _forward(self, X: Any) -> np.ndarray:
        """Network outputs (computed in float64), non-finite rows replaced after a divergence."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64, order="C")
        if not self.diverged_:
            return np.asarray(self._predictor.predict(X), dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(self._predictor.predict(X), dtype=np.float64)
        bad = ~np.isfinite(out.reshape(out.shape[0], -1)).all(axis=1)
        out[bad] = self._fallback
        return out


class MLPClassifier(ClassifierMixin, _BaseMLP):  # type: ignore[misc]
    """Multi-layer perceptron classifier: sigmoid head for two classes, softmax for more.

    Labels may be of any type scikit-learn accepts (strings, non-contiguous
    ints); they are encoded to 0..K-1 and ``classes_`` holds the originals.
    With ``early_stopping=True`` a stratified ``validation_fraction`` is held
    out and the weights of the best validation loss are restored.
    """

    _stratify = True

    def _validate_Xy(self, X: Any, y: Any, dtype: type) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, dtype=dtype, order="C")
        check_classification_targets(y)
        return X, y

    def _encode_targets(self, y: np.ndarray) -> tuple[np.ndarray, str, int]:
        classes, codes = np.unique(y, return_inverse=True)
        n_classes = len(classes)
        if n_classes < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got 1 class ({classes[0]!r})"
            )
        self.classes_ = classes
        codes = codes.astype(np.int64)
        if n_classes == 2:
            return codes, "binary", 1
        return codes, "multiclass", n_classes

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        out = self._forward(X)
        if len(self.classes_) == 2:
            p = np.clip(out.reshape(-1), 0.0, 1.0)
            return np.column_stack([1.0 - p, p])
        return out / out.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Natural log of :meth:`predict_proba` (``-inf`` where a probability underflowed)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):  # type: ignore[misc]
    """Multi-layer perceptron regressor: identity head and mean squared error.

    ``y`` may be 1-D (predictions are 1-D) or 2-D for several outputs. Targets
    are not rescaled: standardise them (e.g. ``TransformedTargetRegressor``)
    when they are far from unit scale.
    """

    def _validate_Xy(self, X: Any, y: Any, dtype: type) -> tuple[np.ndarray, np.ndarray]:
        return validate_data(self, X, y, dtype=dtype, order="C", multi_output=True, y_numeric=True)

    def _encode_targets(self, y: np.ndarray) -> tuple[np.ndarray, str, int]:
        self._y_1d = y.ndim == 1
        t = np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1)
        return t, "regression", t.shape[1]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: shape (n_samples,) if fitted on 1-D y, else (n_samples, n_outputs)."""
        out = self._forward(X).reshape(-1, self.n_outputs_)
        return out.ravel() if self._y_1d else out

    def __sklearn_tags__(self) -> Any:  # noqa: D105 - scikit-learn hook
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
