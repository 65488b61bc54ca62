//! MockHost: a Host for unit tests, with physical memory in a `Vec`, address spaces
//! as maps of what is mapped where, console queues, a clock that advances by a fixed
//! step, and scripted guests. A script is a queue of steps; `run_user` plays them:
//! a syscall step loads the registers and traps, a touch step checks the simulated
//! host mapping like an MMU and traps with a page fault where it is missing.
//! Syscall return values are collected in `results`.

use crate::arch::UserRegs;
use crate::host::*;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use umbra_abi::flags::Prot;
use umbra_abi::structs::Winsize;

/// One step of a scripted guest.
#[derive(Clone, Debug)]
pub enum Step {
    /// Make syscall `nr` with these arguments.
    Syscall(u64, [u64; 6]),
    /// Read (`write == false`) or write a byte at an address, faulting like an MMU.
    Touch { addr: u64, write: bool, value: u8 },
    /// Raise a CPU exception.
    Exception { sig: u32, addr: u64 },
    /// Stop the guest with a timer interrupt.
    Timer,
    /// Make syscall `nr` through another entry path than the native one (the
    /// 32-bit `int 0x80` or the x32 ABI). The return register starts out as `nr`,
    /// so a kernel that writes no return value is told apart from ENOSYS.
    SyscallAbi {
        abi: SyscallAbi,
        nr: u64,
        args: [u64; 6],
    },
}

/// A host mapping of one page in a mock address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MockPage {
    pub phys: u64,
    pub prot: Prot,
}

/// The MockHost.
pub struct MockHost {
    pub mem: Vec<u8>,
    pub spaces: BTreeMap<MmId, BTreeMap<u64, MockPage>>,
    next_mm: u32,
    /// Scripts per address space; a space with an empty script exits via SIGKILL-like `StubDied`.
    pub scripts: BTreeMap<MmId, VecDeque<Step>>,
    /// Return values of the syscalls, in order, with their numbers.
    pub results: Vec<(u64, i64)>,
    /// Syscall waiting for its result, per address space.
    pending_syscall: BTreeMap<MmId, u64>,
    pub stdin: VecDeque<u8>,
    pub stdin_eof: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub log: Vec<String>,
    pub clock: u64,
    pub step_ns: u64,
    /// How far the clock moves at each `now_mono` read (0: it does not), so
    /// time passes while the kernel works, not only while a guest runs.
    pub read_ns: u64,
    /// The time `now_mono` reads have added to `clock`.
    read_drift: core::cell::Cell<u64>,
    pub disks: Vec<Vec<u8>>,
    pub applied_batches: usize,
    /// At most this many host pages per address space
    /// (`mm_near_map_limit`), if set.
    pub map_limit: Option<usize>,
    /// Address spaces whose host process was told to switch out the thread
    /// it holds (`thread_switch_out`), in order.
    pub switch_outs: Vec<MmId>,
    seed: u64,
    /// A fake host network (`HostMisc::host_net`), when a test grants one.
    pub net: Option<MockNet>,
    /// If set, each address space's host process has a CPU clock
    /// (`cpu_time`) that moves this much per guest run (less than `step_ns`:
    /// the host preempted it for the rest).
    pub cpu_step_ns: Option<u64>,
    /// Those clocks.
    pub cpu_ns: BTreeMap<MmId, u64>,
    /// If set, the kernel has a CPU clock (`kernel_cpu_time`) that moves
    /// this many percent of the time its own clock reads pass (`read_ns`):
    /// the host preempted it for the rest.
    pub kernel_cpu_pct: Option<u64>,
    /// How many times `kernel_cpu_time` was read.
    pub kernel_cpu_reads: core::cell::Cell<u64>,
}

impl MockHost {
    /// A mock host with `mem_bytes` of guest memory.
    pub fn new(mem_bytes: usize) -> Self {
        MockHost {
            mem: vec![0; mem_bytes],
            spaces: BTreeMap::new(),
            next_mm: 1,
            scripts: BTreeMap::new(),
            results: Vec::new(),
            pending_syscall: BTreeMap::new(),
            stdin: VecDeque::new(),
            stdin_eof: true,
            stdout: Vec::new(),
            stderr: Vec::new(),
            log: Vec::new(),
            clock: 1_000_000_000,
            step_ns: 1000,
            read_ns: 0,
            read_drift: core::cell::Cell::new(0),
            disks: Vec::new(),
            applied_batches: 0,
            map_limit: None,
            switch_outs: Vec::new(),
            seed: 0x1234_5678_9abc_def1,
            net: None,
            cpu_step_ns: None,
            cpu_ns: BTreeMap::new(),
            kernel_cpu_pct: None,
            kernel_cpu_reads: core::cell::Cell::new(0),
        }
    }

    /// Queues steps for the guest running in `mm`.
    pub fn script(&mut self, mm: MmId, steps: impl IntoIterator<Item = Step>) {
        self.scripts.entry(mm).or_default().extend(steps);
    }

