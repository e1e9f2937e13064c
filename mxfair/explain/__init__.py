"""Why does a model treat groups differently? Attribution of gaps, importance, proxies.

- :func:`gap_attribution`: per-feature contributions to the gap in mean output between two
  groups, from expected/integrated gradients through autograd on the net's context (tabular
  or image nets); they add up to the gap.
- :func:`permutation_gap_attribution`: the model-agnostic alternative (exported
  ``SymbolBlock`` s, thresholded decisions).
- :func:`shapley_gap`: exact Shapley values of the gap for a few features (the reference).
- :func:`feature_importance`, :func:`partial_dependence`: permutation importance and
  per-group partial dependence.
- :func:`proxy_detection`: which features predict the sensitive attribute, and how well.
- :func:`tabular_feature_groups`: one-hot blocks of the tabular loaders as one feature each.
"""
from . import attribution, features, importance, proxies, shapley
from .attribution import *  # noqa: F401,F403
from .features import *  # noqa: F401,F403
from .importance import *  # noqa: F401,F403
from .proxies import *  # noqa: F401,F403
from .shapley import *  # noqa: F401,F403

__all__ = (attribution.__all__ + features.__all__ + importance.__all__ + proxies.__all__
           + shapley.__all__)
