//! The 32-bit ARM vDSO code (see `umbra_core::vdso`), ARM state:
//! `__vdso_clock_gettime`, `__vdso_gettimeofday`, `__vdso_clock_gettime64`
//! and `__vdso_clock_getres`, reading the time page one page below the image
//! and the CP15 virtual counter (CNTVCT), where the host lets user space read
//! it, and the real syscall where the page says so (mode 0), for clocks it
//! does not serve, or when the anchor is over 2 s old (no 64-bit division:
//! the nanoseconds since the anchor must fit 31 bits; the syscall
//! re-anchors), as Linux's vDSO.

use core::arch::{asm, global_asm};
use umbra_core::vdso::{vvar, CLOCKS_REALTIME, CLOCKS_SERVED, TEXT_OFFSET};

global_asm!(
    ".pushsection .rodata.umbra_vdso,\"a\",%progbits",
    ".globl umbra_vdso_start",
    ".globl umbra_vdso_end",
    ".p2align 4",
    "umbra_vdso_start:",
    ".long 4",
    ".long .Lv_cgt - umbra_vdso_start",
    ".long .Lv_gtod - umbra_vdso_start",
    ".long .Lv_cgt64 - umbra_vdso_start",
    ".long .Lv_getres - umbra_vdso_start",
    ".arm",
    ".p2align 2",
    // .Lv_now: r3 = 0 and r5:r4 = seconds, r6 = nanoseconds of the guest's
    // monotonic clock (realtime if r2 != 0); or r3 = 1: the syscall must
    // serve. Clobbers r4-r6, r8-r12 (the caller saved them); keeps r0-r2, r7.
    ".Lv_now:",
    "    adr r12, umbra_vdso_start",
    "    sub r12, r12, #{delta}",
    "1:",
    "    ldr r11, [r12, #{seq}]",
    "    tst r11, #1",
    "    bne 1b",
    "    dmb ish",
    "    ldr r8, [r12, #{mode}]",
    "    cmp r8, #0",
    "    beq 9f",
    "    isb",
    "    mrrc p15, 1, r8, r9, c14",
    "    ldr r10, [r12, #{last}]",
    "    subs r8, r8, r10",
    "    ldr r10, [r12, #{last} + 4]",
    "    sbcs r9, r9, r10",
    "    movcc r8, #0",
    "    movcc r9, #0",
    // (r9:r8 * mult) >> 32 into r6:r5.
    "    ldr r10, [r12, #{mult}]",
    "    umull r4, r5, r8, r10",
    "    mov r6, #0",
    "    umlal r5, r6, r9, r10",
    "    ldr r10, [r12, #{mult} + 4]",
    "    umlal r5, r6, r8, r10",
    "    mla r6, r9, r10, r6",
    "    cmp r6, #0",
    "    bne 9f",
    "    tst r5, #0x80000000",
    "    bne 9f",
    "    cmp r2, #0",
    "    ldreq r6, [r12, #{mono_nsec}]",
    "    ldreq r4, [r12, #{mono_sec}]",
    "    ldreq r8, [r12, #{mono_sec} + 4]",
    "    ldrne r6, [r12, #{real_nsec}]",
    "    ldrne r4, [r12, #{real_sec}]",
    "    ldrne r8, [r12, #{real_sec} + 4]",
    "    add r6, r6, r5",
    "    movw r10, #0xca00",
    "    movt r10, #0x3b9a",
    "2:",
    "    cmp r6, r10",
    "    blo 3f",
    "    sub r6, r6, r10",
    "    adds r4, r4, #1",
    "    adc r8, r8, #0",
    "    b 2b",
    "3:",
    "    mov r5, r8",
    "    dmb ish",
    "    ldr r8, [r12, #{seq}]",
    "    cmp r8, r11",
    "    bne 1b",
    "    mov r3, #0",
    "    bx lr",
    "9:",
    "    mov r3, #1",
    "    bx lr",
    // r2 = 1 if clock r0 reads realtime; branches to `fallback` if the vDSO
    // does not serve it.
    ".macro umbra_vdso_clock fallback",
    "    cmp r0, #31",
    "    bhi \\fallback",
    "    movw r12, #{served}",
    "    lsr r12, r12, r0",
    "    tst r12, #1",
    "    beq \\fallback",
    "    movw r12, #{realtime}",
    "    lsr r12, r12, r0",
    "    and r2, r12, #1",
    ".endm",
    // int clock_gettime(clockid_t, struct timespec *) (32-bit time_t)
    ".Lv_cgt:",
    "    umbra_vdso_clock 8f",
    "    push {{r4-r11, lr}}",
    "    bl .Lv_now",
    "    cmp r3, #0",
    "    bne 7f",
    "    str r4, [r1]",
    "    str r6, [r1, #4]",
    "    mov r0, #0",
    "    pop {{r4-r11, pc}}",
    "7:",
    "    pop {{r4-r11, lr}}",
    "8:",
    "    push {{r7}}",
    "    movw r7, #263",
    "    svc #0",
    "    pop {{r7}}",
    "    bx lr",
    // int clock_gettime64(clockid_t, struct __kernel_timespec *)
    ".Lv_cgt64:",
    "    umbra_vdso_clock 8f",
    "    push {{r4-r11, lr}}",
    "    bl .Lv_now",
    "    cmp r3, #0",
    "    bne 7f",
    "    str r4, [r1]",
    "    str r5, [r1, #4]",
    "    str r6, [r1, #8]",
    "    mov r12, #0",
    "    str r12, [r1, #12]",
    "    mov r0, #0",
    "    pop {{r4-r11, pc}}",
    "7:",
    "    pop {{r4-r11, lr}}",
    "8:",
    "    push {{r7}}",
    "    movw r7, #403",
    "    svc #0",
    "    pop {{r7}}",
    "    bx lr",
    // int gettimeofday(struct timeval *, struct timezone *): a timezone is
    // the syscall's business.
    ".Lv_gtod:",
    "    cmp r1, #0",
    "    bne 8f",
    "    cmp r0, #0",
    "    beq 6f",
    "    push {{r4-r11, lr}}",
    "    mov r2, #1",
    "    bl .Lv_now",
    "    cmp r3, #0",
    "    bne 7f",
    // usec = nsec / 1000 = (nsec * 274877907) >> 38
    "    movw r12, #0x4dd3",
    "    movt r12, #0x1062",
    "    umull r8, r9, r6, r12",
    "    lsr r9, r9, #6",
    "    str r4, [r0]",
    "    str r9, [r0, #4]",
    "    mov r0, #0",
    "    pop {{r4-r11, pc}}",
    "6:",
    "    mov r0, #0",
    "    bx lr",
    "7:",
    "    pop {{r4-r11, lr}}",
    "8:",
    "    push {{r7}}",
    "    mov r7, #78",
    "    svc #0",
    "    pop {{r7}}",
    "    bx lr",
    // int clock_getres(clockid_t, struct timespec *): 1 ns, as the syscall.
    ".Lv_getres:",
    "    umbra_vdso_clock 8f",
    "    cmp r1, #0",
    "    beq 6f",
    "    mov r12, #0",
    "    str r12, [r1]",
    "    mov r12, #1",
    "    str r12, [r1, #4]",
    "6:",
    "    mov r0, #0",
    "    bx lr",
    "8:",
    "    push {{r7}}",
    "    movw r7, #264",
    "    svc #0",
    "    pop {{r7}}",
    "    bx lr",
    "umbra_vdso_end:",
    ".popsection",
    delta = const TEXT_OFFSET + 4096,
    seq = const vvar::SEQ,
    mode = const vvar::MODE,
    last = const vvar::CYCLE_LAST,
    mult = const vvar::MULT,
    mono_sec = const vvar::MONO_SEC,
    mono_nsec = const vvar::MONO_NSEC,
    real_sec = const vvar::REAL_SEC,
    real_nsec = const vvar::REAL_NSEC,
    served = const CLOCKS_SERVED,
    realtime = const CLOCKS_REALTIME,
);

