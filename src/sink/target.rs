//! Where the writer's bytes go: a file we manage, or any `Write`.
//!
//! A file is opened for appending, created with mode 0600 (audit logs hold
//! prompts and tool arguments), optionally refusing a symlink at the final
//! path component (`O_NOFOLLOW`). The target also knows how to rotate by
//! size, to reopen its path (for an external rotation), and to notice that
//! its path no longer names the file it has open (moved or deleted), so the
//! writer can reopen instead of writing into an orphaned inode.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Size-based rotation: when the file would grow past `max_bytes`, it is
/// renamed to `PATH.1` (older ones shift to `PATH.2` ... `PATH.keep`, the
/// oldest beyond `keep` is removed) and a new file is started. Files are
/// cut only between lines; a single line longer than `max_bytes` gets a
/// file of its own. A gap among the numbered files (one removed by hand)
/// is filled by the files below it rather than shifted past, so no kept
/// file is removed before `keep` newer ones exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The size a file may reach.
    pub max_bytes: u64,
    /// How many rotated files to keep (at least 1).
    pub keep: usize,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FileOptions {
    pub(crate) no_follow: bool,
    pub(crate) rotation: Option<Rotation>,
    /// The sink syncs: a file left behind (rotated, moved) is synced
    /// first, since the next flush syncs only the new one.
    pub(crate) durable: bool,
}

pub(crate) struct FileTarget {
    path: PathBuf,
    file: File,
    size: u64,
    id: (u64, u64),
    /// Not a FIFO, socket or device: a write never waits for a reader.
    regular: bool,
    /// A rotation renamed `file` away but could not open the next one:
    /// the next write opens it first, and never rotates `file` again
    /// (which would delete the file the rotation just made).
    rotated: bool,
    /// The last write ended inside a line (a short write): the rest of
    /// that line goes to this file too, before any rotation.
    mid_line: bool,
    /// A file the path no longer names (moved, deleted, or replaced, then
    /// reopened) that holds the start of a line whose rest we have not
    /// written: the rest goes there before anything goes to `file`, so
    /// that neither file holds half a line in its middle.
    owed: Option<File>,
    /// A failure on that file left behind: the rest of its line dropped
    /// because it refused it (the line is cut there), or not synced. The
    /// writer reports it.
    lost: Option<io::Error>,
    opts: FileOptions,
}

pub(crate) enum Target {
    File(FileTarget),
    Writer(Box<dyn Write + Send>),
}

pub(crate) fn open_file(path: &Path, opts: &FileOptions) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.append(true).create(true).mode(0o600);
    if opts.no_follow {
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path)
}

impl FileTarget {
    pub(crate) fn open(path: PathBuf, opts: FileOptions) -> io::Result<FileTarget> {
        FileTarget::open_after(path, opts, None)
    }

