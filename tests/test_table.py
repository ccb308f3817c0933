"""CSV tables from users are read within limits, and every bad table gets a one-line error naming it."""

import numpy as np
import pytest
from conftest import cpu_time

from graphlab import data, table
from graphlab.descend import parse_table, read_table
from graphlab.errors import GraphlabError

GOOD = b"a,b,label\n1,2,red\n3,4.5,blue\n-1,0,red\n"

# (what the upload holds, words the one-line error must contain); each read by both readers.
BAD = {
    "empty": (b"", "is empty"),
    "blank lines": (b"\n  \n,,\n", "is empty"),
    "semicolons": (b"a;b;label\n1;2;0\n3;4;1\n", "separated by semicolons"),
    "tabs": (b"a\tb\tlabel\n1\t2\t0\n", "separated by tabs"),
    "latin-1": ("x,é\n1,ä\n".encode("latin-1"), "is not UTF-8 text (line 1"),
    "NUL bytes": (b"a,b,y\n1,2\x00,0\n", "NUL"),
    "a long cell": (b"a,y\n" + b"1" * 2_000 + b",0\n2,1\n", "line 2 has a cell longer than 1,000"),
    "a huge cell": (b"a,y\n" + b"1" * 200_000 + b",0\n2,1\n", "line 2 has a cell longer than 1,000"),
    "too wide": ((",".join(["1"] * 1_001) + "\n").encode(), "1,001 columns; the limit is 1,000"),
    "too long": (b"a,y\n" + b"1,0\n" * 100_002, "more than 100,000 rows"),
    "too big": (b"1,0\n" * (table.MAX_BYTES // 4 + 1), "MB; the limit is 10 MB"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_upload_is_refused_with_one_line_naming_it(case):
    raw, words = BAD[case]
    for read in (lambda: data.from_upload(raw, "upload.csv"), lambda: parse_table(raw, "upload.csv")):
        with pytest.raises(GraphlabError) as e:
            read()
        message = e.value.detail  # the front ends put the input's own name first (the option, the widget)
        assert words in message and message.startswith("upload.csv") and "\n" not in message


@pytest.mark.parametrize("body, words", [
    (b"a,b,y\n1,nan,0\n3,4,1\n", "line 2: a feature is NaN or infinite"),
    (b"a,b,y\n1,-inf,0\n3,4,1\n", "line 2: a feature is NaN or infinite"),
    (b"a,b,y\n1,2,0\n3,4,0\n", "every label is '0'; a classifier needs at least two classes"),
    (b"a,y\n" + b"".join(b"%d.5,%d\n" % (i, i) for i in range(101)), "101 different values; the limit is 100"),
    (b"a,b,y\n1,x,0\n", "line 2: a feature is not a number"),
])
def test_training_data_needs_finite_features_and_a_sensible_number_of_classes(body, words):
    with pytest.raises(GraphlabError, match=words):
        data.from_upload(body, "upload.csv")


def test_a_good_upload_reads_the_same_as_the_file(tmp_path):
    path = tmp_path / "points.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD)  # a byte-order mark, as spreadsheets write UTF-8
    a, b = data.from_csv(path, test_fraction=0), data.from_upload(GOOD, test_fraction=0)
    assert a.classes == b.classes == ("blue", "red")
    assert np.array_equal(a.X_train, b.X_train) and sorted(a.X_train[:, 1]) == [0, 2, 4.5]
    rows = parse_table(b"x, y\n1, 2\n3,4\n")
    assert rows == [{"x": "1", "y": "2"}, {"x": "3", "y": "4"}]  # cells and names stripped


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("wb") as f:
        f.truncate(table.MAX_BYTES + 1)  # sparse: nothing to read, only the size
    for read in (data.from_csv, read_table):
        with pytest.raises(GraphlabError, match="10.0 MB; the limit is 10 MB"):
            read(str(path))


def test_the_largest_allowed_upload_is_read_quickly():
    raw = b"a,b,y\n" + b"0.25,-1.5,1\n1,2,0\n" * 49_999
    with cpu_time(limit=5.0):
        d = data.from_upload(raw, test_fraction=0)
    assert d.X_train.shape == (99_998, 2)
