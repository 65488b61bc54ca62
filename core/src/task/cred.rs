//! Credentials and the per-process state prctl(2) reaches: the real,
//! effective, saved and file-system user and group ids, the supplementary
//! groups, the capability sets, and the flags and values prctl sets
//! (no_new_privs, keepcaps, dumpable, the parent-death signal, the subreaper
//! mark) and personality(2)'s persona.
//!
//! `Process::cred` stays the file-system view the VFS checks against (fsuid,
//! fsgid, groups); [`Process::sync_cred`] rebuilds it, with the legacy
//! `euid`/`egid` fields, after every change here. The rules are Linux's
//! (credentials(7), capabilities(7): "Effect of user ID changes on
//! capabilities").

use super::Process;
use crate::fs::Cred;
use alloc::vec::Vec;

/// The last capability Linux 6.x knows (CAP_CHECKPOINT_RESTORE).
pub const CAP_LAST_CAP: u32 = 40;
/// Every capability.
pub const CAP_FULL: u64 = (1u64 << (CAP_LAST_CAP + 1)) - 1;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_RESOURCE: u32 = 24;
/// The capabilities a file-system uid of 0 carries (CAP_FS_MASK).
const CAP_FS_MASK: u64 = 0x1f | (1 << 9) | (1 << 32);

/// The capability sets of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
}

impl Caps {
    /// Root's: everything.
    pub const fn full() -> Caps {
        Caps {
            effective: CAP_FULL,
            permitted: CAP_FULL,
            inheritable: 0,
            bounding: CAP_FULL,
        }
    }
}

/// What prctl(PR_SET_DUMPABLE) sets: SUID_DUMP_USER.
pub const DUMPABLE_DEFAULT: u32 = 1;

/// A process's credentials and prctl state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub ruid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub caps: Caps,
    /// PR_SET_KEEPCAPS: the permitted set survives leaving uid 0.
    pub keepcaps: bool,
    /// PR_SET_NO_NEW_PRIVS: execve grants nothing (set-id bits ignored).
    pub no_new_privs: bool,
    /// PR_SET_DUMPABLE.
    pub dumpable: u32,
    /// PR_SET_PDEATHSIG: sent when the parent exits (0: none).
    pub pdeathsig: u32,
    /// PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented here.
    pub subreaper: bool,
    /// personality(2).
    pub personality: u32,
}

impl Creds {
    /// uid 0 and gid 0 with every capability.
    pub const fn root() -> Creds {
        Creds {
            ruid: 0,
            euid: 0,
            suid: 0,
            fsuid: 0,
            rgid: 0,
            egid: 0,
            sgid: 0,
            fsgid: 0,
            groups: Vec::new(),
            caps: Caps::full(),
            keepcaps: false,
            no_new_privs: false,
            dumpable: DUMPABLE_DEFAULT,
            pdeathsig: 0,
            subreaper: false,
            personality: 0,
        }
    }

    /// What a fork child inherits: all but the parent-death signal and the
    /// subreaper mark.
    pub fn for_child(&self) -> Creds {
        Creds {
            pdeathsig: 0,
            subreaper: false,
            ..self.clone()
        }
    }

    /// Whether capability `cap` is in the effective set.
    pub fn capable(&self, cap: u32) -> bool {
        self.caps.effective & (1u64 << cap) != 0
    }

    /// Adjusts the capability sets after the uids changed from `old`
    /// (cap_emulate_setxuid and the fsuid rule of cap_task_fix_setuid).
    pub fn fix_caps(&mut self, old: &Creds) {
        let was_root = old.ruid == 0 || old.euid == 0 || old.suid == 0;
        let none_root = self.ruid != 0 && self.euid != 0 && self.suid != 0;
        if was_root && none_root && !self.keepcaps {
            self.caps.permitted = 0;
            self.caps.effective = 0;
        }
        if old.euid == 0 && self.euid != 0 {
            self.caps.effective = 0;
        }
        if old.euid != 0 && self.euid == 0 {
            self.caps.effective = self.caps.permitted;
        }
        if old.fsuid == 0 && self.fsuid != 0 {
            self.caps.effective &= !CAP_FS_MASK;
        }
        if old.fsuid != 0 && self.fsuid == 0 {
            self.caps.effective |= self.caps.permitted & CAP_FS_MASK;
        }
    }

    /// The file-system view the VFS checks.
    pub fn fs_cred(&self) -> Cred {
        Cred {
            uid: self.fsuid,
            gid: self.fsgid,
            groups: self.groups.clone(),
        }
    }
}

impl Process {
    /// Rebuilds the VFS credential and the legacy effective-id fields from
    /// `creds`.
    pub fn sync_cred(&mut self) {
        self.cred = self.creds.fs_cred();
        self.euid = self.creds.euid;
        self.egid = self.creds.egid;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_uids(c: &Creds, r: u32, e: u32, s: u32) -> Creds {
        Creds {
            ruid: r,
            euid: e,
            suid: s,
            fsuid: e,
            ..c.clone()
        }
    }

    #[test]
    fn leaving_uid_0_drops_capabilities_unless_keepcaps() {
        let root = Creds::root();
        let mut c = with_uids(&root, 1000, 1000, 1000);
        c.fix_caps(&root);
        assert_eq!((c.caps.permitted, c.caps.effective), (0, 0));
        let mut kept = Creds {
            keepcaps: true,
            ..root.clone()
        };
        let old = kept.clone();
        kept = with_uids(&kept, 1000, 1000, 1000);
        kept.fix_caps(&old);
        assert_eq!((kept.caps.permitted, kept.caps.effective), (CAP_FULL, 0));
    }

    #[test]
    fn effective_uid_0_round_trip_keeps_permitted() {
        let root = Creds::root();
        let mut c = with_uids(&root, 0, 1000, 0);
        c.fix_caps(&root);
        assert_eq!(c.caps.permitted, CAP_FULL);
        assert_eq!(c.caps.effective, 0);
        let old = c.clone();
        let mut back = with_uids(&c, 0, 0, 0);
        back.fix_caps(&old);
        assert_eq!(back.caps.effective, CAP_FULL);
    }

    #[test]
    fn fsuid_change_moves_only_the_fs_capabilities() {
        let root = Creds::root();
        let mut c = Creds {
            fsuid: 1000,
            ..root.clone()
        };
        c.fix_caps(&root);
        assert_eq!(c.caps.effective, CAP_FULL & !CAP_FS_MASK);
        assert!(c.capable(CAP_SETUID) && !c.capable(0));
        let fs_cred = c.fs_cred();
        assert_eq!((fs_cred.uid, fs_cred.gid), (1000, 0));
    }

    #[test]
    fn fork_child_loses_pdeathsig_and_subreaper() {
        let mut c = Creds::root();
        c.pdeathsig = 9;
        c.subreaper = true;
        c.personality = 0x40000;
        let child = c.for_child();
        assert_eq!((child.pdeathsig, child.subreaper), (0, false));
        assert_eq!(child.personality, 0x40000);
    }
}
