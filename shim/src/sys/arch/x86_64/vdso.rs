//! The x86_64 vDSO code (see `umbra_core::vdso`): `__vdso_clock_gettime`,
//! `__vdso_gettimeofday`, `__vdso_time`, `__vdso_getcpu` and
//! `__vdso_clock_getres`, reading the time page one page below the image with
//! `lfence; rdtsc`, and the real syscall where the page says so (mode 0) or
//! for clocks it does not serve, as Linux's vDSO.

use core::arch::global_asm;
use umbra_core::vdso::{vvar, CLOCKS_REALTIME, CLOCKS_SERVED, TEXT_OFFSET};

global_asm!(
    ".pushsection .rodata.umbra_vdso,\"a\",@progbits",
    ".globl umbra_vdso_start",
    ".globl umbra_vdso_end",
    ".p2align 4",
    "umbra_vdso_start:",
    ".long 5",
    ".long .Lv_cgt - umbra_vdso_start",
    ".long .Lv_gtod - umbra_vdso_start",
    ".long .Lv_time - umbra_vdso_start",
    ".long .Lv_getcpu - umbra_vdso_start",
    ".long .Lv_getres - umbra_vdso_start",
    // .Lv_now: rax = the guest's monotonic ns (plus the realtime offset if
    // r8 != 0); r11 = 0, or 1 if the syscall must serve. Clobbers rdx, r9, r10.
    ".Lv_now:",
    "    lea r9, [rip + umbra_vdso_start - {delta}]",
    "2:",
    "    mov r10d, dword ptr [r9 + {seq}]",
    "    test r10d, 1",
    "    jnz 4f",
    "    cmp dword ptr [r9 + {mode}], 0",
    "    je 5f",
    "    lfence",
    "    rdtsc",
    "    shl rdx, 32",
    "    or rax, rdx",
    "    sub rax, qword ptr [r9 + {last}]",
    "    mov edx, 0",
    "    cmovb rax, rdx",
    "    mul qword ptr [r9 + {mult}]",
    "    shrd rax, rdx, 32",
    "    add rax, qword ptr [r9 + {mono}]",
    "    test r8, r8",
    "    jz 3f",
    "    add rax, qword ptr [r9 + {real}]",
    "3:",
    "    cmp r10d, dword ptr [r9 + {seq}]",
    "    jne 2b",
    "    xor r11d, r11d",
    "    ret",
    "4:",
    "    pause",
    "    jmp 2b",
    "5:",
    "    mov r11d, 1",
    "    ret",
    // int clock_gettime(clockid_t, struct timespec *)
    ".Lv_cgt:",
    "    cmp edi, 31",
    "    ja 1f",
    "    mov eax, {served}",
    "    bt eax, edi",
    "    jnc 1f",
    "    mov eax, {realtime}",
    "    xor r8d, r8d",
    "    bt eax, edi",
    "    setc r8b",
    "    call .Lv_now",
    "    test r11d, r11d",
    "    jnz 1f",
    "    xor edx, edx",
    "    mov ecx, 1000000000",
    "    div rcx",
    "    mov qword ptr [rsi], rax",
    "    mov qword ptr [rsi + 8], rdx",
    "    xor eax, eax",
    "    ret",
    "1:",
    "    mov eax, 228",
    "    syscall",
    "    ret",
    // int gettimeofday(struct timeval *, struct timezone *): a timezone is
    // the syscall's business.
    ".Lv_gtod:",
    "    test rsi, rsi",
    "    jnz 1f",
    "    test rdi, rdi",
    "    jz 2f",
    "    mov r8d, 1",
    "    call .Lv_now",
    "    test r11d, r11d",
    "    jnz 1f",
    "    xor edx, edx",
    "    mov ecx, 1000000000",
    "    div rcx",
    "    mov qword ptr [rdi], rax",
    "    mov rax, rdx",
    "    xor edx, edx",
    "    mov ecx, 1000",
    "    div rcx",
    "    mov qword ptr [rdi + 8], rax",
    "2:",
    "    xor eax, eax",
    "    ret",
    "1:",
    "    mov eax, 96",
    "    syscall",
    "    ret",
    // time_t time(time_t *)
    ".Lv_time:",
    "    mov r8d, 1",
    "    call .Lv_now",
    "    test r11d, r11d",
    "    jnz 1f",
    "    xor edx, edx",
    "    mov ecx, 1000000000",
    "    div rcx",
    "    test rdi, rdi",
    "    jz 2f",
    "    mov qword ptr [rdi], rax",
    "2:",
    "    ret",
    "1:",
    "    mov eax, 201",
    "    syscall",
    "    ret",
    // int getcpu(unsigned *cpu, unsigned *node, void *): one CPU, one node.
    ".Lv_getcpu:",
    "    test rdi, rdi",
    "    jz 1f",
    "    mov dword ptr [rdi], 0",
    "1:",
    "    test rsi, rsi",
    "    jz 2f",
    "    mov dword ptr [rsi], 0",
    "2:",
    "    xor eax, eax",
    "    ret",
    // int clock_getres(clockid_t, struct timespec *): 1 ns, as the syscall.
    ".Lv_getres:",
    "    cmp edi, 31",
    "    ja 1f",
    "    mov eax, {served}",
    "    bt eax, edi",
    "    jnc 1f",
    "    test rsi, rsi",
    "    jz 2f",
    "    mov qword ptr [rsi], 0",
    "    mov qword ptr [rsi + 8], 1",
    "2:",
    "    xor eax, eax",
    "    ret",
    "1:",
    "    mov eax, 229",
    "    syscall",
    "    ret",
    "umbra_vdso_end:",
    ".popsection",
    delta = const TEXT_OFFSET + 4096,
    seq = const vvar::SEQ,
    mode = const vvar::MODE,
    last = const vvar::CYCLE_LAST,
    mult = const vvar::MULT,
    mono = const vvar::MONO,
    real = const vvar::REAL_OFF,
    served = const CLOCKS_SERVED,
    realtime = const CLOCKS_REALTIME,
);

/// The TSC, if guests can use it as a clock: an invariant TSC (CPUID
/// 0x80000007 EDX bit 8), which runs at a constant rate in every state.
pub fn counter() -> Option<u64> {
    use core::arch::x86_64::{__cpuid, _mm_lfence, _rdtsc};
    static INVARIANT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *INVARIANT.get_or_init(|| {
        let max = __cpuid(0x8000_0000).eax;
        max >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
    });
    if !ok {
        return None;
    }
    // SAFETY: lfence and rdtsc only order loads and read the TSC (allowed at
    // CPL 3 unless PR_SET_TSC forbids it, which umbra never does).
    Some(unsafe {
        _mm_lfence();
        _rdtsc()
    })
}