    /// Reads guest memory through the simulated host mapping (as the CPU would).
    pub fn guest_read(&self, mm: MmId, addr: u64) -> Option<u8> {
        let page = self.spaces.get(&mm)?.get(&(addr & !0xfff))?;
        if !page.prot.contains(Prot::READ) {
            return None;
        }
        self.mem.get((page.phys + (addr & 0xfff)) as usize).copied()
    }

    fn mmu(&mut self, mm: MmId, addr: u64, write: bool, value: u8) -> bool {
        let Some(page) = self
            .spaces
            .get(&mm)
            .and_then(|s| s.get(&(addr & !0xfff)))
            .copied()
        else {
            return false;
        };
        let need = if write { Prot::WRITE } else { Prot::READ };
        if !page.prot.contains(need) {
            return false;
        }
        if write {
            let i = (page.phys + (addr & 0xfff)) as usize;
            if let Some(b) = self.mem.get_mut(i) {
                *b = value;
            }
        }
        true
    }
}

impl HostMemory for MockHost {
    fn physmem(&self) -> &[u8] {
        &self.mem
    }
    fn physmem_mut(&mut self) -> &mut [u8] {
        &mut self.mem
    }
    fn mm_create(&mut self) -> Result<MmId, HostError> {
        let id = MmId(self.next_mm);
        self.next_mm += 1;
        self.spaces.insert(id, BTreeMap::new());
        Ok(id)
    }
    fn mm_destroy(&mut self, mm: MmId) {
        self.spaces.remove(&mm);
        self.scripts.remove(&mm);
    }
    fn mm_near_map_limit(&self, mm: MmId, more_ops: usize) -> bool {
        let used = self.spaces.get(&mm).map_or(0, |s| s.len());
        self.map_limit.is_some_and(|l| used + more_ops >= l)
    }
    fn mm_apply(&mut self, mm: MmId, ops: &[MapOp]) -> Result<(), HostError> {
        self.applied_batches += 1;
        let space = self.spaces.get_mut(&mm).ok_or(HostError::StubDied)?;
        for op in ops {
            match *op {
                MapOp::Map {
                    va,
                    len,
                    phys,
                    prot,
                } => {
                    if phys + len > self.mem.len() as u64 || va % 4096 != 0 || len % 4096 != 0 {
                        return Err(HostError::OutOfRange);
                    }
                    for i in (0..len).step_by(4096) {
                        space.insert(
                            va + i,
                            MockPage {
                                phys: phys + i,
                                prot,
                            },
                        );
                    }
                    if self.map_limit.is_some_and(|l| space.len() > l) {
                        return Err(HostError::NoMemory);
                    }
                }
                MapOp::Unmap { va, len } => {
                    let keys: Vec<u64> = space.range(va..va + len).map(|(k, _)| *k).collect();
                    for k in keys {
                        space.remove(&k);
                    }
                }
                MapOp::Protect { va, len, prot } => {
                    for (_, p) in space.range_mut(va..va + len) {
                        p.prot = prot;
                    }
                }
            }
        }
        Ok(())
    }
}

impl HostCpu for MockHost {
    fn thread_switch_out(
        &mut self,
        mm: MmId,
        _regs: &mut UserRegs,
        fp: &mut Vec<u8>,
    ) -> Result<(), HostError> {
        self.switch_outs.push(mm);
        self.xstate_save(mm, fp)
    }

    fn run_user(&mut self, mm: MmId, regs: &mut UserRegs) -> Trap {
        self.clock += self.step_ns;
        if let Some(c) = self.cpu_step_ns {
            *self.cpu_ns.entry(mm).or_default() += c;
        }
        if let Some(nr) = self.pending_syscall.remove(&mm) {
            self.results.push((nr, ret_reg(regs) as i64));
        }
        loop {
            let Some(step) = self.scripts.get_mut(&mm).and_then(|s| s.front().cloned()) else {
                return Trap::StubDied;
            };
            match step {
                Step::Syscall(nr, args) => {
                    self.scripts.get_mut(&mm).map(|s| s.pop_front());
                    set_syscall(regs, nr, args);
                    self.pending_syscall.insert(mm, nr);
                    return Trap::Syscall {
                        abi: SyscallAbi::Native,
                    };
                }
                Step::Touch { addr, write, value } => {
                    if !self.mmu(mm, addr, write, value) {
                        let access = if write {
                            FaultAccess::Write
                        } else {
                            FaultAccess::Read
                        };
                        return Trap::PageFault { addr, access };
                    }
                    self.scripts.get_mut(&mm).map(|s| s.pop_front());
                }
                Step::Exception { sig, addr } => {
                    self.scripts.get_mut(&mm).map(|s| s.pop_front());
                    return Trap::Exception { sig, code: 0, addr };
                }
                Step::Timer => {
                    self.scripts.get_mut(&mm).map(|s| s.pop_front());
                    return Trap::Timer;
                }
                Step::SyscallAbi { abi, nr, args } => {
                    self.scripts.get_mut(&mm).map(|s| s.pop_front());
                    set_syscall(regs, nr, args);
                    set_ret_reg(regs, nr);
                    self.pending_syscall.insert(mm, nr);
                    return Trap::Syscall { abi };
                }
            }
        }
    }
}

