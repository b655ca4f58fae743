"""Bad input on the command line: one line naming the flag and the fix, exit 1, no traceback."""

import pytest

from tests.cli.test_info import run_cli

RATINGS = "user,item,rating\n1,1,5\n1,2,3\n2,1,4\n2,3,1\n3,2,2\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "r.csv").write_text(RATINGS)
    result = run_cli(
        "train",
        str(folder / "r.csv"),
        "-o",
        str(folder / "m.alsrec"),
        "--preset",
        "zeros",
        "--factors",
        "2",
    )
    assert result.returncode == 0, result.stderr
    return folder


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "could not be read as CSV"),
        ("item,rating\n", "has no rows"),
        ("item,rating\n1,abc\n", "line 2: the rating is not a number"),
        ('"unterminated\n1,2\n', "could not be read as CSV"),
    ],
)
def test_bad_new_user_ratings_files(trained, content, message):
    (trained / "new.csv").write_text(content)
    result = run_cli(
        "recommend", str(trained / "m.alsrec"), "--new-user-ratings", str(trained / "new.csv")
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--folds", "0"], "--folds 0 must be a whole number >= 2"),
        (["--seeds", ""], "--seeds is empty"),
        (["-m", "a=zeros", "-m", "a=popularity"], "two -m options are labelled 'a'"),
        (["--sep", ""], "non-empty delimiter"),
    ],
)
def test_bad_evaluate_options(trained, args, message):
    command = ["evaluate", str(trained / "r.csv"), *args]
    if "-m" not in args:
        command += ["-m", "popularity"]
    result = run_cli(*command)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_hand_edited_model_file_is_one_line(trained):
    import json
    import zipfile

    path = trained / "m.alsrec"
    with zipfile.ZipFile(path) as bundle:
        members = {n: bundle.read(n) for n in bundle.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["format_version"] = "one"
    members["manifest.json"] = json.dumps(manifest).encode()
    edited = trained / "edited.alsrec"
    with zipfile.ZipFile(edited, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    result = run_cli("recommend", str(edited), "--user", "1")
    assert result.returncode == 1
    assert "format_version 'one' is not a positive whole number" in result.stderr
    assert "Traceback" not in result.stderr
