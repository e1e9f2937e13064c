"""The one factory of the generated metric functions (fairlearn's spec-table pattern).

A :class:`Family` holds what its members share: a signature (read from a template function),
the documentation of those parameters and of the result, and one compute function. Each member
is one line of its module's spec table, ``name = FAMILY.make("name", spec, summary, example)``:
a real function with that signature (``inspect.signature`` and ``help`` show it; a wrong call is
the usual ``TypeError``), a numpydoc docstring with a runnable example, and the module's name,
so that "go to definition" lands on the spec line and doctest collects the example.
"""
import inspect
from typing import Any, Callable, Optional

__all__: list = []

_DOC = """{summary}

Parameters
----------
{parameters}

Returns
-------
{returns}

Examples
--------
{example}
"""


class Family:
    """Members that share a signature, parameter documentation and a compute function.

    Parameters
    ----------
    template : callable
        A function whose signature every member takes (its body is never run).
    compute : callable
        ``compute(name, spec, **arguments)``: the value of member ``name`` (``spec`` is what the
        spec line gave) for the bound arguments, defaults applied.
    parameters, returns : str
        The numpydoc text of the parameters and of the result.
    module : str
        The ``__name__`` of the module the members belong to.
    """

    def __init__(self, template: Callable, compute: Callable[..., Any], parameters: str,
                 returns: str, module: str):
        self.signature = inspect.signature(template)
        self.compute = compute
        self.parameters = parameters.strip("\n")
        self.returns = returns.strip("\n")
        self.module = module

    def make(self, name: str, spec: Any, summary: str, example: str,
             template: Optional[Callable] = None, parameters: str = "") -> Callable:
        """Member ``name``: ``template`` and ``parameters`` replace or extend the family's."""
        signature = inspect.signature(template) if template is not None else self.signature
        compute = self.compute

        def metric(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return compute(name, spec, **bound.arguments)

        metric.__name__ = metric.__qualname__ = name
        metric.__module__ = self.module
        metric.__signature__ = signature
        metric.__doc__ = _DOC.format(
            summary=inspect.cleandoc(summary),
            parameters=self.parameters + ("\n" + parameters.strip("\n") if parameters else ""),
            returns=self.returns, example=inspect.cleandoc(example))
        return metric
