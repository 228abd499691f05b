"""Differential test: for nested built-in data, webpickle's stream loads to
what the stdlib's stream loads to, for every protocol 2-5, under a
comparator that checks types, values (NaN-aware) and the sharing of mutables.

WEBPICKLE_SOAK=N runs N examples (the closing note reports a 100,000 run);
the normal suite runs a modest number.
"""

import copy
import os
import sys
import pickle

import pytest

import webpickle
from support import PROTOCOLS, same_structure

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:
    # Natively a failure, not a skip: the toolchain root installs hypothesis.
    if sys.platform != "emscripten":
        raise
    pytest.skip("hypothesis is not part of Pyodide: the differential test runs natively", allow_module_level=True)

EXAMPLES = int(os.environ.get("WEBPICKLE_SOAK", "300"))

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.sampled_from([0, 1, True, False, 1.0, 0.0, -0.0, float("nan"), float("inf"), -float("inf")]),
    st.floats(allow_nan=True),
    st.complex_numbers(allow_nan=True),
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),
    st.binary(),
)
hashables = st.recursive(
    atoms, lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=4)), max_leaves=6
)
trees = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.tuples(inner, inner),
        st.dictionaries(hashables, inner, max_size=5),
        st.sets(hashables, max_size=5),
        st.frozensets(hashables, max_size=4),
        st.binary().map(bytearray),
    ),
    max_leaves=25,
)

@st.composite
def shared_and_recursive(draw):
    """A tree in which one list is referenced several times and may contain the root."""
    shared = draw(st.lists(trees, max_size=3))
    root = [draw(trees), shared, {"again": shared}, (shared, draw(trees))]
    if draw(st.booleans()):
        shared.append(root)  # recursive: root -> shared -> root
    return root

@st.composite
def equal_but_distinct(draw):
    """Mutables that are equal but distinct (a deep copy beside the original,
    two bytearrays of the same bytes): a writer that merged equal contents
    would load them as one object, which the comparator catches."""
    tree = draw(trees)
    data = draw(st.binary(max_size=8))
    return [tree, copy.deepcopy(tree), bytearray(data), bytearray(data), {"x": [], "y": []}]

@pytest.mark.parametrize("protocol", PROTOCOLS)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.one_of(trees, shared_and_recursive(), equal_but_distinct()))
def test_loads_like_the_stdlib_stream(protocol, data):
    ours = pickle.loads(webpickle.dumps(data, protocol=protocol))
    theirs = pickle.loads(pickle.dumps(data, protocol=protocol))
    assert same_structure(theirs, ours)

@pytest.mark.parametrize("protocol", PROTOCOLS)
@settings(max_examples=max(50, EXAMPLES // 3), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=trees)
def test_bytes_are_a_function_of_the_value(protocol, data):
    first = webpickle.dumps(data, protocol=protocol)
    assert webpickle.dumps(pickle.loads(first), protocol=protocol) == first
