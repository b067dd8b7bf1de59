"""Where shared chats listen: one Unix socket per chat, ``<chat id>.sock``, in a private folder.

The folder is ``$XDG_RUNTIME_DIR/groupchat`` (else ``/tmp/groupchat-<uid>``), mode 0700 and
owned by the user, and each socket is 0600: only the same user can join a chat. A socket path
must fit in ``sun_path`` (107 bytes), so a runtime folder too deep is passed over for ``/tmp``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import tempfile
import time
from pathlib import Path

__all__ = [
    "SUFFIX",
    "NoShareFolderError",
    "ShareFolderError",
    "is_live",
    "is_running",
    "running_chats",
    "share_folder",
    "socket_path",
    "sweep_stale",
]

SUFFIX = ".sock"
MAX_SOCKET_PATH = 107
_ID_ROOM = 40  # a chat id and the suffix


class ShareFolderError(OSError):
    """The folder for sockets is missing, not private or not the user's; says which and why."""


class NoShareFolderError(ShareFolderError):
    """The folder for sockets does not exist (yet): no chat was ever shared here."""


def _candidates() -> list[Path]:
    found = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        found.append(Path(runtime) / "groupchat")
    found.append(Path(tempfile.gettempdir()) / f"groupchat-{os.getuid()}")
    return [path for path in found if len(str(path)) + _ID_ROOM <= MAX_SOCKET_PATH]


def share_folder(*, create: bool = True) -> Path:
    """The private folder of this user's sockets, checked (and made, with ``create``)."""
    candidates = _candidates()
    if not candidates:
        raise ShareFolderError("no folder short enough for a socket path")
    folder = candidates[0]
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        raise NoShareFolderError(f"{folder} does not exist") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ShareFolderError(f"{folder} is not a folder (a link or a file is in its place)")
    if info.st_uid != os.getuid():
        raise ShareFolderError(f"{folder} belongs to another user")
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)  # ours, but open to others: close it
    return folder


def socket_path(chat_id: str, folder: Path | None = None) -> Path:
    """The socket of ``chat_id`` (in ``folder``, default: the user's, which must exist)."""
    return (folder or share_folder(create=False)) / f"{chat_id}{SUFFIX}"


def is_running(chat_id: str) -> bool:
    """Whether ``chat_id`` runs shared now, so that ``groupchat join`` can join it."""
    try:
        return is_live(socket_path(chat_id))
    except OSError:
        return False


def is_live(path: Path) -> bool:
    """Whether a process listens on the socket at ``path`` (``False``: gone, or stale)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def running_chats(folder: Path | None = None) -> list[str]:
    """The ids of the chats with a socket in the folder (live or stale), sorted."""
    try:
        folder = folder or share_folder(create=False)
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(name[: -len(SUFFIX)] for name in names if name.endswith(SUFFIX))


def sweep_stale(folder: Path, *, settle: float = 60.0) -> list[str]:
    """Remove the sockets in ``folder`` that nobody listens on any more (left by processes that
    were killed), and return their chat ids. A socket made in the last ``settle`` seconds is
    left alone: its process may be between binding and listening."""
    removed = []
    now = time.time()
    for chat_id in running_chats(folder):
        path = folder / f"{chat_id}{SUFFIX}"
        with contextlib.suppress(OSError):
            if now - os.lstat(path).st_mtime >= settle and not is_live(path):
                path.unlink()
                removed.append(chat_id)
    return removed
