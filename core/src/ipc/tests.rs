//! Unit tests of the IPC objects, without a kernel: identifiers, permission
//! checks, semop's all-or-nothing rule and SEM_UNDO, message selection, the
//! POSIX queue's priority order and limits, and the structure layouts of
//! both `long` widths.

use super::mqueue::{MqNs, NewAttr, Opener};
use super::msg::{Msg, MsgNs, Pick};
use super::sem::{OpResult, SemNs, Sembuf, SEM_UNDO};
use super::shm::{ShmNs, SHM_DEST};
use super::*;
use crate::mm::FrameAllocator;
use alloc::vec;

fn root() -> Caller {
    Caller {
        pid: 10,
        uid: 0,
        euid: 0,
        egid: 0,
        groups: Vec::new(),
        caps: !0,
        now: 1000,
    }
}

fn user(uid: u32, gid: u32) -> Caller {
    Caller {
        pid: 20,
        uid,
        euid: uid,
        egid: gid,
        groups: Vec::new(),
        caps: 0,
        now: 2000,
    }
}

#[test]
fn ids_carry_a_sequence_so_old_ids_do_not_name_new_objects() {
    let mut t: Table<u32> = Table::new(4);
    let c = root();
    let a = t.insert(Perm::new(0, 0o600, &c), 1).unwrap();
    t.remove(a).unwrap();
    let b = t.insert(Perm::new(0, 0o600, &c), 2).unwrap();
    assert_ne!(a, b);
    assert_eq!(a & 0x7fff, b & 0x7fff, "the lowest free index is reused");
    assert_eq!(t.get(a).err(), Some(Errno::EINVAL));
    assert_eq!(t.get(b).unwrap().1, 2);
    assert_eq!(t.get(-1).err(), Some(Errno::EINVAL));
    for i in 0..3 {
        t.insert(Perm::new(0, 0, &c), i).unwrap();
    }
    assert_eq!(
        t.insert(Perm::new(0, 0, &c), 9).err(),
        Some(Errno::ENOSPC),
        "the table is bounded"
    );
    assert_eq!(t.max_idx(), 3);
}

#[test]
fn table_reuses_the_lowest_index_and_reports_the_highest() {
    let mut t: Table<u32> = Table::new(8);
    let c = root();
    let ids: Vec<i32> = (0..5)
        .map(|i| t.insert(Perm::new(0, 0, &c), i).unwrap())
        .collect();
    t.remove(ids[1]).unwrap();
    t.remove(ids[3]).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.max_idx(), 4);
    assert_eq!(t.by_index(1).err(), Some(Errno::EINVAL));
    let idx: Vec<i32> = t.iter().map(|(id, _)| id & 0x7fff).collect();
    assert_eq!(idx, vec![0, 2, 4], "by index, the holes skipped");
    let again = t.insert(Perm::new(0, 0, &c), 7).unwrap();
    assert_eq!(again & 0x7fff, 1);
    t.remove(ids[4]).unwrap();
    assert_eq!(t.max_idx(), 2, "the highest index in use");
    assert_eq!(t.remove(ids[4]), None, "already gone");
    for id in [ids[0], again, ids[2]] {
        t.remove(id).unwrap();
    }
    assert!(t.is_empty());
    assert_eq!(t.max_idx(), -1);
    assert_eq!(t.by_index(0).err(), Some(Errno::EINVAL));
}

#[test]
fn ipcperms_owner_group_other_and_cap_ipc_owner() {
    let c = root();
    let mut p = Perm::new(5, 0o640, &c);
    p.uid = 100;
    p.gid = 200;
    assert!(p.check(&user(100, 1), 0o600).is_ok());
    assert!(p.check(&user(1, 200), 0o444).is_ok());
    assert_eq!(p.check(&user(1, 200), 0o222), Err(Errno::EACCES));
    assert_eq!(p.check(&user(1, 1), 0o444), Err(Errno::EACCES));
    assert!(p.check(&user(1, 1), 0).is_ok(), "no access asked");
    let mut g = user(1, 1);
    g.groups = vec![200];
    assert!(p.check(&g, 0o444).is_ok(), "supplementary groups count");
    assert!(p.check(&c, 0o777).is_ok());
    assert_eq!(p.may_change(&user(1, 200)), Err(Errno::EPERM));
    assert!(p.may_change(&user(100, 1)).is_ok());
    assert!(p.may_change(&user(0, 0)).is_ok(), "the creator (cuid 0)");
}

