"""The round-trip comparator of support.py must see lost sharing and extra sharing alike."""

from support import same_structure


def test_equal_distinct_lists_merged_into_one_fail():
    x = []
    assert not same_structure([[], []], [x, x])


def test_equal_distinct_bytearrays_merged_into_one_fail():
    merged = bytearray(b"abc")
    assert not same_structure([bytearray(b"abc"), bytearray(b"abc")], [merged, merged])
    assert not same_structure({"a": bytearray(b"abc"), "b": bytearray(b"abc")}, {"a": merged, "b": merged})


def test_shared_list_split_in_two_fails():
    x = []
    assert not same_structure([x, x], [[], []])


def test_sharing_kept_one_to_one_passes():
    x, y = [1], {2: 3}
    expected = [x, y, x, (y, bytearray(b"q"))]
    x2, y2 = [1], {2: 3}
    assert same_structure(expected, [x2, y2, x2, (y2, bytearray(b"q"))])
    assert same_structure([[], []], [[], []])


def test_cycles_compare():
    a = []
    a.append(a)
    b = []
    b.append(b)
    assert same_structure(a, b)
    c = [[]]
    c[0].append(c)
    assert not same_structure(a, c)  # a is its own child; c's child is another list


def test_types_values_and_nan():
    nan = float("nan")
    assert same_structure([nan, -0.0, {nan}], [nan, -0.0, {nan}])
    assert not same_structure(0.0, -0.0)
    assert not same_structure(1, True)
    assert not same_structure((1, 2), [1, 2])