#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
fn set_syscall(regs: &mut UserRegs, nr: u64, a: [u64; 6]) {
    let g = &mut regs.gp;
    g.orig_rax = nr;
    g.rax = (-38i64) as u64;
    (g.rdi, g.rsi, g.rdx, g.r10, g.r8, g.r9) = (a[0], a[1], a[2], a[3], a[4], a[5]);
}
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
fn ret_reg(regs: &UserRegs) -> u64 {
    regs.gp.rax
}
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
fn set_ret_reg(regs: &mut UserRegs, v: u64) {
    regs.gp.rax = v;
}
#[cfg(target_arch = "aarch64")]
fn set_syscall(regs: &mut UserRegs, nr: u64, a: [u64; 6]) {
    regs.gp.syscallno = nr;
    regs.gp.regs[..6].copy_from_slice(&a);
}
#[cfg(target_arch = "aarch64")]
fn ret_reg(regs: &UserRegs) -> u64 {
    regs.gp.regs[0]
}
#[cfg(target_arch = "aarch64")]
fn set_ret_reg(regs: &mut UserRegs, v: u64) {
    regs.gp.regs[0] = v;
}
#[cfg(target_arch = "arm")]
fn set_syscall(regs: &mut UserRegs, nr: u64, a: [u64; 6]) {
    regs.gp.syscallno = nr as u32;
    regs.gp.regs[7] = nr as u32;
    for (r, v) in regs.gp.regs[..6].iter_mut().zip(a) {
        *r = v as u32;
    }
    regs.gp.orig_r0 = a[0] as u32;
}
#[cfg(target_arch = "arm")]
fn ret_reg(regs: &UserRegs) -> u64 {
    // r0: -errno sign-extended, anything else (addresses above 2 GiB) not.
    let r0 = regs.gp.regs[0];
    if (-4095..0).contains(&(r0 as i32)) {
        r0 as i32 as i64 as u64
    } else {
        r0 as u64
    }
}
#[cfg(target_arch = "arm")]
fn set_ret_reg(regs: &mut UserRegs, v: u64) {
    regs.gp.regs[0] = v as u32;
}

impl MockHost {
    /// How many times `now_mono` was read (with `read_ns` set).
    pub fn clock_reads(&self) -> u64 {
        self.read_drift.get() / self.read_ns.max(1)
    }
}

impl HostTime for MockHost {
    fn now_mono(&self) -> u64 {
        let drift = self.read_drift.get();
        self.read_drift.set(drift + self.read_ns);
        self.clock + drift
    }
    fn now_real(&self) -> u64 {
        1_700_000_000_000_000_000 + self.clock
    }
    fn cpu_time(&self, mm: MmId) -> Option<u64> {
        self.cpu_step_ns?;
        // A live process's clock has started (it is never 0 on Linux).
        Some(1 + self.cpu_ns.get(&mm).copied().unwrap_or(0))
    }
    fn kernel_cpu_time(&self) -> Option<u64> {
        let pct = self.kernel_cpu_pct?;
        self.kernel_cpu_reads.set(self.kernel_cpu_reads.get() + 1);
        Some(1 + self.read_drift.get() * pct / 100)
    }
    fn wait_event(&mut self, deadline: Option<u64>) {
        if let Some(d) = deadline {
            self.clock = self.clock.max(d);
        }
    }
}

impl HostConsole for MockHost {
    fn console_write(&mut self, stream: ConsoleStream, data: &[u8]) -> Result<usize, HostError> {
        match stream {
            ConsoleStream::Stderr => self.stderr.extend_from_slice(data),
            _ => self.stdout.extend_from_slice(data),
        }
        Ok(data.len())
    }
    fn console_read(&mut self, buf: &mut [u8]) -> Result<ConsoleRead, HostError> {
        if self.stdin.is_empty() {
            return Ok(if self.stdin_eof {
                ConsoleRead::Eof
            } else {
                ConsoleRead::WouldBlock
            });
        }
        let n = buf.len().min(self.stdin.len());
        for b in buf.iter_mut().take(n) {
            *b = self.stdin.pop_front().unwrap_or(0);
        }
        Ok(ConsoleRead::Data(n))
    }
    fn console_is_tty(&self, _stream: ConsoleStream) -> bool {
        false
    }
    fn console_winsize(&self) -> Option<Winsize> {
        None
    }
}