#[test]
fn get_with_keys_follows_ipcget() {
    let mut s = SemNs::new();
    let c = root();
    assert_eq!(s.get(7, 2, 0o600, &c), Err(Errno::ENOENT));
    let id = s.get(7, 2, IPC_CREAT | 0o600, &c).unwrap();
    assert_eq!(s.get(7, 2, IPC_CREAT | 0o600, &c), Ok(id));
    assert_eq!(s.get(7, 0, 0, &c), Ok(id));
    assert_eq!(s.get(7, 3, 0, &c), Err(Errno::EINVAL));
    assert_eq!(
        s.get(7, 2, IPC_CREAT | IPC_EXCL | 0o600, &c),
        Err(Errno::EEXIST)
    );
    assert_eq!(s.get(7, 2, 0o600, &user(5, 5)), Err(Errno::EACCES));
    assert_eq!(s.get(IPC_PRIVATE, 0, 0o600, &c), Err(Errno::EINVAL));
    assert_ne!(s.get(IPC_PRIVATE, 1, 0o600, &c).unwrap(), id);
}

fn sb(num: u16, op: i16, flg: i16) -> Sembuf {
    Sembuf { num, op, flg }
}

#[test]
fn semop_is_all_or_nothing() {
    let mut s = SemNs::new();
    let c = root();
    let id = s.get(IPC_PRIVATE, 2, 0o600, &c).unwrap();
    assert_eq!(s.try_op(id, &[sb(0, 2, 0)], &c), Ok(OpResult::Done));
    // The second op must wait: the first is not applied.
    assert_eq!(
        s.try_op(id, &[sb(0, -1, 0), sb(1, -1, 0)], &c),
        Ok(OpResult::Wait(1, -1))
    );
    assert_eq!(s.table.get(id).unwrap().1.sems[0].val, 2);
    assert_eq!(
        s.try_op(id, &[sb(0, -1, 0), sb(1, -1, IPC_NOWAIT as i16)], &c),
        Err(Errno::EAGAIN)
    );
    assert_eq!(s.try_op(id, &[sb(0, 0, 0)], &c), Ok(OpResult::Wait(0, 0)));
    assert_eq!(s.try_op(id, &[sb(0, 32767, 0)], &c), Err(Errno::ERANGE));
    assert_eq!(s.table.get(id).unwrap().1.sems[0].pid, 10);
    let sops = [sb(5, 1, 0)];
    assert_eq!(s.check_op(id, &sops, &c), Err(Errno::EFBIG));
    assert_eq!(
        s.check_op(id, &[sb(0, 1, 0)], &user(3, 3)),
        Err(Errno::EACCES)
    );
}

#[test]
fn sem_undo_applies_at_exit_clamped_and_setval_clears_it() {
    let mut s = SemNs::new();
    let c = root();
    let id = s.get(IPC_PRIVATE, 2, 0o600, &c).unwrap();
    s.setval(id, 0, 1, &c).unwrap();
    s.try_op(id, &[sb(0, 3, SEM_UNDO), sb(1, 2, SEM_UNDO)], &c)
        .unwrap();
    // Another process takes most of semaphore 0.
    let other = user(0, 0);
    let other = Caller { caps: !0, ..other };
    s.try_op(id, &[sb(0, -3, 0)], &other).unwrap();
    s.setval(id, 1, 9, &other).unwrap();
    s.exit(c.pid);
    let v: Vec<i32> = s
        .table
        .get(id)
        .unwrap()
        .1
        .sems
        .iter()
        .map(|x| x.val)
        .collect();
    assert_eq!(v, vec![0, 9], "clamped at 0; SETVAL forgot the adjustment");
    assert_eq!(s.setval(id, 0, 32768, &c), Err(Errno::ERANGE));
    assert_eq!(s.setval(id, 2, 1, &c), Err(Errno::EINVAL));
}

/// SEM_UNDO over many semops in any order: the adjustments kept are what a
/// plain per-semaphore tally gives, and exit applies them.
#[test]
fn sem_undo_tallies_any_order_of_operations() {
    let mut s = SemNs::new();
    let c = root();
    let id = s.get(IPC_PRIVATE, 8, 0o600, &c).unwrap();
    for n in 0..8 {
        s.setval(id, n, 1000, &c).unwrap();
    }
    let mut tally = [0i32; 8];
    let mut x: u32 = 99;
    for _ in 0..300 {
        let mut sops = Vec::new();
        for _ in 0..(x % 5 + 1) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let op = (x % 7) as i16 - 3;
            sops.push(sb(
                (x >> 8) as u16 % 8,
                op,
                if x & 1 == 0 { SEM_UNDO } else { 0 },
            ));
        }
        if s.try_op(id, &sops, &c) == Ok(OpResult::Done) {
            for o in sops.iter().filter(|o| o.flg & SEM_UNDO != 0) {
                tally[o.num as usize] -= o.op as i32;
            }
        }
    }
    let before: Vec<i32> = s
        .table
        .get(id)
        .unwrap()
        .1
        .sems
        .iter()
        .map(|x| x.val)
        .collect();
    s.exit(c.pid);
    let after: Vec<i32> = s
        .table
        .get(id)
        .unwrap()
        .1
        .sems
        .iter()
        .map(|x| x.val)
        .collect();
    let want: Vec<i32> = before.iter().zip(tally).map(|(v, a)| v + a).collect();
    assert_eq!(after, want);
    assert!(tally.iter().any(|a| *a != 0), "the test made adjustments");
    s.exit(c.pid);
    let again: Vec<i32> = s
        .table
        .get(id)
        .unwrap()
        .1
        .sems
        .iter()
        .map(|x| x.val)
        .collect();
    assert_eq!(again, after, "applied once");
}

