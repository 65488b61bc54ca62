//! Linux errno values (asm-generic/errno-base.h and errno.h), identical on every arch
//! umbra supports.

/// A Linux error number. The guest sees `-errno` in the return register.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($name:ident = $val:expr,)*) => {
        impl Errno {
            $(pub const $name: Errno = Errno($val);)*

            /// The Linux spelling of this errno, e.g. "ENOENT".
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($val => stringify!($name),)*
                    _ => "E?",
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7,
    ENOEXEC = 8, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
    EFAULT = 14, ENOTBLK = 15, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19,
    ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25,
    ETXTBSY = 26, EFBIG = 27, ENOSPC = 28, ESPIPE = 29, EROFS = 30, EMLINK = 31,
    EPIPE = 32, EDOM = 33, ERANGE = 34, EDEADLK = 35, ENAMETOOLONG = 36, ENOLCK = 37,
    ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, ENOMSG = 42, EIDRM = 43, ENOSTR = 60,
    ENODATA = 61, ETIME = 62, EOVERFLOW = 75, EBADFD = 77, EILSEQ = 84,
    ENOTSOCK = 88, EDESTADDRREQ = 89, EMSGSIZE = 90, EPROTOTYPE = 91, ENOPROTOOPT = 92,
    EPROTONOSUPPORT = 93, EOPNOTSUPP = 95, EAFNOSUPPORT = 97, EADDRINUSE = 98,
    EADDRNOTAVAIL = 99, ENETDOWN = 100, ENETUNREACH = 101, ECONNABORTED = 103,
    ECONNRESET = 104, ENOBUFS = 105, EISCONN = 106, ENOTCONN = 107, ETIMEDOUT = 110,
    ECONNREFUSED = 111, EHOSTUNREACH = 113, EALREADY = 114, EINPROGRESS = 115,
    ESTALE = 116, EDQUOT = 122, ECANCELED = 125, EOWNERDEAD = 130,
    ENOTRECOVERABLE = 131,
    // A bad ELF interpreter (binfmt_elf).
    ELIBBAD = 80,
    // socket(AF_UNIX) of a type it lacks.
    ESOCKTNOSUPPORT = 94,
    // Kernel-internal restart codes: never seen by the guest.
    ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514,
    ERESTART_RESTARTBLOCK = 516,
}

impl Errno {
    /// EWOULDBLOCK is EAGAIN on Linux.
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
    /// ENOTSUP is EOPNOTSUPP on Linux.
    pub const ENOTSUP: Errno = Errno::EOPNOTSUPP;
}

impl core::fmt::Debug for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.name())
    }
}
