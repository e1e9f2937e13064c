"""A prefit "estimator" for fairlearn's ThresholdOptimizer: column 0 of X is the score.

Shared by the bench scripts that hand fairlearn scores computed elsewhere (an MXNet net's, a
scikit-learn model's) with ``prefit=True, predict_method="predict_proba"``.
"""
import numpy as np

__all__ = ["PrefitScores"]


class PrefitScores:
    """``predict_proba(X)`` is ``[1 - X[:, 0], X[:, 0]]``: the scores passed in as X."""

    fitted_ = True  # passes sklearn's check_is_fitted

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        s = np.asarray(X)[:, 0]
        return np.column_stack([1.0 - s, s])
