//! A check nginx does not make: whether the workers' user can read the directories the
//! configuration serves files from. Started as root, the master hands the workers to
//! `user` (`nobody` by default), which often cannot enter a checkout under `/root` or a
//! private temporary directory; nginx then answers every request 403. Portico says so at
//! start and at `-t`, with a `[warn]` naming the user and the directory.
//!
//! The check reads mode bits (owner, group, others) of every directory from `/` down to the
//! root, as the kernel does for a process without capabilities; ACLs are not read.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::config::{Config, DocRootSite, LocSettings, LocationConf};
use crate::user::User;

/// The warnings for the configuration's roots and aliases the user cannot read (a
/// directory that does not exist is not this check's business).
pub fn unreadable_roots(config: &Config, user: &User) -> Vec<String> {
    if user.uid == 0 {
        return Vec::new();
    }
    let groups = groups_of(user);
    let mut warnings = Vec::new();
    let mut seen: Vec<&Path> = Vec::new();
    for site in &config.doc_roots {
        if seen.contains(&site.path.as_path())
            || (site.at.is_none() && !default_root_used(config, site))
        {
            continue;
        }
        seen.push(&site.path);
        if let Some(blocked) = first_unreadable(&site.path, user.uid, &groups) {
            let mut message = format!(
                "the workers' user \"{}\" cannot read the {} \"{}\": no permission to enter \"{}\"",
                user.name,
                site.directive,
                site.path.display(),
                blocked.display()
            );
            if let Some((file, line)) = &site.at {
                message.push_str(&format!(" in {}:{line}", file.display()));
            }
            warnings.push(message);
        }
    }
    warnings
}

/// The user's groups: its primary one and those `initgroups` gives it.
fn groups_of(user: &User) -> Vec<u32> {
    let gid = nix::unistd::Gid::from_raw(user.gid);
    let mut groups = vec![user.gid];
    if let Ok(name) = std::ffi::CString::new(user.name.as_str())
        && let Ok(list) = nix::unistd::getgrouplist(&name, gid)
    {
        groups.extend(list.iter().map(|g| g.as_raw()));
    }
    groups
}

/// The first directory on the way to `path` (itself included) the user may not enter.
fn first_unreadable<'p>(path: &'p Path, uid: u32, groups: &[u32]) -> Option<&'p Path> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return None;
    }
    let mut ancestors: Vec<&Path> = path.ancestors().collect();
    ancestors.reverse();
    ancestors.into_iter().find(|dir| {
        std::fs::metadata(dir).is_ok_and(|m| {
            let mode = m.mode();
            let bits = if m.uid() == uid {
                mode >> 6
            } else if groups.contains(&m.gid()) {
                mode >> 3
            } else {
                mode
            };
            bits & 0o1 == 0
        })
    })
}

/// Whether some server or location serves from the default root (`root` unset).
fn default_root_used(config: &Config, site: &DocRootSite) -> bool {
    fn uses(loc: &LocSettings, nested: &[LocationConf], path: &Path) -> bool {
        let own = loc.alias.is_none() && loc.root_script.is_none() && loc.root == path;
        own || nested.iter().any(|l| uses(&l.loc, &l.nested, path))
    }
    config
        .http
        .iter()
        .flat_map(|h| &h.servers)
        .any(|s| uses(&s.loc, &s.locations, &site.path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn mode_bits_decide_as_the_kernel_does() {
        let dir = std::env::temp_dir().join(format!("portico-readable-{}", std::process::id()));
        let inner = dir.join("site/html");
        let _ = std::fs::create_dir_all(&inner);
        let perms = |p: &Path, mode| {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        };
        perms(&dir, 0o755);
        perms(&dir.join("site"), 0o700);
        let owner = std::fs::metadata(&dir).map(|m| m.uid()).unwrap_or(0);
        let stranger = owner.wrapping_add(12_345);
        let site = dir.join("site");
        assert_eq!(
            first_unreadable(&inner, stranger, &[]),
            Some(site.as_path())
        );
        assert_eq!(first_unreadable(&inner, owner, &[]), None);
        perms(&dir.join("site"), 0o711);
        assert_eq!(first_unreadable(&inner, stranger, &[]), None);
        assert_eq!(first_unreadable(&dir.join("missing"), stranger, &[]), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
