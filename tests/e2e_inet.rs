//! End-to-end tests of AF_INET and AF_INET6 on the guest's loopback, the
//! interface ioctls and NETLINK_ROUTE: `tests/guest/net_inet.c` (musl and
//! glibc builds) section by section, run natively inside a fresh network
//! namespace (`unshare -n`, then lo brought up: the namespace's lo starts
//! down and without 127.0.0.1) and under umbra, and compared.

use std::path::PathBuf;

use umbra_tests::{compare, Libc, Run, GUEST_NAME_FILES};

/// A host tool by absolute path (the native run's environment is empty).
fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: install iproute2 and util-linux");
}

/// Host copies of the guest's name files, to bind-mount over the host's in
/// a native run: (copy, path).
fn name_files() -> &'static [(PathBuf, &'static str)] {
    static FILES: std::sync::OnceLock<Vec<(PathBuf, &'static str)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        GUEST_NAME_FILES
            .iter()
            .map(|(path, text)| {
                let name = path.rsplit('/').next().unwrap_or("f");
                // Under target/, not /tmp, where every run left its pair.
                let dir = umbra_tests::target_dir().join("e2e-files");
                std::fs::create_dir_all(&dir).expect("create target/e2e-files");
                let p = dir.join(format!("inet-{}-{name}", std::process::id()));
                std::fs::write(&p, text).expect("write a name file");
                (p, *path)
            })
            .collect()
    })
}

/// Runs `run` natively in a new network namespace with lo up, and a mount
/// namespace where /etc/hosts and /etc/host.conf are the guest's, through the same launcher as
/// [`Run::native`].
fn native_in_netns(run: &Run) -> umbra_tests::Outcome {
    let mut script = format!("{} link set lo up", tool("ip").display());
    for (copy, path) in name_files() {
        script += &format!(
            " && {} --bind {} {path}",
            tool("mount").display(),
            copy.display()
        );
    }
    run.native_in(&["-n", "-m"], &script)
}

/// Compares `run` natively (in a fresh network namespace) and under umbra.
fn same_in_netns(run: &Run) {
    let native = native_in_netns(run);
    let umbra = run.umbra();
    compare(&native, &umbra);
}

fn sections(libc: Libc, sections: &[&str]) {
    same_in_netns(&Run::guest(libc, "net_inet").args(sections));
}

const TCP: &[&str] = &["tcp4", "tcp6", "mapped", "fork", "many", "epoll"];
const ERRORS: &[&str] = &[
    "ephemeral",
    "addrinuse",
    "reuse",
    "refused",
    "nonblock",
    "halfclose",
    "queues",
    "faults",
    "opts",
];
const UDP: &[&str] = &["udp"];
const IFACE: &[&str] = &["ifreq", "ifname", "ifaddrs", "netlink", "gai"];

#[test]
fn tcp_musl() {
    sections(Libc::Musl, TCP);
}
#[test]
fn tcp_glibc() {
    sections(Libc::Glibc, TCP);
}
#[test]
fn tcp_semantics_musl() {
    sections(Libc::Musl, ERRORS);
}
#[test]
fn tcp_semantics_glibc() {
    sections(Libc::Glibc, ERRORS);
}
#[test]
fn udp_musl() {
    sections(Libc::Musl, UDP);
}
#[test]
fn udp_glibc() {
    sections(Libc::Glibc, UDP);
}
#[test]
fn iface_musl() {
    sections(Libc::Musl, IFACE);
}
#[test]
fn iface_glibc() {
    sections(Libc::Glibc, IFACE);
}

/// busybox httpd on 127.0.0.1 and [::1] with busybox wget fetching pages
/// (a small one, 80 KB, a 404, and a refused connection). The fetches
/// retry until the servers listen; only the last answers are printed.
const HTTPD: &str = r#"busybox mkdir -p www && echo 'hello over tcp' > www/index.html
i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo "line $i of a larger page"; done > www/big.txt
busybox httpd -f -p 127.0.0.1:8080 -h www & h4=$!
busybox httpd -f -p [::1]:8081 -h www & h6=$!
wait_for() { n=0; until busybox wget -q -O /dev/null "$1" 2>/dev/null; do n=$((n+1)); if [ $n -gt 300 ]; then echo "no server at $1"; break; fi; busybox sleep 0.1; done; }
wait_for http://127.0.0.1:8080/
wait_for 'http://[::1]:8081/'
busybox wget -q -O - http://127.0.0.1:8080/
busybox wget -q -O - http://127.0.0.1:8080/big.txt | busybox md5sum
busybox wget -q -O - 'http://[::1]:8081/index.html'
busybox wget -q -O - 'http://[::1]:8081/big.txt' | busybox wc -c
busybox wget -q -O - http://127.0.0.1:8080/missing; echo "missing: $?"
busybox wget -q -O - http://127.0.0.1:8082/; echo "nobody: $?"
kill $h4 $h6; wait
echo done
"#;

/// busybox `nc -l` with `-e md5sum` and a busybox nc client sending 300 KB
/// over 127.0.0.1 and ::1: the client half-closes at the end of its input
/// and prints the server's answer, so nothing depends on timing.
const NC: &str = r#"i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo "netcat line $i"; done > payload
busybox md5sum < payload
for addr in 127.0.0.1 ::1; do
  busybox nc -l -p 9000 -e busybox md5sum & srv=$!
  n=0; until busybox nc $addr 9000 < payload 2>/dev/null; do n=$((n+1)); if [ $n -gt 300 ]; then echo "no listener"; break; fi; busybox sleep 0.1; done
  wait $srv; echo "server exit $?"
done
echo done
"#;

#[test]
fn busybox_httpd_wget() {
    same_in_netns(&Run::busybox(&["sh", "-c", HTTPD]));
}

#[test]
fn busybox_nc() {
    same_in_netns(&Run::busybox(&["sh", "-c", NC]));
}

/// busybox `ip` (netlink and SIOCGIFTXQLEN) and `ifconfig` (/proc/net/dev,
/// /proc/net/if_inet6 and the interface ioctls) show lo as Linux does in a
/// fresh network namespace with lo up (no traffic yet: the counters are 0).
#[test]
fn busybox_ip() {
    same_in_netns(&Run::busybox(&[
        "sh",
        "-c",
        "busybox ip addr; busybox ip link; busybox ip -4 addr show dev lo; \
         busybox ip route; busybox ip -6 route; busybox ip route show table local; \
         busybox ifconfig; busybox ifconfig lo; busybox cat /proc/net/if_inet6",
    ]));
}
