"""The Makefile's build choices reach the commands `make mar` runs (a dry run: nothing is built)."""
import subprocess

from tests.make_dry_run import REPO, program_words


def export_arguments(*variables: str) -> list:
    """The words of the `alphanet.export` command `make mar VARIABLE=value...` would run."""
    words = program_words("alphanet.export", "mar", *variables)
    assert words, "make mar runs no alphanet.export"
    return words


def make_value(variable: str, *variables: str) -> str:
    """The value make gives `variable` when run with `variables` (["NAME=value", ...]) on its command line."""
    printed = subprocess.run(["make", "--no-print-directory", "-s", "--eval", f"print-var: ; @echo $({variable})",
                              "print-var", *variables], cwd=REPO, capture_output=True, text=True)
    assert printed.returncode == 0, printed.stderr
    return printed.stdout.strip()


def test_weights_reach_the_export(tmp_path):
    weights = tmp_path / "my.pt"
    weights.write_bytes(b"")  # make needs the file to exist; the dry run never reads it
    arguments = export_arguments(f"WEIGHTS={weights}")
    assert arguments[arguments.index("--weights") + 1] == str(weights)


def test_without_weights_the_export_packs_the_default():
    assert "--weights" not in export_arguments()


def test_missing_weights_stop_the_build_with_their_name():
    dry_run = subprocess.run(["make", "--no-print-directory", "-n", "mar", "WEIGHTS=no/such/file.pt"], cwd=REPO,
                             capture_output=True, text=True)
    assert dry_run.returncode != 0 and "no/such/file.pt" in dry_run.stderr


def test_each_weights_file_has_its_own_build_stamp():
    """Switching WEIGHTS rebuilds the archive even when the new file is older than the last build."""
    stamps = {make_value("BUILD_STAMP", *variables) for variables in ([], ["WEIGHTS=a/my.pt"], ["WEIGHTS=b/my.pt"])}
    assert len(stamps) == 3


def test_inference_choices_reach_the_export_and_have_their_own_build_stamps():
    for variable, flag, default in (("MIRROR", "mirror-average", "off"), ("GUIDED_FILTER", "guided-filter", "on"),
                                    ("SECOND_LOOK", "second-look", "on"), ("SUBJECT_ONLY", "subject-only", "on"),
                                    ("POSE", "person-pose", "on")):
        other = {"on": "off", "off": "on"}[default]
        given = {"on": f"--{flag}", "off": f"--no-{flag}"}
        assert given[default] in export_arguments() and given[other] not in export_arguments()
        assert given[other] in export_arguments(f"{variable}={other}")
        assert make_value("BUILD_STAMP") != make_value("BUILD_STAMP", f"{variable}={other}")


def test_closed_form_mode_reaches_the_export_and_has_its_own_build_stamp():
    def mode_given(*variables: str) -> str:
        words = export_arguments(*variables)
        return words[words.index("--closed-form") + 1]

    assert mode_given() == "trimap"
    for mode in ("off", "on"):
        assert mode_given(f"CLOSED_FORM={mode}") == mode
        assert make_value("BUILD_STAMP") != make_value("BUILD_STAMP", f"CLOSED_FORM={mode}")
