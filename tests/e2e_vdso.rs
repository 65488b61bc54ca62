//! End-to-end tests of umbra's vDSO and time page: `tests/guest/vdso.c`
//! (musl and glibc builds) finds the vDSO through AT_SYSINFO_EHDR, resolves
//! its symbols as musl does, and compares its clocks with the syscalls, run
//! natively and under umbra; and a count of the traps 100,000 clock_gettime
//! calls make under umbra.

use umbra_tests::{sections_same_as_native, Libc, Run};

/// Every section of the program.
const ALL: &[&str] = &[
    "find", "order", "real", "libc", "coarse", "getcpu", "fallback", "maps", "fork", "count",
];

sections_same_as_native! {
    vdso_musl: Musl "vdso" ALL;
    vdso_glibc: Glibc "vdso" ALL;
}

/// 100,000 clock_gettime calls through libc make (almost) no syscalls under
/// umbra: `--strace` shows every syscall the kernel serves, and the calls
/// go through the vDSO. Until the guest clock is calibrated against the
/// host's (10 ms after umbra starts) the vDSO takes the syscall, so a few
/// early calls may trap; 100,000 trapping calls would show as 100,000 lines.
#[test]
fn clock_gettime_through_the_vdso_makes_no_syscalls() {
    for libc in [Libc::Musl, Libc::Glibc] {
        let out = Run::guest(libc, "vdso")
            .args(&["count"])
            .umbra_flag("--strace")
            .umbra();
        out.assert_code(0);
        let err = out.stderr_text();
        let traps = err
            .lines()
            .filter(|l| l.contains("] clock_gettime("))
            .count();
        assert!(
            traps < 2_000,
            "{libc:?}: {traps} clock_gettime syscalls of 100000 calls"
        );
        eprintln!("{libc:?}: {traps} of 100000 clock_gettime calls trapped");
        assert!(
            out.stdout_text().contains("backwards 0"),
            "{}",
            out.describe()
        );
    }
}
