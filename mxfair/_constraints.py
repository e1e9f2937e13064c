"""One table of group-fairness constraints, shared by every mxfair component.

The losses (``mxfair.loss``), the adversary, the threshold post-processing
(``mxfair.postprocessing``) and the FairBatch sampler (``mxfair.data``) name the constraint they
enforce with the same canonical names, and read what it means from one table,
:data:`CONSTRAINTS`: the per-group rates it equalises (names of
:class:`~mxfair.metrics.FairnessReport` rates). :data:`RATE_LABELS` says which rows each rate
is taken over (its label condition), which is what the adversary and FairBatch condition on.

===========================  ===============================  ===============================
canonical name               equalised across groups          also accepted (aliases)
===========================  ===============================  ===============================
``demographic_parity``       selection rate                   ``dp``, ``statistical_parity``,
                                                              ``selection_rate_parity``
``equal_opportunity``        true positive rate               ``eqopp``,
                                                              ``true_positive_rate_parity``,
                                                              ``false_negative_rate_parity``
``predictive_equality``      false positive rate              ``false_positive_rate_parity``,
                                                              ``true_negative_rate_parity``
``equalized_odds``           true and false positive rates    ``eqodds``
===========================  ===============================  ===============================

The aliases are the names of fairlearn's ``ThresholdOptimizer`` (``*_rate_parity``; equal
FNRs are equal TPRs and equal TNRs equal FPRs, so those are the same constraints) and of the
FairBatch paper's code (``dp``, ``eqopp``, ``eqodds``). Names are matched case-insensitively,
with ``-`` or a space read as ``_``. Every component stores the canonical name (its
``constraint`` attribute or property) and supports all four constraints.

A fifth constraint on these rates is one more entry of ``_RATES`` (and its aliases); a
constraint on another rate also needs that rate's label condition here and its soft statistic
in :data:`mxfair.loss.RATE_STATISTICS` (FairBatch and the adversary then refuse it by name,
until their rule for it is written).
"""
from collections.abc import Mapping
from typing import Any, Collection, Dict, Iterator, Literal, Optional, Tuple

__all__ = [
    "CONSTRAINTS",
    "CONSTRAINT_NAMES",
    "CONSTRAINT_ALIASES",
    "FAIRLEARN_THRESHOLD_NAMES",
    "RATE_LABELS",
    "ConstraintName",
    "ConstraintTable",
    "canonical_constraint",
    "constraints_over",
]

