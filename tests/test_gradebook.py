"""Error carried forward (an answer right for the student's own earlier wrong answer
earns half the item), and a class graded at once: the gradebook, the class summary,
each student's feedback, and `netcalc.check_many`.

Every expected number is worked by hand beside it."""

from __future__ import annotations

import csv
import json

import pytest

import netcalc
from helpers import SPECS, run_cli

# [3, 28, 28] -> c1 (pad 1) [32, 28, 28] -> p1 [32, 14, 14] -> c2 [64, 12, 12]
# -> b2, r2 -> p2 [64, 6, 6] -> flat [2304] -> fc [10]
NET = """\
name: smallnet
input: [3, 28, 28]
layers:
  - {type: conv2d, name: c1, out_channels: 32, kernel_size: 3, padding: 1}
  - {type: maxpool2d, name: p1, kernel_size: 2}
  - {type: conv2d, name: c2, out_channels: 64, kernel_size: 3}
  - {type: batchnorm2d, name: b2}
  - {type: relu, name: r2}
  - {type: maxpool2d, name: p2, kernel_size: 2}
  - {type: flatten, name: flat}
  - {type: linear, name: fc, out_features: 10}
"""
C1 = (3 * 3 * 3 + 1) * 32          # 896
C2 = (3 * 3 * 32 + 1) * 64         # 18,496
B2 = 2 * 64                        # 128
FC = (64 * 6 * 6 + 1) * 10         # 23,050
TOTAL = C1 + C2 + B2 + FC          # 42,570
assert (FC, TOTAL) == (23_050, 42_570)


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "smallnet.yaml"
    path.write_text(NET)
    return str(path)