    /// Opens `path`; `current` is the file open until now, if any, whose
    /// last line may be ours and unfinished.
    fn open_after(
        path: PathBuf,
        opts: FileOptions,
        current: Option<&FileTarget>,
    ) -> io::Result<FileTarget> {
        let mut file = open_file(&path, &opts)?;
        let mut meta = file.metadata()?;
        let same = current.filter(|c| c.id == (meta.dev(), meta.ino()));
        if same.is_none() && ends_mid_line(&path, &meta) {
            // A writer was killed mid-line: end that fragment, so that our
            // first line is not glued to it (and lost with it to readers).
            file.write_all(b"\n")?;
            meta = file.metadata()?;
        }
        if !meta.is_file() {
            // Appending to a FIFO or device is allowed, but rotation and
            // reopen make no sense there.
            if opts.rotation.is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: rotation needs a regular file", path.display()),
                ));
            }
        }
        let mut target = FileTarget::with(path, file, &meta, opts);
        // The same file again: a line we began there is still ours to end.
        target.mid_line = same.is_some_and(|c| c.mid_line);
        Ok(target)
    }

    fn with(path: PathBuf, file: File, meta: &std::fs::Metadata, opts: FileOptions) -> FileTarget {
        FileTarget {
            size: meta.len(),
            id: (meta.dev(), meta.ino()),
            regular: meta.is_file(),
            rotated: false,
            mid_line: false,
            owed: None,
            lost: None,
            path,
            file,
            opts,
        }
    }

    /// The file at `path` opened read-only: every write fails (`EBADF`),
    /// yet it is a regular file. For tests of write faults.
    #[cfg(test)]
    pub(crate) fn read_only(path: PathBuf) -> io::Result<FileTarget> {
        let file = File::open(&path)?;
        let meta = file.metadata()?;
        Ok(FileTarget::with(path, file, &meta, FileOptions::default()))
    }

    /// Reopens the path (after an external rotation or a deletion).
    pub(crate) fn reopen(&mut self) -> io::Result<()> {
        // Synced first, but a file that cannot be synced (gone with its
        // device) must not keep us from the next: the error is reported
        // as the write's, after the switch.
        let synced = if self.opts.durable {
            sync_data(&self.file)
        } else {
            Ok(())
        };
        // The path is kept on failure, for the retry.
        let next = FileTarget::open_after(self.path.clone(), self.opts, Some(self))?;
        let old = std::mem::replace(self, next);
        // A line begun in the old file, now another: its rest is owed
        // there (an older debt first).
        self.owed = old
            .owed
            .or_else(|| (old.mid_line && !self.mid_line).then_some(old.file));
        self.lost = old.lost;
        synced
    }

    /// The rest of a cut line that had to be dropped, once.
    pub(crate) fn take_lost(&mut self) -> Option<io::Error> {
        self.lost.take()
    }

    /// Writes the first line of `buf` (the rest of a line begun in the
    /// file left behind) there. A failure drops it: the old file may never
    /// take it (its device gone), and it must not hold up the events after
    /// it nor land in the middle of the new file.
    fn pay_owed(&mut self, old: &mut File, buf: &[u8]) -> (usize, bool) {
        let (end, whole) = match buf.iter().position(|&b| b == b'\n') {
            Some(e) => (e + 1, true),
            None => (buf.len(), false),
        };
        match old.write(&buf[..end]) {
            Ok(n) => {
                let paid = n == end && whole;
                if paid && self.opts.durable {
                    if let Err(e) = sync_data(old) {
                        self.lost = Some(io::Error::new(
                            e.kind(),
                            format!(
                                "the file the path no longer names could not be synced after \
                                 the rest of its last line was written ({e})"
                            ),
                        ));
                    }
                }
                (n, paid)
            }
            Err(e) => {
                self.lost = Some(io::Error::new(
                    e.kind(),
                    format!(
                        "the rest of a line cut by a failed write could not be written to \
                         the file holding its start, which the path no longer names ({e}): \
                         that event is incomplete there"
                    ),
                ));
                (end, true)
            }
        }
    }

    /// Whether the path now names another file, or none.
    pub(crate) fn moved(&self) -> bool {
        match std::fs::metadata(&self.path) {
            Ok(m) => (m.dev(), m.ino()) != self.id,
            Err(_) => true,
        }
    }

    /// Whether the open file has no name left (deleted, not moved).
    pub(crate) fn deleted(&self) -> bool {
        self.file
            .metadata()
            .map(|m| m.nlink() == 0)
            .unwrap_or(false)
    }

    fn sibling(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self, keep: usize) -> io::Result<()> {
        let keep = keep.max(1);
        // The files shift up into the lowest free slot, so only the files
        // there are get renamed (`keep` may be `usize::MAX`), and a gap,
        // left by a rotation whose renames stopped halfway and now
        // retried or by an operator, is filled: shifting past it would
        // delete the oldest kept file before its time. With no free slot
        // the oldest file goes.
        let free = (1..=keep).find(|&n| {
            matches!(std::fs::symlink_metadata(self.sibling(n)),
                     Err(e) if e.kind() == io::ErrorKind::NotFound)
        });
        let top = match free {
            Some(n) => n,
            None => {
                match std::fs::remove_file(self.sibling(keep)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                keep
            }
        };
        for n in (1..top).rev() {
            std::fs::rename(self.sibling(n), self.sibling(n + 1))?;
        }
        std::fs::rename(&self.path, self.sibling(1))?;
        self.rotated = true;
        self.reopen()
    }

    /// Writes a prefix of `buf` (which holds whole lines), rotating first
    /// when the next line would not fit. Returns the bytes written.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(mut old) = self.owed.take() {
            let (n, paid) = self.pay_owed(&mut old, buf);
            if !paid {
                self.owed = Some(old);
            }
            return Ok(n);
        }
        let mut chunk = buf;
        if self.rotated {
            self.reopen()?;
        }
        if let Some(rot) = self.opts.rotation {
            let first_line = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |e| e + 1);
            chunk = if self.mid_line {
                // The rest of a line this file holds the start of.
                &buf[..first_line]
            } else {
                if self.size > 0 && self.size + first_line as u64 > rot.max_bytes {
                    self.rotate(rot.keep)?;
                }
                let room = rot
                    .max_bytes
                    .saturating_sub(self.size)
                    .min(buf.len() as u64) as usize;
                match buf[..room].iter().rposition(|&b| b == b'\n') {
                    // The longest run of whole lines that fits.
                    Some(end) => &buf[..end + 1],
                    // A line longer than the limit gets a file of its own.
                    None => &buf[..first_line],
                }
            };
        }
        let n = self.file.write(chunk)?;
        self.size += n as u64;
        if n > 0 {
            self.mid_line = chunk[n - 1] != b'\n';
        }
        Ok(n)
    }

    pub(crate) fn sync(&mut self) -> io::Result<()> {
        sync_data(&self.file)
    }
}

