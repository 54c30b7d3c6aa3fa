//! Write transactions and WAL bytes of a SQLite database over a window, read from its write-ahead log
//! (for (h)): absync's SQLite writer runs on its own rusqlite connection, whose statements sqlx does
//! not log, but every write transaction it commits ends in a commit frame of the WAL file.
//!
//! The WAL file is `<database>-wal`: a 32-byte header (magic, format, page size, checkpoint sequence,
//! two salts, checksum), then frames of a 24-byte header (page number, for a commit frame the database
//! size in pages after the commit — zero otherwise —, the two salts, checksum) and one page. A frame
//! belongs to the current log while its salts are the header's; a checkpoint that restarts the log
//! changes the salts and writes from the first frame again. So that the frames of the window stay in
//! the file to be read, [`Window::open`] holds a read transaction on the database until
//! [`Window::close`]: no checkpoint copies frames past a reader's snapshot, and the log restarts only
//! once every frame is copied — at most once, then, at the window's first write, when nothing written
//! after the snapshot is lost. The service is unaffected but for its log growing meanwhile.

use anyhow::Context;
use sqlx::{Connection, SqliteConnection};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

/// The WAL's growth over a window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Growth {
    /// Commit frames: write transactions committed.
    pub(crate) commits: u64,
    /// Bytes of the frames written (headers included).
    pub(crate) bytes: u64,
}

/// The committed part of the log at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Log {
    salts: [u8; 8],
    page_size: u64,
    /// The 1-based numbers of its commit frames; the last is where the committed log ends.
    commits: Vec<u64>,
}

impl Log {
    fn end(&self) -> u64 {
        self.commits.last().copied().unwrap_or(0)
    }
}

/// A window over a database's WAL, its snapshot held.
pub(crate) struct Window {
    reader: SqliteConnection,
    wal: PathBuf,
    start: Option<Log>,
}

impl Window {
    /// Takes a read snapshot of the database of `url` (file `database`), then notes where its
    /// committed log ends.
    pub(crate) async fn open(url: &str, database: &Path) -> anyhow::Result<Self> {
        let mut reader = SqliteConnection::connect(url).await?;
        sqlx::query("BEGIN").execute(&mut reader).await?;
        // A deferred transaction takes its snapshot at its first read.
        sqlx::query("SELECT count(*) FROM tenants")
            .execute(&mut reader)
            .await?;
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let start = read(&wal)?;
        Ok(Self { reader, wal, start })
    }

    /// The commits and frames since [`Window::open`]; releases the snapshot.
    pub(crate) async fn close(mut self) -> anyhow::Result<Growth> {
        let end = read(&self.wal)?.context("the WAL file is gone")?;
        let _ = sqlx::query("ROLLBACK").execute(&mut self.reader).await;
        let _ = self.reader.close().await;
        // Same salts: the log went on after the start; else it restarted, and everything counts.
        let after = match &self.start {
            Some(start) if start.salts == end.salts => start.end(),
            _ => 0,
        };
        Ok(Growth {
            commits: end.commits.iter().filter(|frame| **frame > after).count() as u64,
            bytes: (end.end() - after.min(end.end())) * (FRAME_HEADER + end.page_size),
        })
    }
}

/// The committed log of the WAL file `wal` (none when there is no file or no header yet).
fn read(wal: &Path) -> anyhow::Result<Option<Log>> {
    let Ok(mut file) = File::open(wal) else {
        return Ok(None);
    };
    let mut header = [0u8; HEADER as usize];
    if file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let magic = u32::from_be_bytes(header[0..4].try_into()?);
    anyhow::ensure!(
        magic & !1 == 0x377f_0682,
        "{} is not a SQLite WAL file",
        wal.display()
    );
    let page_size = u64::from(u32::from_be_bytes(header[8..12].try_into()?));
    let mut log = Log {
        salts: header[16..24].try_into()?,
        page_size,
        commits: Vec::new(),
    };
    let length = file.metadata()?.len();
    let mut frame_header = [0u8; FRAME_HEADER as usize];
    for number in 1.. {
        let at = HEADER + (number - 1) * (FRAME_HEADER + page_size);
        if at + FRAME_HEADER + page_size > length {
            break;
        }
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut frame_header)?;
        if frame_header[8..16] != log.salts {
            break;
        }
        if frame_header[4..8] != [0; 4] {
            log.commits.push(number);
        }
    }
    Ok(Some(log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_the_commits_and_frames_written_while_open() -> anyhow::Result<()> {
        let folder = std::env::temp_dir().join(format!("absync-bench-wal-{}", std::process::id()));
        std::fs::create_dir_all(&folder)?;
        let database = folder.join("test.db");
        let url = format!("sqlite://{}?mode=rwc", database.display());
        let mut writer = SqliteConnection::connect(&url).await?;
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&mut writer)
            .await?;
        sqlx::query("CREATE TABLE tenants (id TEXT PRIMARY KEY)")
            .execute(&mut writer)
            .await?;
        let window = Window::open(&url, &database).await?;
        for i in 0..3 {
            sqlx::query("INSERT INTO tenants (id) VALUES (?1)")
                .bind(i.to_string())
                .execute(&mut writer)
                .await?;
        }
        // A checkpoint asked to restart the log gives up (busy) rather than lose the window's frames.
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&mut writer)
            .await?;
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(&mut writer)
            .await?;
        let growth = window.close().await?;
        writer.close().await?;
        std::fs::remove_dir_all(&folder)?;
        assert_eq!(growth.commits, 3);
        assert!(growth.bytes >= 3 * (FRAME_HEADER + 4096), "{growth:?}");
        Ok(())
    }
}
