//! `umbra run --stats`: the report printed on stderr at exit. The guest
//! kernel's counters (`umbra_core::kernel::stats`: syscalls by number with
//! their kernel time, host stops, faults, forks, execs, flushes, idle waits)
//! followed by the ptrace host's (the stub round trips that applied mapping
//! batches and the extra stops some syscalls need).

use umbra_core::host::HostTime;
use umbra_core::kernel::stats::Stats;
use umbra_shim::host::PtraceHost;

/// How many syscalls the report lists by name.
const TOP: usize = 15;

/// Prints the report of a finished run.
pub fn print(stats: &Stats, host: &mut PtraceHost) {
    let mut out = stats.report(host.now_mono(), TOP);
    let h = host.stats();
    out.push_str(&format!(
        "umbra: stats: map batches {} (host mapping calls {}; {} returned to the guest); \
         run_user entries {}; detours {}; syscall-info reads {}\n",
        h.batches, h.batch_ops, h.ret_batches, h.runs, h.detours, h.syscall_info_calls
    ));
    if let Some(n) = host.net_polls_known() {
        out.push_str(&format!(
            "umbra: stats: host socket polls answered without a host call {n}\n"
        ));
    }
    out.push_str(&format!(
        "umbra: stats: platform {}\n",
        host.platform_line()
    ));
    eprint!("{out}");
}
