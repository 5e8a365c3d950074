//! The user and group a worker runs as when the master runs as root (`user USER [GROUP]`):
//! resolved by the master at start and reload, switched to by each worker after fork.

use std::ffi::CString;

/// The user and group workers run as when the master runs as root.
#[derive(Clone, Debug)]
pub struct User {
    /// The user's name, for `initgroups`.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl User {
    /// Resolves `user USER [GROUP]` (default `nobody`). Without GROUP, nginx uses the group of
    /// the same name; where none exists (Debian has no `nobody` group) the user's primary group.
    pub fn resolve(conf: Option<&(String, Option<String>)>) -> Result<User, String> {
        let (name, group) = conf.map_or(("nobody", None), |(u, g)| (u.as_str(), g.as_deref()));
        let pw = nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .ok_or_else(|| format!("getpwnam(\"{name}\") failed"))?;
        let gid = match group {
            Some(g) => {
                nix::unistd::Group::from_name(g)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("getgrnam(\"{g}\") failed"))?
                    .gid
            }
            None => nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .map_or(pw.gid, |g| g.gid),
        };
        Ok(User {
            name: name.to_string(),
            uid: pw.uid.as_raw(),
            gid: gid.as_raw(),
        })
    }

    /// Drops to this user: `setgid`, `initgroups`, `setuid`, in that order.
    pub fn switch(&self) -> Result<(), String> {
        let gid = nix::unistd::Gid::from_raw(self.gid);
        nix::unistd::setgid(gid).map_err(|e| format!("setgid({}) failed ({e})", self.gid))?;
        let cname = CString::new(self.name.as_str()).map_err(|_| "bad user name".to_string())?;
        nix::unistd::initgroups(&cname, gid)
            .map_err(|e| format!("initgroups({}, {}) failed ({e})", self.name, self.gid))?;
        nix::unistd::setuid(nix::unistd::Uid::from_raw(self.uid))
            .map_err(|e| format!("setuid({}) failed ({e})", self.uid))?;
        Ok(())
    }
}