#[test]
fn msgrcv_picks_by_type() {
    let mut m = MsgNs::new();
    let c = root();
    let id = m.get(IPC_PRIVATE, 0o600, &c).unwrap();
    for (t, x) in [(3, "a"), (1, "b"), (2, "c"), (1, "d")] {
        let msg = Msg {
            mtype: t,
            text: x.as_bytes().to_vec(),
        };
        assert_eq!(m.send(id, &msg, false, &c), Ok(true));
    }
    let take = |m: &mut MsgNs, p: Pick| m.recv(id, 64, p, 0, &c).unwrap().map(|x| x.text);
    assert_eq!(take(&mut m, Pick::new(-2, 0)), Some(b"b".to_vec()));
    assert_eq!(
        take(&mut m, Pick::new(1, msg::MSG_EXCEPT)),
        Some(b"a".to_vec())
    );
    assert_eq!(take(&mut m, Pick::new(1, 0)), Some(b"d".to_vec()));
    assert_eq!(take(&mut m, Pick::new(9, 0)), None);
    assert_eq!(Pick::new(i64::MIN, 0), Pick::LessEqual(i64::MAX));
    let big = Msg {
        mtype: 1,
        text: vec![0; 10],
    };
    m.send(id, &big, false, &c).unwrap();
    assert_eq!(m.recv(id, 4, Pick::new(1, 0), 0, &c), Err(Errno::E2BIG));
    let cut = m
        .recv(id, 4, Pick::new(1, 0), msg::MSG_NOERROR, &c)
        .unwrap();
    assert_eq!(cut.map(|x| x.text.len()), Some(4));
}

#[test]
fn msgsnd_waits_when_the_queue_is_full() {
    let mut m = MsgNs::new();
    let c = root();
    let id = m.get(IPC_PRIVATE, 0o600, &c).unwrap();
    let msg = Msg {
        mtype: 1,
        text: vec![1; 8192],
    };
    assert_eq!(m.send(id, &msg, false, &c), Ok(true));
    assert_eq!(m.send(id, &msg, false, &c), Ok(true));
    assert_eq!(m.send(id, &msg, false, &c), Ok(false));
    assert_eq!(m.send(id, &msg, true, &c), Err(Errno::EAGAIN));
}

#[test]
fn shm_rmid_is_deferred_while_attached() {
    let frames = FrameAllocator::new(64);
    let mut s = ShmNs::new();
    let c = root();
    let w = crate::syscall::uabi::NATIVE;
    let id = s.get(&frames, 9, 5000, IPC_CREAT | 0o600, &c, w).unwrap();
    let (obj, size) = s.for_attach(id, 0o666, &c).unwrap();
    assert_eq!(size, 5000);
    assert_eq!(obj.size(), 8192);
    s.remove(id, &c).unwrap();
    let (perm, seg) = s.table.get(id).unwrap();
    assert!(perm.mode & SHM_DEST != 0 && perm.key == 0);
    assert_eq!(seg.nattch(), 1);
    assert_eq!(s.get(&frames, 9, 1, 0, &c, w), Err(Errno::ENOENT));
    s.reap();
    assert!(s.table.contains(id), "kept while attached");
    drop(obj);
    s.reap();
    assert!(!s.table.contains(id), "gone after the last detach");
    assert_eq!(s.get(&frames, IPC_PRIVATE, 0, 0, &c, w), Err(Errno::EINVAL));
    assert_eq!(
        s.get(&frames, IPC_PRIVATE, 1, shm::SHM_HUGETLB, &c, w),
        Err(Errno::ENOMEM)
    );
}

fn opener(uid: u32) -> Opener {
    Opener {
        euid: uid,
        egid: uid,
        groups: Vec::new(),
        sys_resource: false,
        dac_override: uid == 0,
        rlimit_msgqueue: mqueue::RLIMIT_MSGQUEUE_DEFAULT,
    }
}