impl HostBlock for MockHost {
    fn disk_size(&self, dev: usize) -> Option<u64> {
        self.disks.get(dev).map(|d| d.len() as u64)
    }
    fn disk_read(&mut self, dev: usize, off: u64, buf: &mut [u8]) -> Result<(), HostError> {
        let d = self.disks.get(dev).ok_or(HostError::OutOfRange)?;
        let s = usize::try_from(off).map_err(|_| HostError::OutOfRange)?;
        let src = d
            .get(s..s.checked_add(buf.len()).ok_or(HostError::OutOfRange)?)
            .ok_or(HostError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn disk_write(&mut self, dev: usize, off: u64, buf: &[u8]) -> Result<(), HostError> {
        let d = self.disks.get_mut(dev).ok_or(HostError::OutOfRange)?;
        let s = usize::try_from(off).map_err(|_| HostError::OutOfRange)?;
        let dst = d
            .get_mut(s..s.checked_add(buf.len()).ok_or(HostError::OutOfRange)?)
            .ok_or(HostError::OutOfRange)?;
        dst.copy_from_slice(buf);
        Ok(())
    }
    fn disk_flush(&mut self, _dev: usize) -> Result<(), HostError> {
        Ok(())
    }
}

impl HostMisc for MockHost {
    fn random(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            *b = self.seed as u8;
        }
    }
    fn log(&mut self, _level: LogLevel, msg: fmt::Arguments<'_>) {
        self.log.push(alloc::format!("{msg}"));
    }
    fn host_net(&mut self) -> Option<&mut dyn HostNet> {
        self.net.as_mut().map(|n| n as &mut dyn HostNet)
    }
}

/// A fake host network: every host socket is its own echo server (what a
/// stream sends comes back, up to 64 KiB buffered; a datagram comes back
/// from where it was sent). A stream connect is done at the first look
/// (`wait_event` knows nothing of these sockets); destinations in
/// 10.0.0.0/8 port 1 are refused. Listeners have nothing to
/// accept. Counts what is open, so tests can check that every host socket
/// is closed.
#[derive(Default)]
pub struct MockNet {
    socks: BTreeMap<HostSock, MockNetSock>,
    next: HostSock,
    /// Host sockets opened and closed so far.
    pub opened: usize,
    pub closed: usize,
}

struct MockNetSock {
    data: VecDeque<(Vec<u8>, Option<crate::net::SockAddr>)>,
    buffered: usize,
    refused: bool,
    shut_wr: bool,
}

impl MockNet {
    /// Host sockets open now.
    pub fn open(&self) -> usize {
        self.socks.len()
    }

    fn add(&mut self, refused: bool) -> HostSock {
        self.next += 1;
        self.opened += 1;
        self.socks.insert(
            self.next,
            MockNetSock {
                data: VecDeque::new(),
                buffered: 0,
                refused,
                shut_wr: false,
            },
        );
        self.next
    }
}

impl HostNet for MockNet {
    fn net_connect(
        &mut self,
        _ty: HostSockType,
        to: &crate::net::SockAddr,
    ) -> Result<HostSock, NetError> {
        use crate::net::SockAddr;
        match to {
            SockAddr::Inet { addr, port } => Ok(self.add(addr[0] == 10 && *port == 1)),
            SockAddr::Inet6 { .. } => Ok(self.add(false)),
            _ => Err(NetError::Denied),
        }
    }
    fn net_dgram(&mut self, _domain: u16) -> Result<HostSock, NetError> {
        Ok(self.add(false))
    }
    fn net_accept(&mut self, _l: HostSock) -> Result<(HostSock, crate::net::SockAddr), NetError> {
        Err(NetError::WouldBlock)
    }
    fn net_send(
        &mut self,
        s: HostSock,
        data: &[u8],
        to: Option<&crate::net::SockAddr>,
    ) -> Result<usize, NetError> {
        let k = self.socks.get_mut(&s).ok_or(NetError::BadHandle)?;
        if k.shut_wr {
            return Err(NetError::BrokenPipe);
        }
        if k.refused {
            return Err(NetError::Refused);
        }
        let room = (64 << 10) - k.buffered;
        if room == 0 {
            return Err(NetError::WouldBlock);
        }
        let n = data.len().min(room);
        k.buffered += n;
        k.data.push_back((data[..n].to_vec(), to.cloned()));
        Ok(n)
    }
    fn net_recv(
        &mut self,
        s: HostSock,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<(usize, usize, Option<crate::net::SockAddr>), NetError> {
        let k = self.socks.get_mut(&s).ok_or(NetError::BadHandle)?;
        let Some((d, from)) = k.data.front().cloned() else {
            return if k.shut_wr {
                Ok((0, 0, None))
            } else {
                Err(NetError::WouldBlock)
            };
        };
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        if !peek {
            k.data.pop_front();
            k.buffered -= d.len();
        }
        Ok((n, d.len(), from))
    }
    fn net_shutdown(&mut self, s: HostSock, how: u32) -> Result<(), NetError> {
        let k = self.socks.get_mut(&s).ok_or(NetError::BadHandle)?;
        if how != 0 {
            k.shut_wr = true;
        }
        Ok(())
    }
    fn net_close(&mut self, s: HostSock) {
        if self.socks.remove(&s).is_some() {
            self.closed += 1;
        }
    }
    fn net_poll(&mut self, s: HostSock, _interest: u16) -> u16 {
        let Some(k) = self.socks.get_mut(&s) else {
            return 0x20;
        };
        if k.refused {
            return 0x18;
        }
        let mut r = 0x4;
        if !k.data.is_empty() || k.shut_wr {
            r |= 0x1;
        }
        r
    }
    fn net_take_error(&mut self, s: HostSock) -> Option<NetError> {
        let k = self.socks.get_mut(&s)?;
        core::mem::take(&mut k.refused).then_some(NetError::Refused)
    }
    fn net_local_addr(&mut self, _s: HostSock) -> Result<crate::net::SockAddr, NetError> {
        Ok(crate::net::SockAddr::Inet {
            addr: [10, 0, 0, 2],
            port: 40000,
        })
    }
    fn net_peer_addr(&mut self, _s: HostSock) -> Result<crate::net::SockAddr, NetError> {
        Err(NetError::NotConnected)
    }
}

impl MockHost {
    /// The return values of every syscall `nr` made so far, in order.
    pub fn results_of(&self, nr: u64) -> Vec<i64> {
        self.results
            .iter()
            .filter(|(n, _)| *n == nr)
            .map(|(_, r)| *r)
            .collect()
    }