/// Whether the regular file `meta` describes (open at `path`) ends inside
/// a line. Read through a second handle, checked to be the same file; a
/// file we cannot read is taken to end well.
fn ends_mid_line(path: &Path, meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileExt;
    if !meta.is_file() || meta.len() == 0 {
        return false;
    }
    let Ok(reader) = File::open(path) else {
        return false;
    };
    let same = reader
        .metadata()
        .is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()));
    let mut last = [0u8];
    same && matches!(reader.read_at(&mut last, meta.len() - 1), Ok(1)) && last[0] != b'\n'
}

fn sync_data(file: &File) -> io::Result<()> {
    #[cfg(test)]
    {
        tests::SYNCS.with(|n| n.set(n.get() + 1));
        if tests::FAIL_SYNCS.with(|f| f.get()) {
            return Err(io::Error::other("injected fdatasync failure"));
        }
    }
    file.sync_data()
}

impl Target {
    /// A regular file: writes to it finish without waiting on a reader.
    pub(crate) fn is_regular_file(&self) -> bool {
        matches!(self, Target::File(f) if f.regular)
    }

    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Target::File(f) => f.write(buf),
            Target::Writer(w) => w.write(buf),
        }
    }

    /// Pushes everything to the OS (a `Write`'s own buffer) and, when
    /// `durable`, to the disk.
    pub(crate) fn flush(&mut self, durable: bool) -> io::Result<()> {
        match self {
            Target::File(f) if durable => f.sync(),
            Target::File(_) => Ok(()),
            Target::Writer(w) => w.flush(),
        }
    }

    pub(crate) fn reopen(&mut self) -> io::Result<()> {
        match self {
            Target::File(f) => f.reopen(),
            Target::Writer(_) => Ok(()),
        }
    }

    /// See [`FileTarget::take_lost`].
    pub(crate) fn take_lost(&mut self) -> Option<io::Error> {
        match self {
            Target::File(f) => f.take_lost(),
            Target::Writer(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// `fdatasync`s this thread made.
        pub(super) static SYNCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        /// Whether this thread's `fdatasync`s fail.
        pub(super) static FAIL_SYNCS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// In durable mode the file a rotation leaves is synced before the
    /// next one is opened (a flush syncs only the file open then); not
    /// otherwise.
    #[test]
    fn a_durable_rotation_syncs_the_file_it_leaves() {
        for durable in [false, true] {
            let dir = scratch(&format!("durable-{durable}"));
            let opts = FileOptions {
                rotation: Some(Rotation {
                    max_bytes: 10,
                    keep: 2,
                }),
                durable,
                ..FileOptions::default()
            };
            let mut target = FileTarget::open(dir.join("log"), opts).unwrap();
            SYNCS.with(|n| n.set(0));
            assert_eq!(target.write(b"123456\n").unwrap(), 7);
            assert_eq!(target.write(b"abcdef\n").unwrap(), 7);
            assert_eq!(
                std::fs::read(dir.join("log.1")).unwrap(),
                b"123456\n",
                "rotated"
            );
            assert_eq!(SYNCS.with(|n| n.get()), usize::from(durable));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// A file left behind that cannot be synced does not keep the sink
    /// from the next one: the switch happens, the failure is the write's
    /// error, and the retried write goes to the new file, with no second
    /// rotation and the left file as it was, even while syncs still fail.
    #[test]
    fn a_failed_sync_of_the_file_left_behind_still_switches() {
        let dir = scratch("durable-sync-fails");
        let opts = FileOptions {
            rotation: Some(Rotation {
                max_bytes: 10,
                keep: 3,
            }),
            durable: true,
            ..FileOptions::default()
        };
        let mut target = FileTarget::open(dir.join("log"), opts).unwrap();
        assert_eq!(target.write(b"123456\n").unwrap(), 7);
        FAIL_SYNCS.with(|f| f.set(true));
        let err = target.write(b"abcdef\n").unwrap_err();
        assert!(err.to_string().contains("injected"), "{err}");
        // Syncs still fail: a plain write does not need one.
        assert_eq!(target.write(b"abcdef\n").unwrap(), 7);
        FAIL_SYNCS.with(|f| f.set(false));
        assert_eq!(std::fs::read(dir.join("log.1")).unwrap(), b"123456\n");
        assert_eq!(std::fs::read(dir.join("log")).unwrap(), b"abcdef\n");
        assert!(!dir.join("log.2").exists(), "rotated twice");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("agent-audit-target-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// After a short write cut a line, the rest of it goes to the same
    /// file even when it takes the file past the limit; the rotation
    /// comes at the next line.
    #[test]
    fn a_line_cut_by_a_short_write_is_finished_before_a_rotation() {
        let dir = scratch("mid-line");
        let opts = FileOptions {
            rotation: Some(Rotation {
                max_bytes: 10,
                keep: 2,
            }),
            ..FileOptions::default()
        };
        let mut target = FileTarget::open(dir.join("log"), opts).unwrap();
        // A line of 16 bytes whose write stopped after 12 (as under a
        // file-size limit): its first part is alone in the file.
        assert_eq!(target.write(b"0123456789ab").unwrap(), 12);
        assert!(target.mid_line);
        assert_eq!(target.write(b"cde\nxy\n").unwrap(), 4);
        assert!(!target.mid_line);
        assert_eq!(target.write(b"xy\n").unwrap(), 3);
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        assert_eq!(read("log.1"), b"0123456789abcde\n");
        assert_eq!(read("log"), b"xy\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Reopening the file we have open (an explicit reopen, nothing moved)
    /// keeps a line we began there ours to finish: no newline is added.
    #[test]
    fn reopening_the_same_file_keeps_our_unfinished_line() {
        let dir = scratch("same-file");
        let path = dir.join("log");
        let mut target = FileTarget::open(path.clone(), FileOptions::default()).unwrap();
        assert_eq!(target.write(b"abc").unwrap(), 3);
        target.reopen().unwrap();
        assert!(target.mid_line);
        assert_eq!(target.write(b"def\n").unwrap(), 4);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A line cut by a short write, then the file moved away and the path
    /// reopened: the line's rest goes to the moved file, where it began,
    /// and the new file starts with the next whole line. Durable, the
    /// moved file is synced once its line is whole.
    #[test]
    fn a_line_cut_before_a_move_is_finished_in_the_moved_file() {
        let dir = scratch("owed");
        let path = dir.join("log");
        let opts = FileOptions {
            durable: true,
            ..FileOptions::default()
        };
        let mut target = FileTarget::open(path.clone(), opts).unwrap();
        assert_eq!(target.write(b"whole\nhal").unwrap(), 9);
        std::fs::rename(&path, dir.join("log.old")).unwrap();
        target.reopen().unwrap();
        SYNCS.with(|n| n.set(0));
        // A short write of the rest, then the rest of the rest.
        assert_eq!(target.write(b"f").unwrap(), 1);
        assert_eq!(
            SYNCS.with(|n| n.get()),
            0,
            "synced before the line was whole"
        );
        assert_eq!(target.write(b"-done\nnext\n").unwrap(), 6);
        assert_eq!(SYNCS.with(|n| n.get()), 1);
        assert_eq!(target.write(b"next\n").unwrap(), 5);
        assert!(target.take_lost().is_none());
        assert_eq!(
            std::fs::read(dir.join("log.old")).unwrap(),
            b"whole\nhalf-done\n"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"next\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// If the file left behind refuses the rest of its line, the rest is
    /// dropped and reported as lost; it never lands in the new file.
    #[test]
    fn the_rest_of_a_cut_line_its_file_refuses_is_reported_not_misplaced() {
        let dir = scratch("owed-refused");
        let path = dir.join("log");
        std::fs::write(&path, b"hal").unwrap();
        // Read-only: its writes fail. As if our write had cut the line.
        let mut target = FileTarget::read_only(path.clone()).unwrap();
        target.mid_line = true;
        std::fs::remove_file(&path).unwrap();
        target.reopen().unwrap();
        assert_eq!(target.write(b"f\nnext\n").unwrap(), 2);
        let lost = target.take_lost().expect("the loss is reported");
        assert!(lost.to_string().contains("incomplete"), "{lost}");
        assert_eq!(target.write(b"next\n").unwrap(), 5);
        assert_eq!(std::fs::read(&path).unwrap(), b"next\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file that ends inside a line (its writer was killed) gets that
    /// line ended before ours, whichever way it is opened.
    #[test]
    fn a_torn_last_line_is_ended_before_the_first_new_one() {
        let dir = scratch("torn");
        let path = dir.join("log");
        for (before, after) in [
            (&b""[..], &b"new\n"[..]),
            (b"whole\n", b"whole\nnew\n"),
            (b"whole\ntor", b"whole\ntor\nnew\n"),
        ] {
            std::fs::write(&path, before).unwrap();
            let mut target = FileTarget::open(path.clone(), FileOptions::default()).unwrap();
            assert_eq!(target.write(b"new\n").unwrap(), 4);
            assert_eq!(std::fs::read(&path).unwrap(), after);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
