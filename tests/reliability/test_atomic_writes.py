"""Every write: atomic, never over a non-regular file, modes kept, nothing left behind."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from alsrec._atomic import atomic_write, write_bytes, write_text
from alsrec.errors import AlsrecError, FileWriteError


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_character_device_is_refused_and_stays_a_device():
    with pytest.raises(FileWriteError, match=r"/dev/null: it is a character device"):
        write_bytes("/dev/null", b"x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_folder_and_a_named_pipe_are_refused(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(FileWriteError, match="it is a folder"):
        write_bytes(folder, b"x")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(FileWriteError, match="it is a named pipe") as caught:
        write_bytes(pipe, b"x")
    assert isinstance(caught.value, AlsrecError)
    assert isinstance(caught.value, OSError)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert leftovers(tmp_path) == []


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    real = tmp_path / "model-v2.alsrec"
    real.write_bytes(b"old")
    link = tmp_path / "current.alsrec"
    link.symlink_to(real.name)
    write_bytes(link, b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"
    dangling = tmp_path / "next.alsrec"
    dangling.symlink_to("missing-target.alsrec")
    write_bytes(dangling, b"made")
    assert dangling.is_symlink()
    assert (tmp_path / "missing-target.alsrec").read_bytes() == b"made"


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "sink"
    link.symlink_to("/dev/null")
    with pytest.raises(FileWriteError, match="character device"):
        write_bytes(link, b"x")
    assert link.is_symlink()


def test_new_files_follow_the_umask_and_existing_files_keep_their_mode(tmp_path):
    script = textwrap.dedent(
        f"""
        import os
        from alsrec._atomic import write_bytes
        os.umask(0o027)
        write_bytes({str(tmp_path / "new.bin")!r}, b"x")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o640
    shared = tmp_path / "shared.bin"
    shared.write_bytes(b"old")
    os.chmod(shared, 0o644)
    write_bytes(shared, b"new")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o644
    os.chmod(shared, 0o600)
    write_text(shared, "newer")
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o600
    assert shared.read_text() == "newer"


def test_the_longest_legal_file_name_can_be_written(tmp_path):
    name = "m" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 7) + ".alsrec"
    write_bytes(tmp_path / name, b"x")
    assert (tmp_path / name).read_bytes() == b"x"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_write_keeps_the_old_file_and_leaves_nothing(tmp_path, error):
    path = tmp_path / "summary.csv"
    path.write_text("old,complete\n")

    def interrupted_write():
        with atomic_write(path, "w") as handle:
            handle.write("new,half")
            raise error

    with pytest.raises(error):
        interrupted_write()
    assert path.read_text() == "old,complete\n"
    assert leftovers(tmp_path) == []


WRITER = """
import sys, time
from alsrec._atomic import atomic_write
with atomic_write(sys.argv[1], "wb") as handle:
    handle.write(b"half of a new file")
    print("writing", flush=True)
    time.sleep(60)
"""


def start_writer(path):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    return proc


def test_sigterm_during_a_write_removes_the_temporary_and_still_ends_the_process(tmp_path):
    path = tmp_path / "model.alsrec"
    path.write_bytes(b"old model")
    proc = start_writer(path)
    assert len(leftovers(tmp_path)) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert path.read_bytes() == b"old model"
    assert leftovers(tmp_path) == []


def test_sigkill_leftovers_are_swept_by_the_next_write(tmp_path):
    path = tmp_path / "model.alsrec"
    path.write_bytes(b"old model")
    proc = start_writer(path)
    proc.kill()
    proc.wait(timeout=30)
    assert path.read_bytes() == b"old model"
    assert len(leftovers(tmp_path)) == 1  # SIGKILL cannot be caught
    time.sleep(0.05)
    write_bytes(tmp_path / "other.bin", b"x")
    assert leftovers(tmp_path) == []
    assert path.read_bytes() == b"old model"


def test_another_hosts_temporary_is_kept_unless_stale(tmp_path):
    other_host = tmp_path / ".alsrec-zzzz-1-0123abcd.tmp"  # a host hash that is not ours
    other_host.write_bytes(b"a live writer elsewhere")
    old = tmp_path / ".alsrec-zzzz-2-89abcdef.tmp"
    old.write_bytes(b"left two days ago")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    write_bytes(tmp_path / "model.alsrec", b"x")
    assert other_host.exists()
    assert not old.exists()
