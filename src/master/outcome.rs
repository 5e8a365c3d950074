//! What the master tells `portico -s`: the outcome of the last reload and of the last log
//! reopening, in a small status file next to the pid file (`PIDFILE.status`, e.g.
//! `/run/portico.pid.status`), so that `-s reload` can say whether the new configuration
//! was applied instead of exiting 0 whatever happened (see [`crate::control`]).
//!
//! The file is rewritten whole, through a temporary file renamed over it, so a reader never
//! sees half of it. Every `HUP` and `USR1` is recorded, whoever sent it (`-s`, `kill`,
//! systemd), with the `CLOCK_MONOTONIC` time at which the master started acting on it: a
//! `-s reload` that read the clock before it sent its signal waits for a record started
//! after that reading, which is then a reload that read the configuration after the
//! command ran. Signals coalesce (two `HUP`s in quick succession make one reload when the
//! second arrives before the first is taken), and two racing `-s reload`s may both report
//! the same, later, reload: each still reports a reload that read their configuration.
//!
//! The master only writes here; the error log keeps nginx's lines.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::{Master, Phase, process};
use crate::elog;
use crate::log::LogLevel;
use crate::sys;

/// The status file of a master whose pid file is `pid_file`.
pub fn status_path(pid_file: &Path) -> PathBuf {
    let mut name = pid_file.as_os_str().to_owned();
    name.push(".status");
    PathBuf::from(name)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock for every process of the machine (of one
/// time namespace), so the master's record and `-s`'s signal can be ordered.
pub fn monotonic_ns() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        (t.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec() as u64)
    })
}

/// How a reload (or a log reopening) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The new configuration is in force: generation `generation` runs `workers` workers.
    Applied {
        /// The master's generation after the reload.
        generation: u64,
        /// Workers started for it.
        workers: usize,
    },
    /// The new configuration was refused (the old one keeps serving): nginx's error line.
    Rejected(String),
    /// Nothing was done, and why (a master that is shutting down).
    Ignored(String),
    /// The logs were reopened (and the workers told to reopen theirs).
    Reopened,
    /// Reopening a log failed (that log keeps its old file): the first error.
    ReopenFailed(String),
}

/// One recorded action: when the master started it, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// [`monotonic_ns`] when the master took the signal.
    pub started_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// The whole status file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The master that wrote it.
    pub pid: i32,
    /// The last `HUP`.
    pub reload: Option<Record>,
    /// The last `USR1`.
    pub reopen: Option<Record>,
}

impl Status {
    /// Reads a status file; `None` when it is missing or not one.
    pub fn read(path: &Path) -> Option<Status> {
        Status::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// Parses the text [`Status::render`] writes. Unknown keys are skipped (a newer master may
    /// add some); a file without `pid` is not a status.
    pub fn parse(text: &str) -> Option<Status> {
        let mut status = Status::default();
        let mut pid = None;
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if key == "pid" {
                pid = value.parse().ok();
            } else {
                fields.push((key, value));
            }
        }
        status.pid = pid?;
        status.reload = record(&fields, "reload");
        status.reopen = record(&fields, "reopen");
        Some(status)
    }

    /// The file's text: `key=value` lines, readable by people too.
    pub fn render(&self) -> String {
        let mut out = format!("pid={}\n", self.pid);
        for (name, r) in [("reload", &self.reload), ("reopen", &self.reopen)] {
            let Some(r) = r else { continue };
            let _ = writeln!(out, "{name}.started={}", r.started_ns);
            let (result, detail) = match &r.outcome {
                Outcome::Applied {
                    generation,
                    workers,
                } => {
                    let _ = writeln!(out, "{name}.generation={generation}");
                    let _ = writeln!(out, "{name}.workers={workers}");
                    ("applied", None)
                }
                Outcome::Rejected(e) => ("rejected", Some(e)),
                Outcome::Ignored(e) => ("ignored", Some(e)),
                Outcome::Reopened => ("reopened", None),
                Outcome::ReopenFailed(e) => ("failed", Some(e)),
            };
            let _ = writeln!(out, "{name}.result={result}");
            if let Some(detail) = detail {
                // One line per value: a message never spans lines here.
                let detail = detail.replace(['\n', '\r'], " ");
                let _ = writeln!(out, "{name}.message={detail}");
            }
        }
        out
    }

    /// Writes the file atomically: a temporary file named after this process, renamed over
    /// the old one, so a reader sees the old text or the new, never a mix.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, self.render())?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

fn record(fields: &[(&str, &str)], name: &str) -> Option<Record> {
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k.strip_prefix(name).and_then(|k| k.strip_prefix('.')) == Some(key))
            .map(|(_, v)| *v)
    };
    let started_ns = get("started")?.parse().ok()?;
    let message = || get("message").unwrap_or("").to_string();
    let outcome = match get("result")? {
        "applied" => Outcome::Applied {
            generation: get("generation")?.parse().ok()?,
            workers: get("workers")?.parse().ok()?,
        },
        "rejected" => Outcome::Rejected(message()),
        "ignored" => Outcome::Ignored(message()),
        "reopened" => Outcome::Reopened,
        "failed" => Outcome::ReopenFailed(message()),
        _ => return None,
    };
    Some(Record {
        started_ns,
        outcome,
    })
}