#[test]
fn mqueue_orders_by_priority_then_age() {
    let mut ns = MqNs::new();
    let q = ns
        .open(
            b"q",
            true,
            true,
            0o600,
            Some(NewAttr {
                maxmsg: 5,
                msgsize: 16,
            }),
            6,
            &opener(0),
        )
        .unwrap();
    let mut ql = q.lock();
    for (p, t) in [(1, "a"), (5, "b"), (3, "c"), (5, "d")] {
        ql.push(p, t.as_bytes().to_vec());
    }
    assert_eq!(ql.len(), 4);
    assert_eq!(ql.pop(), Some((5, b"b".to_vec())));
    // A priority's last message goes, then it comes back behind newer ones.
    ql.push(5, b"e".to_vec());
    ql.push(0, b"f".to_vec());
    assert!(ql.is_full());
    let order: Vec<(u32, Vec<u8>)> = core::iter::from_fn(|| ql.pop()).collect();
    assert_eq!(
        order,
        vec![
            (5, b"d".to_vec()),
            (5, b"e".to_vec()),
            (3, b"c".to_vec()),
            (1, b"a".to_vec()),
            (0, b"f".to_vec())
        ]
    );
    assert!(ql.is_empty());
}

#[test]
fn mqueue_open_checks_names_attributes_and_limits() {
    let mut ns = MqNs::new();
    let o = opener(0);
    assert_eq!(
        ns.open(b"", true, false, 0o600, None, 4, &o).err(),
        Some(Errno::EACCES)
    );
    assert_eq!(
        ns.open(b"a/b", true, false, 0o600, None, 4, &o).err(),
        Some(Errno::EACCES)
    );
    assert_eq!(
        ns.open(&[b'a'; 256], true, false, 0o600, None, 4, &o).err(),
        Some(Errno::ENAMETOOLONG)
    );
    assert_eq!(
        ns.open(b"x", false, false, 0, None, 4, &o).err(),
        Some(Errno::ENOENT)
    );
    let bad = NewAttr {
        maxmsg: 11,
        msgsize: 8,
    };
    assert_eq!(
        ns.open(b"x", true, false, 0o600, Some(bad), 4, &o).err(),
        Some(Errno::EINVAL)
    );
    // RLIMIT_MSGQUEUE: 10 x 8192 bytes fit in 819200 once with room, not 11 times.
    let mut n = 0;
    let err = loop {
        let name = alloc::format!("q{n}");
        match ns.open(name.as_bytes(), true, true, 0o600, None, 4, &o) {
            Ok(q) => drop(q),
            Err(e) => break e,
        }
        n += 1;
        assert!(n < 100);
    };
    assert_eq!((err, n), (Errno::EMFILE, 9));
    // Another user may not open a 0600 queue or unlink it.
    assert_eq!(
        ns.open(b"q0", false, false, 0, None, 4, &opener(5)).err(),
        Some(Errno::EACCES)
    );
    assert_eq!(ns.unlink(b"q0", 5, false), Err(Errno::EACCES));
    assert_eq!(ns.unlink(b"q0", 0, false), Ok(()));
    assert_eq!(ns.unlink(b"q0", 0, false), Err(Errno::ENOENT));
}

#[test]
fn layouts_of_both_long_widths() {
    use crate::syscall::uabi::Long::{W32, W64};
    let c = root();
    let p = Perm::new(0x1234, 0o640, &c);
    assert_eq!(p.encode(W64).len(), 48);
    assert_eq!(p.encode(W32).len(), 36);
    assert_eq!(ShmNs::info(W64).len(), 72);
    assert_eq!(ShmNs::info(W32).len(), 36);
    let frames = FrameAllocator::new(4);
    let mut s = ShmNs::new();
    let id = s.get(&frames, 0, 100, 0o600, &c, W64).unwrap();
    assert_eq!(s.stat(id, W64).unwrap().len(), 112);
    assert_eq!(s.stat(id, W32).unwrap().len(), 84);
    assert_eq!(s.shm_info(W64).len(), 48);
    assert_eq!(s.shm_info(W32).len(), 24);
    let mut m = MsgNs::new();
    let q = m.get(0, 0o600, &c).unwrap();
    assert_eq!(m.stat(q, W64).unwrap().len(), 120);
    assert_eq!(m.stat(q, W32).unwrap().len(), 88);
    assert_eq!(m.info(false).len(), 32);
    let mut sm = SemNs::new();
    let sid = sm.get(0, 1, 0o600, &c).unwrap();
    let want = if cfg!(target_arch = "x86_64") {
        104
    } else {
        88
    };
    assert_eq!(sm.stat(sid, W64).unwrap().len(), want);
    assert_eq!(sm.info(false).len(), 40);
    // Key, ids, mode and seq where ipc64_perm has them.
    let b = p.encode(W64);
    assert_eq!(&b[0..4], &0x1234u32.to_ne_bytes());
    assert_eq!(&b[20..24], &0o640u32.to_ne_bytes());
    assert_eq!(Perm::decode_set(&b), (0, 0, 0o640));
}