    /// The simulated host mapping of the page holding `addr` in `mm`.
    pub fn host_page(&self, mm: MmId, addr: u64) -> Option<MockPage> {
        self.spaces.get(&mm)?.get(&(addr & !0xfff)).copied()
    }
}

/// File contents in a vector, as the backing of file mappings and the ELF loader.
pub struct VecBacking(pub Vec<u8>);

impl crate::mm::Backing for VecBacking {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> crate::KResult<usize> {
        let Ok(off) = usize::try_from(off) else {
            return Ok(0);
        };
        let Some(src) = self.0.get(off..) else {
            return Ok(0);
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
}

/// The layout of the executable [`tiny_elf`] builds, relative to its base.
pub mod tiny {
    /// File offset and address offset of the entry point (in the code segment).
    pub const CODE_OFF: u64 = 0x100;
    /// The code: `syscall; hlt` on x86_64, `svc #0` on arm64. Never run by MockHost.
    pub const CODE: [u8; 4] = [0x0f, 0x05, 0xf4, 0x00];
    /// File offset of the data segment.
    pub const DATA_FILE_OFF: u64 = 0x1010;
    /// Address of the data segment relative to the base: another page than the
    /// code, same offset in the page.
    pub const DATA_VADDR_OFF: u64 = 0x2010;
    /// The data segment's file contents (its p_filesz is their length).
    pub const DATA: &[u8; 32] = b"umbra tiny elf: initialised data";
    /// The data segment's p_memsz: the rest is bss, over two more pages.
    pub const DATA_MEMSZ: u64 = 0x3000;
    /// Bytes after the data in the file, which must not show up in the bss.
    pub const TRAILER: u8 = 0xaa;
    /// Base address of the ET_EXEC variant.
    pub const EXEC_BASE: u64 = 0x40_0000;
}

/// Writes a minimal static executable of the host machine (ELF64, or ELF32 on
/// 32-bit ARM: [`tiny_elf32`]): the ELF header,
/// program headers (PT_PHDR for ET_DYN, two PT_LOAD, PT_GNU_STACK), a read+exec
/// code segment holding the headers and [`tiny::CODE`], and a read+write data
/// segment whose p_filesz (32) is less than its p_memsz. `e_type` is `ET_EXEC`
/// (linked at [`tiny::EXEC_BASE`]) or `ET_DYN` (static PIE, linked at 0).
pub fn tiny_elf(e_type: u16) -> Vec<u8> {
    use umbra_abi::elf::*;
    if crate::arch::ELF_CLASS == ELFCLASS32 {
        tiny_elf32(e_type, EF_ARM_EABI_VER5)
    } else {
        tiny_elf64(e_type, crate::arch::ELF_MACHINE)
    }
}

/// [`tiny_elf`] as an ELF64 file of machine `machine`.
pub fn tiny_elf64(e_type: u16, machine: u16) -> Vec<u8> {
    use umbra_abi::elf::*;
    use umbra_abi::Pod;
    let base = if e_type == ET_DYN { 0 } else { tiny::EXEC_BASE };
    let mut phdrs = Vec::new();
    let phnum = if e_type == ET_DYN { 4u64 } else { 3 };
    let ph_size = phnum * Elf64Phdr::SIZE as u64;
    if e_type == ET_DYN {
        phdrs.push(Elf64Phdr {
            p_type: PT_PHDR,
            p_flags: PF_R,
            p_offset: 64,
            p_vaddr: base + 64,
            p_paddr: base + 64,
            p_filesz: ph_size,
            p_memsz: ph_size,
            p_align: 8,
        });
    }
    let code_end = tiny::CODE_OFF + tiny::CODE.len() as u64;
    phdrs.push(Elf64Phdr {
        p_type: PT_LOAD,
        p_flags: PF_R | PF_X,
        p_offset: 0,
        p_vaddr: base,
        p_paddr: base,
        p_filesz: code_end,
        p_memsz: code_end,
        p_align: 0x1000,
    });
    phdrs.push(Elf64Phdr {
        p_type: PT_LOAD,
        p_flags: PF_R | PF_W,
        p_offset: tiny::DATA_FILE_OFF,
        p_vaddr: base + tiny::DATA_VADDR_OFF,
        p_paddr: base + tiny::DATA_VADDR_OFF,
        p_filesz: tiny::DATA.len() as u64,
        p_memsz: tiny::DATA_MEMSZ,
        p_align: 0x1000,
    });
    phdrs.push(Elf64Phdr {
        p_type: PT_GNU_STACK,
        p_flags: PF_R | PF_W,
        p_offset: 0,
        p_vaddr: 0,
        p_paddr: 0,
        p_filesz: 0,
        p_memsz: 0,
        p_align: 16,
    });
    let mut ident = [0u8; 16];
    ident[..4].copy_from_slice(&ELFMAG);
    ident[4] = ELFCLASS64;
    ident[5] = ELFDATA2LSB;
    ident[6] = EV_CURRENT;
    let eh = Elf64Ehdr {
        e_ident: ident,
        e_type,
        e_machine: machine,
        e_version: 1,
        e_entry: base + tiny::CODE_OFF,
        e_phoff: 64,
        e_shoff: 0,
        e_flags: 0,
        e_ehsize: 64,
        e_phentsize: Elf64Phdr::SIZE as u16,
        e_phnum: phnum as u16,
        e_shentsize: 64,
        e_shnum: 0,
        e_shstrndx: 0,
    };
    let data_end = (tiny::DATA_FILE_OFF as usize) + tiny::DATA.len();
    let mut out = vec![0u8; data_end + 64];
    eh.encode(&mut out[..Elf64Ehdr::SIZE]);
    for (i, ph) in phdrs.iter().enumerate() {
        let at = 64 + i * Elf64Phdr::SIZE;
        ph.encode(&mut out[at..at + Elf64Phdr::SIZE]);
    }
    let code = tiny::CODE_OFF as usize;
    out[code..code + tiny::CODE.len()].copy_from_slice(&tiny::CODE);
    // File bytes between the segments, to tell them from zero fill.
    for b in &mut out[0x200..tiny::DATA_FILE_OFF as usize] {
        *b = 0x55;
    }
    out[tiny::DATA_FILE_OFF as usize..data_end].copy_from_slice(tiny::DATA);
    out[data_end..].fill(tiny::TRAILER);
    out
}

/// The [`tiny_elf`] executable as a 32-bit ARM ELF32 file with `e_flags`
/// (`EF_ARM_EABI_VER5` for a normal EABI executable): the same segments and
/// contents, the headers in their ELF32 forms (program headers at 52).
pub fn tiny_elf32(e_type: u16, e_flags: u32) -> Vec<u8> {
    use umbra_abi::elf::*;
    use umbra_abi::Pod;
    let wide = tiny_elf64(e_type, EM_ARM);
    let eh = Elf64Ehdr::decode(&wide);
    let mut out = wide.clone();
    out[..0x100].fill(0);
    let n = eh.e_phnum as usize;
    for i in 0..n {
        let p = Elf64Phdr::decode(&wide[64 + i * Elf64Phdr::SIZE..]);
        let fix = |v: u64| if v == 64 { 52 } else { v };
        let ph = Elf32Phdr {
            p_type: p.p_type,
            p_offset: fix(p.p_offset) as u32,
            p_vaddr: (p.p_vaddr - p.p_offset + fix(p.p_offset)) as u32,
            p_paddr: (p.p_paddr - p.p_offset + fix(p.p_offset)) as u32,
            p_filesz: if p.p_type == PT_PHDR {
                (n * Elf32Phdr::SIZE) as u32
            } else {
                p.p_filesz as u32
            },
            p_memsz: if p.p_type == PT_PHDR {
                (n * Elf32Phdr::SIZE) as u32
            } else {
                p.p_memsz as u32
            },
            p_flags: p.p_flags,
            p_align: p.p_align as u32,
        };
        ph.encode(&mut out[52 + i * Elf32Phdr::SIZE..]);
    }
    let mut ident = eh.e_ident;
    ident[4] = ELFCLASS32;
    let h = Elf32Ehdr {
        e_ident: ident,
        e_type,
        e_machine: EM_ARM,
        e_version: 1,
        e_entry: eh.e_entry as u32,
        e_phoff: 52,
        e_shoff: 0,
        e_flags,
        e_ehsize: 52,
        e_phentsize: Elf32Phdr::SIZE as u16,
        e_phnum: n as u16,
        e_shentsize: 40,
        e_shnum: 0,
        e_shstrndx: 0,
    };
    h.encode(&mut out);
    let code = tiny::CODE_OFF as usize;
    out[code..code + tiny::CODE.len()].copy_from_slice(&tiny::CODE);
    out
}

/// [`tiny_elf`] (ET_EXEC) as a dynamic program: its third program header
/// (PT_GNU_STACK) becomes a PT_INTERP naming `interp`, whose bytes (and NUL)
/// are appended to the file. For either class (ELF64, or ELF32 on 32-bit ARM).
pub fn tiny_elf_with_interp(interp: &[u8]) -> Vec<u8> {
    use umbra_abi::elf::*;
    let mut b = tiny_elf(ET_EXEC);
    let at = b.len();
    b.extend_from_slice(interp);
    b.push(0);
    let len = interp.len() + 1;
    if crate::arch::ELF_CLASS == ELFCLASS32 {
        let phoff = u32::from_le_bytes([b[28], b[29], b[30], b[31]]) as usize;
        let ph = phoff + 2 * 32;
        b[ph..ph + 4].copy_from_slice(&PT_INTERP.to_le_bytes());
        b[ph + 4..ph + 8].copy_from_slice(&(at as u32).to_le_bytes());
        b[ph + 16..ph + 20].copy_from_slice(&(len as u32).to_le_bytes());
    } else {
        let mut o = [0u8; 8];
        o.copy_from_slice(&b[32..40]);
        let ph = u64::from_le_bytes(o) as usize + 2 * 56;
        b[ph..ph + 4].copy_from_slice(&PT_INTERP.to_le_bytes());
        b[ph + 8..ph + 16].copy_from_slice(&(at as u64).to_le_bytes());
        b[ph + 32..ph + 40].copy_from_slice(&(len as u64).to_le_bytes());
    }
    b
}

/// Writes a cpio newc archive (the initramfs format) of `(name, mode, data)`
/// members, with the trailer. Directories must come before their contents.
pub fn newc_archive(members: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let trailer: (&str, u32, &[u8]) = (crate::fs::cpio::TRAILER, 0, &[]);
    for (ino, (name, mode, data)) in members.iter().chain([&trailer]).enumerate() {
        let fields = [
            ino as u32 + 1,
            *mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(alloc::format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    out
}

/// What the syscall fuzzers share: the MockHost sizes, the guest addresses of
/// the tiny ELF, the calls umbra serves (the fuzzers favour them), the calls
/// never scripted before the end, and the strings placed in guest memory.
/// Used by core's randomized test (fuzz_syscalls.rs) and by cargo-fuzz's
/// `syscalls` target.
pub mod syscall_fuzz {
    use super::tiny;
    use crate::config::PAGE_SIZE;
    use umbra_abi::syscall::nr::*;

    pub const FRAMES: usize = 512;
    pub const PAGE: u64 = PAGE_SIZE as u64;
    pub const DATA_VA: u64 = tiny::EXEC_BASE + tiny::DATA_VADDR_OFF;
    pub const CODE_VA: u64 = tiny::EXEC_BASE + tiny::CODE_OFF;

    /// The implemented syscalls on every arch (see `syscall::dispatch`).
    pub const IMPLEMENTED: &[usize] = &[
        READ,
        WRITE,
        READV,
        WRITEV,
        PREAD64,
        PWRITE64,
        LSEEK,
        IOCTL,
        FCNTL,
        DUP,
        DUP3,
        CLOSE,
        GETDENTS64,
        FSYNC,
        FDATASYNC,
        SYNC,
        OPENAT,
        #[cfg(target_pointer_width = "64")]
        NEWFSTATAT,
        FSTAT,
        STATX,
        READLINKAT,
        FACCESSAT,
        FACCESSAT2,
        GETCWD,
        CHDIR,
        FCHDIR,
        MKDIRAT,
        UNLINKAT,
        SYMLINKAT,
        LINKAT,
        RENAMEAT,
        RENAMEAT2,
        FCHMODAT,
        FCHMOD,
        FCHOWNAT,
        FCHOWN,
        UTIMENSAT,
        FTRUNCATE,
        TRUNCATE,
        UMASK,
        STATFS,
        FSTATFS,
        BRK,
        #[cfg(target_pointer_width = "64")]
        MMAP,
        MUNMAP,
        MPROTECT,
        MADVISE,
        MREMAP,
        GETPID,
        GETTID,
        GETPPID,
        GETUID,
        GETEUID,
        GETGID,
        GETEGID,
        GETPGID,
        GETSID,
        SET_TID_ADDRESS,
        SET_ROBUST_LIST,
        PRLIMIT64,
        GETRUSAGE,
        SCHED_YIELD,
        SCHED_GETAFFINITY,
        PRCTL,
        CLONE,
        EXECVE,
        WAIT4,
        WAITID,
        SETSID,
        SETPGID,
        PIPE2,
        PPOLL,
        PSELECT6,
        EPOLL_CREATE1,
        EPOLL_CTL,
        EPOLL_PWAIT,
        EPOLL_PWAIT2,
        SETITIMER,
        GETITIMER,
        TIMES,
        KILL,
        TKILL,
        TGKILL,
        RT_SIGRETURN,
        RT_SIGPENDING,
        RT_SIGTIMEDWAIT,
        RT_SIGACTION,
        RT_SIGPROCMASK,
        SIGALTSTACK,
        CLOCK_GETTIME,
        CLOCK_GETRES,
        GETTIMEOFDAY,
        NANOSLEEP,
        CLOCK_NANOSLEEP,
        UNAME,
        SYSINFO,
        GETRANDOM,
        SHMGET,
        SHMAT,
        SHMDT,
        SHMCTL,
        SEMGET,
        SEMOP,
        SEMTIMEDOP,
        SEMCTL,
        MSGGET,
        MSGSND,
        MSGRCV,
        MSGCTL,
        MQ_OPEN,
        MQ_UNLINK,
        MQ_TIMEDSEND,
        MQ_TIMEDRECEIVE,
        MQ_NOTIFY,
        MQ_GETSETATTR,
    ];

    /// The x86_64-only legacy calls umbra serves.
    #[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
    pub const IMPLEMENTED_ARCH: &[usize] = &[
        OPEN, CREAT, STAT, LSTAT, ACCESS, READLINK, MKDIR, RMDIR, UNLINK, SYMLINK, LINK, RENAME,
        CHMOD, CHOWN, LCHOWN, DUP2, ARCH_PRCTL, FORK, VFORK, PIPE, POLL, SELECT, ALARM, TIME,
        GETPGRP,
    ];
    #[cfg(target_arch = "aarch64")]
    pub const IMPLEMENTED_ARCH: &[usize] = &[];
    /// The 32-bit ARM calls of its own table umbra serves.
    #[cfg(target_arch = "arm")]
    pub const IMPLEMENTED_ARCH: &[usize] = &[
        PREAD64,
        PWRITE64,
        TRUNCATE64,
        FTRUNCATE64,
        _LLSEEK,
        MMAP2,
        FCNTL64,
        STAT64,
        LSTAT64,
        FSTAT64,
        FSTATAT64,
        STAT,
        LSTAT,
        FSTAT,
        STATFS64,
        FSTATFS64,
        CLOCK_GETTIME64,
        CLOCK_GETRES_TIME64,
        CLOCK_NANOSLEEP_TIME64,
        UTIMENSAT_TIME64,
        PPOLL_TIME64,
        PSELECT6_TIME64,
        RT_SIGTIMEDWAIT_TIME64,
        OPEN,
        CREAT,
        ACCESS,
        READLINK,
        MKDIR,
        RMDIR,
        UNLINK,
        SYMLINK,
        LINK,
        RENAME,
        CHMOD,
        CHOWN,
        LCHOWN,
        CHOWN32,
        LCHOWN32,
        FCHOWN32,
        DUP2,
        GETDENTS,
        FORK,
        VFORK,
        PIPE,
        POLL,
        _NEWSELECT,
        GETPGRP,
        GETUID32,
        GETEUID32,
        GETGID32,
        GETEGID32,
        UGETRLIMIT,
        SETRLIMIT,
        SIGRETURN,
        ARM_SET_TLS,
        ARM_GET_TLS,
        ARM_CACHEFLUSH,
        ARM_FADVISE64_64,
        SYNC_FILE_RANGE2,
    ];

    /// Never scripted before the end: they end the script (exit, exit_group) or
    /// block with nothing that could wake them (pause, rt_sigsuspend).
    pub fn excluded(nr: usize) -> bool {
        #[cfg(not(target_arch = "aarch64"))]
        if nr == PAUSE {
            return true;
        }
        nr == EXIT || nr == EXIT_GROUP || nr == RT_SIGSUSPEND
    }

    /// Strings written at the start of the scratch area, NUL-terminated; pointers
    /// to them are among the pointer arguments.
    pub const STRINGS: &[&[u8]] = &[
        b"/etc/motd",
        b"/bin/prog",
        b"/tmp/f",
        b"/tmp",
        b"/tmp/d",
        b"/tmp/link",
        b"/../../../etc/motd",
        b".",
        b"..",
        b"",
        b"/proc/self/maps",
        b"/proc/self/mem",
        b"/proc/1/status",
        b"/proc/self/fd/0",
        b"/dev/null",
        b"/dev/zero",
        b"/dev/tty",
        b"/nonexistent/x",
        b"/etc/motd/x",
        b"//////",
        b"/bin/dyn",
        b"/bin/dynbad",
        b"/lib/ld.so",
    ];
}

/// xorshift64*: a small fixed-seed generator for the randomized tests (the
/// syscall and socket fuzzers, the loader's mutations), so a failing case
/// is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)] // an endless generator, not an iterator
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number below `n` (0 for `n` = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