def check(capsys, tmp_path, spec: str, answers: str, *options: str, name="answers"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(answers)
    return run_cli(capsys, "check", spec, str(path), *options)


# -- error carried forward -----------------------------------------------------

def test_the_issues_example_follows_from_p2(capsys, tmp_path, spec):
    # p2 answered [64, 5, 5] (right: [64, 6, 6]); fc from it: (64·5·5 + 1)·10 = 16,010
    code, out, _ = check(capsys, tmp_path, spec, "p2: {output: [64, 5, 5]}\n"
                         "fc: {params: 16010}\n", "--lang", "en")
    assert code == 1                       # not all right: the exit code says so
    lines = out.splitlines()
    assert lines[0] == "✗ p2 output  [64, 5, 5]  (expected [64, 6, 6])"
    assert "✓ fc params  16,010  (follows from your answer for p2)" in lines
    assert "    right for your own p2: 0.5 of the item; the expected value is 23,050" in lines
    assert "           = (2304 + 1)·10 = 23,050" in lines          # the right working
    assert lines[-1] == "Score: 0.5 / 2 (smallnet)"

    code, out, _ = check(capsys, tmp_path, spec, "p2: {output: [64, 5, 5]}\n"
                         "fc: {params: 16010}\n", "--format", "json")
    data = json.loads(out)
    fc = data["items"][1]
    assert (fc["follow_through"], fc["credit"], fc["correct"], fc["hint"]) == \
        ("p2", 0.5, False, None)
    assert data["items"][0]["follow_through"] is None
    assert data["score"] == {"correct": 0, "follow_through": 1, "total": 2, "points": 0.5}

    code, out, _ = check(capsys, tmp_path, spec, "p2: {output: [64, 5, 5]}\n"
                         "fc: {params: 16010}\n", "--lang", "zh")
    assert "✓ fc 参数量  16,010  （由你对 p2 的答案推出）" in out
    assert out.splitlines()[-1] == "得分：0.5 / 2（smallnet）"


def test_the_chain_runs_through_unanswered_layers(capsys, tmp_path, spec):
    # c2 answered [64, 10, 10]: b2, r2 keep it, p2 halves it to [64, 5, 5], the flatten
    # gives 64·5·5 = 1,600: fc's params (1600 + 1)·10 = 16,010, its MACs 1600·10 = 16,000
    code, out, _ = check(capsys, tmp_path, spec, "c2: {output: [1, 64, 10, 10]}\n"
                         "p2: {output: 64x5x5}\nflat: {output: [1600]}\n"
                         "fc: {params: 16010, macs: 16000, flops: 32000}\n", "--lang", "en")
    lines = out.splitlines()
    assert lines[0] == "✗ c2 output    [1, 64, 10, 10]  (expected [1, 64, 12, 12])"
    assert "✓ p2 output    [64, 5, 5]  (follows from your answer for c2)" in lines
    # each follows from the nearest wrong answer it reads: the flatten from p2's
    assert "✓ flat output  [1600]  (follows from your answer for p2)" in lines
    assert "✓ fc params    16,010  (follows from your answer for flat)" in lines
    assert "✓ fc macs      16,000  (follows from your answer for flat)" in lines
    assert "✓ fc flops     32,000  (follows from your answer for flat)" in lines
    assert lines[-1] == "Score: 2.5 / 6 (smallnet)"


def test_unanswered_layers_carry_the_wrong_shape_to_the_params(capsys, tmp_path, spec):
    code, out, _ = check(capsys, tmp_path, spec, "c2: {output: [64, 10, 10]}\n"
                         "fc: {params: 16010}\n", "--lang", "en")
    assert "✓ fc params  16,010  (follows from your answer for c2)" in out


@pytest.mark.parametrize("answers,origin", [
    # the student's own fc and b2 (4·64 = 256): 896 + 18,496 + 256 + 16,010 = 35,658
    ("p2: {output: [64, 5, 5]}\nb2: {params: 256}\nfc: {params: 16010}\n"
     "total_params: 35658\n", "b2"),
    # fc unanswered, from the wrong p2: 896 + 18,496 + 128 + 16,010 = 35,530
    ("p2: {output: [64, 5, 5]}\ntotal_params: 35530\n", "p2"),
    # a wrong answer the total adds, with no shape wrong: 896 + 18,432 + 128 + 23,050
    ("c2: {params: 18432}\ntotal_params: 42506\n", "c2"),
])
def test_the_totals_add_the_students_own_numbers(answers, origin, capsys, tmp_path, spec):
    code, out, _ = check(capsys, tmp_path, spec, answers, "--format", "json")
    total = json.loads(out)["items"][-1]
    assert (total["layer"], total["expected"]) == (None, TOTAL)
    assert total["follow_through"] == origin


def test_the_totals_macs_follow_from_a_shape(capsys, tmp_path, spec):
    # MACs: c1 28·28·32·27 = 677,376; c2 12·12·64·288 = 2,654,208; fc 2304·10 = 23,040;
    # from p2 = [64, 5, 5] fc is 1600·10 = 16,000
    macs = 28 * 28 * 32 * 27 + 12 * 12 * 64 * 288
    code, out, _ = check(capsys, tmp_path, spec, f"p2: {{output: [64, 5, 5]}}\n"
                         f"total_macs: {macs + 16000}\ntotal_flops: {2 * (macs + 16000)}\n",
                         "--format", "json")
    items = json.loads(out)["items"]
    assert items[1]["expected"] == macs + 23_040
    assert [i["follow_through"] for i in items[1:]] == ["p2", "p2"]


@pytest.mark.parametrize("answers", [
    "p2: {output: [64, 6, 6]}\nfc: {params: 16010}\n",      # p2 right: nothing to follow
    "p2: {output: [64, 5, 5]}\nfc: {params: 16011}\n",      # not what p2 gives, exactly
    "fc: {params: 16010}\n",                                # no earlier answer at all
    "p2: {output: [64, 5, 5]}\ntotal_params: 35531\n",
    # c2 wrong, but p2 answered right: fc reads the student's right p2, not c2's shape
    "c2: {output: [64, 10, 10]}\np2: {output: [64, 6, 6]}\nfc: {params: 16010}\n",
])
def test_no_follow_through_without_an_exact_match_from_a_wrong_answer(answers, capsys,
                                                                      tmp_path, spec):
    code, out, _ = check(capsys, tmp_path, spec, answers, "--format", "json")
    assert code == 1
    assert all(i["follow_through"] is None for i in json.loads(out)["items"])


def test_a_blocks_wrong_output_carries_forward(capsys, tmp_path):
    # AlexNet's conv1 block without its padding: ⌊(224 − 11) / 4⌋ + 1 = 54; pool1 on it
    # ⌊(54 − 3) / 2⌋ + 1 = 26 (which would be "the + 1 left out" on the right input)
    code, out, _ = check(capsys, tmp_path, str(SPECS / "alexnet.yaml"),
                         "conv1: {output: [64, 54, 54]}\npool1: {output: [64, 26, 26]}\n",
                         "--lang", "en")
    lines = out.splitlines()
    assert lines[0] == "✗ conv1 output  [64, 54, 54]  (expected [64, 55, 55])"
    assert lines[1] == "    that is the size without the padding: the input grows by 2P first"
    assert "✓ pool1 output  [64, 26, 26]  (follows from your answer for conv1)" in lines


def test_the_flatten_taken_before_the_last_pool_downstream(capsys, tmp_path, spec):
    # before p2 the flatten would give 64·12·12 = 9,216: fc (9216 + 1)·10 = 92,170
    code, out, _ = check(capsys, tmp_path, spec, "fc: {params: 92170}\n", "--lang", "en")
    assert out.splitlines()[:2] == [
        "✗ fc params  92,170  (expected 23,050)",
        "    that flattens the input of p2 (9,216 features): the flatten reads the output of "
        "the last pool"]
    # and the totals: 42,570 − 23,050 + 92,170 = 111,690
    code, out, _ = check(capsys, tmp_path, spec, "total_params: 111690\n", "--lang", "en")
    assert "that flattens the input of p2 (9,216 features)" in out


# -- a class at once -----------------------------------------------------------

CLASS = {
    "alice": f"p2: {{output: [64, 6, 6]}}\nfc: {{params: {FC}}}\ntotal_params: {TOTAL}\n",
    # the issue's student: p2 wrong, fc and the total from it
    "bob": "p2: {output: [64, 5, 5]}\nfc: {params: 16010}\ntotal_params: 35530\n",
    # fc's bias forgotten: 2304·10 = 23,040, and the total without it
    "carol": f"p2: {{output: [64, 6, 6]}}\nfc: {{params: 23040}}\ntotal_params: {TOTAL - 10}\n",
    "dave": "p2: {output: [64, 6, 6]\nfc: {params: 1}\n",        # a bracket left open
    "erin": f"p2: {{output: [64, 6, 6]}}\nfc: {{params: 23040}}\ntotal_params: {TOTAL}\n",
}


def _class_files(tmp_path, students=CLASS) -> list[str]:
    folder = tmp_path / "answers"
    folder.mkdir(exist_ok=True)
    paths = []
    for name, text in students.items():
        path = folder / f"{name}.yaml"
        path.write_text(text)
        paths.append(str(path))
    return paths


def test_a_class_gets_a_gradebook_a_summary_and_one_error_line(capsys, tmp_path, spec):
    paths = _class_files(tmp_path)
    book = tmp_path / "grades.csv"
    code, out, err = run_cli(capsys, "check", spec, *paths, "--gradebook", str(book),
                             "--lang", "en")
    assert code == 1
    # dave's file: one located error line; the others graded all the same
    assert err.count("\n") == 1
    assert err == f"{paths[3]}:2:1: error: YAML syntax: expected ',' or '}}', but got " \
        "'<scalar>'\n"
    assert book.read_bytes().startswith(b"\xef\xbb\xbfstudent,")     # Excel's UTF-8 BOM
    with open(book, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", "score", "out_of", "p2 output", "fc params", "total_params",
                       "error"]
    assert rows[1] == ["alice", "3", "3", "✓", "✓", "✓", ""]
    # bob's total adds his own fc (which follows from p2): it follows from fc
    assert rows[2] == ["bob", "1", "3", "✗", "✓→p2", "✓→fc", ""]
    # carol's total adds her own fc: follow-through from fc
    assert rows[3] == ["carol", "1.5", "3", "✓", "✗", "✓→fc", ""]
    assert rows[4] == ["dave", "", "", "", "", "", err.strip()]
    assert rows[5] == ["erin", "2", "3", "✓", "✗", "✓", ""]

    lines = out.splitlines()
    assert lines[0] == "smallnet: 5 answers files, 4 graded, 1 not (see the errors above)"
    assert lines[1] == "scored out of the 3 questions the class answered (--key KEY.yaml " \
        "scores out of the questions set)"
    scores = lines[lines.index("Scores") + 1:]
    assert scores[:6] == ["  student       score", "  alice         3 / 3", "  bob           1 / 3",
                          "  carol       1.5 / 3", "  dave     not graded", "  erin          2 / 3"]
    distribution = lines[lines.index("Score distribution") + 1:]
    assert distribution[:5] == ["    score  students", "    3 / 3         1  █",
                                "    2 / 3         1  █", "  1.5 / 3         1  █",
                                "    1 / 3         1  █"]
    # mean: (3 + 2 + 1.5 + 1) / 4 of 3 = 62.5%
    assert "  mean 62.5%" in lines
    mistakes = lines[lines.index("Most common mistakes") + 1:]
    assert mistakes[:4] == [
        "  2 answers, 2 students · fc params",
        "    that is the weights alone: the 10 biases (one per output channel or feature) "
        "are parameters too",
        # bob's [64, 5, 5]: ⌊(12 − 2) / 2⌋ without the + 1
        "  1 answer, 1 student · p2 output",
        "    that leaves out the + 1: the first window's position counts too"]
    wrong = lines[lines.index("Most often wrong") + 1:]
    # points lost: fc bob ½ + carol 1 + erin 1; p2 bob 1; the total bob ½ + carol ½
    assert wrong[:4] == [
        "  question      points lost  wrong  follows through  answered",
        "  fc params             2.5      2                1         4",
        "  p2 output               1      1                0         4",
        "  total params            1      0                2         4"]


def test_a_class_all_right_exits_0_and_the_gradebook_is_replaced(capsys, tmp_path, spec):
    paths = _class_files(tmp_path, {"alice": CLASS["alice"], "zoe": CLASS["alice"]})
    book = tmp_path / "grades.csv"
    book.write_text("an old gradebook, much longer than the new one " * 100)
    code, out, err = run_cli(capsys, "check", spec, *paths, "--gradebook", str(book))
    assert (code, err) == (0, "")
    assert book.read_text(encoding="utf-8-sig").splitlines()[1:] == [
        "alice,3,3,✓,✓,✓,", "zoe,3,3,✓,✓,✓,"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temp


def test_one_file_with_a_gradebook_is_a_class_of_one(capsys, tmp_path, spec):
    paths = _class_files(tmp_path, {"bob": CLASS["bob"]})
    book = tmp_path / "grades.csv"
    code, out, _ = run_cli(capsys, "check", spec, *paths, "--gradebook", str(book),
                           "--lang", "en")
    assert code == 1
    assert out.startswith("smallnet: 1 answers file, 1 graded\n")
    assert book.read_text(encoding="utf-8-sig").splitlines()[1] == "bob,1,3,✗,✓→p2,✓→fc,"


def test_a_gradebook_that_cannot_be_written_is_a_usage_error(capsys, tmp_path, spec):
    paths = _class_files(tmp_path, {"alice": CLASS["alice"]})
    code, out, err = run_cli(capsys, "check", spec, *paths, "--gradebook",
                             str(tmp_path / "no" / "such" / "grades.csv"))
    assert code == 2
    assert err.startswith("error: cannot write") and "Traceback" not in err


def test_two_files_for_one_student_is_a_usage_error(capsys, tmp_path, spec):
    first = _class_files(tmp_path, {"alice": CLASS["alice"]})
    other = tmp_path / "late"
    other.mkdir()
    (other / "alice.yaml").write_text(CLASS["bob"])
    code, _, err = run_cli(capsys, "check", spec, *first, str(other / "alice.yaml"))
    assert code == 2
    assert "two answers files for the student 'alice'" in err


def test_feedback_files_one_per_student(capsys, tmp_path, spec):
    paths = _class_files(tmp_path)
    feedback = tmp_path / "feedback"
    code, out, _ = run_cli(capsys, "check", spec, *paths, "--feedback", str(feedback),
                           "--lang", "en")
    assert code == 1
    assert sorted(p.name for p in feedback.iterdir()) == [
        "alice.md", "bob.md", "carol.md", "dave.md", "erin.md"]
    bob = (feedback / "bob.md").read_text(encoding="utf-8")
    assert bob.startswith("# bob: smallnet\n\n**Score: 1 / 3 (smallnet)**\n")
    assert "- ✗ **p2 output**: [64, 5, 5] (expected [64, 6, 6])" in bob
    assert "- ✓ **fc params**: 16,010 (follows from your answer for p2)" in bob
    assert "  ```\n  params = (in_features + 1)·out_features\n" in bob
    dave = (feedback / "dave.md").read_text(encoding="utf-8")
    assert dave.startswith("# dave: smallnet\n\nnot graded, the file could not be read: `")
    assert paths[3] in dave


def test_markdown_and_json_for_the_class(capsys, tmp_path, spec):
    paths = _class_files(tmp_path)
    code, out, _ = run_cli(capsys, "check", spec, *paths, "--format", "markdown",
                           "--lang", "en")
    # nothing is printed above the page: the files not graded are in its table
    assert out.startswith("# smallnet: 5 answers files, 4 graded, 1 not (the files not "
                          "graded are listed below)\n")
    assert "| 1.5 / 3 | 1 |" in out
    assert "## Scores\n\n| student | score |\n|---|---:|\n| alice | 3 / 3 |\n" in out
    assert "| dave | not graded |" in out
    assert "\n## carol: smallnet\n" in out and "\n## dave: smallnet\n" in out
    code, out, _ = run_cli(capsys, "check", spec, *paths, "--format", "json")
    data = json.loads(out)
    assert [s["student"] for s in data["students"]] == ["alice", "bob", "carol", "dave", "erin"]
    assert data["students"][3]["score"] is None and data["students"][3]["error"]
    assert data["students"][1]["score"] == {"correct": 0, "follow_through": 2, "total": 3,
                                            "points": 1.0}
    assert data["summary"]["mistakes"][0]["hint_key"] == "forgot_bias"
    assert data["summary"]["mistakes"][0]["students"] == 2


def test_a_one_file_markdown_feedback(capsys, tmp_path, spec):
    code, out, _ = check(capsys, tmp_path, spec, CLASS["bob"], "--format", "markdown",
                         "--lang", "zh", name="bob")
    assert code == 1
    assert out.startswith("# bob：smallnet\n")
    assert "（由你对 p2 的答案推出）" in out


# -- from Python ----------------------------------------------------------------

def test_check_many_from_python(tmp_path, spec):
    paths = _class_files(tmp_path)
    result = netcalc.check_many(spec, paths)
    assert [s.student for s in result.students] == ["alice", "bob", "carol", "dave", "erin"]
    bob = result.students[1]
    assert bob.item("fc", "params").follow_through == "p2"
    assert (bob.score.points, bob.score.total) == (1.0, 3)
    assert result.students[3].score is None and result.students[3].error.startswith(paths[3])
    assert (result.summary.graded, result.summary.not_graded) == (4, 1)
    assert [(t.points, t.students) for t in result.summary.scores] == \
        [(3.0, 1), (2.0, 1), (1.5, 1), (1.0, 1)]

    # dicts (and names for them)
    result = netcalc.check_many(spec, [{"p2": {"output": [64, 5, 5]}, "fc": {"params": 16010}},
                                       {"fc": {"params": FC}}], names=["ann", "ben"])
    assert [(s.student, s.score.points) for s in result.students] == [("ann", 0.5), ("ben", 1)]
    assert netcalc.check_many(spec, [{"fc": {"params": FC}}]).students[0].student == "student1"
    with pytest.raises(netcalc.UsageError, match="1 names for 2 answers"):
        netcalc.check_many(spec, [{}, {}], names=["ann"])


def test_check_from_python_marks_follow_through(spec):
    items = netcalc.check(spec, {"p2": {"output": [64, 5, 5]}, "fc": {"params": 16010}})
    assert [(i.correct, i.follow_through, i.credit) for i in items] == [
        (False, None, 0.0), (False, "p2", 0.5)]


# -- the questions set, blank and malformed answers (a TA's fresh-clone findings) -------

def test_a_blank_answer_is_not_answered_and_the_rest_are_graded(capsys, tmp_path, spec):
    # the question sheet's form, partly filled in: p2's output left blank
    code, out, err = check(capsys, tmp_path, spec, "p2:\n  output:\nfc:\n  params: 23050\n"
                           "total_params:\n", "--format", "json")
    assert (code, err) == (1, "")
    items = json.loads(out)["items"]
    assert [(i["layer"], i["quantity"], i["answered"], i["correct"]) for i in items] == [
        ("p2", "output", False, False), ("fc", "params", True, True),
        (None, "params", False, False)]
    assert items[0]["expected"] == [64, 6, 6] and items[2]["expected"] == TOTAL
    # out of the three questions the file asks: one answered right
    assert json.loads(out)["score"]["points"] == 1 and json.loads(out)["score"]["total"] == 3


def test_a_malformed_value_fails_only_its_item(capsys, tmp_path, spec):
    # flatten's [2304] written as a bare number is accepted; the others are the item ✗
    code, out, err, = check(capsys, tmp_path, spec, "flat: {output: 2304}\n"
                            "p2: {output: big}\nfc: {params: [1, 2]}\n"
                            f"total_params: {TOTAL}\n", "--lang", "en")
    path = tmp_path / "answers.yaml"
    assert code == 1
    assert err.splitlines() == [
        f"{path}:2:14: warning: p2 output: an output shape is a list like [64, 55, 55] or "
        "64x55x55, got 'big'",
        f"{path}:3:14: warning: fc params: params is a whole number, got [1, 2]"]
    lines = out.splitlines()
    assert lines[0] == "✓ flat output   [2304]"
    assert lines[1] == "✗ p2 output     'big'  (expected [64, 6, 6])"
    assert lines[2] == f"    {path}:2:14: an output shape is a list like [64, 55, 55] or " \
        "64x55x55, got 'big'"
    assert f"✗ fc params     [1, 2]  (expected {FC:,})" in lines
    assert lines[-1] == "Score: 2 / 4 (smallnet)"


def test_follow_through_from_the_layers_own_output(capsys, tmp_path, spec):
    # c2's output answered [64, 11, 11] (right: [64, 12, 12]); MACs from it by the
    # textbook: H_out·W_out·C_out·(K·K·C_in) = 11·11·64·(3·3·32) = 2,230,272
    macs = 11 * 11 * 64 * (3 * 3 * 32)
    code, out, _ = check(capsys, tmp_path, spec, f"c2: {{output: [64, 11, 11], macs: {macs}, "
                         f"flops: {2 * macs}}}\n", "--format", "json")
    items = json.loads(out)["items"]
    assert [(i["quantity"], i["correct"], i["follow_through"], i["credit"]) for i in items] == [
        ("output", False, None, 0), ("macs", False, "c2", 0.5), ("flops", False, "c2", 0.5)]
    # the layer's own output right: nothing follows (a wrong MACs stays wrong)
    code, out, _ = check(capsys, tmp_path, spec, f"c2: {{output: [64, 12, 12], macs: {macs}}}\n",
                         "--format", "json")
    assert json.loads(out)["items"][1]["follow_through"] is None


KEY = f"p2: {{output: [64, 6, 6]}}\nfc: {{params: {FC}}}\ntotal_params: {TOTAL}\n"


def test_a_key_sets_the_questions(capsys, tmp_path, spec):
    key = tmp_path / "variant.key.yaml"
    key.write_text(KEY)
    students = {"amy": f"fc: {{params: {FC}}}\n",                      # 1 of the 3 asked
                "bo": f"p2: {{output: [64, 6, 6]}}\nfc: {{params: {FC}}}\n"
                      f"total_params: {TOTAL}\nfc_1: {{params: 1}}\n"
                      "c2: {flops: 1}\ntotal_param: 5\n"}
    paths = _class_files(tmp_path, students)
    book = tmp_path / "grades.csv"
    code, out, err = run_cli(capsys, "check", spec, *paths, "--key", str(key),
                             "--gradebook", str(book), "--lang", "en")
    assert code == 1
    # bo's answers to no question: warned about, located, with the nearest name
    assert err.splitlines() == [
        f"{paths[1]}:4:1: warning: fc_1 params: no layer or block 'fc_1' in smallnet; did "
        "you mean 'fc'? (not scored)",
        f"{paths[1]}:5:13: warning: c2 flops: c2 flops is not one of the questions (not scored)",
        f"{paths[1]}:6:1: warning: total_param: 'total_param' is not something netcalc "
        "checks; did you mean 'total_params'? (it checks total_params, total_macs, "
        "total_flops, total_kv_cache) (not scored)"]
    rows = book.read_text(encoding="utf-8-sig").splitlines()
    # the key's questions are the columns; amy's unanswered ones are blank and count 0
    assert rows == ["student,score,out_of,p2 output,fc params,total_params,error",
                    "amy,1,3,,✓,,", "bo,3,3,✓,✓,✓,"]
    lines = out.splitlines()
    assert lines[1] == "scored out of the answer key's 3 questions"
    assert "fc_1" not in out and "flops" not in out
    wrong = lines[lines.index("Most often wrong") + 1:]
    assert wrong == ["  question      points lost  wrong  follows through  answered",
                     "  p2 output               1      0                0         1",
                     "  total params            1      0                0         1"]
    # one student with the key: out of its 3
    code, out, _ = run_cli(capsys, "check", spec, paths[0], "--key", str(key), "--lang", "en")
    assert out.splitlines()[0] == "✗ p2 output     (not answered)  (expected [64, 6, 6])"
    assert out.splitlines()[-1] == "Score: 1 / 3 (smallnet)"
    # and from Python
    result = netcalc.check_many(spec, paths, key=KEY)
    assert [(s.student, s.score.points, s.score.total) for s in result.students] == [
        ("amy", 1, 3), ("bo", 3, 3)]
    assert result.summary.questions == (("p2", "output"), ("fc", "params"), (None, "params"))


def test_a_class_without_a_key_shares_the_questions_any_student_answered(tmp_path, spec):
    paths = _class_files(tmp_path, {"amy": f"fc: {{params: {FC}}}\n",
                                    "bo": "p2: {output: [64, 6, 6]}\n"})
    result = netcalc.check_many(spec, paths)
    # both out of 2: p2 output and fc params
    assert [(s.score.points, s.score.total) for s in result.students] == [(1, 2), (1, 2)]
    assert result.summary.questions_from == "class"


def test_mistakes_are_grouped_by_kind_and_points_lost_include_follow_through(
        capsys, tmp_path, spec):
    # ben forgets every bias: c1 (27·32 = 864), c2 (288·64 = 18,432), fc (2304·10 = 23,040)
    students = {"ben": f"c1: {{params: {27 * 32}}}\nc2: {{params: {288 * 64}}}\n"
                       f"fc: {{params: {2304 * 10}}}\n",
                "cy": f"c1: {{params: {C1}}}\nc2: {{params: {C2}}}\nfc: {{params: {FC}}}\n"}
    paths = _class_files(tmp_path, students)
    code, out, _ = run_cli(capsys, "check", spec, *paths, "--lang", "en")
    lines = out.splitlines()
    mistakes = lines[lines.index("Most common mistakes") + 1:lines.index("Most often wrong")]
    assert mistakes[:4] == [
        "  3 answers, 1 student · c1 params, c2 params, fc params",
        "    c1 params: that is the weights alone: the 32 biases (one per output channel or "
        "feature) are parameters too",
        "    c2 params: that is the weights alone: the 64 biases (one per output channel or "
        "feature) are parameters too",
        "    fc params: that is the weights alone: the 10 biases (one per output channel or "
        "feature) are parameters too"]
    code, out, _ = run_cli(capsys, "check", spec, *paths, "--format", "json")
    mistake = json.loads(out)["summary"]["mistakes"][0]
    assert (mistake["hint_key"], mistake["answers"], mistake["students"]) == ("forgot_bias", 3, 1)
    assert [(r["items"][0]["layer"], r["answers"]) for r in mistake["remarks"]] == [
        ("c1", 1), ("c2", 1), ("fc", 1)]

    # a total right for no one, followed through by both: it lost 1 point, and is listed
    paths = _class_files(tmp_path, {"ben": CLASS["bob"], "cy": CLASS["bob"]})
    result = netcalc.check_many(spec, paths)
    total = next(i for i in result.summary.most_wrong if i.layer is None)
    assert (total.wrong, total.follow_through, total.points_lost) == (0, 2, 1.0)


def test_a_feedback_rerun_removes_only_its_own_stale_pages(capsys, tmp_path, spec):
    paths = _class_files(tmp_path, {"alice": CLASS["alice"], "bob": CLASS["bob"]})
    feedback = tmp_path / "feedback"
    run_cli(capsys, "check", spec, *paths, "--feedback", str(feedback))
    (feedback / "notes.md").write_text("the teacher's own notes\n")
    run_cli(capsys, "check", spec, paths[0], "--feedback", str(feedback))
    assert sorted(p.name for p in feedback.iterdir()) == ["alice.md", "notes.md"]


def test_check_many_takes_one_file_as_a_class_of_one(tmp_path, spec):
    path = _class_files(tmp_path, {"alice": CLASS["alice"]})[0]
    result = netcalc.check_many(spec, path)
    assert [(s.student, s.score.points) for s in result.students] == [("alice", 3)]


def test_a_key_made_for_another_spec_is_warned_about(capsys, tmp_path, spec):
    # the key of a network whose c1 has 16 channels: (3·3·3 + 1)·16 = 448 parameters
    key = tmp_path / "other.key.yaml"
    key.write_text(f"c1: {{params: 448}}\nfc: {{params: {FC}}}\n")
    code, out, err = check(capsys, tmp_path, spec, f"c1: {{params: {C1}}}\n",
                           "--key", str(key), "--lang", "en")
    # the students are graded against the spec all the same: 896 is c1's right number
    assert code == 1 and out.splitlines()[-1] == "Score: 1 / 2 (smallnet)"
    assert err.splitlines() == [
        f"{key}:1:14: warning: the answer key gives c1 params 448, {spec} gives 896: is the "
        "key this spec's?"]
    # the spec's own key: no warning
    key.write_text(KEY)
    code, _, err = check(capsys, tmp_path, spec, KEY, "--key", str(key), "--lang", "en")
    assert (code, err) == (0, "")
