"""One rule per parameter: every declared constraint rejects a bad value with a message
that names the parameter, the class, what it must be and what it got.

scikit-learn's own ``check_param_validation`` runs on every estimator and dictionary
(each parameter set to an object of no valid type, then to a value generated to violate
each of its constraints); koop's two extra rules (a bool is not a number, a number must
be finite) are checked on every numeric parameter.
"""

import math
import re
from numbers import Integral

import numpy as np
import pytest
from sklearn.utils._param_validation import Interval, make_constraint
from sklearn.utils.estimator_checks import check_param_validation

from koop import dictionaries, estimators
from koop._params import InvalidParameterError, Satisfies
from koop.dictionaries import Concat, Custom, Identity


class _Observable:
    """The smallest object with pykoopman's observable API."""

    def fit(self, x, y=None):
        return self

    def transform(self, x):
        return x

    def get_feature_names(self, input_features=None):
        return input_features


def _instances():
    """One valid instance of every estimator and dictionary class koop has."""
    out = {}
    for module in (estimators, dictionaries):
        for name in module.__all__:
            cls = getattr(module, name)
            if isinstance(cls, type) and name != "Dictionary":
                out[name] = cls()
    out["Custom"] = Custom(np.sin)
    out["Concat"] = Concat([Identity()])
    from koop.estimators._kernel_edmd import _KernelFeatures
    from koop.interop import KoopObservable, PykoopmanObservable

    out["_KernelFeatures"] = _KernelFeatures()
    out["PykoopmanObservable"] = PykoopmanObservable(_Observable())
    out["KoopObservable"] = KoopObservable(Identity())
    try:
        from koop.dictionaries.neural import NeuralDictionary
        from koop.estimators.neural import EDMDDL

        out["NeuralDictionary"] = NeuralDictionary()
        out["EDMDDL"] = EDMDDL()
    except ImportError:  # pragma: no cover - the classes import without torch
        pass
    return out


INSTANCES = _instances()


def test_every_class_declares_every_parameter():
    for name, obj in INSTANCES.items():
        params = set(obj.get_params(deep=False))
        assert set(type(obj)._parameter_constraints) == params, name


@pytest.mark.filterwarnings("ignore::koop.exceptions.RankDeficiencyWarning")
@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_scikit_learn_param_validation(name):
    check_param_validation(name, INSTANCES[name])


def _numeric(constraints):
    return [c for c in constraints if isinstance(c, Interval)]


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_bools_and_non_finite_numbers_are_refused(name):
    obj = INSTANCES[name]
    checked = 0
    for param, spec in type(obj)._parameter_constraints.items():
        made = [make_constraint(c) for c in spec]
        if not _numeric(made) or any(type(c).__name__ == "_Booleans" for c in made):
            continue
        bad_values = [True, np.inf, -np.inf, np.nan] if any(
            c.type is not Integral for c in _numeric(made)) else [True, False]
        for bad in bad_values:
            est = obj.__class__(**{**obj.get_params(deep=False), param: bad})
            with pytest.raises(InvalidParameterError) as info:
                est._validate_params()
            msg = str(info.value)
            assert msg.startswith(f"The {param!r} parameter of {type(obj).__name__} must be")
            assert msg.endswith(f"Got {bad!r} instead.")
            checked += 1
    assert checked or not any(_numeric([make_constraint(c) for c in spec])
                              for spec in type(obj)._parameter_constraints.values())


def test_messages_say_what_is_expected():
    with pytest.raises(ValueError, match=re.escape(
            "The 'rank' parameter of EDMD must be an int in the range [1, inf), a float in "
            "the range (0.0, 1.0), a str among {'optimal'} or None. Got 2.5 instead.")):
        estimators.EDMD(rank=2.5).fit(np.zeros((5, 2)))
    with pytest.raises(TypeError, match="must be a koop dictionary"):
        estimators.EDMD(dictionary="poly").fit(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="must be finite"):
        estimators.EDMD(regularization=math.inf).fit(np.zeros((5, 2)))


def test_valid_values_pass_unchanged():
    for rank in (None, 1, np.int64(3), 0.5, np.float64(0.25), "optimal"):
        estimators.EDMD(rank=rank)._validate_params()
    for reg in (0, 0.0, 1e-8, np.float32(1.0)):
        estimators.EDMD(regularization=reg)._validate_params()


def test_satisfies_is_a_constraint_scikit_learn_accepts():
    c = Satisfies(lambda v: v == 3, "three")
    assert make_constraint(c) is c and str(c) == "three"
