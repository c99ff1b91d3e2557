import pytest

from compositor.core.timesheet import changes, parse_timing
from compositor.errors import SpecError, TimesheetError


def test_one_token_a_frame_with_holds_and_blanks():
    assert parse_timing("1 . 2 . 3 . 4 . x x 5 .", 12) == [1, 1, 2, 2, 3, 3, 4, 4, None, None, 5, 5]


def test_hold_after_blank_stays_blank():
    assert parse_timing("1 x . 2", 4) == [1, None, None, 2]


def test_list_form_and_commas():
    assert parse_timing([1, ".", 2, "x"], 4) == [1, 1, 2, None]
    assert parse_timing("1, ., 2, x", 4) == [1, 1, 2, None]


@pytest.mark.parametrize(
    "timing, frames, expected",
    [
        ("5@3", 3, [5, 5, 5]),
        ("x@2 1", 3, [None, None, 1]),
        ("1-4@2", 8, [1, 1, 2, 2, 3, 3, 4, 4]),
        ("3-1", 3, [3, 2, 1]),
        ("1-3@3", 9, [1, 1, 1, 2, 2, 2, 3, 3, 3]),
        ("(1 2 3 2)*2", 8, [1, 2, 3, 2, 1, 2, 3, 2]),
        ("(1-2@2)*", 7, [1, 1, 2, 2, 1, 1, 2]),
        ("x@2 (1 2)* 9", 7, [None, None, 1, 2, 1, 2, 9]),
        ("(1 . 2)", 3, [1, 1, 2]),
    ],
)
def test_shorthands_expand_to_one_token_a_frame(timing, frames, expected):
    assert parse_timing(timing, frames) == expected


def test_shorthand_equals_longhand():
    assert parse_timing("(1-6@2)*", 24) == parse_timing(" ".join(["1 . 2 . 3 . 4 . 5 . 6 ."] * 2), 24)


@pytest.mark.parametrize("timing, message", [("1 . 2", "3 frames, but the cut is 4"), ("1 . 2 . 3", "5 frames, but the cut is 4")])
def test_length_errors_name_both_lengths(timing, message):
    with pytest.raises(TimesheetError, match=message):
        parse_timing(timing, 4)


@pytest.mark.parametrize(
    "timing, message",
    [
        (". 1 2 3", "frame 1 is a hold"),
        ("1 q 2 3", "'q' is not a timesheet token"),
        ("(1 2 3 4", "never closed"),
        ("1 2 3 4)", "no '\\(' open"),
        ("(1)* (2)*", "only one open-ended cycle"),
    ],
)
def test_malformed_timing(timing, message):
    with pytest.raises(TimesheetError, match=message):
        parse_timing(timing, 4)


def test_timesheet_error_is_a_spec_error_and_value_error():
    with pytest.raises(SpecError):
        parse_timing("1", 2)
    with pytest.raises(ValueError):
        parse_timing("1", 2)


def test_changes_marks_where_the_drawing_changes():
    assert changes([1, 1, 2, None, None, 3]) == [0, 2, 3, 5]