/// The CP15 virtual counter, if the host lets user space read it (Linux
/// does when the CPU has the generic timer; on a CPU without one the read is
/// undefined): probed once in a forked child, which a SIGILL kills.
pub fn counter() -> Option<u64> {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*USABLE.get_or_init(probe) {
        return None;
    }
    Some(read())
}

fn read() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: isb and a read of CNTVCT, which the probe showed user space
    // may read; no memory is touched.
    unsafe {
        asm!("isb", "mrrc p15, 1, {}, {}, c14", out(reg) lo, out(reg) hi,
             options(nomem, nostack))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

fn probe() -> bool {
    use crate::sys::raw::{self, nr};
    // SAFETY: fork(2); the child only reads the counter and exits, with no
    // allocation or lock (async-signal-safe).
    let pid = unsafe { raw::syscall6(nr::FORK, 0, 0, 0, 0, 0, 0) };
    if pid == 0 {
        // SAFETY: prctl(PR_SET_DUMPABLE, 0): no core file if the read
        // faults; no pointers.
        unsafe { raw::syscall6(nr::PRCTL, 4, 0, 0, 0, 0, 0) };
        read();
        // SAFETY: exit_group(0) in the child; it never returns.
        unsafe { raw::syscall6(nr::EXIT_GROUP, 0, 0, 0, 0, 0, 0) };
    }
    if pid < 0 {
        return false;
    }
    let mut status: i32 = 0;
    // SAFETY: wait4 of our own child, writing the status into `status`.
    let r = unsafe {
        raw::syscall6(
            nr::WAIT4,
            pid as usize,
            &mut status as *mut i32 as usize,
            0,
            0,
            0,
            0,
        )
    };
    r == pid && status == 0
}