/// Removes the status files of a master that exits, those that are still its own.
pub(super) fn remove_status_files(pid_file: &Path) {
    if pid_file.as_os_str().is_empty() {
        return;
    }
    let me = std::process::id() as i32;
    for path in [
        status_path(pid_file),
        status_path(&super::oldbin_path(pid_file)),
    ] {
        if Status::read(&path).is_some_and(|s| s.pid == me) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

impl Master {
    /// The status file of this master: next to its pid file, which is `PID.oldbin` while a
    /// new binary runs (so the two masters never write the same file). None with `pid off`.
    fn status_file(&self) -> Option<PathBuf> {
        if self.pid_file.as_os_str().is_empty() {
            None
        } else if self.new_binary.is_some() {
            Some(status_path(&super::oldbin_path(&self.pid_file)))
        } else {
            Some(status_path(&self.pid_file))
        }
    }

    /// Records one outcome, keeping the other kind's last record.
    fn record(&self, update: impl FnOnce(&mut Status)) {
        let Some(path) = self.status_file() else {
            return;
        };
        let me = std::process::id() as i32;
        let mut status = Status::read(&path)
            .filter(|s| s.pid == me)
            .unwrap_or_default();
        status.pid = me;
        update(&mut status);
        if let Err(e) = status.write(&path) {
            elog!(
                LogLevel::Alert,
                "could not write \"{}\" ({})",
                path.display(),
                sys::errno_text(&e)
            );
        }
    }

    /// Writes the status file of a master that has just started: `-s` then knows that this
    /// master reports its reloads.
    pub(super) fn report_started(&self) {
        self.record(|_| {});
    }

    /// `HUP`: reload the configuration (or, while a new binary runs, start this master's
    /// workers again: the rollback of an upgrade) and record how it went.
    pub(super) fn reload_and_report(&mut self) {
        let started_ns = monotonic_ns();
        let outcome = if self.phase != Phase::Running {
            Outcome::Ignored("the master process is shutting down".to_string())
        } else {
            let reloaded = if self.new_binary.is_some() {
                // nginx: with a new binary running, HUP restarts this master's workers from
                // the configuration it has (the rollback path).
                self.restart_workers();
                Ok(())
            } else {
                self.reload()
            };
            match reloaded {
                Ok(()) => Outcome::Applied {
                    generation: self.generation,
                    workers: self
                        .workers
                        .iter()
                        .filter(|w| {
                            w.role == process::Role::Worker
                                && w.generation == self.generation
                                && !w.exiting
                        })
                        .count(),
                },
                Err(e) => Outcome::Rejected(e),
            }
        };
        self.record(|s| {
            s.reload = Some(Record {
                started_ns,
                outcome,
            })
        });
    }

    /// `USR1`: reopen the master's logs, tell the workers to reopen theirs, and record
    /// whether the master's own reopening worked.
    pub(super) fn reopen_and_report(&mut self) {
        let started_ns = monotonic_ns();
        let reopened = crate::log::reopen_logs_alerting();
        if let Some(u) = &self.user {
            let _ = crate::log::chown_logs(u.uid);
        }
        self.signal_workers(libc::SIGUSR1, |_| true);
        let outcome = match reopened {
            Ok(()) => Outcome::Reopened,
            Err(e) => Outcome::ReopenFailed(e.to_string()),
        };
        self.record(|s| {
            s.reopen = Some(Record {
                started_ns,
                outcome,
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_text() {
        let status = Status {
            pid: 42,
            reload: Some(Record {
                started_ns: 123,
                outcome: Outcome::Rejected(
                    "unknown directive \"lsten\" in /etc/portico/a.conf:12\nmore".to_string(),
                ),
            }),
            reopen: Some(Record {
                started_ns: 7,
                outcome: Outcome::Reopened,
            }),
        };
        let text = status.render();
        assert!(text.starts_with("pid=42\nreload.started=123\nreload.result=rejected\n"));
        let back = Status::parse(&text).expect("parses");
        assert_eq!(back.pid, 42);
        assert_eq!(
            back.reload.map(|r| r.outcome),
            Some(Outcome::Rejected(
                "unknown directive \"lsten\" in /etc/portico/a.conf:12 more".to_string()
            ))
        );
        assert_eq!(back.reopen, status.reopen);
        let applied = Status {
            pid: 1,
            reload: Some(Record {
                started_ns: 9,
                outcome: Outcome::Applied {
                    generation: 7,
                    workers: 4,
                },
            }),
            reopen: None,
        };
        assert_eq!(Status::parse(&applied.render()), Some(applied));
    }

    #[test]
    fn junk_is_not_a_status() {
        assert_eq!(Status::parse(""), None);
        assert_eq!(Status::parse("hello\n"), None);
        // A record with a missing or unknown field is left out, the rest kept.
        let s = Status::parse("pid=3\nreload.started=x\nreload.result=applied\n").expect("pid");
        assert_eq!((s.pid, s.reload), (3, None));
        let s = Status::parse("pid=3\nreopen.started=5\nreopen.result=odd\n").expect("pid");
        assert_eq!(s.reopen, None);
    }

    #[test]
    fn status_file_sits_next_to_the_pid_file() {
        assert_eq!(
            status_path(Path::new("/run/portico.pid")),
            PathBuf::from("/run/portico.pid.status")
        );
    }
}
