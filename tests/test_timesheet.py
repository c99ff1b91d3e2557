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


@pytest.mark.parametrize(
    "timing, message",
    [
        ("1@999999999", "'1@999999999' makes 999999999 frames, but the cut is 4"),
        ("(1 2)*99999999999", r"'\(1 2\)\*99999999999' makes 199999999998 frames, but the cut is 4"),
        ("1-300000000", "'1-300000000' makes 300000000 frames, but the cut is 4"),
        ("300000000-1@2", "'300000000-1@2' makes 600000000 frames, but the cut is 4"),
        ("x@99999999999", "'x@99999999999' makes 99999999999 frames, but the cut is 4"),
        ("((1 2)*2)*99999999", r"'\(\(1 2\)\*2\)\*99999999' makes 399999996 frames, but the cut is 4"),
        ("((1 2)*99999999)*2", r"'\(1 2\)\*99999999' makes 199999998 frames, but the cut is 4"),
        ("1@5", "'1@5' makes 5 frames, but the cut is 4"),
    ],
)
def test_shorthand_beyond_the_cut_is_refused_before_it_is_expanded(timing, message):
    with pytest.raises(TimesheetError, match=f"^{message}$"):
        parse_timing(timing, 4)


def test_a_timing_too_long_in_total_is_measured_not_expanded():
    with pytest.raises(TimesheetError, match="^400000 frames, but the cut is 4$"):
        parse_timing(" ".join(["1@4"] * 100_000), 4)
    # at the cut's length exactly, every form still expands
    assert parse_timing("1@4", 4) == [1] * 4 and parse_timing("(1 2)*2", 4) == [1, 2, 1, 2]
    assert parse_timing("x@0 1-4 (5)*0", 4) == [1, 2, 3, 4]


def test_numbers_too_long_to_read_are_refused():
    with pytest.raises(TimesheetError, match="the number 100000000000... is too large"):
        parse_timing("1" + "0" * 5000, 4)
    with pytest.raises(TimesheetError, match="too large"):
        parse_timing("1@" + "9" * 5000, 4)


@pytest.mark.parametrize(
    "timing, expected",
    [
        ("(1-12@2)*", [1, 1, 2, 2]),
        ("x (1@999999999)*", [None, 1, 1, 1]),
        ("(1-300000000 x@99999999999)*", [1, 2, 3, 4]),
        ("((1 2)*99999999999)* 9", [1, 2, 1, 9]),
    ],
)
def test_an_open_ended_cycle_longer_than_the_cut_is_cut_off_without_being_expanded(timing, expected):
    assert parse_timing(timing, 4) == expected
