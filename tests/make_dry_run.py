"""What `make TARGET` would run, read from a dry run (`make -n -B`: nothing is built, every step is listed)."""
import shlex
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def dry_run(target: str, *variables: str) -> list:
    """The commands `make TARGET VARIABLE=value...` would run, one string each (continued lines joined)."""
    listed = subprocess.run(["make", "--no-print-directory", "-n", "-B", target, *variables], cwd=REPO,
                            capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.replace("\\\n", " ").splitlines()


def program_words(program: str, target: str, *variables: str) -> list:
    """The words of the first of those commands that runs `program`; [] when none does."""
    return next((shlex.split(command) for command in dry_run(target, *variables) if program in command), [])