# Canonical name -> the per-group rates it equalises, in order (the table CONSTRAINTS).
_RATES = {
    "demographic_parity": ("selection_rate",),
    "equal_opportunity": ("true_positive_rate",),
    "predictive_equality": ("false_positive_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}

#: The canonical constraint names, in a fixed order.
CONSTRAINT_NAMES = tuple(_RATES)

#: Rate -> the true label of the rows it is taken over: 1 (the positives: TPR), 0 (the
#: negatives: FPR) or None (every row: the selection rate).
RATE_LABELS: Dict[str, Optional[int]] = {
    "selection_rate": None,
    "true_positive_rate": 1,
    "false_positive_rate": 0,
}

#: Alias -> canonical name.
CONSTRAINT_ALIASES: Dict[str, str] = {
    "dp": "demographic_parity",
    "statistical_parity": "demographic_parity",
    "selection_rate_parity": "demographic_parity",
    "eqopp": "equal_opportunity",
    "true_positive_rate_parity": "equal_opportunity",
    "false_negative_rate_parity": "equal_opportunity",
    "false_positive_rate_parity": "predictive_equality",
    "true_negative_rate_parity": "predictive_equality",
    "eqodds": "equalized_odds",
}

#: Canonical name -> the name fairlearn's ``ThresholdOptimizer(constraints=...)`` uses.
FAIRLEARN_THRESHOLD_NAMES: Dict[str, str] = {
    "demographic_parity": "demographic_parity",
    "equal_opportunity": "true_positive_rate_parity",
    "predictive_equality": "false_positive_rate_parity",
    "equalized_odds": "equalized_odds",
}

#: Every accepted spelling (for type hints): the names, then the aliases.
ConstraintName = Literal[CONSTRAINT_NAMES + tuple(CONSTRAINT_ALIASES)]  # type: ignore[valid-type]

UNKNOWN_CONSTRAINT = "{argument} must be one of {choices} or an alias ({aliases}), got {value!r}"
UNSUPPORTED_CONSTRAINT = (
    "{argument} must be one of {choices} or an alias ({aliases}), got {value!r}: "
    "{canonical!r} is not supported here"
)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _aliases_text(choices) -> str:
    """``'dp/statistical_parity -> demographic_parity; ...'`` for the given canonical names."""
    parts = []
    for canonical in choices:
        names = [a for a, c in CONSTRAINT_ALIASES.items() if c == canonical]
        if names:
            parts.append(f"{'/'.join(names)} -> {canonical}")
    return "; ".join(parts)


def canonical_constraint(name: Any, *, allowed: Optional[Collection[str]] = None,
                         argument: str = "constraint") -> str:
    """The canonical name of a fairness constraint given by its name or an alias.

    Parameters
    ----------
    name : str
        A canonical name or an alias (see the module docstring), any case; ``-`` or a space
        stands for ``_``.
    allowed : collection of str, optional
        The canonical names the caller supports (default: all four). Their aliases are
        accepted too.
    argument : str, default "constraint"
        The caller's parameter name, used in the error message (e.g. ``"fairness"``).

    Returns
    -------
    str
        One of ``CONSTRAINT_NAMES`` (and of ``allowed``).

    Raises
    ------
    ValueError
        Naming the bad value and listing the accepted names and aliases, when ``name`` is not
        a known constraint or names one outside ``allowed``.

    Examples
    --------
    >>> canonical_constraint("true_positive_rate_parity")
    'equal_opportunity'
    >>> canonical_constraint("eqodds")
    'equalized_odds'
    >>> canonical_constraint("predictive_equality", allowed=("demographic_parity",))
    Traceback (most recent call last):
    ...
    ValueError: constraint must be one of ['demographic_parity'] or an alias \
(dp/statistical_parity/selection_rate_parity -> demographic_parity), got \
'predictive_equality': 'predictive_equality' is not supported here
    """
    choices = [c for c in CONSTRAINT_NAMES if allowed is None or c in allowed]
    fmt = dict(argument=argument, choices=choices, aliases=_aliases_text(choices), value=name)
    canonical = None
    if isinstance(name, str):
        key = _normalise(name)
        canonical = key if key in CONSTRAINT_NAMES else CONSTRAINT_ALIASES.get(key)
    if canonical is None:
        raise ValueError(UNKNOWN_CONSTRAINT.format(**fmt))
    if canonical not in choices:
        raise ValueError(UNSUPPORTED_CONSTRAINT.format(canonical=canonical, **fmt))
    return canonical


class ConstraintTable(Mapping):
    """A read-only table keyed by canonical constraint names whose lookups accept aliases.

    Iterating (``list(table)``, ``table.items()``) gives the canonical names only, each once;
    ``table["eqopp"]`` and ``"eqopp" in table`` resolve the alias first.

    Parameters
    ----------
    entries : dict
        Canonical name -> value.

    Examples
    --------
    >>> table = ConstraintTable({"equal_opportunity": ("true_positive_rate",)})
    >>> table["true_positive_rate_parity"], list(table)
    (('true_positive_rate',), ['equal_opportunity'])
    """

    def __init__(self, entries: Dict[str, Any]):
        unknown = [k for k in entries if k not in CONSTRAINT_NAMES]
        if unknown:
            raise ValueError(f"ConstraintTable keys must be canonical names, got {unknown}")
        self._entries = dict(entries)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._entries[canonical_constraint(key, allowed=self._entries)]
        except ValueError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ConstraintTable({self._entries!r})"


#: Canonical name -> the per-group rates it equalises; lookups accept the aliases
#: (``CONSTRAINTS["eqopp"] == ("true_positive_rate",)``).
CONSTRAINTS = ConstraintTable(_RATES)


def constraints_over(rates: Collection[str]) -> Tuple[str, ...]:
    """The canonical constraints whose rates are all among ``rates`` (what a component that
    knows those rates supports), in table order.

    Examples
    --------
    >>> constraints_over(["selection_rate", "true_positive_rate"])
    ('demographic_parity', 'equal_opportunity')
    """
    return tuple(c for c, needs in _RATES.items() if set(needs) <= set(rates))
