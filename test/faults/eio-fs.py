#!/usr/bin/env python3
"""A passthrough FUSE filesystem whose writes can be made to fail with EIO, as a failing disk's would.

    eio-fs.py BACKING_DIR MOUNTPOINT FAIL_FILE

Mounts BACKING_DIR at MOUNTPOINT (in the foreground; SIGTERM or SIGINT unmounts and exits). While
FAIL_FILE exists, every write, truncate and fsync answers EIO, except the first N when FAIL_FILE holds
a number N (so that a commit can fail half-written); reads go on. Prints "ready" once the kernel has
the mount. Needs fusepy (Debian: python3-fusepy) and /dev/fuse.
"""
import errno
import os
import sys
import threading

# Exit status 77 says "FUSE cannot be used here" (no fusepy, no permission to mount), as in automake.
CANNOT_MOUNT = 77

try:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's python3-fusepy
except ImportError:
    try:
        from fuse import FUSE, FuseOSError, Operations  # pip's fusepy
    except ImportError:
        print('fusepy is not installed', file=sys.stderr)
        sys.exit(CANNOT_MOUNT)


class FailingPassthrough(Operations):
    def __init__(self, root, fail_file):
        self.root = os.path.realpath(root)
        self.fail_file = fail_file
        self.counting = threading.Lock()
        self.passed = 0

    def _path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def _check_failing(self):
        try:
            with open(self.fail_file) as f:
                allowed = int(f.read().strip() or 0)
        except FileNotFoundError:
            self.passed = 0
            return
        with self.counting:
            if self.passed < allowed:
                self.passed += 1
                return
        raise FuseOSError(errno.EIO)

    def init(self, path):
        print('ready', flush=True)

    # Metadata and directories: straight through.
    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        keys = ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_size', 'st_uid')
        return {k: getattr(st, k) for k in keys}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        keys = ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')
        return {k: getattr(st, k) for k in keys}

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)

    def mkdir(self, path, mode):
        os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        os.rmdir(self._path(path))

    def unlink(self, path):
        os.unlink(self._path(path))

    def rename(self, old, new):
        os.rename(self._path(old), self._path(new))

    # File contents: writes fail while the switch is on.
    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._check_failing()
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        self._check_failing()
        if fh is None:
            os.truncate(self._path(path), length)
        else:
            os.ftruncate(fh, length)

    def fsync(self, path, datasync, fh):
        self._check_failing()
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)


if __name__ == '__main__':
    backing, mountpoint, fail_file = sys.argv[1:4]
    try:
        FUSE(FailingPassthrough(backing, fail_file), mountpoint, foreground=True)
    except RuntimeError:
        # fusepy's word for "libfuse could not mount"; libfuse has said why on stderr.
        sys.exit(CANNOT_MOUNT)
